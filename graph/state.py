"""State of the recommender graph: what callers send, what the experts share, what comes back.

One invocation of the graph is one recommender turn. With a checkpointer the state of a thread
persists between turns: ``messages`` and ``preferences`` carry the dialogue on, while the per-turn
keys are reset by the first node (``start_turn``) and then written by exactly one expert each.

Reducers (for keys that more than one node writes):
- ``messages``: `add_messages` (append by id): the caller adds the seeker's message, the Actor
  the reply.
- ``fallbacks``: `log_fallbacks`, append; ``start_turn`` clears it with ``Overwrite([])`` so that
  a turn's output lists that turn's fallbacks only.
- every other key is written in sequence, never by two nodes in the same step: last value wins
  (``start_turn`` resets the per-turn keys, then their expert writes them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict

from rso.strategies import Strategy


class FallbackRecord(TypedDict):
    """Something that failed during a turn and what was done instead."""

    turn: int
    node: str
    failure: str
    action: str


def log_fallbacks(left: list[FallbackRecord], right: list[FallbackRecord]) -> list[FallbackRecord]:
    """Reducer of ``fallbacks``: append the new records to the turn's log."""
    return [*left, *right]


@dataclass
class InputState:
    """What a caller sends: the new seeker message (and, for a fresh thread, any prior dialogue)."""

    messages: Annotated[list[AnyMessage], add_messages] = field(default_factory=list)


@dataclass
class OutputState:
    """What one turn returns."""

    #: The whole dialogue, the recommender's reply of this turn last.
    messages: Annotated[list[AnyMessage], add_messages] = field(default_factory=list)
    #: 0-based index of this recommender turn (= recommender replies before it).
    turn: int = 0
    #: The recommender's reply (also appended to ``messages``).
    reply: str = ""
    #: Strategy chosen by the Planner; None when the Planner is ablated (generic prompt).
    strategy: Strategy | None = None
    #: The Planner's full distribution, strategy -> probability, in `STRATEGIES` order; {} if
    #: the Planner is ablated.
    strategy_probs: dict[str, float] = field(default_factory=dict)
    #: log pi(strategy | dialogue) under the Planner; None if ablated.
    strategy_logprob: float | None = None
    #: The dialogue text exactly as the Planner read it ("Seeker: ..." / "Recommender: ..." lines).
    planner_input: str = ""
    #: One-sentence summary of the seeker's preferences; "" while none are known.
    preferences: str = ""
    #: Dense retrieval's top-k (kb_id, cosine score), best first: the ranked list for Recall@k.
    retrieved: list[tuple[str, float]] = field(default_factory=list)
    #: The movie the Fact Retriever chose for this turn (kb_id), None when it declined.
    chosen_movie: str | None = None
    #: Grounded facts about ``chosen_movie`` (< 100 words), "" when there is none.
    movie_facts: str = ""
    #: kb_ids of the candidate movies the reply mentions by title.
    recommended: list[str] = field(default_factory=list)
    #: What failed this turn and what was done instead.
    fallbacks: Annotated[list[FallbackRecord], log_fallbacks] = field(default_factory=list)


@dataclass
class State(OutputState):
    """The full state the experts share within a turn."""

    #: The new seeker message as plain text, clipped for prompts (set by ``start_turn``).
    seeker_text: str = ""
    #: The top ``n_candidates`` of ``retrieved``, passed to the Fact Retriever's LLM and the Actor.
    candidates: list[str] = field(default_factory=list)


#: Keys reset at the start of every turn (the others carry over within a thread).
PER_TURN_KEYS: tuple[str, ...] = (
    "reply",
    "strategy",
    "strategy_probs",
    "strategy_logprob",
    "planner_input",
    "retrieved",
    "candidates",
    "chosen_movie",
    "movie_facts",
    "recommended",
)
