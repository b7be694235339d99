from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from agents.dialogue_memory import current_movie, dialogue_of
from agents.rule_experts import EXPERTS
from agents.rule_preferences import Preferences, extract_preferences
from agents.rule_ranking import choose_movie, rank_movies
from agents.rule_replies import compose_reply, fact_sentence, summarize_preferences
from graph.experts import ExpertSet
from prompts.rule_templates import GENERIC_QUESTION_FIRST, QUESTION_FIRST, WITH_MOVIE
from retrieval.taste_words import Vocabulary, find_genres, find_people
from rso.data.records import Movie
from rso.strategies import STRATEGIES

MOVIES = {
    m.kb_id: m
    for m in [
        Movie(
            kb_id="m1",
            title="Heat",
            year=1995,
            genres=["action", "crime"],
            directors=["Michael Mann"],
            cast=["Al Pacino", "Robert De Niro"],
            plot="A group of robbers is chased by a detective. They plan one last job.",
            doc="d",
        ),
        Movie(
            kb_id="m2",
            title="Ronin",
            year=1998,
            genres=["action"],
            directors=["John Frankenheimer"],
            cast=["Robert De Niro"],
            plot="Spies.",
            doc="d",
        ),
        Movie(
            kb_id="m3",
            title="Scary Movie",
            year=2000,
            genres=["comedy"],
            directors=["Keenen Ivory Wayans"],
            cast=["Anna Faris"],
            doc="d",
        ),
        Movie(
            kb_id="m4",
            title="The Conjuring",
            year=2013,
            genres=["horror"],
            directors=["James Wan"],
            cast=["Vera Farmiga"],
            plot="Ghosts.",
            doc="d",
        ),
    ]
}
VOCAB = Vocabulary.build(MOVIES.values())


def seeker(text: str) -> tuple[str, str, tuple[str, ...]]:
    return ("Seeker", text, ())


def test_genres_and_people_from_a_sentence() -> None:
    text = "I love scary movies and anything with Robert De Niro, maybe action too."
    assert find_genres(text, VOCAB) == ["horror", "action"]
    assert find_people(text, VOCAB) == ["Robert De Niro"]
    assert find_genres("No genre words here.", VOCAB) == []


def test_a_name_is_found_before_a_full_stop_and_without_its_initials_stop() -> None:
    cast = Movie(kb_id="m9", title="Pulp Fiction", year=1994, cast=["Samuel L. Jackson"], doc="d")
    vocab = Vocabulary.build([cast])
    assert find_people("I love Samuel L. Jackson.", vocab) == ["Samuel L. Jackson"]
    assert find_people("anything with samuel l jackson", vocab) == ["Samuel L. Jackson"]


def test_negation_makes_dislikes_and_summary_mentions_them() -> None:
    prefs = extract_preferences([seeker("I like action movies. I don't like horror.")], VOCAB)
    assert prefs.genres == ("action",) and prefs.disliked_genres == ("horror",)
    summary = summarize_preferences(prefs, MOVIES)
    assert "action movies" in summary and "dislikes horror movies" in summary
    assert summarize_preferences(Preferences(), MOVIES) == ""


def test_rejection_after_a_recommendation_and_titles_are_not_tastes() -> None:
    turns = [
        seeker("I'd like a comedy."),
        ("Recommender", "You might like Scary Movie (2000).", ("m3",)),
        seeker("Scary Movie is not for me. Something else?"),
    ]
    prefs = extract_preferences(turns, VOCAB, MOVIES)
    assert prefs.rejected == ("m3",)
    assert prefs.genres == ("comedy",)  # "Scary" inside the title is no taste for horror


def test_retriever_ranks_by_preferences_and_excludes_rejected() -> None:
    prefs = Preferences(genres=("action",), people=("Robert De Niro",))
    ranking = rank_movies(prefs, MOVIES, VOCAB)
    assert [k for k, _ in ranking][:2] == ["m2", "m1"]  # precise match first
    rejected = Preferences(genres=("action",), people=("Robert De Niro",), rejected=("m2",))
    assert "m2" not in [k for k, _ in rank_movies(rejected, MOVIES, VOCAB)]
    assert rank_movies(Preferences(), MOVIES, VOCAB) == []  # no preference, no movie
    assert choose_movie([], Preferences(), None) is None


def test_equal_fits_follow_the_prior_and_a_better_fit_still_wins() -> None:
    prefs = Preferences(genres=("action",))
    plain = [k for k, _ in rank_movies(prefs, MOVIES, VOCAB)]
    # m1 (action, crime) and m2 (action) differ in fit: a prior never reorders them.
    favour_m1 = {"m1": 5.0, "m2": -5.0}
    assert [k for k, _ in rank_movies(prefs, MOVIES, VOCAB, prior=favour_m1.get)] == plain
    dramas = {
        k: Movie(kb_id=k, title=k, year=2000, genres=["drama"], plot="P.", doc="d")
        for k in ("d1", "d2")
    }
    vocab, ties = Vocabulary.build(dramas.values()), Preferences(genres=("drama",))
    assert [k for k, _ in rank_movies(ties, dramas, vocab)] == ["d1", "d2"]  # by kb id
    ordered = rank_movies(ties, dramas, vocab, prior={"d1": 1.0, "d2": 2.0}.__getitem__)
    assert [k for k, _ in ordered] == ["d2", "d1"]


def test_the_ranker_scores_a_stated_taste_without_embedding_anything() -> None:
    from tests.recommend_fixtures import make_recommender

    ranker = make_recommender()
    before = ranker.utterances.misses
    evidence = ranker.taste_evidence(genres=("crime",), people=(), titles=())
    assert evidence.rows.size == 0 and evidence.said[0].size == 1
    assert not evidence.query.any()
    scores = ranker.scores(evidence)
    assert scores.shape == (len(ranker),)
    assert ranker.utterances.misses == before


def test_retriever_keeps_the_current_candidate_while_it_ranks() -> None:
    prefs = Preferences(genres=("action",))
    ranking = rank_movies(prefs, MOVIES, VOCAB)
    assert choose_movie(ranking, prefs, "m1") == "m1"
    assert choose_movie(ranking, prefs, None) == ranking[0][0]
    assert choose_movie(ranking, Preferences(genres=("action",), rejected=("m1",)), "m1") != "m1"


def test_actor_templates_fill_facts_and_preferences() -> None:
    heat = MOVIES["m1"]
    prefs = Preferences(genres=("action",))
    facts = fact_sentence(heat)
    assert facts == (
        "It's an action, crime movie from 1995, directed by Michael Mann, starring "
        "Al Pacino, Robert De Niro. A group of robbers is chased by a detective."
    )
    credibility = compose_reply("Credibility", heat, prefs, MOVIES)
    assert "Heat (1995)" in credibility and "Michael Mann" in credibility
    for strategy in STRATEGIES:
        reply = compose_reply(strategy, heat, prefs, MOVIES)
        assert "Heat (1995)" in reply and "{" not in reply
    assert "action movies" in compose_reply("Similarity", heat, prefs, MOVIES)
    assert len(WITH_MOVIE) == 14


def test_no_movie_gives_a_question() -> None:
    none = Preferences()
    for strategy in STRATEGIES:
        reply = compose_reply(strategy, None, none, MOVIES)
        assert reply.endswith("?")
    assert compose_reply("Opinion Inquiry", None, none, MOVIES) == QUESTION_FIRST["Opinion Inquiry"]
    assert compose_reply("Credibility", None, none, MOVIES).endswith(GENERIC_QUESTION_FIRST)
    known = compose_reply("Preference Confirmation", None, Preferences(genres=("action",)), MOVIES)
    assert "action movies" in known


def test_registered_expert_set() -> None:
    assert isinstance(EXPERTS, ExpertSet)


@pytest.mark.slow
def test_vocabulary_of_the_real_knowledge_base() -> None:
    from retrieval.taste_words import default_vocabulary

    vocab = default_vocabulary()
    assert {"action", "comedy", "sci-fi"} <= vocab.genres
    assert find_genres("some science fiction please", vocab) == ["sci-fi"]


@pytest.mark.slow
def test_without_the_reasoner_retriever_and_actor_see_only_the_last_two_messages() -> None:
    from agents.rule_experts import retrieve_facts_node, write_reply_node
    from rso.data.movies import movies_by_id
    from tests.world import runtime, state

    dialogue = state(
        "Hi! I love horror movies.",
        "Great, what else do you enjoy?",
        "Hmm, not sure. Surprise me.",
    )
    full = retrieve_facts_node(dialogue, runtime(experts="rule"))
    assert full["chosen_movie"] is not None
    assert "horror" in [g.lower() for g in movies_by_id()[full["chosen_movie"]].genres]
    # The taste was stated three messages ago: without the Reasoner it is not known.
    ablated = runtime(experts="rule", use_reasoner=False)
    assert retrieve_facts_node(dialogue, ablated)["chosen_movie"] is None
    reply = write_reply_node(dialogue, ablated, "Preference Confirmation")
    assert "horror" not in reply["reply"].lower()
    # Stated within the window, it is.
    recent = state("Hello.", "Hi, what are you in the mood for?", "Something scary, like horror.")
    chosen = retrieve_facts_node(recent, ablated)["chosen_movie"]
    assert "horror" in [g.lower() for g in movies_by_id()[chosen].genres]


def test_what_earlier_replies_recommended_comes_from_the_state_history() -> None:
    messages = [
        HumanMessage("Hi, I like action."),
        AIMessage("What else do you like?"),
        HumanMessage("Robert De Niro."),
        SystemMessage("not part of the dialogue"),
        AIMessage("You might like Ronin (1998)."),
        HumanMessage("Ronin is not for me."),
    ]
    # The history holds the last reply's list only: the earlier reply recommended nothing known.
    read = dialogue_of(messages, [["m2"]])
    assert read[3] is None
    assert [r[2] if r else None for r in read] == [(), (), (), None, ("m2",), ()]
    assert current_movie(read) == "m2"
    turns = [r for r in read if r is not None]
    assert extract_preferences(turns, VOCAB, MOVIES).rejected == ("m2",)
    # Without the history nothing was recommended, so nothing is rejected.
    assert current_movie(dialogue_of(messages, [])) is None
    assert dialogue_of(messages, [[], ["m2"]]) == read


@pytest.mark.slow
def test_a_rejected_recommendation_is_never_offered_again() -> None:
    from agents.rule_experts import retrieve_facts_node
    from rso.data.movies import movies_by_id
    from tests.world import runtime, state

    first = retrieve_facts_node(state("I love horror movies."), runtime(experts="rule"))
    chosen = first["chosen_movie"]
    assert chosen is not None
    title = movies_by_id()[chosen].title
    dialogue = state(
        "I love horror movies.",
        f"You might like {title}.",
        f"{title} is not for me. Something else?",
        recommended_history=[[chosen]],
    )
    again = retrieve_facts_node(dialogue, runtime(experts="rule"))
    assert again["chosen_movie"] not in (None, chosen)
    assert chosen not in [kb_id for kb_id, _ in again["retrieved"]]


@pytest.mark.slow
def test_a_session_keeps_what_each_reply_recommended() -> None:
    from langgraph.checkpoint.memory import InMemorySaver

    from graph.builder import build_graph
    from tests.world import runtime

    session = build_graph(InMemorySaver())
    config = {"configurable": {"thread_id": "t"}}
    context = runtime(experts="rule").context
    outputs = [
        session.invoke({"messages": [HumanMessage(text)]}, config, context=context)
        for text in ("Hello.", "I love horror movies.", "Tell me more.")
    ]
    history = session.get_state(config).values["recommended_history"]
    assert history == [out["recommended"] for out in outputs]
    assert history[0] == [] and history[-1]  # nothing known at first, a horror movie later
