"""State of the recommender graph: what callers send, what the experts share, what comes back.

One invocation of the graph is one recommender turn. With a checkpointer the state of a thread
persists between turns: ``messages``, ``preferences`` and ``recommended_history`` carry the
dialogue on, while the per-turn keys (the fields of `TurnState`) are reset by the first node
(``start_turn``) and then written by exactly one expert each.

Reducers (for keys that more than one node writes):
- ``messages``: `add_messages` (append by id): the caller adds the seeker's message, the Actor
  the reply.
- ``recommended_history``: `append_items`: a caller starting a thread may send what earlier
  replies recommended, the Actor adds its reply's.
- ``fallbacks``: `log_fallbacks`, append; ``start_turn`` clears it with ``Overwrite([])`` so that
  a turn's output lists that turn's fallbacks only.
- every other key is written in sequence, never by two nodes in the same step: last value wins
  (``start_turn`` resets the per-turn keys, then their expert writes them).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Annotated, Final, TypeVar

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict

from rso.strategies import Strategy

T = TypeVar("T")


class FallbackRecord(TypedDict):
    """Something that failed during a turn and what was done instead."""

    turn: int
    node: str
    failure: str
    action: str


def log_fallbacks(left: list[FallbackRecord], right: list[FallbackRecord]) -> list[FallbackRecord]:
    """Reducer of ``fallbacks``: append the new records to the turn's log."""
    return [*left, *right]


def append_items(left: list[T], right: list[T]) -> list[T]:
    """Reducer of lists that grow by one item a turn: append this step's items."""
    return [*left, *right]


@dataclass
class InputState:
    """What a caller sends: the new seeker message (and, for a fresh thread, any prior dialogue)."""

    messages: Annotated[list[AnyMessage], add_messages] = field(default_factory=list)
    #: The kb_ids each earlier recommender reply recommended, one list per reply, oldest first;
    #: they belong to the last ``len(recommended_history)`` replies of ``messages``. A thread keeps
    #: its own; a caller that replays a dialogue into a fresh thread sends them with it.
    recommended_history: Annotated[list[list[str]], append_items] = field(default_factory=list)


@dataclass
class TurnOutput:
    """What one turn decides and a caller reads: reset at the start of every turn."""

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
    #: The ranker's top-k (kb_id, fused score), best first: the ranked list for Recall@k.
    retrieved: list[tuple[str, float]] = field(default_factory=list)
    #: The movie the Fact Retriever chose for this turn (kb_id), None when it declined.
    chosen_movie: str | None = None
    #: Grounded facts about ``chosen_movie`` (< 100 words), "" when there is none.
    movie_facts: str = ""
    #: kb_ids of the candidate movies the reply mentions by title.
    recommended: list[str] = field(default_factory=list)


@dataclass
class TurnState(TurnOutput):
    """Every per-turn key: what a turn returns plus what its experts pass each other."""

    #: The top ``n_candidates`` of ``retrieved``, passed to the Fact Retriever's LLM and the Actor.
    candidates: list[str] = field(default_factory=list)


@dataclass
class OutputState(TurnOutput):
    """What one turn returns: this turn's decisions, the dialogue, and what the seeker likes."""

    #: The whole dialogue, the recommender's reply of this turn last.
    messages: Annotated[list[AnyMessage], add_messages] = field(default_factory=list)
    #: 0-based index of this recommender turn (= recommender replies before it).
    turn: int = 0
    #: One-sentence summary of the seeker's preferences; "" while none are known.
    preferences: str = ""
    #: What failed this turn and what was done instead.
    fallbacks: Annotated[list[FallbackRecord], log_fallbacks] = field(default_factory=list)


@dataclass
class State(OutputState, TurnState, InputState):
    """The full state the experts share within a turn."""

    #: The new seeker message as plain text, clipped for prompts (set by ``start_turn``).
    seeker_text: str = ""


#: Keys reset at the start of every turn (the others carry over within a thread).
PER_TURN_KEYS: Final[tuple[str, ...]] = tuple(f.name for f in fields(TurnState))
