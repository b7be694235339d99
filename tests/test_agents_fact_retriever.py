from __future__ import annotations

import pytest

from agents.fact_retriever import (
    is_decline,
    limit_words,
    record_facts,
    retrieve_facts,
    snap_to_candidate,
)
from tests.fakes import ScriptedChatModel, patch_chat_model
from tests.world import BY_ID, MOVIES, runtime, state

HORROR = (
    "Hello.",
    "Hi! What are you in the mood for?",
    "a scary horror movie, maybe a haunted farmhouse",
)


def test_no_known_preference_retrieves_but_recommends_nothing(monkeypatch, world) -> None:
    fake = ScriptedChatModel()
    patch_chat_model(monkeypatch, fake)
    update = retrieve_facts(state(*HORROR), runtime(top_k=4))
    assert [kb for kb, _ in update["retrieved"]] == ["m2", "m1", "m5", "m3"]
    assert update["candidates"] == ["m2", "m1", "m5"]
    assert "chosen_movie" not in update and fake.prompts == []
    # The query is the last two utterances.
    assert world.queries == ["Hi! What are you in the mood for? " + HORROR[2]]


def test_llm_pick_is_snapped_and_facts_kept(monkeypatch, world) -> None:
    fake = ScriptedChatModel(
        script=[
            {
                "reasoning": "haunted",
                "choice": "the conjuring (2013)",
                "facts": "A 2013 horror film.",
            }
        ]
    )
    patch_chat_model(monkeypatch, fake)
    update = retrieve_facts(state(*HORROR, preferences="Likes horror."), runtime())
    assert update["chosen_movie"] == "m2"
    assert update["movie_facts"] == "A 2013 horror film."
    prompt = fake.prompt_text(0)
    assert '<movie number="1">\nTitle: The Conjuring' in prompt
    assert "Directed by: James Wan" in prompt and "<preferences>\nLikes horror." in prompt
    assert "fallbacks" not in update


def test_decline_gives_no_movie(monkeypatch, world) -> None:
    patch_chat_model(
        monkeypatch, ScriptedChatModel(script=[{"reasoning": "-", "choice": "None", "facts": ""}])
    )
    update = retrieve_facts(state(*HORROR, preferences="Likes horror."), runtime())
    assert update["chosen_movie"] is None and update["movie_facts"] == ""


def test_garbage_output_falls_back_to_top_candidate_with_record_facts(monkeypatch, world) -> None:
    patch_chat_model(monkeypatch, ScriptedChatModel(script=["<<garbage>>", "{'choice':"]))
    update = retrieve_facts(state(*HORROR, preferences="Likes horror."), runtime(llm_max_retries=1))
    assert update["chosen_movie"] == "m2"
    assert update["movie_facts"].startswith("The Conjuring (2013) is a horror, mystery movie")
    assert "malformed output after 2 attempts" in update["fallbacks"][0]["failure"]


def test_unknown_choice_falls_back_and_long_facts_are_cut(monkeypatch, world) -> None:
    long_facts = "Scary. " * 150
    patch_chat_model(
        monkeypatch,
        ScriptedChatModel(script=[{"reasoning": "-", "choice": "Zzyzx Road", "facts": long_facts}]),
    )
    update = retrieve_facts(state(*HORROR, preferences="Likes horror."), runtime())
    assert update["chosen_movie"] == "m2"
    assert len(update["movie_facts"].split()) < 100
    assert "names no candidate" in update["fallbacks"][0]["failure"]


def test_without_reasoner_the_dialogue_stands_in_for_preferences(monkeypatch, world) -> None:
    fake = ScriptedChatModel(script=[{"reasoning": "-", "choice": "2", "facts": "Space horror."}])
    patch_chat_model(monkeypatch, fake)
    update = retrieve_facts(state(*HORROR), runtime(use_reasoner=False))
    assert update["chosen_movie"] == "m1"  # "2" = the second candidate
    assert "infer them from the recent dialogue" in fake.prompt_text(0)


def test_snap_and_decline_helpers(world) -> None:
    assert snap_to_candidate("Alien", MOVIES[:3]) is MOVIES[0]
    assert snap_to_candidate("Conjuring", MOVIES[:3]) is MOVIES[1]
    assert snap_to_candidate("#3", MOVIES[:3]) is MOVIES[2]
    assert snap_to_candidate("Casablanca", MOVIES[:3]) is None
    assert is_decline("none") and is_decline("None.") and not is_decline("Heat")


def test_record_facts_and_limit_words() -> None:
    facts = record_facts(BY_ID["m4"])
    assert facts.startswith("Heat (1995) is a crime, thriller movie directed by Michael Mann")
    assert "Al Pacino" in facts
    assert limit_words("one two. three four five six", 5) == "one two. three four five..."
    assert limit_words("a b c. d e f g", 5) == "a b c."


@pytest.mark.parametrize(
    ("facts", "problem"),
    [
        ("{{<movie number=", "the facts contain markup"),
        ("A biographical drama about a teenage girl fighting gangs.", "of the facts' words come"),
        ("", "the model gave no facts"),
    ],
)
def test_ungrounded_facts_are_replaced_by_record_facts(monkeypatch, world, facts, problem) -> None:
    answer = {"reasoning": "-", "choice": "The Conjuring", "facts": facts}
    patch_chat_model(monkeypatch, ScriptedChatModel(script=[answer]))
    update = retrieve_facts(state(*HORROR, preferences="Likes horror."), runtime())
    assert update["chosen_movie"] == "m2"
    assert update["movie_facts"] == record_facts(BY_ID["m2"])
    assert problem in update["fallbacks"][0]["failure"]


def test_a_follow_up_keeps_the_movie_under_discussion(monkeypatch, world) -> None:
    fake = ScriptedChatModel(script=[{"choice": "The Others", "facts": "A 2001 ghost story."}])
    patch_chat_model(monkeypatch, fake)
    title = BY_ID["m3"].title
    s = state(
        *HORROR,
        f"You might like {title}.",
        "Who is in it?",
        preferences="Likes horror.",
        recommended_history=[[], ["m3"]],
    )
    update = retrieve_facts(s, runtime())
    assert update["candidates"][0] == "m3" and len(update["candidates"]) == 3
    # The choice is constrained to the candidates' titles or the decline.
    schema = fake.requests[0]["tools"][0]["function"]["parameters"]["properties"]["choice"]
    assert schema["enum"] == [*(BY_ID[kb].title for kb in update["candidates"]), "none"]


def test_a_turned_down_movie_is_not_kept(monkeypatch, world) -> None:
    patch_chat_model(monkeypatch, ScriptedChatModel(default={"choice": "none", "facts": ""}))
    s = state(
        *HORROR,
        f"You might like {BY_ID['m3'].title}.",
        "Not for me, something else please.",
        preferences="Likes horror.",
        recommended_history=[[], ["m3"]],
    )
    assert "m3" not in retrieve_facts(s, runtime())["candidates"]


def test_facts_that_only_repeat_the_title_are_replaced() -> None:
    from agents.fact_retriever import facts_problem

    movie = BY_ID["m2"]
    assert facts_problem(f"Title: {movie.title}", movie) == "the facts say nothing beyond the title"
    assert facts_problem(record_facts(movie), movie) is None
