"""The graph's own nodes: turn set-up, expert dispatch by ``experts`` mode, and ablation routing.

The experts themselves (agents/) return plain updates; these wrappers pick the implementation for
the run's ``experts`` mode (`get_experts`) and decide where the turn goes next, so
ablations change the path through the graph rather than the experts' code.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.runtime import Runtime
from langgraph.types import Command, Overwrite

from agents import llm_experts, rule_experts
from graph.context import Context, context_from
from graph.experts import ExpertNode, ExpertSet
from graph.routing import (
    PLAN_STRATEGY,
    REASON_PREFERENCES,
    RETRIEVE_FACTS,
    START_TURN,
    AfterReasoner,
    AfterStart,
    actor_node_name,
)
from graph.state import PER_TURN_KEYS, FallbackRecord, State
from graph.utils import clip_text, fallback, message_text
from rso.dialogue import clean_text
from rso.modes import ExpertsMode
from rso.strategies import Strategy

#: The `ExpertSet` of each ``experts`` mode.
EXPERT_SETS: dict[ExpertsMode, ExpertSet] = {
    "llm": llm_experts.EXPERTS,
    "rule": rule_experts.EXPERTS,
}


def get_experts(mode: ExpertsMode) -> ExpertSet:
    """Return the `ExpertSet` of an ``experts`` mode."""
    try:
        return EXPERT_SETS[mode]
    except KeyError:
        raise ValueError(
            f"unknown experts mode {mode!r}; expected one of {sorted(EXPERT_SETS)}"
        ) from None


class InvalidTurnError(ValueError):
    """The input cannot start a recommender turn (no seeker message, or an empty one)."""


def _per_turn_defaults() -> dict[str, Any]:
    fresh = State()  # the state's own defaults, so they are written down once
    return {key: getattr(fresh, key) for key in PER_TURN_KEYS}


def start_turn(state: State, runtime: Runtime[Context]) -> Command[AfterStart]:
    """Check the seeker's new message, reset the per-turn keys, and route past ablated experts."""
    context = context_from(runtime)
    if not state.messages:
        raise InvalidTurnError("no messages: send the seeker's message as {'messages': [...]}")
    last = state.messages[-1]
    if not isinstance(last, HumanMessage):
        raise InvalidTurnError(
            f"the last message must be the seeker's (a human/user message), not {last.type!r}"
        )
    raw, skipped = message_text(last.content)
    text, dropped = clean_text(raw)
    text = text.strip()
    if not text:
        detail = f" (it holds only non-text content: {', '.join(skipped)})" if skipped else ""
        raise InvalidTurnError(f"the seeker's message is empty{detail}")
    turn = sum(isinstance(m, AIMessage) for m in state.messages)
    fallbacks: list[FallbackRecord] = []
    if skipped:
        fallbacks.append(
            fallback(
                turn,
                START_TURN,
                f"the seeker's message has non-text content ({', '.join(skipped)})",
                "read its text only",
            )
        )
    cleaned_message: list[HumanMessage] = []
    if dropped:
        fallbacks.append(
            fallback(turn, START_TURN, f"the seeker's message held {', '.join(dropped)}", "dropped")
        )
        if isinstance(last.content, str):
            # Same id: `add_messages` replaces the saved message, so the session keeps clean text.
            cleaned_message.append(HumanMessage(text, id=last.id))
    if len(text) > context.max_message_chars:
        fallbacks.append(
            fallback(
                turn,
                START_TURN,
                f"the seeker's message has {len(text)} characters",
                f"the experts' prompts get its last {context.max_message_chars}",
            )
        )
    update = _per_turn_defaults() | {
        "turn": turn,
        "seeker_text": clip_text(" ".join(text.split()), context.max_message_chars),
        "fallbacks": Overwrite(fallbacks),
    }
    if cleaned_message:
        update["messages"] = cleaned_message
    goto: AfterStart = (
        REASON_PREFERENCES
        if context.use_reasoner
        else RETRIEVE_FACTS
        if context.use_retriever
        else PLAN_STRATEGY
    )
    return Command(goto=goto, update=update)


def reason_preferences(state: State, runtime: Runtime[Context]) -> Command[AfterReasoner]:
    """Run the Preference Reasoner of the run's experts mode, then retrieval unless ablated."""
    context = context_from(runtime)
    update = get_experts(context.experts).reason_preferences(state, runtime)
    goto: AfterReasoner = RETRIEVE_FACTS if context.use_retriever else PLAN_STRATEGY
    return Command(goto=goto, update=update)


def retrieve_facts(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Run the Fact Retriever of the run's experts mode."""
    return get_experts(context_from(runtime).experts).retrieve_facts(state, runtime)


def make_actor_node(strategy: Strategy | None) -> ExpertNode:
    """Return the Actor branch node of one strategy (None = the generic, no-strategy branch)."""

    def act(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
        update = get_experts(context_from(runtime).experts).write_reply(state, runtime, strategy)
        # Every expert set's reply is remembered with what it recommended, for later turns.
        return update | {"recommended_history": [list(update.get("recommended", []))]}

    act.__name__ = act.__qualname__ = actor_node_name(strategy)
    act.__doc__ = f"Write the reply under the {strategy or 'generic'} strategy."
    return act
