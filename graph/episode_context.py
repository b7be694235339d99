"""Settings of an episode (graph ``rollout``): the recommender's `Context` plus the simulation's."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, get_args

from graph.context import Context, ContextError
from rso.data.eval_cases import CASE_SETS, CaseSet
from rso.modes import END_ON, GOAL_MODES, SEEKER_MODES, EndOn, GoalMode, SeekerMode

#: How an episode's nodes run: "graph" = the compiled LangGraph graphs (what Studio and
#: ``langgraph dev`` serve, with callbacks and tracing); "direct" = the step engine
#: (`graph.step_engine`): the same nodes in this thread without LangGraph's per-step
#: bookkeeping, the same episodes, about twice as fast when no LLM is called.
EngineName = Literal["graph", "direct"]
ENGINES: Final[tuple[EngineName, ...]] = get_args(EngineName)


@dataclass(frozen=True, kw_only=True)
class EpisodeSettings:
    """What shapes each simulated episode: declared once, for one episode and for a batch.

    `RolloutContext` (one episode, the ``rollout`` graph's context) and
    `rollouts.config.RolloutConfig` (a batch of them) both inherit these fields.
    """

    #: The simulated seeker: "llm" (persona prompt) or "act" (act-level, LLM-free).
    seeker: SeekerMode = "act"
    #: Most recommender turns per episode (the method uses 10).
    max_turns: int = 10
    #: When an episode ends before ``max_turns`` (see `EndOn`); None = "accept" for the act-level
    #: seeker, "reward" (the paper's protocol) for the LLM seeker. SR is measured the same way in
    #: both: the first turn whose reward exceeds `SUCCESS_THRESHOLD`.
    end_on: EndOn | None = None
    #: Rewarder samples per turn (the method draws 10 at temperature 1.1); the act judge uses 1.
    rewarder_samples: int = 10
    #: Ask for all Rewarder samples in one request with ``n`` (vLLM honours it; with llama.cpp's
    #: server, which ignores it, the rest are requested singly); False = one request per sample.
    rewarder_n: bool = True
    #: Case set: "inspired-test" (99), "redial-test" (198) or "inspired-train" (801); a batch
    #: plays its cases, an episode looks its case id up there first (ids are unique within a set).
    cases: CaseSet = "inspired-test"
    #: The seeker's goal (see `GoalMode`): "genre" = the case's first target genre; "item" = a
    #: hidden target movie, the one the case's human recommender recommended last, linked to the
    #: knowledge base by the title matcher (a batch leaves out cases without one).
    goal: GoalMode = "genre"

    def __post_init__(self) -> None:
        """Reject values no episode can use, naming the field."""
        if self.seeker not in SEEKER_MODES:
            raise ContextError(f"seeker must be one of {', '.join(SEEKER_MODES)}", "seeker")
        if self.cases not in CASE_SETS:
            raise ContextError(f"cases must be one of {', '.join(CASE_SETS)}", "cases")
        if self.goal not in GOAL_MODES:
            raise ContextError(f"goal must be one of {', '.join(GOAL_MODES)}", "goal")
        if self.max_turns < 1:
            raise ContextError(f"max_turns must be >= 1, got {self.max_turns}", "max_turns")
        if self.end_on is not None and self.end_on not in END_ON:
            raise ContextError(f"end_on must be one of {', '.join(END_ON)}", "end_on")
        if self.rewarder_samples < 1:
            raise ContextError(
                f"rewarder_samples must be >= 1, got {self.rewarder_samples}", "rewarder_samples"
            )

    @property
    def resolved_end_on(self) -> EndOn:
        """The episode-ending rule in force: `end_on`, or the seeker's default."""
        if self.end_on is not None:
            return self.end_on
        return "accept" if self.seeker == "act" else "reward"

    def episode_settings(self) -> dict[str, Any]:
        """Return the `EpisodeSettings` fields of this object by name."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(EpisodeSettings)}


@dataclass(frozen=True, kw_only=True)
class RolloutContext(EpisodeSettings):
    """Settings of a rollout: the recommender's `Context` plus what only simulation needs."""

    #: Every setting of the recommender graph (models, Planner, ablations, experts, seed).
    recommender: Context = field(default_factory=Context.from_env)
    #: How the episode's nodes run (see `EngineName`).
    engine: EngineName = "graph"

    def __post_init__(self) -> None:
        """Reject values no rollout can use, naming the field."""
        if isinstance(self.recommender, Mapping):
            # A context sent as JSON (LangGraph server, Studio) nests the recommender's as a dict.
            object.__setattr__(self, "recommender", Context.from_env(**self.recommender))
        if not isinstance(self.recommender, Context):
            raise ContextError("recommender must be a Context (or a mapping of its fields)")
        super().__post_init__()
        if self.engine not in ENGINES:
            raise ContextError(f"engine must be one of {', '.join(ENGINES)}", "engine")


def rollout_context_from(runtime: Any) -> RolloutContext:
    """Return the run's `RolloutContext`: defaults when absent, built from JSON if a mapping."""
    context = getattr(runtime, "context", None)
    if isinstance(context, RolloutContext):
        return context
    if context is None:
        return RolloutContext()
    if isinstance(context, Mapping):
        values = dict(context)
        known = {f.name for f in dataclasses.fields(RolloutContext)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ContextError(f"unknown RolloutContext field(s): {', '.join(unknown)}", unknown[0])
        return RolloutContext(**values)
    raise ContextError(f"runtime.context must be a RolloutContext, got {type(context).__name__}")
