"""``rso eval`` on small fast-mode runs: reports, metrics, comparison, and the LLM judges."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cli.commands import EXIT_NOTHING_FINISHED
from cli.main import _register_commands, app
from rollouts.config import RolloutConfig
from rollouts.runner import run_rollouts
from rso.data.eval_cases import load_eval_cases
from rso.runs.records import EpisodeRecord, episode_id
from rso.runs.writer import RolloutWriter
from tests.fakes import ScriptedChatModel, patch_chat_model

_register_commands()


def strict_json(text: str) -> Any:
    """Parse as strict JSON: NaN, Infinity and -Infinity are refused."""

    def refuse(name: str) -> object:
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two small act-level runs that differ in their seed."""
    root = tmp_path_factory.mktemp("runs")
    for name, seed in (("a", 0), ("b", 1)):
        config = RolloutConfig(out=root / name, episodes=4, max_turns=4, seed=seed, concurrency=1)
        run_rollouts(config, progress=False)
    return root / "a", root / "b"


def test_eval_writes_report_and_metrics(runs: tuple[Path, Path]) -> None:
    run_a, _ = runs
    result = CliRunner().invoke(app, ["eval", str(run_a)])
    assert result.exit_code == 0, result.output
    assert "judges (persuasiveness, credibility) skipped" in result.output
    metrics = json.loads((run_a / "metrics.json").read_text())
    assert metrics["n_episodes"] == 4 and metrics["n_failed"] == 0
    assert 0.0 <= metrics["sr"]["value"] <= 1.0 and len(metrics["sr_at_t"]) == 4
    assert metrics["extra"]["judges"] == "skipped" and metrics["extra"]["max_turns"] == 4
    report = (run_a / "report.md").read_text()
    assert "| a | 4 | 0 |" in report
    assert (run_a / "sr_at_t.png").stat().st_size > 0
    assert (run_a / "strategy_distribution.png").stat().st_size > 0


def test_several_runs_are_compared_side_by_side(runs: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "cmp.md"
    result = CliRunner().invoke(app, ["eval", *map(str, runs), "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = out.read_text()
    assert "| a | 4 |" in table and "| b | 4 |" in table
    assert table.strip() in result.output
    assert out.with_suffix(".sr_at_t.png").exists()


def test_judges_on_rate_persuasiveness_and_credibility(
    runs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # One fake judge: every intention rated 3 (pre == true, so excluded), every utterance 4.
    fake = ScriptedChatModel(default={"reasoning": "fine", "rating": 3, "score": 4})
    patch_chat_model(monkeypatch, fake)
    _, run_b = runs
    result = CliRunner().invoke(app, ["eval", str(run_b), "--judges", "on", "--json"])
    assert result.exit_code == 0, result.output
    metrics = strict_json((run_b / "metrics.json").read_text())
    lines = [json.loads(x) for x in (run_b / "judges.jsonl").read_text().splitlines()]
    assert len(lines) == 4
    assert any(line["credibility"] for line in lines)  # some reply recommended a movie
    assert all(score == 4 for line in lines for score in line["credibility"])
    assert metrics["credibility"]["value"] == pytest.approx(4.0)
    persuasion = metrics["persuasiveness"]
    assert persuasion["n_scored"] == 0
    assert persuasion["n_pre_equals_true"] + persuasion["n_missing"] == 4
    assert persuasion["mean"]["value"] is None  # no scorable dialogue: null, not NaN
    printed = strict_json(result.stdout)  # stdout is the JSON alone; status went to stderr
    assert printed["b"]["persuasiveness"]["mean"]["value"] is None
    assert fake.prompts  # the judges really asked the model


def test_a_run_whose_episodes_all_failed_gets_strict_json_and_n_a(tmp_path: Path) -> None:
    run = tmp_path / "down"
    case = next(c for c in load_eval_cases("inspired-test") if c.target_genres)
    with RolloutWriter(run / "episodes.jsonl") as writer:
        for index in range(2):
            writer.write(
                EpisodeRecord(
                    episode_id=episode_id(case.case_id, 0, index),
                    case=case,
                    persona_id=case.user_id,
                    goal=f"genre:{case.target_genres[0]}",
                    status="failed",
                    error="LLMUnavailableError: no server at http://127.0.0.1:1/v1",
                )
            )
    result = CliRunner().invoke(app, ["eval", str(run), "--json"])
    # The report is written, and the exit code tells a script that nothing finished.
    assert result.exit_code == EXIT_NOTHING_FINISHED, result.output
    assert "2 failed episode(s)" in result.output
    assert "SR n/a, strict SR n/a, AvgT n/a" in result.output
    metrics = strict_json((run / "metrics.json").read_text())
    assert metrics["n_episodes"] == 0 and metrics["n_failed"] == 2
    assert metrics["sr"]["value"] is None and metrics["strict_sr"]["value"] is None
    assert strict_json(result.stdout)["down"]["sr"]["value"] is None
    assert "nan" not in (run / "report.md").read_text().lower()


def test_a_missing_run_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["eval", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "is not a run directory" in result.output
