"""The shape of an expert implementation (Preference Reasoner, Fact Retriever, Actor).

Each ``experts`` mode provides one `ExpertSet` (``agents.llm_experts``, ``agents.rule_experts``);
the graph's nodes pick it by mode (`graph.nodes.get_experts`) and never call an expert directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from langgraph.runtime import Runtime

from graph.context import Context
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
