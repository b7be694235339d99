"""Offline evaluation of the ranker: metric arithmetic, counting, and no training dialogue seen."""

from __future__ import annotations

import math

import pytest

from evaluation.recommendation import EvalTurn, baselines, evaluate, ranking_metrics
from retrieval.recommender import MovieRecommender
from retrieval.recommender_build import training_split
from rso.data.rec_turns import dialog_fold, is_validation_dialog
from tests.recommend_fixtures import MOVIES, make_recommender, training_data, training_ids


@pytest.fixture(scope="module")
def ranker() -> MovieRecommender:
    return make_recommender()


def match(title: str) -> str | None:
    return next((m.kb_id for m in MOVIES if m.display_title == title), None)


def test_metrics_from_known_ranks() -> None:
    metrics = ranking_metrics([1, 3, 12, None])
    assert metrics.n == 4
    assert metrics.recall["recall@1"].value == pytest.approx(0.25)
    assert metrics.recall["recall@10"].value == pytest.approx(0.5)
    assert metrics.recall["recall@50"].value == pytest.approx(0.75)
    assert metrics.mrr.value == pytest.approx((1 + 1 / 3 + 1 / 12) / 4)
    assert metrics.ndcg_10.value == pytest.approx((1 + 1 / math.log2(4)) / 4)


def test_the_split_is_a_fixed_hash_rule_of_the_dialog_id() -> None:
    assert dialog_fold("20001") == dialog_fold("20001")
    folds = [dialog_fold(str(n)) for n in range(1000)]
    assert set(folds) == {0, 1, 2, 3, 4}
    assert 150 < folds.count(0) < 250


def test_training_never_uses_a_validation_dialogue() -> None:
    data = training_data()
    valid_id = training_ids(1, fold_is_valid=True)[0]
    turn = data.redial_turns[0].model_copy(update={"dialog_id": valid_id})
    dialog = data.redial_dialogs[0].model_copy(update={"dialog_id": valid_id})
    mixed = type(data)([*data.redial_dialogs, dialog], [*data.redial_turns, turn])
    kept = training_split(mixed)
    assert valid_id not in {d.dialog_id for d in kept.redial_dialogs}
    assert valid_id not in {t.dialog_id for t in kept.redial_turns}


def test_evaluation_leaves_out_and_counts_training_dialogues(ranker: MovieRecommender) -> None:
    seen = sorted(ranker.training_dialogs)[0]
    unseen = training_ids(1, fold_is_valid=True)[0]
    assert is_validation_dialog(unseen) and unseen not in ranker.training_dialogs
    turns = [
        EvalTurn(["", "Hi", "I liked Heat (1995)."], ["Casino (1995)"], seen, 2),
        EvalTurn(["", "Hi", "I liked Heat (1995)."], ["Casino (1995)"], unseen, 2),
    ]
    report = evaluate(ranker, turns, match)
    assert report.n_training_excluded == 1
    assert report.n_turns == 1
    assert report.systems[0].metrics.n == 1


def test_unmatched_and_already_named_targets_are_counted_apart(ranker: MovieRecommender) -> None:
    unseen = training_ids(3, fold_is_valid=True)
    turns = [
        EvalTurn(["", "Hi", "I liked Heat (1995)."], ["Casino (1995)", "Nope (1900)"], unseen[0]),
        EvalTurn(["", "Hi", "I liked Heat (1995)."], ["Heat (1995)"], unseen[1]),
        EvalTurn(["", "Hi", "Something like It (2017)?"], ["The Exorcist (1973)"], unseen[2]),
    ]
    report = evaluate(ranker, turns, match, {"ranker": (None, "dialogue"), **baselines()})
    assert (report.n_targets, report.n_unmatched, report.n_in_context) == (4, 1, 1)
    assert report.n_evaluated == 2
    assert report.unmatched_examples == ["Nope (1900)"]
    assert [s.name for s in report.systems][0] == "ranker"
    assert all(s.metrics.n == 2 for s in report.systems)
    assert report.systems[0].metrics.recall["recall@1"].value == pytest.approx(1.0)
