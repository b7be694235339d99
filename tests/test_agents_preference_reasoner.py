from __future__ import annotations

from agents.preference_reasoner import (
    grounded_items,
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
    for words in (["Hello."], ["hi, how are you?"], ["Hello", "Hi there!", "good, thanks"]):
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


def test_a_list_with_no_item_from_the_seeker_is_rejected(monkeypatch) -> None:
    invented = {"likes": ["The Conjuring", "drama"], "dislikes": []}
    fake = ScriptedChatModel(script=[invented, invented])
    patch_chat_model(monkeypatch, fake)
    update = reason_preferences(state("Hello.", "Hi!", "I want something scary"), runtime())
    assert "preferences" not in update
    assert "comes from the seeker's messages" in update["fallbacks"][0]["failure"]
    # asked twice: with the worked examples, then without them
    assert "Tom Hanks" in fake.prompt_text(0) and "Tom Hanks" not in fake.prompt_text(1)


def test_a_copied_example_is_asked_again_without_the_examples(monkeypatch) -> None:
    copied = {"likes": ["Tom Hanks", "Big"], "dislikes": []}
    fake = ScriptedChatModel(script=[copied, {"likes": ["something scary"], "dislikes": []}])
    patch_chat_model(monkeypatch, fake)
    update = reason_preferences(state("Hello.", "Hi!", "I want something scary"), runtime())
    assert update == {"preferences": "Likes something scary."}


def test_grounding_ignores_small_talk() -> None:
    said = "Hi, I am good. Great! I would like a fun movie with Keanu Reeves."
    assert grounded_items(["Hi", "I am good", "Great", "Keanu Reeves", "keanu reeves"], said) == [
        "Keanu Reeves"
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
