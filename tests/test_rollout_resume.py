"""Resuming a rollout run after a crash: every episode once, no torn line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rl.records import EpisodeRecord, RolloutWriter, read_episodes
from rl.rollout import RolloutConfig, run_rollouts


class SimulatedCrash(RuntimeError):
    """Stands in for the process dying while it writes an episode."""


def lines_of(path: Path) -> list[dict[str, object]]:
    """Every line of a JSONL file, parsed (a torn line fails the test here)."""
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def test_resume_after_a_crash_mid_write(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = RolloutConfig(out=tmp_path / "run", episodes=8, max_turns=3, concurrency=3)
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
        RolloutConfig(out=tmp_path / "run", episodes=8, max_turns=3, concurrency=1, resume=True),
        progress=False,
    )
    assert resumed.already_done == 3 and resumed.ran == 5
    ids = [line["episode_id"] for line in lines_of(episodes_path)]
    assert len(ids) == len(set(ids)) == 8
    fresh = run_rollouts(
        RolloutConfig(out=tmp_path / "fresh", episodes=8, max_turns=3), progress=False
    )
    assert {e.episode_id: e for e in read_episodes(episodes_path)} == {
        e.episode_id: e for e in fresh.episodes
    }  # resuming changes nothing in the episodes


def _rso(*args: str) -> list[str]:
    return [sys.executable, "-c", "from rso.cli import main; main()", *args]


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
