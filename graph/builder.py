"""Wiring of the recommender graph: a turn = start -> Reasoner -> Retriever -> Planner -> Actor."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any, Final

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import StateSnapshot

from agents.planner import plan_strategy
from graph.context import Context
from graph.nodes import make_actor_node, reason_preferences, retrieve_facts, start_turn
from graph.routing import (
    ACTOR_NODES,
    PLAN_STRATEGY,
    REASON_PREFERENCES,
    RETRIEVE_FACTS,
    START_TURN,
    actor_node_name,
)
from graph.state import InputState, OutputState, State
from rso.locks import LockTimeoutError, key_lock
from rso.paths import cache_dir
from rso.strategies import STRATEGIES

RecommenderGraph = CompiledStateGraph[State, Context, InputState, OutputState]


def recommender_nodes() -> dict[str, Callable[..., Any]]:
    """Return the recommender graph's nodes by name, the first one first."""
    nodes: dict[str, Callable[..., Any]] = {
        START_TURN: start_turn,
        REASON_PREFERENCES: reason_preferences,
        RETRIEVE_FACTS: retrieve_facts,
        PLAN_STRATEGY: plan_strategy,
    }
    for strategy in (*STRATEGIES, None):
        nodes[actor_node_name(strategy)] = make_actor_node(strategy)
    return nodes


#: The recommender graph's fixed edges; every other node routes itself with a `Command`.
RECOMMENDER_EDGES: Final[Mapping[str, str]] = {
    RETRIEVE_FACTS: PLAN_STRATEGY,
    **{name: END for name in ACTOR_NODES},
}


def build_graph(checkpointer: BaseCheckpointSaver[Any] | None = None) -> RecommenderGraph:
    """Compile the recommender graph, with a checkpointer for multi-turn sessions if given."""
    builder = StateGraph(
        State, context_schema=Context, input_schema=InputState, output_schema=OutputState
    )
    nodes = recommender_nodes()
    for name, node in nodes.items():
        builder.add_node(name, node)
    builder.add_edge(START, next(iter(nodes)))
    for source, target in RECOMMENDER_EDGES.items():
        builder.add_edge(source, target)
    return builder.compile(checkpointer=checkpointer, name="recommender")


def default_session_db() -> Path:
    """Return the SQLite file of saved chat sessions: ``cache_dir()/sessions.sqlite``."""
    return cache_dir() / "sessions.sqlite"


#: How long a turn waits for another turn on the same thread before it is refused.
TURN_LOCK_TIMEOUT_S = 600.0


class SessionBusyError(RuntimeError):
    """Another turn on the same session thread held it for longer than the wait allows."""


class SessionGraph:
    """The recommender graph over a session database; the turns of one thread run one at a time.

    Without this, two turns started together on one thread (two ``rso chat`` processes, two
    threads calling `invoke`) both read the same last checkpoint and the one saved last drops
    the other's messages. Reads pass straight through; `invoke`, `stream` and `update_state` hold
    the thread's lock (`rso.locks.key_lock`) for the whole run.
    """

    def __init__(
        self, graph: RecommenderGraph, lock_dir: Path, timeout_s: float = TURN_LOCK_TIMEOUT_S
    ) -> None:
        self.graph = graph
        self.lock_dir = lock_dir
        self.timeout_s = timeout_s

    def _turn(self, config: Any) -> AbstractContextManager[None]:
        thread_id = ((config or {}).get("configurable") or {}).get("thread_id")
        if thread_id is None:
            return nullcontext()  # the graph itself refuses a run without a thread
        return _session_lock(self.lock_dir, str(thread_id), self.timeout_s)

    def invoke(self, input: Any, config: Any = None, **kwargs: Any) -> dict[str, Any]:
        """Run one turn (as `CompiledStateGraph.invoke`) while holding the thread's lock."""
        with self._turn(config):
            return self.graph.invoke(input, config, **kwargs)

    def stream(self, input: Any, config: Any = None, **kwargs: Any) -> Iterator[Any]:
        """Stream one turn (as `CompiledStateGraph.stream`) while holding the thread's lock."""
        with self._turn(config):
            yield from self.graph.stream(input, config, **kwargs)

    def update_state(self, config: Any, values: Any, **kwargs: Any) -> Any:
        """Edit the thread's state (as `CompiledStateGraph.update_state`) under its lock."""
        with self._turn(config):
            return self.graph.update_state(config, values, **kwargs)

    def get_state(self, config: Any, **kwargs: Any) -> StateSnapshot:
        """Return the thread's latest state."""
        return self.graph.get_state(config, **kwargs)

    def get_state_history(self, config: Any, **kwargs: Any) -> Iterator[StateSnapshot]:
        """Return the thread's saved states, newest first."""
        return self.graph.get_state_history(config, **kwargs)


@contextmanager
def _session_lock(lock_dir: Path, thread_id: str, timeout_s: float) -> Iterator[None]:
    try:
        with key_lock(lock_dir, thread_id, timeout_s=timeout_s):
            yield
    except LockTimeoutError:
        raise SessionBusyError(
            f"session {thread_id!r} is busy with another turn (waited {timeout_s:g} s); "
            "try again when it has answered"
        ) from None


@contextmanager
def open_session_graph(db_path: str | Path | None = None) -> Iterator[SessionGraph]:
    """Yield the graph with a SQLite checkpointer; sessions persist by ``thread_id``.

    Turns on one thread are serialised across threads and processes by lock files in
    ``<db>.locks/`` beside the database.
    """
    from langgraph.checkpoint.sqlite import SqliteSaver

    path = Path(db_path) if db_path is not None else default_session_db()
    path.parent.mkdir(parents=True, exist_ok=True)
    # The busy timeout lets concurrent writers on other threads wait instead of failing with
    # "database is locked".
    connection = sqlite3.connect(path, check_same_thread=False, timeout=30.0)
    try:
        yield SessionGraph(
            build_graph(SqliteSaver(connection)), path.with_name(path.name + ".locks")
        )
    finally:
        connection.close()
