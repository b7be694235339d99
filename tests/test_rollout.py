"""The batch rollout runner in the fast mode (act seeker + rule experts), and failed episodes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from langchain_core.messages import BaseMessage

from graph.context import Context
from graph.episode import rollout_graph
from graph.episode_context import RolloutContext
from graph.episode_nodes import RolloutError
from rollouts.config import RolloutConfig
from rollouts.plan import plan_episodes
from rollouts.runner import run_rollouts
from rso.data.cases import UnknownCaseError, find_case
from rso.data.eval_cases import load_eval_cases
from rso.runs.directory import RunDirectoryError
from rso.runs.records import read_episodes
from rso.strategies import STRATEGIES
from tests.fakes import ScriptedChatModel, patch_chat_model
from tests.world import answer


def fast_config(out: Path, **changes: object) -> RolloutConfig:
    """A short fast-mode run: act seeker, rule experts, uniform Planner."""
    values: dict[str, object] = {
        "out": out,
        "episodes": 4,
        "max_turns": 4,
        "concurrency": 2,
        "planner": "uniform",
    }
    return RolloutConfig(**(values | changes))  # type: ignore[arg-type]


def test_fast_run_writes_episodes_and_manifest(tmp_path: Path) -> None:
    summary = run_rollouts(fast_config(tmp_path / "run"), progress=False)
    episodes = read_episodes(tmp_path / "run" / "episodes.jsonl")
    assert summary.ran == len(episodes) == 4 and summary.failed == 0
    usable = [c for c in load_eval_cases("inspired-test") if c.target_genres]
    assert {e.case.case_id for e in episodes} == {c.case_id for c in usable[:4]}
    for episode in episodes:
        assert episode.status == "ok" and episode.error is None
        assert 1 <= episode.n_turns == len(episode.turns) <= 4
        assert episode.goal == f"genre:{episode.case.target_genres[0].lower()}"
        assert episode.persona_id == episode.case.user_id
        assert episode.turns[-1].done and not any(t.done for t in episode.turns[:-1])
        assert episode.success == any(t.reward > 0.7 for t in episode.turns)
        first = episode.turns[0]
        assert first.planner_input == "Seeker: Hello."
        assert first.strategy in STRATEGIES and len(first.probs) == 14
        assert first.logprob == pytest.approx(-2.639, abs=1e-3)  # log(1/14): uniform
        assert first.reply and first.seeker_reply and first.seeker_act
        assert first.reward_samples == [first.reward]
        for turn in episode.turns:
            if turn.recommended:
                assert turn.top and turn.recommended[0] in {k for k, _ in turn.top}
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["status"] == "finished" and manifest["finished_at"]
    assert manifest["settings"]["planner"] == "uniform" and manifest["seed"] == 0
    assert manifest["settings_digest"] == episodes[0].settings_digest
    assert manifest["engine"] == "direct"  # the fast mode's default: the step engine
    assert "api_key" not in manifest["settings"]["context"]
    assert manifest["packages"]["langgraph"] and "commit" in manifest["git"]
    assert manifest["excluded_cases"]["case_ids"]  # inspired-test has cases without a genre


def test_same_seed_same_episodes_at_any_concurrency(tmp_path: Path) -> None:
    one = run_rollouts(fast_config(tmp_path / "c1", episodes=6, concurrency=1), progress=False)
    four = run_rollouts(fast_config(tmp_path / "c4", episodes=6, concurrency=4), progress=False)
    by_id = {e.episode_id: e.model_dump() for e in one.episodes}
    assert by_id == {e.episode_id: e.model_dump() for e in four.episodes}
    other = run_rollouts(fast_config(tmp_path / "s1", episodes=6, seed=1), progress=False)
    assert {e.episode_id for e in other.episodes}.isdisjoint(by_id)
    replies = {tuple(t.reply for t in e.turns) for e in one.episodes}
    assert replies != {tuple(t.reply for t in e.turns) for e in other.episodes}


def test_the_step_engine_plays_the_graphs_episodes_record_for_record(tmp_path: Path) -> None:
    graph = run_rollouts(
        fast_config(tmp_path / "g", engine="graph", episodes=8, max_turns=5), progress=False
    )
    direct = run_rollouts(
        fast_config(tmp_path / "d", engine="direct", episodes=8, max_turns=5), progress=False
    )
    assert (graph.engine, direct.engine) == ("graph", "direct")
    assert graph.failed == direct.failed == 0 and graph.ran == direct.ran == 8
    by_id = {e.episode_id: e.model_dump() for e in graph.episodes}
    assert by_id == {e.episode_id: e.model_dump() for e in direct.episodes}
    assert any(e.success for e in graph.episodes) and any(not e.success for e in graph.episodes)
    assert len({e.n_turns for e in graph.episodes}) > 1  # episodes of several lengths


def test_the_step_engine_matches_the_graph_with_llm_experts_and_seeker(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    patch_chat_model(monkeypatch, ScriptedChatModel(default=answer))
    settings = {"experts": "llm", "seeker": "llm", "episodes": 3, "max_turns": 2}
    settings |= {"rewarder_samples": 2, "concurrency": 1}
    graph = run_rollouts(fast_config(tmp_path / "g", engine="graph", **settings), progress=False)
    direct = run_rollouts(fast_config(tmp_path / "d", engine="direct", **settings), progress=False)
    assert graph.failed == direct.failed == 0
    assert [e.model_dump() for e in graph.episodes] == [e.model_dump() for e in direct.episodes]
    assert all(turn.reply and turn.reward_samples for e in direct.episodes for turn in e.turns)
    assert run_rollouts(fast_config(tmp_path / "x", **settings), progress=False).engine == "graph"


def test_more_episodes_than_cases_cycle_with_new_indices() -> None:
    cases = [c for c in load_eval_cases("inspired-test") if c.target_genres][:3]
    plans, excluded = plan_episodes(cases, 7, seed=0)
    assert [p.case.case_id for p in plans] == [c.case_id for c in cases] * 2 + [cases[0].case_id]
    assert [p.index for p in plans] == [0, 0, 0, 1, 1, 1, 2]
    assert len({p.episode_id(0) for p in plans}) == 7 and excluded == []
    shuffled, _ = plan_episodes(cases, 3, seed=4, shuffle=True)
    assert sorted(p.case.case_id for p in shuffled) == sorted(c.case_id for c in cases)


def test_existing_run_needs_resume_and_same_settings(tmp_path: Path) -> None:
    out = tmp_path / "run"
    run_rollouts(fast_config(out, episodes=2), progress=False)
    with pytest.raises(RunDirectoryError, match="--resume"):
        run_rollouts(fast_config(out, episodes=2), progress=False)
    with pytest.raises(RunDirectoryError, match="max_turns: 4 -> 5"):
        run_rollouts(fast_config(out, episodes=2, max_turns=5, resume=True), progress=False)
    forced = run_rollouts(
        fast_config(out, episodes=3, max_turns=5, resume=True, force=True), progress=False
    )
    assert forced.already_done == 2 and forced.ran == 1
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["settings"]["max_turns"] == 5 and len(manifest["history"]) == 1


def test_unknown_case_is_a_clear_error() -> None:
    with pytest.raises(UnknownCaseError, match="unknown case id 'inspired:nope'"):
        find_case("inspired:nope")
    with pytest.raises(RolloutError, match="unknown case id 'inspired:nope'"):
        rollout_graph.invoke({"case_id": "inspired:nope"}, context=RolloutContext())


def _flaky_model(fail_on: set[int]) -> ScriptedChatModel:
    """A fake LLM for every role (answering by role) that fails on the given calls."""
    calls = 0

    def reply(messages: list[BaseMessage]) -> object:
        nonlocal calls
        calls += 1
        if calls in fail_on:
            return ConnectionError("the model server went away")
        return answer(messages)

    return ScriptedChatModel(default=reply)


@pytest.mark.parametrize("engine", ["graph", "direct"])
def test_llm_failure_is_logged_as_a_failed_episode_and_the_batch_goes_on(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, engine: str
) -> None:
    # Turn 0 of episode 0 makes one call (the Actor: the seeker has only greeted), turn 1 two
    # (Reasoner, Actor); the third call, in turn 1, fails.
    patch_chat_model(monkeypatch, _flaky_model({3}))
    config = fast_config(
        tmp_path / "run",
        experts="llm",
        episodes=2,
        max_turns=2,
        concurrency=1,
        engine=engine,
        context={"use_retriever": False, "llm_max_retries": 0},
    )
    summary = run_rollouts(config, progress=False)
    first, second = summary.episodes  # concurrency 1: in plan order
    assert summary.ran == 2 and summary.failed == 1
    assert first.status == "failed" and not first.success
    assert first.error is not None and "went away" in first.error
    assert first.n_turns == 1 and first.turns[0].reply  # the turn played before the failure
    assert second.status == "ok" and second.n_turns == 2
    on_disk = read_episodes(tmp_path / "run" / "episodes.jsonl")
    assert [e.status for e in on_disk] == ["failed", "ok"]
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert set(manifest["models"]) >= {"reasoner", "retriever", "actor"}
    assert manifest["engine"] == engine


def test_every_entry_point_defaults_to_the_committed_planner(tmp_path: Path) -> None:
    from policy.planners import context_overrides
    from rso.paths import DEFAULT_PLANNER_DIR

    config = RolloutConfig(out=tmp_path / "run")
    assert config.planner == "sft"
    assert context_overrides("sft")["planner_checkpoint"] == str(DEFAULT_PLANNER_DIR)
    assert config.recommender_context().planner_checkpoint == str(DEFAULT_PLANNER_DIR)
    assert Context().planner_checkpoint == str(DEFAULT_PLANNER_DIR)


def test_each_episode_engine_is_resolved_from_the_run_settings(tmp_path: Path) -> None:
    fast = fast_config(tmp_path)
    assert fast.engine is None and fast.rollout_context().engine == "direct"
    assert fast_config(tmp_path, seeker="llm").rollout_context().engine == "graph"
    assert fast_config(tmp_path, engine="graph").rollout_context().engine == "graph"
    assert fast_config(tmp_path, engine="ray").episode_engine == "direct"
    assert fast_config(tmp_path, engine="ray", nodes="graph").episode_engine == "graph"
    with pytest.raises(ValueError, match="nodes applies to engine ray"):
        fast_config(tmp_path, nodes="graph")
    with pytest.raises(ValueError, match="nodes must be graph or direct"):
        fast_config(tmp_path, engine="ray", nodes="loop")
