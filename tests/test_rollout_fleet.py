"""The dispatcher both engines share: bounded replays, and a fleet of LLM servers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rollouts.config import RolloutConfig
from rollouts.dispatch import MAX_ATTEMPTS, Dispatcher
from rollouts.fleet import ServerFleet, parse_base_urls
from rollouts.plan import EpisodePlan, episode_record
from rollouts.runner import run_rollouts
from rso.data.eval_cases import load_eval_cases
from rso.runs.records import read_episodes
from tests.servers import chat_stub, closed_url


def plans(n: int) -> list[EpisodePlan]:
    return [EpisodePlan(case, 0) for case in load_eval_cases("inspired-test")[:n]]


def test_a_lost_attempt_is_played_again_first_then_recorded_failed_with_its_cause() -> None:
    todo = plans(2)
    dispatcher = Dispatcher(todo, run_seed=0, digest="d")
    first = dispatcher.next_job()
    assert first is not None and first.attempt == 1
    for attempt in range(1, MAX_ATTEMPTS):
        assert dispatcher.lost(first, "Ray worker lost: killed") is None
        first = dispatcher.next_job()  # the replay goes before the untouched episode
        assert first is not None and first.plan == todo[0] and first.attempt == attempt + 1
    record = dispatcher.lost(first, "Ray worker lost: killed")
    assert record is not None and record.status == "failed"
    assert record.error == f"Ray worker lost: killed (attempt {MAX_ATTEMPTS} of {MAX_ATTEMPTS})"
    assert record.episode_id == todo[0].episode_id(0) and record.settings_digest == "d"
    assert dispatcher.replayed == MAX_ATTEMPTS - 1
    second = dispatcher.next_job()
    assert second is not None and second.plan == todo[1] and dispatcher.next_job() is None


def test_new_episodes_go_to_the_server_with_fewest_in_flight() -> None:
    fleet = ServerFleet(["http://a/v1", "http://b/v1"])
    assert [fleet.acquire(f"e{i}") for i in range(3)] == ["http://a/v1", "http://b/v1"] * 1 + [
        "http://a/v1"
    ]
    fleet.release("http://a/v1")
    fleet.release("http://a/v1")
    assert fleet.acquire("e3") == "http://a/v1"
    assert fleet.report()["episodes"] == {
        "e0": "http://a/v1",
        "e1": "http://b/v1",
        "e2": "http://a/v1",
        "e3": "http://a/v1",
    }


def test_base_url_lists_are_checked() -> None:
    assert parse_base_urls(" http://a/v1/, http://b/v1,,http://a/v1") == (
        "http://a/v1",
        "http://b/v1",
    )
    with pytest.raises(ValueError, match="must start with http"):
        parse_base_urls("a:8000/v1")


def test_a_failure_on_a_dead_server_is_replayed_on_a_live_one() -> None:
    dead = closed_url()
    with chat_stub() as (live, _):
        fleet = ServerFleet([dead, live])
        dispatcher = Dispatcher(plans(1), run_seed=0, digest="", fleet=fleet)
        job = dispatcher.next_job()
        assert job is not None and job.server == dead
        failed = episode_record(job.plan, 0, "", {}, "LLMUnavailableError: connection refused")
        assert dispatcher.settle(job, failed) is None
        assert list(fleet.removed) == [dead] and fleet.live == [live]
        again = dispatcher.next_job()
        assert again is not None and again.server == live and again.attempt == 2
        # A failure on a server that still answers is the episode's own: it is final.
        own = episode_record(again.plan, 0, "", {}, "ValueError: bad case")
        assert dispatcher.settle(again, own) is own


def test_a_dead_endpoint_among_two_loses_no_episode(tmp_path: Path) -> None:
    dead = closed_url()
    with chat_stub() as (live, stub):
        config = RolloutConfig(
            out=tmp_path / "run",
            seeker="llm",
            experts="rule",
            planner="uniform",
            episodes=6,
            max_turns=2,
            rewarder_samples=2,
            concurrency=2,
            base_urls=(dead, live),
            context={"llm_max_retries": 0, "llm_timeout_s": 10.0},
        )
        summary = run_rollouts(config, progress=False)
        assert stub.requests > 0
    episodes = read_episodes(tmp_path / "run" / "episodes.jsonl")
    assert summary.failed == 0 and summary.replayed >= 1
    assert len({e.episode_id for e in episodes}) == len(episodes) == 6
    assert all(e.status == "ok" and e.n_turns >= 1 for e in episodes)
    servers = json.loads((tmp_path / "run" / "manifest.json").read_text())["servers"]
    assert servers["urls"] == [dead, live] and list(servers["removed"]) == [dead]
    assert servers["episodes"] == {e.episode_id: live for e in episodes}
