"""Names of the graph's nodes and the Planner's routing targets (derived from the 14 strategies)."""

from __future__ import annotations

from typing import Final, Literal

from rso.strategies import STRATEGIES, Strategy, strategy_slug

START_TURN: Final = "start_turn"
REASON_PREFERENCES: Final = "reason_preferences"
RETRIEVE_FACTS: Final = "retrieve_facts"
PLAN_STRATEGY: Final = "plan_strategy"
#: The Actor branch of the "no strategy" ablation (one generic prompt).
ACTOR_GENERIC: Final = "actor_generic"


def actor_node_name(strategy: Strategy | None) -> str:
    """Graph node of the Actor branch for a strategy ("actor_opinion_inquiry"); None = generic."""
    return ACTOR_GENERIC if strategy is None else f"actor_{strategy_slug(strategy)}"


#: Every Actor branch, in `STRATEGIES` order, then the generic one.
ACTOR_NODES: Final[tuple[str, ...]] = (*(actor_node_name(s) for s in STRATEGIES), ACTOR_GENERIC)

# The Planner returns `Command[ActorNode]`; LangGraph reads the Literal to draw one edge per branch.
# It is built from STRATEGIES so strategy names stay defined in one place (mypy cannot check a
# Literal built at runtime, hence the ignore).
ActorNode = Literal[ACTOR_NODES]  # type: ignore[valid-type]

#: Where the first node goes, and where the Preference Reasoner goes (ablations skip experts).
AfterStart = Literal["reason_preferences", "retrieve_facts", "plan_strategy"]
AfterReasoner = Literal["retrieve_facts", "plan_strategy"]
