from __future__ import annotations

import json
from typing import Any

import pytest

from evaluation.metrics import (
    aggregate_persuasiveness,
    bootstrap,
    compute_metrics,
    credibility_mean,
    persuasiveness_score,
    strategy_distribution,
)
from evaluation.report import compare_runs, evaluate_run, write_report
from rso.data.records import EvalCase
from rso.runs.records import EpisodeRecord, TurnRecord, episode_id
from rso.runs.writer import RolloutWriter

CASE = EvalCase(
    case_id="c", dataset="inspired", dialog_id="d", user_id="u", target_genres=["action"]
)
GENRES = {"a1": {"action"}, "c1": {"comedy"}, "c2": {"comedy", "drama"}}


def genres_of(kb_id: str) -> set[str]:
    return GENRES.get(kb_id, set())


def ep(
    index: int,
    rewards: list[float],
    top: list[str],
    *,
    strict: bool = False,
    goal: str = "genre:action",
    strategies: list[str] | None = None,
    status: str = "ok",
) -> EpisodeRecord:
    strategies = strategies or ["Credibility"] * len(rewards)
    turns = [
        TurnRecord(
            turn=t,
            strategy=strategies[t],
            reward=r,
            reward_samples=[r],
            top=[(k, 1.0) for k in top] if t == len(rewards) - 1 else [],
        )
        for t, r in enumerate(rewards)
    ]
    return EpisodeRecord(
        episode_id=episode_id("c", 0, index),
        case=CASE,
        persona_id="u",
        goal=goal,
        turns=turns,
        strict_success=strict,
        n_turns=len(turns),
        status=status,
    )  # type: ignore[arg-type]


EPISODES = [
    ep(0, [0.6, 1.0], ["a1", "c1"], strict=True),  # success at turn 2, strict
    ep(1, [0.6, 0.6, 0.8], ["c1", "a1"]),  # success at turn 3, lenient
    ep(2, [0.6] * 10, ["c1", "c2"]),  # failure, no action in top list
    ep(3, [0.4, 0.4], []),  # seeker left: failure, no list
    ep(4, [0.6], ["a1"], status="failed"),  # crashed: excluded, counted
]


def test_success_rates_turns_and_curve() -> None:
    m = compute_metrics(EPISODES, genres_of)
    assert m.n_episodes == 4 and m.n_failed == 1
    assert m.sr.value == pytest.approx(0.5)
    assert m.strict_sr.value == pytest.approx(0.25)
    assert m.avg_turns.value == pytest.approx((2 + 3 + 10 + 10) / 4)
    assert m.sr_at_t[:4] == [0.0, 0.25, 0.5, 0.5] and m.sr_at_t[-1] == 0.5
    assert m.n_without_ranking == 1


def test_strict_success_from_a_majority_of_accepted_samples() -> None:
    e = ep(0, [0.9], ["a1"])
    e.turns[0].reward_samples = [1.0, 1.0, 0.8]
    assert compute_metrics([e], genres_of).strict_sr.value == 1.0
    e.turns[0].reward_samples = [1.0, 0.8]
    assert compute_metrics([e], genres_of).strict_sr.value == 0.0


def test_recall_genre_and_item_level() -> None:
    m = compute_metrics(EPISODES, genres_of)
    assert m.recall["recall@1"].value == pytest.approx(0.25)  # only episode 0
    assert m.recall["recall@5"].value == pytest.approx(0.5)  # episodes 0 and 1
    item = [ep(0, [0.6], ["c1", "a1"], goal="movie:a1"), ep(1, [0.6], ["c1"], goal="movie:a1")]
    mi = compute_metrics(item, genres_of)
    assert mi.recall["recall@1"].value == 0.0 and mi.recall["recall@5"].value == 0.5
    with pytest.raises(ValueError, match="unknown goal"):
        compute_metrics([ep(0, [0.6], ["a1"], goal="mood:happy")], genres_of)


def test_bootstrap_interval_contains_the_point_and_is_seeded() -> None:
    values = [1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0]
    a, b = bootstrap(values, seed=3), bootstrap(values, seed=3)
    assert a == b and a.low <= a.value <= a.high and a.low < a.high
    assert a.value == pytest.approx(0.625) and a.n == 8
    assert bootstrap([], seed=0).n == 0


def test_persuasiveness_exclusions() -> None:
    assert persuasiveness_score(2, 4, 5) == pytest.approx(1 - 1 / 3)
    assert persuasiveness_score(3, 5, 4) is None  # over-persuaded
    assert persuasiveness_score(4, 2, 4) is None  # pre == true
    agg = aggregate_persuasiveness([(2, 4, 5), (1, 5, 5), (3, 5, 4), (4, 2, 4), (None, 3, 4)])
    assert agg.n_scored == 2 and agg.mean.value == pytest.approx((2 / 3 + 1.0) / 2)
    assert agg.n_over_persuaded == 1 and agg.n_pre_equals_true == 1 and agg.n_missing == 1


def test_credibility_mean_per_dialogue_then_overall() -> None:
    assert credibility_mean([[5, 3], [1], [None], []]).value == pytest.approx((4 + 1) / 2)


def test_strategy_distribution_by_progress() -> None:
    e = ep(
        0,
        [0.6] * 4,
        [],
        strategies=["Opinion Inquiry", "Opinion Inquiry", "Credibility", "Personal Opinion"],
    )
    shares = strategy_distribution([e], buckets=2)
    assert shares[0]["Opinion Inquiry"] == 1.0
    assert shares[1]["Credibility"] == 0.5 and shares[1]["Personal Opinion"] == 0.5


def test_report_files_and_comparison(tmp_path) -> None:
    run = tmp_path / "run"
    with RolloutWriter(run / "episodes.jsonl") as writer:
        for e in EPISODES:
            writer.write(e)
    m = evaluate_run(run, tmp_path / "out", genres_of=genres_of)
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["sr"]["value"] == m.sr.value
    report = (tmp_path / "out" / "report.md").read_text()
    assert "| run | 4 | 1 |" in report
    assert (tmp_path / "out" / "strategy_distribution.png").stat().st_size > 1000
    table = compare_runs({"a": run, "b": [run, run]}, tmp_path / "cmp.md", genres_of=genres_of)
    assert "| a | 4 |" in table and "| b | 8 |" in table


def test_a_report_does_not_depend_on_the_order_episodes_finished_in(tmp_path) -> None:
    # Concurrent rollouts write episodes as they finish; the seeded intervals must not move.
    episodes = [ep(i, [0.6, 0.8] if i % 3 else [0.4], ["a1"]) for i in range(12)]
    for name, order in (("forward", episodes), ("backward", episodes[::-1])):
        with RolloutWriter(tmp_path / name / "episodes.jsonl") as writer:
            for e in order:
                writer.write(e)
    forward = evaluate_run(tmp_path / "forward", tmp_path / "f", genres_of=genres_of)
    backward = evaluate_run(tmp_path / "backward", tmp_path / "b", genres_of=genres_of)
    assert forward.sr == backward.sr and forward.avg_turns == backward.avg_turns
    assert forward.recall == backward.recall


def _strict_json(text: str) -> Any:
    """Parse as strict JSON: NaN, Infinity and -Infinity are refused."""

    def refuse(name: str) -> object:
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def test_a_run_without_a_finished_episode_writes_strict_json_and_n_a(tmp_path) -> None:
    run = tmp_path / "run"
    with RolloutWriter(run / "episodes.jsonl") as writer:
        for index in range(3):  # e.g. the LLM server was unreachable throughout
            writer.write(ep(index, [0.6], [], status="failed"))
    m = evaluate_run(run, tmp_path / "out", genres_of=genres_of)
    assert m.n_episodes == 0 and m.n_failed == 3
    metrics = _strict_json((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["sr"] == {"value": None, "low": None, "high": None, "n": 0}
    assert metrics["avg_turns"]["value"] is None
    assert metrics["recall"]["recall@5"]["value"] is None
    report = (tmp_path / "out" / "report.md").read_text()
    assert "| run | 0 | 3 | n/a | n/a | n/a |" in report
    assert "nan" not in report.lower()


def test_persuasiveness_without_a_scorable_dialogue_is_null_not_nan(tmp_path) -> None:
    # No dialogue has a persuasiveness score: one has pre == true, one was over-persuaded.
    m = compute_metrics(EPISODES, genres_of, persuasion=[(3, 3, 3), (3, 5, 4)])
    assert m.persuasiveness is not None and m.persuasiveness.n_scored == 0
    paths = write_report("run", m, tmp_path / "out")
    metrics = _strict_json(paths["metrics"].read_text())
    persuasion = metrics["persuasiveness"]
    assert persuasion["mean"]["value"] is None and persuasion["n_pre_equals_true"] == 1
    assert persuasion["n_over_persuaded"] == 1
    assert metrics["sr"]["value"] == m.sr.value  # finite values unchanged
    report = paths["report"].read_text()
    assert "| n/a | - |" in report and "nan" not in report.lower()
