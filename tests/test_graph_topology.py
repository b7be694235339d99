from __future__ import annotations

import subprocess
import sys
import typing

from graph.builder import build_graph
from graph.graph import graph
from graph.routing import ACTOR_GENERIC, ACTOR_NODES, ActorNode, actor_node_name
from rso.strategies import STRATEGIES


def test_all_actor_branches_are_nodes_and_planner_targets() -> None:
    drawn = graph.get_graph()
    assert set(ACTOR_NODES) <= set(drawn.nodes)
    assert len(ACTOR_NODES) == 15 and len(set(ACTOR_NODES)) == 15
    planner_targets = {e.target for e in drawn.edges if e.source == "plan_strategy"}
    assert planner_targets == set(ACTOR_NODES)
    # Every Actor ends the turn.
    for name in ACTOR_NODES:
        assert {e.target for e in drawn.edges if e.source == name} == {"__end__"}


def test_command_literal_matches_the_strategies() -> None:
    assert typing.get_args(ActorNode) == ACTOR_NODES
    assert [actor_node_name(s) for s in STRATEGIES] == list(ACTOR_NODES[:-1])
    assert ACTOR_NODES[-1] == ACTOR_GENERIC


def test_ablation_edges_are_drawn() -> None:
    edges = {(e.source, e.target) for e in graph.get_graph().edges}
    assert {
        ("__start__", "start_turn"),
        ("start_turn", "reason_preferences"),
        ("start_turn", "retrieve_facts"),
        ("start_turn", "plan_strategy"),
        ("reason_preferences", "retrieve_facts"),
        ("reason_preferences", "plan_strategy"),
        ("retrieve_facts", "plan_strategy"),
    } <= edges


def test_module_graph_has_no_checkpointer_and_build_graph_accepts_one() -> None:
    from langgraph.checkpoint.memory import InMemorySaver

    assert graph.checkpointer is None
    saver = InMemorySaver()
    assert build_graph(saver).checkpointer is saver


def test_importing_the_graph_is_lazy() -> None:
    # What makes importing the graph (and starting `langgraph dev`) fast is that no heavy module
    # loads before a node needs it; the import time itself is a benchmark figure, not a test.
    code = (
        "import sys; import graph.graph, graph.episode; "
        "print(sorted(m for m in ('torch', 'faiss', 'sentence_transformers', 'llama_cpp', "
        "'langchain_openai', 'retrieval.index', 'policy.network') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "[]", f"heavy modules imported eagerly: {out}"
