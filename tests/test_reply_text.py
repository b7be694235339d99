"""The checks of a drafted reply: people put in a movie they are not in."""

from __future__ import annotations

from agents.actor import write_reply
from agents.reply_text import drop_unfounded_people
from retrieval.taste_words import Vocabulary
from tests.fakes import ScriptedChatModel, patch_chat_model
from tests.world import BY_ID, MOVIES, runtime, state

VOCABULARY = Vocabulary.build(MOVIES)
CONJURING = BY_ID["m2"]


def test_a_person_of_another_movie_takes_the_sentence_with_them() -> None:
    reply = "The Conjuring stars Robert De Niro. Vera Farmiga is great in it. You will love it!"
    kept, wrong = drop_unfounded_people(reply, CONJURING, [], VOCABULARY)
    assert kept == "Vera Farmiga is great in it. You will love it!"
    assert wrong == ["Robert De Niro"]


def test_people_of_the_record_and_people_the_seeker_named_stay() -> None:
    reply = "If you like Al Pacino, try The Conjuring by James Wan, with Patrick Wilson."
    said = ["I love Al Pacino movies"]
    assert drop_unfounded_people(reply, CONJURING, said, VOCABULARY) == (reply, [])
    kept, wrong = drop_unfounded_people(reply, CONJURING, [], VOCABULARY)
    assert (kept, wrong) == ("", ["Al Pacino"])


def test_names_are_matched_in_any_case_and_unknown_names_are_left_alone() -> None:
    reply = "It has ROBERT DE NIRO in it. Jane Nobody wrote it."
    kept, wrong = drop_unfounded_people(reply, CONJURING, [], VOCABULARY)
    assert kept == "Jane Nobody wrote it." and wrong == ["Robert De Niro"]


def test_the_actor_regenerates_when_only_invented_cast_named_the_movie(monkeypatch, world) -> None:
    drafts = [
        "The Conjuring stars Robert De Niro and Al Pacino.",
        "The Conjuring (2013) is a creepy film by James Wan.",
    ]
    patch_chat_model(monkeypatch, ScriptedChatModel(script=drafts))
    movie = {
        "preferences": "Likes horror.",
        "chosen_movie": "m2",
        "movie_facts": "The Conjuring (2013) is a horror movie by James Wan.",
        "candidates": ["m2", "m1", "m5"],
    }
    update = write_reply(state("horror please", **movie), runtime(llm_max_retries=2), "Credibility")
    assert update["reply"] == drafts[1]
    (record,) = update["fallbacks"]
    assert record["failure"] == (
        "the draft put Robert De Niro, Al Pacino in the movie, not in its record"
    )
    assert record["action"] == "removed those sentences; regenerating"


def test_the_seekers_own_people_are_not_taken_for_invented_cast(monkeypatch, world) -> None:
    draft = "Since you like Al Pacino, The Conjuring (2013) has the same intensity."
    patch_chat_model(monkeypatch, ScriptedChatModel(script=[draft]))
    history = state(
        "I love Al Pacino, and horror", chosen_movie="m2", candidates=["m2"], movie_facts=""
    )
    update = write_reply(history, runtime(), "Similarity")
    assert update["reply"] == draft and "fallbacks" not in update
