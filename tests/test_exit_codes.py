"""Exit codes a script can trust: `rso rollout` and `rso eval` when episodes fail or none finish."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.commands import EXIT_NOTHING_FINISHED, EXIT_SOME_FAILED
from cli.main import _register_commands, app
from rollouts.config import RolloutConfig
from rollouts.runner import run_rollouts
from tests.fakes import patch_chat_model
from tests.test_rollout import _flaky_model

_register_commands()

_LLM_RUN = [
    "--experts",
    "llm",
    "--episodes",
    "2",
    "--max-turns",
    "2",
    "--concurrency",
    "1",
    "--set",
    "use_retriever=false",
    "--set",
    "llm_max_retries=0",
    "--quiet",
]


def _rollout(out: Path, *extra: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["rollout", "--out", str(out), *_LLM_RUN, *extra])
    return result.exit_code, result.stdout, result.stderr


def test_rollout_with_some_failed_episodes_exits_3_naming_the_first_cause(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    patch_chat_model(monkeypatch, _flaky_model({3}))
    code, out, err = _rollout(tmp_path / "run")
    assert code == EXIT_SOME_FAILED, out + err
    assert "1 failed" in out
    assert "1 of 2 failed" in err and "went away" in err
    assert str(tmp_path / "run" / "episodes.jsonl") in err
    assert "Traceback" not in out + err


def test_rollout_with_every_episode_failed_exits_4(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    patch_chat_model(monkeypatch, _flaky_model(set(range(1, 100))))
    code, out, err = _rollout(tmp_path / "run", "--json")
    assert code == EXIT_NOTHING_FINISHED, out + err
    assert '"failed": 2' in out  # the JSON summary still comes, on stdout
    assert "every episode failed" in err and "went away" in err


def test_rollout_with_no_failure_exits_0(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["rollout", "--out", str(tmp_path / "run"), "--episodes", "2", "--max-turns", "2"]
    )
    assert result.exit_code == 0, result.output


def test_eval_of_a_run_without_finished_episode_exits_4(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    patch_chat_model(monkeypatch, _flaky_model(set(range(1, 100))))
    _rollout(tmp_path / "failed")
    result = CliRunner().invoke(app, ["eval", str(tmp_path / "failed")])
    assert result.exit_code == EXIT_NOTHING_FINISHED, result.output
    assert "no finished episode to measure in failed" in result.stderr


def test_eval_of_an_empty_episodes_file_exits_4(tmp_path: Path) -> None:
    run = tmp_path / "empty"
    run_rollouts(RolloutConfig(out=run, episodes=1, max_turns=1), progress=False)
    (run / "episodes.jsonl").write_text("")
    result = CliRunner().invoke(app, ["eval", str(run)])
    assert result.exit_code == EXIT_NOTHING_FINISHED, result.output
    assert "Traceback" not in result.output


def test_help_documents_the_exit_codes() -> None:
    for command in ("rollout", "eval"):
        result = CliRunner().invoke(app, [command, "--help"])
        assert "Exit codes: 0 done" in result.output and "4 no episode finished" in result.output
