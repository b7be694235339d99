"""Which episodes a run plays, and playing one of them through the episode graph."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from graph.episode import stream_episode
from graph.episode_context import RolloutContext
from graph.episode_nodes import can_play, goal_of
from graph.step_engine import stream_episode_steps
from rso.data.cases import episode_seed
from rso.data.records import EvalCase
from rso.modes import GoalMode
from rso.runs.records import EpisodeRecord, EpisodeStatus, episode_id


@dataclass(frozen=True)
class EpisodePlan:
    """One episode to play: the case, its index (its repetition number) and the goal mode."""

    case: EvalCase
    index: int
    goal: GoalMode = "genre"

    def episode_id(self, seed: int) -> str:
        """Return the episode's deterministic id."""
        return episode_id(self.case.case_id, seed, self.index)


def plan_episodes(
    cases: Sequence[EvalCase],
    episodes: int | None,
    seed: int,
    shuffle: bool = False,
    goal: GoalMode = "genre",
) -> tuple[list[EpisodePlan], list[str]]:
    """Return a run's episodes, and the ids of the cases left out (no goal of this mode).

    Genre mode leaves out the cases without a target genre; item mode those without a target
    movie linked to the knowledge base (`graph.episode_nodes.target_of`).
    """
    playable = {c.case_id: can_play(c, goal) for c in cases}
    usable = [c for c in cases if playable[c.case_id]]
    excluded = [c.case_id for c in cases if not playable[c.case_id]]
    if not usable:
        raise ValueError(f"no case has a {_goal_needed(goal)}; nothing to roll out")
    if shuffle:
        order = np.random.default_rng(seed).permutation(len(usable))
        usable = [usable[int(i)] for i in order]
    total = len(usable) if episodes is None else episodes
    plans = [EpisodePlan(usable[i % len(usable)], i // len(usable), goal) for i in range(total)]
    return plans, excluded


def _goal_needed(goal: GoalMode) -> str:
    return "target genre" if goal == "genre" else "target movie in the knowledge base"


def excluded_reason(goal: GoalMode) -> str:
    """Why a case is left out of a run in this goal mode ("no target genre", ...)."""
    return f"no {_goal_needed(goal)}"


def on_server(context: RolloutContext, base_url: str | None) -> RolloutContext:
    """Return `context` with every LLM role that has no URL of its own sent to `base_url`."""
    if base_url is None:
        return context
    return dataclasses.replace(context, recommender=context.recommender.replace(base_url=base_url))


def run_episode(
    plan: EpisodePlan,
    context: RolloutContext,
    run_seed: int,
    digest: str = "",
    *,
    server: str | None = None,
    policy_version: int | None = None,
) -> EpisodeRecord:
    """Play one episode (graph or step engine, `context.engine`); a failure yields a failed record.

    `server` pins the episode's LLM calls to one server of a fleet; `policy_version` is
    recorded as is (the version of the Planner under training that `context` names).
    """
    seed = episode_seed(run_seed, plan.case.case_id, plan.index)
    graph_input = {"case_id": plan.case.case_id, "episode_index": plan.index, "seed": seed}
    values: dict[str, Any] = {}
    error: str | None = None
    try:
        stream = stream_episode_steps if context.engine == "direct" else stream_episode
        for step in stream(graph_input, on_server(context, server)):
            values = step  # kept after each step: a failure still logs the turns played
    except Exception as exc:  # one episode's failure must not stop the batch
        error = f"{type(exc).__name__}: {exc}"
    return episode_record(plan, run_seed, digest, values, error, policy_version)


def episode_record(
    plan: EpisodePlan,
    run_seed: int,
    digest: str,
    values: dict[str, Any],
    error: str | None = None,
    policy_version: int | None = None,
) -> EpisodeRecord:
    """Return an episode's record from its final graph values; failed when `error` is set."""
    case = plan.case
    status: EpisodeStatus = "ok" if error is None else "failed"
    turns = list(values.get("turns", []))
    return EpisodeRecord(
        episode_id=plan.episode_id(run_seed),
        case=case,
        persona_id=case.user_id,
        goal=goal_of(case, plan.goal).label,
        settings_digest=digest,
        seed=episode_seed(run_seed, case.case_id, plan.index),
        turns=turns,
        success=bool(values.get("success", False)) and status == "ok",
        strict_success=bool(values.get("strict_success", False)) and status == "ok",
        n_turns=len(turns),
        status=status,
        error=error,
        policy_version=policy_version,
    )
