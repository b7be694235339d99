from __future__ import annotations

from agents.preference_grounding import named_phrases
from agents.preference_reasoner import (
    MAX_ANSWER_ITEMS,
    grounded_items,
    named_lists,
    reason_preferences,
    summary_lists,
    summary_sentence,
)
from tests.fakes import ScriptedChatModel, patch_chat_model
from tests.world import runtime, state


def test_summary_from_the_listed_preferences(monkeypatch) -> None:
    fake = ScriptedChatModel(script=[{"likes": ["scary  horror movies"], "dislikes": []}])
    patch_chat_model(monkeypatch, fake)
    s = state(
        "Hello.", "Hi! What do you like?", "I love scary horror movies, the scarier the better"
    )
    update = reason_preferences(s, runtime())
    assert update == {"preferences": "Likes scary horror movies."}
    prompt = fake.prompt_text(0)
    # Only the seeker's words are shown, after the worked examples.
    assert prompt.rstrip().endswith(
        "Seeker: Hello. I love scary horror movies, the scarier the better"
    )
    assert "What do you like?" not in prompt
    assert fake.requests[0]["tool_choice"]["function"]["name"] == "PreferenceLists"


def test_malformed_output_keeps_previous_summary_and_logs(monkeypatch) -> None:
    fake = ScriptedChatModel(script=["not json at all", '{"likes": ["x"'])
    patch_chat_model(monkeypatch, fake)
    s = state("Hello.", "Hi!", "Something with spies", preferences="Likes comedies.")
    update = reason_preferences(s, runtime(llm_max_retries=1))
    assert "preferences" not in update
    (record,) = update["fallbacks"]
    assert record["node"] == "reason_preferences"
    assert "malformed output after 2 attempts" in record["failure"]
    assert record["action"] == "kept the previous preference summary"
    assert len(fake.prompts) == 2


def test_retry_after_malformed_output_succeeds(monkeypatch) -> None:
    fake = ScriptedChatModel(script=['{"likes": 3', {"likes": ["heist movies"], "dislikes": []}])
    patch_chat_model(monkeypatch, fake)
    update = reason_preferences(state("I like heist movies"), runtime(llm_max_retries=1))
    assert update == {"preferences": "Likes heist movies."}


def test_empty_lists_keep_what_is_known(monkeypatch) -> None:
    fake = ScriptedChatModel(default={"likes": [], "dislikes": []})
    patch_chat_model(monkeypatch, fake)
    assert reason_preferences(state("Watching with my kids."), runtime()) == {"preferences": ""}
    s = state("Hello.", "Hi", "My kids are here", preferences="Likes horror.")
    assert reason_preferences(s, runtime()) == {"preferences": "Likes horror."}
    assert len(fake.prompts) == 2


def test_greetings_alone_are_not_sent_to_the_model(monkeypatch) -> None:
    fake = ScriptedChatModel(script=[])  # any call would fail the test
    patch_chat_model(monkeypatch, fake)
    for words in (
        ["Hello."],
        ["hi, how are you?"],
        ["Hello", "Hi there!", "good, thanks"],
        ["hey! what's up?"],
        ["Sounds good"],
        ["good how are you i'm thinking of watching a movie tonight"],
        ["I'm doing well I'm looking for a movie trailer"],
    ):
        s = state(*words, preferences="Likes horror.")
        assert reason_preferences(s, runtime()) == {"preferences": "Likes horror."}
    assert fake.prompts == []


def test_new_items_merge_with_the_earlier_summary_and_negations_become_dislikes(
    monkeypatch,
) -> None:
    patch_chat_model(
        monkeypatch,
        ScriptedChatModel(default={"likes": ["musicals", "holiday movie"], "dislikes": []}),
    )
    s = state(
        "I like comedies.",
        "Great! Anything else?",
        "A holiday movie maybe. I do not really like musicals.",
        preferences="Likes comedies.",
    )
    update = reason_preferences(s, runtime())
    assert update == {"preferences": "Likes comedies, holiday movie; dislikes musicals."}


def test_items_not_from_the_seeker_are_dropped(monkeypatch) -> None:
    patch_chat_model(
        monkeypatch,
        ScriptedChatModel(default={"likes": ["Tom Hanks", "comedies"], "dislikes": ["gore"]}),
    )
    update = reason_preferences(state("hi! mostly comedies."), runtime())
    assert update == {"preferences": "Likes comedies."}


def test_a_list_with_no_item_from_the_seeker_is_rejected(monkeypatch, world) -> None:
    invented = {"likes": ["The Conjuring", "drama"], "dislikes": []}
    fake = ScriptedChatModel(script=[invented, invented])
    patch_chat_model(monkeypatch, fake)
    update = reason_preferences(state("Hello.", "Hi!", "I want something scary"), runtime())
    assert "preferences" not in update
    assert "comes from the seeker's messages" in update["fallbacks"][0]["failure"]
    # asked twice: with the worked examples, then limited to what the seeker named
    assert fake.prompt_text(1).rstrip().endswith("they named: scary")


def test_a_copied_example_is_asked_again_limited_to_what_the_seeker_named(
    monkeypatch, world
) -> None:
    copied = {"likes": ["Tom Hanks", "Big"], "dislikes": []}
    answer = {"likes": ["Alien", "scifi", "comedies"], "dislikes": []}
    fake = ScriptedChatModel(script=[copied, answer])
    patch_chat_model(monkeypatch, fake)
    said = "Hello. I loved Alien, and I'm into scifi. I don't like comedies."
    update = reason_preferences(state(said), runtime())
    # "comedies" is negated in the seeker's sentence: the model's like becomes a dislike.
    assert update == {"preferences": "Likes Alien, scifi; dislikes comedies."}
    assert "Tom Hanks" in fake.prompt_text(1)  # the worked examples stay
    assert fake.prompt_text(1).rstrip().endswith("they named: Alien; scifi; comedies")
    (tool,) = fake.requests[1]["tools"]
    assert tool["function"]["name"] == "PreferenceLists"
    for name in ("likes", "dislikes"):
        items = tool["function"]["parameters"]["properties"][name]["items"]
        assert items["enum"] == ["Alien", "scifi", "comedies"]


def test_with_nothing_named_the_second_ask_drops_the_examples(monkeypatch, world) -> None:
    copied = {"likes": ["Tom Hanks", "Big"], "dislikes": []}
    fake = ScriptedChatModel(script=[copied, {"likes": ["something with spies"]}])
    patch_chat_model(monkeypatch, fake)
    update = reason_preferences(state("Hello.", "Hi!", "Something with spies"), runtime())
    assert update == {"preferences": "Likes something with spies."}
    assert "Tom Hanks" not in fake.prompt_text(1)
    assert "they named" not in fake.prompt_text(1)


def test_named_phrases_are_the_seekers_own_words(world) -> None:
    said = "Hi! I loved Alien, and Sigourney Weaver in scifi. Not into sci fi comedies"
    assert named_phrases(said, 40) == ["Alien", "Sigourney Weaver", "scifi", "sci fi", "comedies"]
    assert named_phrases(said, 8) == ["Alien", "scifi", "sci fi", "comedies"]
    assert named_phrases("Sounds good, thanks!", 40) == []


def test_named_lists_allow_only_the_phrases() -> None:
    schema = named_lists(["comedies", "Tom Hanks"])
    assert schema(likes=["comedies"]).likes == ["comedies"]
    properties = schema.model_json_schema()["properties"]
    assert properties["dislikes"]["items"]["enum"] == ["comedies", "Tom Hanks"]
    assert properties["likes"]["maxItems"] == MAX_ANSWER_ITEMS


def test_grounding_ignores_small_talk() -> None:
    said = "Hi, I am good. Great! I would like a fun movie with Keanu Reeves."
    assert grounded_items(["Hi", "I am good", "Great", "Keanu Reeves", "keanu reeves"], said) == [
        "Keanu Reeves"
    ]
    said = "Hi there! Sounds good. I'm thinking of a movie with a great soundtrack"
    assert grounded_items(["Hi there", "Sounds good", "I'm thinking", "soundtrack"], said) == [
        "soundtrack"
    ]


def test_summary_sentence_reads_back() -> None:
    for likes, dislikes in [(["comedies", "Tom Hanks"], ["gore"]), ([], ["musicals"]), (["x"], [])]:
        assert summary_lists(summary_sentence(likes, dislikes)) == (likes, dislikes)
    assert summary_sentence([], []) == ""
    assert summary_lists("Some free text about horror") == ([], [])


def test_short_and_hyphenated_genres_are_grounded() -> None:
    said = "I usually go for sci-fi movies. Maybe a war film, or something fun."
    assert grounded_items(["sci-fi movies", "war", "fun", "horror", "the"], said) == [
        "sci-fi movies",
        "war",
        "fun",
    ]


def test_named_phrases_fit_the_schema_bound_as_json(monkeypatch, world) -> None:
    from graph import resources
    from rso.data.records import Movie

    amelie = Movie(kb_id="m9", title="Am\u00e9lie", year=2001, genres=["Romance"], doc="")
    monkeypatch.setattr(resources, "movies", lambda: {"m9": amelie})
    monkeypatch.setattr(resources.title_matcher(), "find_in_text", lambda text: ["m9"])
    assert named_phrases("I loved Am\u00e9lie", 11) == ["Am\u00e9lie"]
    assert named_phrases("I loved Am\u00e9lie", 10) == []  # "Am\\u00e9lie": 11 characters
