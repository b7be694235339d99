"""The expert implementations (Preference Reasoner, Fact Retriever, Actor), chosen by ``experts``.

Graph nodes never call an implementation directly: they ask `get_experts(context.experts)`, so a
second implementation plugs in by providing a module, without touching any node. The "rule"
experts are looked up in ``agents.rule_experts`` (attribute ``EXPERTS``, an `ExpertSet`).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache
from typing import Any, Final, Protocol

from langgraph.runtime import Runtime

from graph.context import Context, ExpertsMode
from graph.state import State
from rso.strategies import Strategy


class ExpertNode(Protocol):
    """An expert node: reads the state and the run's context, returns the keys it changes."""

    def __call__(self, state: State, runtime: Runtime[Context]) -> dict[str, Any]:
        """Return the state keys this expert changes."""
        ...


class ActorExpert(Protocol):
    """The Actor: like a node, with the strategy of its branch (None = generic prompt)."""

    def __call__(
        self, state: State, runtime: Runtime[Context], strategy: Strategy | None
    ) -> dict[str, Any]:
        """Return the reply and the keys the Actor changes."""
        ...


@dataclass(frozen=True)
class ExpertSet:
    """One implementation of the three micro-level experts."""

    reason_preferences: ExpertNode
    retrieve_facts: ExpertNode
    write_reply: ActorExpert


#: Where each mode's `ExpertSet` lives ("module:attribute"), imported on first use.
EXPERT_SETS: Final[dict[str, str]] = {
    "llm": "agents.llm_experts:EXPERTS",
    "rule": "agents.rule_experts:EXPERTS",
}


@cache
def get_experts(mode: ExpertsMode) -> ExpertSet:
    """Return the `ExpertSet` of a mode; a clear NotImplementedError if it is not provided."""
    if mode not in EXPERT_SETS:
        raise ValueError(f"unknown experts mode {mode!r}; expected one of {sorted(EXPERT_SETS)}")
    module_name, attribute = EXPERT_SETS[mode].split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise NotImplementedError(
            f"experts={mode!r} is not implemented yet: provide {module_name}.{attribute} "
            f"(an ExpertSet), or run with experts='llm'"
        ) from None
    experts = getattr(module, attribute, None)
    if not isinstance(experts, ExpertSet):
        raise TypeError(f"{module_name}.{attribute} must be an ExpertSet, got {type(experts)!r}")
    return experts
