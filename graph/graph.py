"""The compiled recommender graph without a checkpointer, as served by ``langgraph dev``.

Python callers that need multi-turn sessions use `graph.builder.open_session_graph` instead.
"""

from graph.builder import build_graph, open_session_graph

graph = build_graph()

__all__ = ["build_graph", "graph", "open_session_graph"]
