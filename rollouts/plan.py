"""Which episodes a run plays, and playing one of them through the episode graph."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from graph.episode import stream_episode
from graph.episode_context import RolloutContext
from graph.episode_nodes import goal_of
from rso.data.cases import episode_seed, has_goal
from rso.data.records import EvalCase
from rso.runs.records import EpisodeRecord, episode_id


@dataclass(frozen=True)
class EpisodePlan:
    """One episode to play: the case and its index (its repetition number)."""

    case: EvalCase
    index: int

    def episode_id(self, seed: int) -> str:
        """Return the episode's deterministic id."""
        return episode_id(self.case.case_id, seed, self.index)


def plan_episodes(
    cases: Sequence[EvalCase], episodes: int | None, seed: int, shuffle: bool = False
) -> tuple[list[EpisodePlan], list[str]]:
    """Return a run's episodes, and the ids of the cases without a target genre (left out)."""
    usable = [c for c in cases if has_goal(c)]
    excluded = [c.case_id for c in cases if not has_goal(c)]
    if not usable:
        raise ValueError("no case has a target genre; nothing to roll out")
    if shuffle:
        order = np.random.default_rng(seed).permutation(len(usable))
        usable = [usable[int(i)] for i in order]
    total = len(usable) if episodes is None else episodes
    return [EpisodePlan(usable[i % len(usable)], i // len(usable)) for i in range(total)], excluded


def run_episode(
    plan: EpisodePlan, context: RolloutContext, run_seed: int, digest: str = ""
) -> EpisodeRecord:
    """Play one episode through the rollout graph; an exception yields a failed record."""
    case = plan.case
    seed = episode_seed(run_seed, case.case_id, plan.index)
    graph_input = {"case_id": case.case_id, "episode_index": plan.index, "seed": seed}
    values: dict[str, Any] = {}
    status: str = "ok"
    error: str | None = None
    try:
        for step in stream_episode(graph_input, context):
            values = step  # kept after each step: a failure still logs the turns played
    except Exception as exc:  # one episode's failure must not stop the batch
        status, error = "failed", f"{type(exc).__name__}: {exc}"
    turns = list(values.get("turns", []))
    return EpisodeRecord(
        episode_id=plan.episode_id(run_seed),
        case=case,
        persona_id=case.user_id,
        goal=goal_of(case).label,
        settings_digest=digest,
        seed=seed,
        turns=turns,
        success=bool(values.get("success", False)) and status == "ok",
        strict_success=bool(values.get("strict_success", False)) and status == "ok",
        n_turns=len(turns),
        status=status,  # type: ignore[arg-type]
        error=error,
    )
