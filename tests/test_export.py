"""Export of logged rollouts to TRL-style rows."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rl.export import MissingDatasetsError, actor_rows, export_trl, planner_rows
from rso.data.records import EvalCase
from rso.runs.records import EpisodeRecord, TurnRecord, episode_id
from rso.runs.writer import RolloutWriter
from rso.strategies import STRATEGIES


def _episode(index: int, status: str = "ok") -> EpisodeRecord:
    case = EvalCase(
        case_id=f"c{index}",
        dataset="inspired",
        dialog_id=f"d{index}",
        user_id="u1",
        target_genres=["comedy"],
    )
    probs = [1.0 / len(STRATEGIES)] * len(STRATEGIES)
    turns = [
        TurnRecord(
            turn=0,
            planner_input="Seeker: Hello.",
            strategy="Opinion Inquiry",
            probs=probs,
            logprob=math.log(1 / 14),
            reply="What kind of movies do you like?",
            seeker_reply="I like comedies.",
            reward=0.6,
            reward_samples=[0.6],
        ),
        TurnRecord(
            turn=1,
            planner_input=(
                "Seeker: Hello.\nRecommender: What kind of movies do you like?\n"
                "Seeker: I like comedies."
            ),
            strategy="Credibility",
            probs=probs,
            logprob=math.log(1 / 14),
            reply="Airplane! (1980) is a comedy.",
            seeker_reply="Sounds great, I'll watch it.",
            reward=1.0,
            reward_samples=[1.0],
            done=True,
        ),
    ]
    return EpisodeRecord(
        episode_id=episode_id(case.case_id, 0, index),
        case=case,
        persona_id="u1",
        goal="genre:comedy",
        turns=turns if status == "ok" else [],
        success=status == "ok",
        n_turns=2,
        status=status,  # type: ignore[arg-type]
        error=None if status == "ok" else "LLM timed out",
    )


@pytest.fixture()
def run(tmp_path: Path) -> Path:
    with RolloutWriter(tmp_path / "run" / "episodes.jsonl") as writer:
        writer.write(_episode(0))
        writer.write(_episode(1, status="failed"))
    return tmp_path / "run"


def test_actor_rows_are_conversational_prompt_completion() -> None:
    rows = list(actor_rows([_episode(0)]))
    assert len(rows) == 2
    second = rows[1]
    roles = [m["role"] for m in second["prompt"]]
    assert roles == ["system", "user", "assistant", "user"]
    assert second["prompt"][1]["content"] == "Hello."
    assert second["prompt"][3]["content"] == "I like comedies."
    assert second["completion"] == [
        {"role": "assistant", "content": "Airplane! (1980) is a comedy."}
    ]
    assert second["strategy"] == "Credibility" and second["reward"] == 1.0
    # The prompt text rebuilt from the records is exactly what the Planner read.
    text = list(actor_rows([_episode(0)], prompt_format="text"))[1]["prompt"]
    assert text == _episode(0).turns[1].planner_input + "\nRecommender:"


def test_planner_rows_carry_discounted_returns() -> None:
    rows = list(planner_rows([_episode(0)], gamma=0.5))
    assert [r["return"] for r in rows] == pytest.approx([0.6 + 0.5 * 1.0, 1.0])
    assert rows[0]["state"] == "Seeker: Hello."
    assert rows[0]["logprob"] == pytest.approx(math.log(1 / 14))


def test_export_jsonl_skips_failed_episodes(run: Path, tmp_path: Path) -> None:
    result = export_trl(run, tmp_path / "actor.jsonl")
    assert (result.rows, result.episodes, result.skipped_failed) == (2, 1, 1)
    lines = (tmp_path / "actor.jsonl").read_text().splitlines()
    assert [json.loads(x)["turn"] for x in lines] == [0, 1]
    planner = export_trl(run, tmp_path / "planner.jsonl", kind="planner")
    assert planner.rows == 2


def test_the_same_episodes_export_the_same_rows_whatever_order_they_finished_in(
    tmp_path: Path,
) -> None:
    episodes = [_episode(i) for i in range(4)]
    for name, order in (("forward", episodes), ("backward", episodes[::-1])):
        with RolloutWriter(tmp_path / name / "episodes.jsonl") as writer:
            for e in order:
                writer.write(e)
        export_trl(tmp_path / name, tmp_path / f"{name}.jsonl", kind="planner")
    assert (tmp_path / "forward.jsonl").read_bytes() == (tmp_path / "backward.jsonl").read_bytes()


def test_datasets_format_needs_the_package(run: Path, tmp_path: Path) -> None:
    try:
        import datasets  # noqa: F401
    except ImportError:
        with pytest.raises(MissingDatasetsError, match="pip install datasets"):
            export_trl(run, tmp_path / "ds", fmt="datasets")
    else:
        result = export_trl(run, tmp_path / "ds", fmt="datasets")
        assert result.rows == 2 and (tmp_path / "ds").is_dir()


def test_missing_run_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no episodes.jsonl"):
        export_trl(tmp_path / "nothing", tmp_path / "x.jsonl")


def test_export_cli(run: Path, tmp_path: Path) -> None:
    import typer

    from cli.commands.export import register

    app = typer.Typer()
    register(app)
    out = tmp_path / "rows.jsonl"
    result = CliRunner().invoke(
        app, ["export", "trl", str(run), "--out", str(out), "--rows", "planner"]
    )
    assert result.exit_code == 0, result.output
    assert "2 planner rows" in result.output and "1 failed episode" in result.output
    assert json.loads(out.read_text().splitlines()[0])["strategy"] == "Opinion Inquiry"
    bad = CliRunner().invoke(app, ["export", "trl", str(run), "--out", str(out), "--rows", "x"])
    assert bad.exit_code != 0
