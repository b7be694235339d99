"""Resuming a rollout run after a crash: every episode once, no torn line, failed ones retried."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from langchain_core.messages import BaseMessage

from rollouts.config import RolloutConfig
from rollouts.runner import run_rollouts
from rso.runs.records import EpisodeRecord, read_episodes
from rso.runs.writer import RolloutWriter
from tests.fakes import ScriptedChatModel, patch_chat_model
from tests.world import answer


class SimulatedCrash(RuntimeError):
    """Stands in for the process dying while it writes an episode."""


def lines_of(path: Path) -> list[dict[str, object]]:
    """Every line of a JSONL file, parsed (a torn line fails the test here)."""
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def test_resume_after_a_crash_mid_write(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = RolloutConfig(
        out=tmp_path / "run", episodes=8, max_turns=3, concurrency=3, planner="uniform"
    )
    real_write = RolloutWriter.write
    written = 0

    def crash_on_fourth(self: RolloutWriter, episode: EpisodeRecord) -> None:
        nonlocal written
        if written == 3:
            # Half a line reaches the disk, then the process "dies".
            self._fh.write(episode.model_dump_json()[:40])
            self._fh.flush()
            raise SimulatedCrash("killed mid-write")
        written += 1
        real_write(self, episode)

    monkeypatch.setattr(RolloutWriter, "write", crash_on_fourth)
    with pytest.raises(SimulatedCrash):
        run_rollouts(config, progress=False)
    episodes_path = tmp_path / "run" / "episodes.jsonl"
    assert not episodes_path.read_text().endswith("\n")  # the torn line is there
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    monkeypatch.setattr(RolloutWriter, "write", real_write)

    resumed = run_rollouts(
        RolloutConfig(
            out=tmp_path / "run",
            episodes=8,
            max_turns=3,
            concurrency=1,
            resume=True,
            planner="uniform",
        ),
        progress=False,
    )
    assert resumed.already_done == 3 and resumed.ran == 5
    ids = [line["episode_id"] for line in lines_of(episodes_path)]
    assert len(ids) == len(set(ids)) == 8
    fresh = run_rollouts(
        RolloutConfig(out=tmp_path / "fresh", episodes=8, max_turns=3, planner="uniform"),
        progress=False,
    )
    assert {e.episode_id: e for e in read_episodes(episodes_path)} == {
        e.episode_id: e for e in fresh.episodes
    }  # resuming changes nothing in the episodes


def _rso(*args: str) -> list[str]:
    return [sys.executable, "-c", "from cli.main import main; main()", *args]


@pytest.mark.slow
def test_resume_after_killing_the_cli(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["rollout", "--out", str(out), "--cases", "inspired-train", "--episodes", "150"]
    args += ["--max-turns", "4", "--concurrency", "2", "--quiet"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    process = subprocess.Popen(
        _rso(*args), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    episodes_path = out / "episodes.jsonl"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if episodes_path.exists() and episodes_path.read_bytes().count(b"\n") >= 5:
                break
            time.sleep(0.01)
        assert process.poll() is None, "the run ended before it could be killed"
        process.send_signal(signal.SIGKILL)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
    killed_with = episodes_path.read_bytes().count(b"\n")
    assert 5 <= killed_with < 150

    done = subprocess.run(
        _rso(*args, "--resume", "--json"), env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["already_done"] >= killed_with and summary["planned"] == 150
    ids = [line["episode_id"] for line in lines_of(episodes_path)]
    assert len(ids) == len(set(ids)) == 150


# --- failed episodes are played again on resume -------------------------------------------------


def _llm_config(out: Path, **changes: object) -> RolloutConfig:
    """A short run with the LLM experts (a fake model) and the act seeker, in plan order."""
    values: dict[str, object] = {
        "out": out,
        "experts": "llm",
        "episodes": 4,
        "max_turns": 2,
        "concurrency": 1,
        "context": {"use_retriever": False, "llm_max_retries": 0},
    }
    return RolloutConfig(**(values | changes))  # type: ignore[arg-type]


def _model(fail: Callable[[int], bool]) -> ScriptedChatModel:
    """The fake LLM of every role; call number n (from 1) fails when fail(n)."""
    calls = 0

    def reply(messages: list[BaseMessage]) -> object:
        nonlocal calls
        calls += 1
        if fail(calls):
            return ConnectionError("the model server went away")
        return answer(messages)

    return ScriptedChatModel(default=reply)


def _by_id(path: Path) -> dict[str, EpisodeRecord]:
    episodes = read_episodes(path)
    ids = [e.episode_id for e in episodes]
    assert len(ids) == len(set(ids)), "an episode is logged twice"
    return {e.episode_id: e for e in episodes}


def test_resume_plays_failed_episodes_again_and_keeps_the_failed_attempts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    episodes_path, failed_path = run / "episodes.jsonl", run / "failed.jsonl"
    # The first turn makes one call (the Actor: the seeker has only greeted), later turns two
    # (Reasoner, Actor): the first episode fails at once, the third after one turn.
    patch_chat_model(monkeypatch, _model(lambda n: n in (1, 6)))
    first = run_rollouts(_llm_config(run), progress=False)
    before = _by_id(episodes_path)
    failed = {i for i, e in before.items() if e.status == "failed"}
    assert first.failed == len(failed) == 2 and len(before) == 4
    assert sorted(before[i].n_turns for i in failed) == [0, 1]
    ok_lines = [line for line in episodes_path.read_text().splitlines() if '"ok"' in line]

    patch_chat_model(monkeypatch, _model(lambda n: False))  # the server is back
    resumed = run_rollouts(_llm_config(run, resume=True), progress=False)
    assert (resumed.retried, resumed.ran, resumed.failed) == (2, 2, 0)
    assert resumed.already_done == 2 and resumed.as_dict()["retried"] == 2
    after = _by_id(episodes_path)
    assert set(after) == set(before) and all(e.status == "ok" for e in after.values())
    for line in ok_lines:  # the episodes that had succeeded are untouched, byte for byte
        assert line in episodes_path.read_text().splitlines()
    # The failed attempts are kept, as they were, beside the run.
    kept = read_episodes(failed_path)
    assert {e.episode_id for e in kept} == failed and len(kept) == 2
    assert all(e == before[e.episode_id] for e in kept)

    # Every reader of the run sees each episode once: eval, export, RL's --from-runs.
    from evaluation.metrics import compute_metrics
    from rl.export import export_trl
    from rso.runs.directory import load_run

    metrics = compute_metrics(load_run(run), lambda kb_id: set())
    assert (metrics.n_episodes, metrics.n_failed) == (4, 0)
    exported = export_trl(run, tmp_path / "actor.jsonl")
    assert (exported.episodes, exported.skipped_failed) == (4, 0)
    assert exported.rows == sum(e.n_turns for e in after.values())

    again = run_rollouts(_llm_config(run, resume=True), progress=False)
    assert (again.retried, again.ran, again.already_done) == (0, 0, 4)
    assert len(read_episodes(failed_path)) == 2


def test_every_failed_attempt_is_kept_while_the_server_stays_down(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    patch_chat_model(monkeypatch, _model(lambda n: True))
    assert run_rollouts(_llm_config(run, episodes=2), progress=False).failed == 2
    for attempt in (1, 2):
        resumed = run_rollouts(_llm_config(run, episodes=2, resume=True), progress=False)
        assert (resumed.retried, resumed.failed) == (2, 2)
        # Identical failed records of two attempts are both kept, not merged.
        assert len(read_episodes(run / "failed.jsonl")) == 2 * attempt
        assert len(_by_id(run / "episodes.jsonl")) == 2


def test_no_retry_failed_keeps_failed_episodes_as_finished(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    patch_chat_model(monkeypatch, _model(lambda n: n == 1))
    run_rollouts(_llm_config(run, episodes=2), progress=False)
    patch_chat_model(monkeypatch, _model(lambda n: False))
    resumed = run_rollouts(
        _llm_config(run, episodes=2, resume=True, retry_failed=False), progress=False
    )
    assert (resumed.retried, resumed.ran, resumed.already_done) == (0, 0, 2)
    assert [e.status for e in read_episodes(run / "episodes.jsonl")] == ["failed", "ok"]
    assert not (run / "failed.jsonl").exists()


def test_a_crash_while_setting_failed_episodes_aside_loses_and_duplicates_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    episodes_path = run / "episodes.jsonl"
    patch_chat_model(monkeypatch, _model(lambda n: n == 1))
    run_rollouts(_llm_config(run, episodes=2), progress=False)
    original = episodes_path.read_bytes()

    real_replace = os.replace

    def die_before_the_rewrite(src: object, dst: object) -> None:
        if Path(str(dst)) == episodes_path:
            raise SimulatedCrash("killed between copying and rewriting")
        real_replace(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "replace", die_before_the_rewrite)
    patch_chat_model(monkeypatch, _model(lambda n: False))
    with pytest.raises(SimulatedCrash):
        run_rollouts(_llm_config(run, episodes=2, resume=True), progress=False)
    assert episodes_path.read_bytes() == original  # the old file is whole
    assert len(read_episodes(run / "failed.jsonl")) == 1  # already copied once

    monkeypatch.setattr(os, "replace", real_replace)
    resumed = run_rollouts(_llm_config(run, episodes=2, resume=True), progress=False)
    assert (resumed.retried, resumed.ran, resumed.failed) == (1, 1, 0)
    assert [e.status for e in _by_id(episodes_path).values()] == ["ok", "ok"]
    assert len(read_episodes(run / "failed.jsonl")) == 1  # copied once, not twice
    assert not list(run.glob("*.set-aside")) and not list(run.glob("*.tmp"))


def test_rollout_cli_retries_failed_episodes_unless_told_not_to(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cli.main import _register_commands, app

    _register_commands()
    out = tmp_path / "run"
    args = ["rollout", "--out", str(out), "--episodes", "3", "--max-turns", "3", "--quiet"]
    assert CliRunner().invoke(app, args).exit_code == 0
    # Mark the second episode failed, as an unreachable server would have.
    lines = (out / "episodes.jsonl").read_text().splitlines()
    broken = json.loads(lines[1]) | {"status": "failed", "error": "LLMUnavailableError: down"}
    lines[1] = json.dumps(broken)
    (out / "episodes.jsonl").write_text("\n".join(lines) + "\n")

    kept = CliRunner().invoke(app, [*args, "--resume", "--no-retry-failed", "--json"])
    assert kept.exit_code == 0, kept.output
    assert json.loads(kept.stdout)["retried"] == 0 and json.loads(kept.stdout)["ran"] == 0

    retried = CliRunner().invoke(app, [*args, "--resume"])
    assert retried.exit_code == 0, retried.output
    assert "1 failed before and retried" in retried.output
    assert [e.status for e in read_episodes(out / "episodes.jsonl")] == ["ok"] * 3
    assert read_episodes(out / "failed.jsonl")[0].error == "LLMUnavailableError: down"
