"""`RolloutConfig`: everything that defines a batch of rollouts, and the settings it records."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, get_args

from graph.context import Context
from graph.episode_context import EngineName, EpisodeSettings, RolloutContext
from policy.planners import context_overrides
from rso.modes import ExpertsMode

#: Context fields never written to a manifest.
_SECRET_FIELDS: Final = frozenset({"api_key"})

#: Where a batch's episodes run: the threads of this process, each episode through the compiled
#: graphs ("graph") or the step engine ("direct"), or a pool of Ray actors ("ray",
#: `rollouts.ray_engine`). Every engine plays the same episodes, and none is a setting of their
#: results.
RunnerEngine = EngineName | Literal["ray"]
RUNNER_ENGINES: Final[tuple[str, ...]] = (*get_args(EngineName), "ray")


@dataclass(frozen=True, kw_only=True)
class RolloutConfig(EpisodeSettings):
    """Everything that defines a batch of rollouts: its episodes' `EpisodeSettings`, and more."""

    #: Run directory (``runs/NAME``); created if missing.
    out: Path
    #: Recommender experts: "rule" (fast, LLM-free) or "llm".
    experts: ExpertsMode = "rule"
    #: Planner: sft (the committed warm-up Planner), uniform, majority, none, or a checkpoint path
    #: (see `policy.planners`); ignored when a policy is passed to `run_rollouts`.
    planner: str = "sft"
    #: Episodes to play; None = one per usable case; more than the cases cycles through them.
    episodes: int | None = None
    #: Episodes in flight at once (threads; LLM calls are I/O bound); per worker with Ray.
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
    #: Where episodes run (`RunnerEngine`): "graph" or "direct" = threads of this process; "ray" =
    #: a pool of `workers` Ray actors; None = threads, through the step engine in the fast mode
    #: (no LLM: LangGraph's bookkeeping would be most of the time) and the graphs otherwise. Not
    #: a setting of the results: a resume may change it.
    engine: RunnerEngine | None = None
    #: How each episode's nodes run with the Ray engine (`EngineName`): None = as on threads,
    #: "direct" in the fast mode and "graph" otherwise. The threaded engines name it themselves.
    nodes: EngineName | None = None
    #: Ray actors playing episodes (engine "ray"), each running up to `concurrency` at once.
    workers: int = 2
    #: Ray cluster to join ("auto" or "host:port"); None = a local Ray instance for this run.
    ray_address: str | None = None
    #: A fleet of OpenAI-compatible servers (`rollouts.fleet`): each episode is pinned to one,
    #: overriding ``base_url``; empty = ``RSO_BASE_URLS``, or the run's single ``base_url``.
    base_urls: tuple[str, ...] = ()
    #: Shuffle the case order with the seed (e.g. a different RL batch per seed).
    shuffle_cases: bool = False
    #: Other `Context` settings (model, base_url, temperatures, ablations...).
    context: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Reject settings no run can use."""
        super().__post_init__()
        if self.episodes is not None and self.episodes < 1:
            raise ValueError(f"episodes must be >= 1 (or None for all cases), got {self.episodes}")
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {self.concurrency}")
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")
        if self.engine is not None and self.engine not in RUNNER_ENGINES:
            allowed = ", ".join(RUNNER_ENGINES)
            raise ValueError(f"engine must be one of {allowed}, got {self.engine!r}")
        if self.nodes is not None and self.nodes not in get_args(EngineName):
            raise ValueError(f"nodes must be graph or direct, got {self.nodes!r}")
        if self.nodes is not None and not self.on_ray:
            raise ValueError(
                "nodes applies to engine ray; threads choose with engine graph or direct"
            )
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
    def episode_engine(self) -> EngineName:
        """How each episode's nodes run, in a thread here or on a Ray actor (see `EngineName`)."""
        if self.engine in ("graph", "direct"):
            return self.engine
        if self.nodes is not None:
            return self.nodes
        return "direct" if self.fast else "graph"

    @property
    def on_ray(self) -> bool:
        """True when the episodes run in a pool of Ray actors."""
        return self.engine == "ray"

    @property
    def fleet_urls(self) -> tuple[str, ...]:
        """The fleet of LLM servers: `base_urls`, else ``RSO_BASE_URLS`` (empty: no fleet)."""
        from rollouts.fleet import parse_base_urls
        from rso.env import BASE_URLS

        return parse_base_urls(self.base_urls or BASE_URLS.get())

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
            engine=self.episode_engine,
            **self.episode_settings(),
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
            "end_on": self.resolved_end_on,
            "rewarder_samples": self.rewarder_samples,
            "rewarder_n": self.rewarder_n,
            "shuffle_cases": self.shuffle_cases,
            # Recorded only in item mode: genre-mode runs keep the digest they had before the
            # setting existed, so that they still resume.
            **({"goal": self.goal} if self.goal != "genre" else {}),
            "context": context,
        }


def public_context(context: Context) -> dict[str, Any]:
    """Return a context's settings as JSON values, without secrets and the seed."""
    values = {f.name: getattr(context, f.name) for f in dataclasses.fields(context)}
    for name in _SECRET_FIELDS:
        values.pop(name, None)
    values.pop("seed", None)  # the run seed is recorded once, at the top
    return json.loads(json.dumps(values, default=str))
