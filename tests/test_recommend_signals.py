"""Each signal of the movie ranker on a tiny hand-made dialogue whose right answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.dialogue import dialogue_vector, from_context, mentioned_movies, query_exchanges
from retrieval.fusion import Fusion
from retrieval.item_stats import ItemStats
from retrieval.rank_features import FEATURES
from retrieval.recommender import MovieRecommender
from retrieval.recommender_build import redial_mentions
from tests.recommend_fixtures import MOVIES, make_recommender, training_data


@pytest.fixture(scope="module")
def ranker() -> MovieRecommender:
    return make_recommender()


def column(ranker: MovieRecommender, name: str, dialogue: list[tuple[str, str]]) -> np.ndarray:
    evidence = ranker.evidence(dialogue)  # type: ignore[arg-type]
    from retrieval.rank_features import feature_matrix

    matrix = feature_matrix(
        ranker.items, evidence.query, evidence.rows, evidence.weights, said=evidence.said
    )
    return matrix[:, FEATURES.index(name)]


def best(ranker: MovieRecommender, values: np.ndarray, exclude: set[str] = frozenset()) -> str:  # type: ignore[assignment]
    order = [ranker.items.kb_ids[i] for i in np.argsort(-values, kind="stable")]
    return next(kb_id for kb_id in order if kb_id not in exclude)


def test_from_context_gives_the_last_utterance_to_the_seeker_and_skips_empty_ones() -> None:
    turns = from_context(["", "Hi, what do you like?", "Horror, please."])
    assert turns == [("RECOMMENDER", "Hi, what do you like?"), ("SEEKER", "Horror, please.")]
    assert from_context(["a", "b", "c", "d"])[0] == ("RECOMMENDER", "a")
    with pytest.raises(TypeError):
        from_context("a single string")  # type: ignore[arg-type]


def test_the_dense_query_reads_the_last_exchanges_each_a_seeker_answer_with_its_question() -> None:
    turns = [
        ("RECOMMENDER", "Hi!"),
        ("SEEKER", "Horror."),
        ("SEEKER", "Old ones."),
        ("RECOMMENDER", "Seen It (2017)?"),
        ("SEEKER", "Yes."),
        ("RECOMMENDER", "And?"),
    ]
    exchanges = ["Hi! Horror.", "Old ones.", "Seen It (2017)? Yes.", "And?"]
    assert query_exchanges(turns) == exchanges  # type: ignore[arg-type]
    assert query_exchanges(turns, limit=2) == exchanges[-2:]  # type: ignore[arg-type]
    assert query_exchanges(turns, limit=0) == []  # type: ignore[arg-type]


def test_the_dense_query_weighs_recent_and_long_exchanges_most() -> None:
    old, new = np.eye(2, dtype=np.float32)
    vector = dialogue_vector(np.stack([old, new]), ["same", "size"], decay=0.5)
    assert np.isclose(np.linalg.norm(vector), 1.0)
    assert vector[1] == pytest.approx(2 * vector[0])
    longer = dialogue_vector(np.stack([old, new]), ["a" * 400, "b" * 25], decay=0.5)
    assert longer[0] == pytest.approx(2 * longer[1])  # sqrt(400 / 25) = 4, halved by age
    assert not dialogue_vector(np.zeros((0, 2), np.float32), []).any()


def test_mentioned_movies_know_who_named_them_and_how_long_ago(ranker: MovieRecommender) -> None:
    dialogue = [
        ("SEEKER", "I loved The Shining (1980)."),
        ("RECOMMENDER", "Have you seen Heat (1995)?"),
        ("SEEKER", "Yes, and The Shining (1980) again."),
    ]
    found = {m.kb_id: m for m in mentioned_movies(dialogue, ranker.find_titles)}  # type: ignore[arg-type]
    assert found["redial:1"].seeker_named and found["redial:1"].age == 0
    assert not found["redial:7"].seeker_named and found["redial:7"].age == 1


def test_dense_dialogue_signal_prefers_the_described_movie(ranker: MovieRecommender) -> None:
    values = column(ranker, "dense_dialogue", [("SEEKER", "clownfish ocean")])
    assert best(ranker, values) == "redial:5"


def test_dense_items_signal_prefers_movies_like_the_named_one(ranker: MovieRecommender) -> None:
    values = column(ranker, "dense_items", [("SEEKER", "I liked Finding Nemo (2003).")])
    assert values[MOVIES.index(MOVIES[4])] == pytest.approx(values.max())


def test_attribute_signal_follows_the_director(ranker: MovieRecommender) -> None:
    values = column(ranker, "attributes", [("SEEKER", "The Shining (1980) was great.")])
    assert best(ranker, values, {"redial:1"}) == "redial:6"  # also Stanley Kubrick


def test_attribute_signal_reads_genres_and_people_named_in_words(ranker: MovieRecommender) -> None:
    scary = column(ranker, "attributes", [("SEEKER", "Something scary, please.")])
    assert {ranker.items.kb_ids[i] for i in np.flatnonzero(scary > 0)} == {
        "redial:1",
        "redial:2",
        "redial:3",
    }
    person = column(ranker, "attributes", [("SEEKER", "Anything with Tom Hanks?")])
    assert best(ranker, person) == "redial:4"
    nothing = column(ranker, "attributes", [("SEEKER", "Hello there!")])
    assert not nothing.any()


def test_a_seekers_negated_sentence_is_no_wish_but_the_recommenders_question_counts(
    ranker: MovieRecommender,
) -> None:
    negated = column(ranker, "attributes", [("SEEKER", "I don't like horror. Comedy is fine.")])
    assert negated[3] > 0 and negated[:3].max() == 0  # Toy Story, no horror movie
    asked = column(
        ranker, "attributes", [("RECOMMENDER", "Do you like horror?"), ("SEEKER", "Sure.")]
    )
    assert asked[:3].min() > 0


def test_words_and_named_movies_share_one_profile(ranker: MovieRecommender) -> None:
    both = column(ranker, "attributes", [("SEEKER", "Heat (1995) was great. Any horror?")])
    only_heat = column(ranker, "attributes", [("SEEKER", "Heat (1995) was great.")])
    assert both[7] > 0 and both[1] > 0  # Casino (crime, De Niro) and The Exorcist (horror)
    assert both[7] < only_heat[7]  # the words take some of the profile's weight


def test_attributes_popular_weighs_the_fit_by_popularity(ranker: MovieRecommender) -> None:
    dialogue = [("SEEKER", "Scary movies.")]
    fit = column(ranker, "attributes", dialogue)
    popular = column(ranker, "attributes_popular", dialogue)
    expected = fit * np.log1p(ranker.items.stats.mentions)
    assert np.allclose(popular, expected)
    assert best(ranker, popular) == "redial:2"  # The Exorcist, named in three training dialogues


def test_comention_signal_follows_training_dialogues(ranker: MovieRecommender) -> None:
    values = column(ranker, "comention", [("SEEKER", "I liked Heat (1995).")])
    assert best(ranker, values, {"redial:7"}) == "redial:8"


def test_suggested_after_is_directed(ranker: MovieRecommender) -> None:
    after_heat = column(ranker, "suggested_after", [("SEEKER", "I liked Heat (1995).")])
    after_casino = column(ranker, "suggested_after", [("SEEKER", "I liked Casino (1995).")])
    assert after_heat[7] > 0  # recommenders suggested Casino after Heat
    assert after_casino[6] == 0  # never Heat after Casino


def test_popularity_counts_training_dialogues(ranker: MovieRecommender) -> None:
    stats = ranker.items.stats
    assert stats.mentions[1] == 3  # The Exorcist: three training dialogues
    assert stats.suggestions[1] == 2  # suggested by the recommender in two of them
    assert stats.mentions[5] == 0  # Full Metal Jacket: never


def test_leave_one_dialogue_out_subtracts_exactly(ranker: MovieRecommender) -> None:
    data = training_data()
    rows = ranker.items.rows
    own = ItemStats.count([redial_mentions(data.redial_dialogs[2])], rows, len(rows))
    rest = ranker.items.stats.without(own)
    recount = ItemStats.count(
        [redial_mentions(d) for i, d in enumerate(data.redial_dialogs) if i != 2], rows, len(rows)
    )
    assert np.array_equal(rest.mentions, recount.mentions)
    assert (rest.comention != recount.comention).nnz == 0
    assert (rest.suggested_after != recount.suggested_after).nnz == 0


def test_recommend_excludes_named_and_rejected_movies(ranker: MovieRecommender) -> None:
    dialogue = [("SEEKER", "I love horror like The Shining (1980) and It (2017).")]
    picks = ranker.recommend(dialogue, k=10, exclude=["redial:2"])  # type: ignore[arg-type]
    ids = [p.kb_id for p in picks]
    assert {"redial:1", "redial:3", "redial:2"}.isdisjoint(ids)
    assert len(ids) == len(MOVIES) - 3
    assert [p.rank for p in picks] == list(range(1, len(ids) + 1))
    assert all(a.score >= b.score for a, b in zip(picks, picks[1:], strict=False))


def test_the_learned_fusion_ranks_the_known_answer_first(ranker: MovieRecommender) -> None:
    picks = ranker.recommend([("SEEKER", "Any film like Heat (1995)?")], k=3)  # type: ignore[arg-type]
    assert picks[0].kb_id == "redial:8"
    assert picks[0].title == "Casino (1995)"


def test_summary_moves_the_dense_query(ranker: MovieRecommender) -> None:
    plain = ranker.evidence([("SEEKER", "hello")])  # type: ignore[list-item]
    with_summary = ranker.evidence([("SEEKER", "hello")], summary="haunted hotel")  # type: ignore[list-item]
    assert not np.allclose(plain.query, with_summary.query)
    assert np.linalg.norm(with_summary.query) == pytest.approx(1.0, abs=1e-5)


def test_fusion_round_trips_through_json_and_rejects_unknown_features(
    ranker: MovieRecommender,
) -> None:
    again = Fusion.from_json(ranker.fusion.to_json())
    assert again.features == ranker.fusion.features
    assert np.array_equal(again.weights, ranker.fusion.weights)
    with pytest.raises(ValueError, match="unknown"):
        Fusion.from_json({"features": ["nope"], "mean": [0], "scale": [1], "weights": [1]})


def test_k_must_be_positive(ranker: MovieRecommender) -> None:
    with pytest.raises(ValueError):
        ranker.recommend([("SEEKER", "hi")], k=0)  # type: ignore[list-item]


def test_similar_dialogues_vote_for_what_followed_similar_turns(ranker: MovieRecommender) -> None:
    dialogue = [("RECOMMENDER", "Hi, what do you like?"), ("SEEKER", "about Toy Story (1995)")]
    values = column(ranker, "similar_dialogues", dialogue)
    # Finding Nemo followed this very turn; The Exorcist followed two other ones.
    assert values[4] > values[1] > 0
    assert values[5] == 0  # Full Metal Jacket followed no turn


def test_turn_memory_leaves_a_dialogue_out() -> None:
    from retrieval.turn_memory import TurnMemory

    vectors = np.eye(2, dtype=np.float32)
    memory = TurnMemory.of(vectors, [[0], [1]], [0, 1], n_items=3)
    assert memory.scores(vectors[0])[0] > 0
    assert memory.scores(vectors[0], leave_out=0)[0] == 0


def test_suggestion_context_is_the_cosine_with_what_preceded_each_suggestion() -> None:
    from retrieval.turn_memory import TurnMemory

    x, y = np.eye(2, dtype=np.float32)
    diagonal = np.asarray([0.6, 0.8], dtype=np.float32)
    # Movie 0 followed two turns (x, then the diagonal), movie 1 one turn (y); movie 2 none.
    memory = TurnMemory.of(np.stack([x, diagonal, y]), [[0], [0, 1], [1]], [0, 1, 2], n_items=3)
    scores = memory.context_scores(x)
    context0 = (x + diagonal) / np.linalg.norm(x + diagonal)
    assert scores[0] == pytest.approx(float(context0 @ x) * np.log(3))
    context1 = (diagonal + y) / np.linalg.norm(diagonal + y)
    assert scores[1] == pytest.approx(float(context1 @ x) * np.log(3))
    assert scores[2] == 0


def test_suggestion_context_leaves_a_dialogue_out_exactly() -> None:
    from retrieval.turn_memory import TurnMemory

    x, y = np.eye(2, dtype=np.float32)
    memory = TurnMemory.of(np.stack([x, y, y]), [[0], [0], [1]], [0, 1, 1], n_items=2)
    without = memory.context_scores(x, leave_out=0)
    only_rest = TurnMemory.of(np.stack([y, y]), [[0], [1]], [1, 1], n_items=2).context_scores(x)
    assert np.allclose(without, only_rest)
    assert memory.context_scores(x, leave_out=1)[1] == 0  # movie 1 followed only dialog 1


def test_only_the_asked_signals_are_computed_and_ranking_needs_only_the_fused_ones(
    ranker: MovieRecommender,
) -> None:
    from retrieval.fusion import FUSED_FEATURES
    from retrieval.rank_features import feature_matrix

    evidence = ranker.evidence([("SEEKER", "Any film like Heat (1995)?")])  # type: ignore[list-item]
    full = feature_matrix(ranker.items, evidence.query, evidence.rows, evidence.weights)
    some = ("comention", "popularity")
    part = ranker.features(evidence, some)
    for name in FEATURES:
        expected = full[:, FEATURES.index(name)] if name in some else 0.0
        assert np.array_equal(part[:, FEATURES.index(name)], np.broadcast_to(expected, len(part)))
    assert ranker.fusion.features == FUSED_FEATURES
    assert np.array_equal(ranker.scores(evidence), ranker.fusion.score(full))


def test_said_attributes_know_how_long_ago_each_word_was_said() -> None:
    from retrieval.attributes import word_finder
    from retrieval.dialogue import said_attributes
    from retrieval.taste_words import Vocabulary

    find = word_finder(Vocabulary.build(MOVIES))
    dialogue = [
        ("SEEKER", "I like horror movies."),
        ("RECOMMENDER", "Anything with Tom Hanks?"),
        ("SEEKER", "I hate crime movies."),
    ]
    said = {(s.token, s.age) for s in said_attributes(dialogue, find)}  # type: ignore[arg-type]
    assert said == {("g:horror", 2), ("d:Tom Hanks", 1), ("c:Tom Hanks", 1)}


def test_saved_attributes_must_match_their_tokens(ranker: MovieRecommender) -> None:
    from retrieval.attributes import Attributes

    arrays = ranker.items.attributes.arrays()
    again = Attributes.from_arrays(arrays)
    assert again.tokens == ranker.items.attributes.tokens
    with pytest.raises(ValueError, match="tokens"):
        Attributes.from_arrays(arrays | {"tokens": arrays["tokens"][:4]})


def test_the_head_puts_movies_with_more_of_the_named_genres_first(
    ranker: MovieRecommender, monkeypatch: pytest.MonkeyPatch
) -> None:
    from retrieval import recommender
    from retrieval.recommender import COVERAGE_HEAD, Evidence

    rows = {kb_id: row for row, kb_id in enumerate(ranker.items.kb_ids)}
    # Fused scores that favour movies with one of the two named genres (or none).
    scores = np.linspace(1.0, 0.0, len(rows))
    order = ["redial:6", "redial:5", "redial:7", "redial:4", "redial:1", "redial:2", "redial:3"]
    for rank, kb_id in enumerate(order):
        scores[rows[kb_id]] = 10.0 - rank
    said = ranker.items.attributes.said([("g:animation", 1.0), ("g:comedy", 1.0)])
    empty = np.zeros(0, dtype=np.int64)
    plain = Evidence((), np.zeros(1, np.float32), empty, np.zeros(0, np.float32))
    asked = Evidence((), np.zeros(1, np.float32), empty, np.zeros(0, np.float32), said)
    before = [p.kb_id for p in ranker.top(scores, plain, k=5)]
    after = [p.kb_id for p in ranker.top(scores, asked, k=5)]
    assert before == order[:5]
    # Toy Story has both (animation, comedy), Finding Nemo one; the rest keep their fused order.
    assert after == ["redial:4", "redial:5", "redial:6", "redial:7", "redial:1"]
    assert set(after) == set(before)  # only the order inside the head moves
    assert [p.kb_id for p in ranker.top(scores, asked, k=5, cover_head=False)] == before
    assert [p.kb_id for p in ranker.top(scores, asked, k=1)] == ["redial:4"]  # cut after ordering
    assert len(rows) <= COVERAGE_HEAD  # this knowledge base fits in the head
    # A head of three: Toy Story, fourth by score, stays fourth.
    monkeypatch.setattr(recommender, "COVERAGE_HEAD", 3)
    assert [p.kb_id for p in ranker.top(scores, asked, k=5)] == [
        "redial:5", "redial:6", "redial:7", "redial:4", "redial:1",
    ]  # fmt: skip
