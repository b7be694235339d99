"""The checks of a drafted reply: people put in a movie they are not in, claims not in its record,
the retry note repeated back."""

from __future__ import annotations

from agents.actor import FACTS_REPLY_ACTION, UNSUPPORTED_FAILURE, write_reply
from agents.reply_text import drop_unfounded_people, drop_unsupported_claims
from retrieval.taste_words import Vocabulary
from tests.fakes import ScriptedChatModel, patch_chat_model
from tests.world import BY_ID, MOVIES, runtime, state

VOCABULARY = Vocabulary.build(MOVIES)
CONJURING = BY_ID["m2"]
FACTS = "The Conjuring (2013) is a horror movie by James Wan."
#: The first sentence of facts written from The Conjuring's record (the facts fallback).
RECORD_SENTENCE = (
    "The Conjuring (2013) is a horror, mystery movie directed by James Wan, starring Vera Farmiga, "
    "Patrick Wilson."
)


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


RECORD = (
    "Title: The Conjuring\nYear: 2013\nGenres: Horror, Mystery\nDirected by: James Wan\n"
    "Plot: Paranormal investigators help a family terrorized by a dark presence."
)


def test_a_plot_of_the_models_own_goes_and_the_records_facts_stay() -> None:
    reply = (
        "The Conjuring is about paranormal investigators and a family. "
        "It is about a woman named Lena who gets a job at a Hollywood studio."
    )
    kept, dropped = drop_unsupported_claims(reply, RECORD, ["I like horror"])
    assert dropped and kept == "The Conjuring is about paranormal investigators and a family."


def test_questions_opinions_and_the_dialogues_own_words_are_no_claims() -> None:
    for reply in (
        "Have you seen it? Would you like to hear more about it?",
        "It is really creepy!",  # one word the record lacks: an opinion
        "It is set in Rhode Island, like you said.",
    ):
        said = ["My aunt lives in Rhode Island, so I liked that setting."]
        assert drop_unsupported_claims(reply, RECORD, said) == (reply, False)


def test_credibility_drafts_that_invent_facts_end_in_the_movies_record(monkeypatch, world) -> None:
    invented = "The Conjuring won nine Academy Awards and grossed billions worldwide."
    patch_chat_model(monkeypatch, ScriptedChatModel(script=[invented] * 3))
    history = state("horror please", chosen_movie="m2", candidates=["m2"], movie_facts=FACTS)
    update = write_reply(history, runtime(llm_max_retries=2), "Credibility")
    assert update["reply"] == RECORD_SENTENCE  # not the Retriever's facts: the record's
    assert [f["failure"] for f in update["fallbacks"]] == [UNSUPPORTED_FAILURE] * 3 + [
        "no draft kept to the movie's facts"
    ]
    assert update["fallbacks"][-1]["action"] == FACTS_REPLY_ACTION
    # Only Credibility states facts: an opinion is not held to the record.
    patch_chat_model(monkeypatch, ScriptedChatModel(script=[invented]))
    update = write_reply(history, runtime(), "Personal Opinion")
    assert update["reply"] == invented and "fallbacks" not in update


def test_the_retry_note_repeated_back_is_removed(monkeypatch, world) -> None:
    drafts = ["What a film.", "Name The Conjuring (2013) in your reply.", "The Conjuring is eerie."]
    patch_chat_model(monkeypatch, ScriptedChatModel(script=drafts))
    history = state("horror please", chosen_movie="m2", candidates=["m2"], movie_facts=FACTS)
    update = write_reply(history, runtime(llm_max_retries=2), "Personal Opinion")
    assert update["reply"] == "The Conjuring is eerie."
    failures = [f["failure"] for f in update["fallbacks"]]
    assert failures == ["the draft does not name the movie", "the draft repeated the instructions"]
