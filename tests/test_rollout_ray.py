"""The Ray engine: the local engine's episodes, a killed worker, a dead endpoint, a killed driver.

One local Ray instance (2 CPUs, no dashboard, on loopback) serves the whole module.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # a loopback-only instance
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
ray = pytest.importorskip("ray")

from rollouts import ray_engine  # noqa: E402
from rollouts.config import RolloutConfig  # noqa: E402
from rollouts.runner import run_rollouts  # noqa: E402
from rso.runs.records import EpisodeRecord, read_episodes  # noqa: E402
from tests.servers import ROOT, chat_stub, closed_url  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

EPISODES = 30
FAST: dict[str, Any] = {"planner": "uniform", "max_turns": 4, "episodes": EPISODES}


@pytest.fixture(scope="module", autouse=True)
def local_ray() -> Iterator[str]:
    context = ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield context.address_info["address"]
    finally:
        ray_engine.shutdown()


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, EpisodeRecord]:
    """The local engine's episodes, by id."""
    out = tmp_path_factory.mktemp("local") / "run"
    run_rollouts(RolloutConfig(out=out, concurrency=2, **FAST), progress=False)
    return by_id(out)


def by_id(run: Path) -> dict[str, EpisodeRecord]:
    lines = (run / "episodes.jsonl").read_text().splitlines()
    episodes = read_episodes(run / "episodes.jsonl")
    assert len(lines) == len(episodes) == len({e.episode_id for e in episodes})
    return {e.episode_id: e for e in episodes}


def lines_in(path: Path) -> int:
    return path.read_text().count("\n") if path.exists() else 0


def test_the_ray_engine_plays_the_local_engines_episodes(
    tmp_path: Path, reference: dict[str, EpisodeRecord]
) -> None:
    config = RolloutConfig(out=tmp_path / "ray", engine="ray", workers=2, concurrency=2, **FAST)
    summary = run_rollouts(config, progress=False)
    assert summary.engine == "ray" and summary.ran == EPISODES and summary.failed == 0
    assert by_id(tmp_path / "ray") == reference
    manifest = json.loads((tmp_path / "ray" / "manifest.json").read_text())
    assert manifest["engine"] == "ray" and manifest["workers"] == 2
    assert manifest["status"] == "finished"


def test_a_killed_worker_loses_and_duplicates_no_episode(tmp_path: Path) -> None:
    # Enough episodes that the worker dies with calls of several episodes still in flight.
    many = {**FAST, "episodes": 240, "max_turns": 10}
    run_rollouts(RolloutConfig(out=tmp_path / "local", concurrency=1, **many), progress=False)
    reference = by_id(tmp_path / "local")
    out = tmp_path / "ray"
    config = RolloutConfig(out=out, engine="ray", workers=2, concurrency=2, **many)
    assert ray_engine.episodes_per_call(config) > 1
    results: list[Any] = []
    runner = threading.Thread(target=lambda: results.append(run_rollouts(config, progress=False)))
    runner.start()
    deadline = time.monotonic() + 120
    while lines_in(out / "episodes.jsonl") < 2:
        assert runner.is_alive() and time.monotonic() < deadline
        time.sleep(0.02)
    os.kill(ray_engine.worker_pids()[0], signal.SIGKILL)
    runner.join(timeout=240)
    [summary] = results
    assert summary.replayed >= 1  # the dead worker's episodes were played again elsewhere
    assert summary.failed == 0 and summary.ran == len(reference)
    assert by_id(out) == reference


def test_a_dead_endpoint_among_two_on_ray(tmp_path: Path) -> None:
    dead = closed_url()
    with chat_stub() as (live, stub):
        config = RolloutConfig(
            out=tmp_path / "run",
            engine="ray",
            workers=2,
            concurrency=1,
            seeker="llm",
            experts="rule",
            planner="uniform",
            episodes=4,
            max_turns=2,
            rewarder_samples=1,
            base_urls=(dead, live),
            context={"llm_max_retries": 0, "llm_timeout_s": 10.0},
        )
        summary = run_rollouts(config, progress=False)
        assert stub.requests > 0, [(e.error, e.n_turns) for e in summary.episodes]
    episodes = by_id(tmp_path / "run")
    assert summary.failed == 0 and summary.replayed >= 1 and len(episodes) == 4
    servers = json.loads((tmp_path / "run" / "manifest.json").read_text())["servers"]
    assert list(servers["removed"]) == [dead]
    assert servers["episodes"] == dict.fromkeys(sorted(episodes), live)


def test_rl_rollouts_on_ray_carry_the_policy_version_and_match_the_local_engine(
    tmp_path: Path,
) -> None:
    from rl.reinforce import train_rl
    from rl.reinforce_config import RLConfig

    runs = {}
    for engine in ("graph", "ray"):
        out = tmp_path / engine
        config = RLConfig(
            init=None, updates=2, episodes_per_update=4, max_turns=3, eval_cases=None,
            concurrency=2, engine=engine, workers=2, out=out, progress=False,
        )  # fmt: skip
        train_rl(config)
        runs[engine] = [
            read_episodes(out / "rollouts" / f"update-{u:04d}" / "episodes.jsonl") for u in range(2)
        ]
    for update, (local, on_ray) in enumerate(zip(runs["graph"], runs["ray"], strict=True)):
        assert {e.policy_version for e in local + on_ray} == {update}
        local_by_id = {e.episode_id: e for e in local}
        assert sorted(local_by_id) == sorted(e.episode_id for e in on_ray)
        for episode in on_ray:
            twin = local_by_id[episode.episode_id]
            assert [t.strategy for t in episode.turns] == [t.strategy for t in twin.turns]
            for turn, other in zip(episode.turns, twin.turns, strict=True):
                assert turn.probs == pytest.approx(other.probs, abs=1e-5)


#: Episodes of the killed run: five calls of 16, so the kill lands between two of them even
#: when the machine is busy (30 episodes are two calls, which can both land between two polls).
KILLED_EPISODES = 80


def test_a_killed_driver_is_resumed_by_the_local_engine(tmp_path: Path, local_ray: str) -> None:
    ray_engine.stop_pool()  # the driver below needs the cluster's 2 CPUs for its own actors
    settings = {**FAST, "episodes": KILLED_EPISODES}
    local = tmp_path / "local"
    run_rollouts(RolloutConfig(out=local, concurrency=2, **settings), progress=False)
    reference = by_id(local)
    out = tmp_path / "run"
    command = [sys.executable, "-m", "cli.main", "rollout", "--out", str(out), "--quiet"]
    command += ["--planner", "uniform", "--max-turns", "4", "--episodes", str(KILLED_EPISODES)]
    command += ["--engine", "ray", "--workers", "2", "--concurrency", "1"]
    command += ["--ray-address", local_ray]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    driver = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 180
    while lines_in(out / "episodes.jsonl") < 3:
        assert driver.poll() is None, driver.stderr.read() if driver.stderr else ""
        assert time.monotonic() < deadline
        time.sleep(0.02)
    driver.send_signal(signal.SIGKILL)
    driver.wait(timeout=30)
    written = lines_in(out / "episodes.jsonl")
    assert written < KILLED_EPISODES  # killed mid-run
    resumed = run_rollouts(
        RolloutConfig(out=out, concurrency=2, resume=True, **settings), progress=False
    )
    assert resumed.already_done + resumed.ran == KILLED_EPISODES and resumed.failed == 0
    assert by_id(out) == reference
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["history"][-1]["status"] == "running"  # the killed call never finished
