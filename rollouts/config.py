"""`RolloutConfig`: everything that defines a batch of rollouts, and the settings it records."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from graph.context import Context
from graph.episode_context import EngineName, RolloutContext
from policy.planners import context_overrides
from rso.data.eval_cases import CaseSet
from rso.modes import EndOn, ExpertsMode, SeekerMode

#: Context fields never written to a manifest.
_SECRET_FIELDS: Final = frozenset({"api_key"})


@dataclass(frozen=True, kw_only=True)
class RolloutConfig:
    """Everything that defines a batch of rollouts."""

    #: Run directory (``runs/NAME``); created if missing.
    out: Path
    #: Case set: "inspired-test" (99), "redial-test" (198) or "inspired-train" (801).
    cases: CaseSet = "inspired-test"
    #: Simulated seeker: "act" (fast, LLM-free) or "llm".
    seeker: SeekerMode = "act"
    #: Recommender experts: "rule" (fast, LLM-free) or "llm".
    experts: ExpertsMode = "rule"
    #: Planner: sft (the committed warm-up Planner), uniform, majority, none, or a checkpoint path
    #: (see `policy.planners`); ignored when a policy is passed to `run_rollouts`.
    planner: str = "sft"
    #: Episodes to play; None = one per usable case; more than the cases cycles through them.
    episodes: int | None = None
    #: Episodes in flight at once (threads; LLM calls are I/O bound).
    concurrency: int = 4
    #: Run seed: per-episode seeds derive from it (with the case and episode index).
    seed: int = 0
    #: Continue an existing run directory, skipping finished episodes.
    resume: bool = False
    #: On resume, play failed episodes again (their failed records move to ``failed.jsonl``);
    #: off, a failed episode counts as finished. Not a setting of the episodes' results.
    retry_failed: bool = True
    #: Resume even when the manifest's settings differ (the new settings are recorded).
    force: bool = False
    #: Most recommender turns per episode.
    max_turns: int = 10
    #: When an episode ends early: "reward" (paper: first reward > 0.7) or "accept" (explicit
    #: acceptance or the seeker leaving); None = "accept" for the act seeker, else "reward".
    end_on: EndOn | None = None
    #: Rewarder samples per turn (LLM seeker).
    rewarder_samples: int = 10
    #: One request with ``n`` samples for the Rewarder (else one request per sample).
    rewarder_n: bool = True
    #: Accepted for compatibility: every engine runs the compiled graphs (see `EngineName`).
    engine: EngineName | None = None
    #: Shuffle the case order with the seed (e.g. a different RL batch per seed).
    shuffle_cases: bool = False
    #: Other `Context` settings (model, base_url, temperatures, ablations...).
    context: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Reject settings no run can use."""
        if self.episodes is not None and self.episodes < 1:
            raise ValueError(f"episodes must be >= 1 (or None for all cases), got {self.episodes}")
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {self.concurrency}")
        reserved = {"experts", "seed"} & set(self.context)
        if reserved:
            raise ValueError(
                f"set {', '.join(sorted(reserved))} through RolloutConfig, not in its context"
            )

    @property
    def fast(self) -> bool:
        """True for the LLM-free simulation (act seeker and rule experts)."""
        return self.seeker == "act" and self.experts == "rule"

    @property
    def resolved_engine(self) -> EngineName:
        """The engine this run uses."""
        if self.engine is not None:
            return self.engine
        return "direct" if self.fast else "graph"

    def recommender_context(self, planner: str | None = None) -> Context:
        """Return the recommender's `Context`: defaults, ``RSO_*`` variables, this config."""
        overrides = {
            **context_overrides(planner or self.planner),
            **self.context,
            "experts": self.experts,
            "seed": self.seed,
        }
        return Context.from_env(**overrides)

    def rollout_context(self, planner: str | None = None) -> RolloutContext:
        """Return the rollout graph's context for this run."""
        return RolloutContext(
            recommender=self.recommender_context(planner),
            seeker=self.seeker,
            max_turns=self.max_turns,
            end_on=self.end_on,
            rewarder_samples=self.rewarder_samples,
            rewarder_n=self.rewarder_n,
            cases=self.cases,
            engine=self.resolved_engine,
        )

    def settings(self, *, in_memory_policy: bool = False) -> dict[str, Any]:
        """Return what determines the episodes' results (the manifest's settings)."""
        context = public_context(self.recommender_context())
        planner = self.planner
        if in_memory_policy:
            planner = "memory"
            context["planner_checkpoint"] = "memory"
        return {
            "cases": self.cases,
            "seeker": self.seeker,
            "experts": self.experts,
            "planner": planner,
            "seed": self.seed,
            "max_turns": self.max_turns,
            "end_on": self.rollout_context().resolved_end_on,
            "rewarder_samples": self.rewarder_samples,
            "rewarder_n": self.rewarder_n,
            "shuffle_cases": self.shuffle_cases,
            "context": context,
        }


def public_context(context: Context) -> dict[str, Any]:
    """Return a context's settings as JSON values, without secrets and the seed."""
    values = {f.name: getattr(context, f.name) for f in dataclasses.fields(context)}
    for name in _SECRET_FIELDS:
        values.pop(name, None)
    values.pop("seed", None)  # the run seed is recorded once, at the top
    return json.loads(json.dumps(values, default=str))
