"""Wiring of the recommender graph: a turn = start -> Reasoner -> Retriever -> Planner -> Actor."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from agents.planner import plan_strategy
from graph.context import Context
from graph.nodes import make_actor_node, reason_preferences, retrieve_facts, start_turn
from graph.routing import (
    PLAN_STRATEGY,
    REASON_PREFERENCES,
    RETRIEVE_FACTS,
    START_TURN,
    actor_node_name,
)
from graph.state import InputState, OutputState, State
from rso.paths import cache_dir
from rso.strategies import STRATEGIES

RecommenderGraph = CompiledStateGraph[State, Context, InputState, OutputState]


def build_graph(checkpointer: BaseCheckpointSaver[Any] | None = None) -> RecommenderGraph:
    """Compile the recommender graph, with a checkpointer for multi-turn sessions if given."""
    builder = StateGraph(
        State, context_schema=Context, input_schema=InputState, output_schema=OutputState
    )
    builder.add_node(START_TURN, start_turn)
    builder.add_node(REASON_PREFERENCES, reason_preferences)
    builder.add_node(RETRIEVE_FACTS, retrieve_facts)
    builder.add_node(PLAN_STRATEGY, plan_strategy)
    for strategy in (*STRATEGIES, None):
        name = actor_node_name(strategy)
        builder.add_node(name, make_actor_node(strategy))
        builder.add_edge(name, END)
    builder.add_edge(START, START_TURN)
    builder.add_edge(RETRIEVE_FACTS, PLAN_STRATEGY)
    return builder.compile(checkpointer=checkpointer, name="recommender")


def default_session_db() -> Path:
    """Return the SQLite file of saved chat sessions: ``cache_dir()/sessions.sqlite``."""
    return cache_dir() / "sessions.sqlite"


@contextmanager
def open_session_graph(db_path: str | Path | None = None) -> Iterator[RecommenderGraph]:
    """Yield the graph with a SQLite checkpointer; sessions persist by ``thread_id``."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    path = Path(db_path) if db_path is not None else default_session_db()
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, check_same_thread=False)
    try:
        yield build_graph(SqliteSaver(connection))
    finally:
        connection.close()
