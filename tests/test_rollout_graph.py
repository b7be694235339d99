"""The episode graph: topology, the recommender as its subgraph, settings, one episode played."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from graph.builder import build_graph
from graph.context import Context, ContextError
from graph.episode import build_rollout_graph, rollout_graph, stream_episode
from graph.episode_context import RolloutContext, rollout_context_from
from graph.episode_nodes import JUDGE_TURN, RECOMMEND, SIMULATE_SEEKER, START_EPISODE
from graph.graph import graph as recommender
from graph.routing import ACTOR_NODES, PLAN_STRATEGY, START_TURN
from rso.data.eval_cases import load_eval_cases

ROOT = Path(__file__).resolve().parents[1]


def first_case_id() -> str:
    return next(c for c in load_eval_cases("inspired-test") if c.target_genres).case_id


def test_topology_loops_until_the_judge_ends_it() -> None:
    drawn = rollout_graph.get_graph()
    assert set(drawn.nodes) == {
        "__start__",
        START_EPISODE,
        RECOMMEND,
        SIMULATE_SEEKER,
        JUDGE_TURN,
        "__end__",
    }
    edges = {(e.source, e.target, e.conditional) for e in drawn.edges}
    assert edges == {
        ("__start__", START_EPISODE, False),
        (START_EPISODE, RECOMMEND, False),
        (RECOMMEND, SIMULATE_SEEKER, False),
        (SIMULATE_SEEKER, JUDGE_TURN, False),
        (JUDGE_TURN, RECOMMEND, True),  # the judge's Command draws both ways out
        (JUDGE_TURN, "__end__", True),
    }
    assert set(rollout_graph.get_input_jsonschema()["properties"]) == {
        "case_id",
        "episode_index",
        "seed",
    }
    assert rollout_graph.checkpointer is None  # served by `langgraph dev` as is


def test_the_recommender_graph_is_a_subgraph_of_the_recommend_node() -> None:
    subgraphs = dict(rollout_graph.get_subgraphs())
    assert list(subgraphs) == [RECOMMEND]
    assert set(subgraphs[RECOMMEND].get_graph().nodes) == set(recommender.get_graph().nodes)
    # Studio draws the recommender inside the node (xray) ...
    drawn = set(rollout_graph.get_graph(xray=True).nodes)
    inner = {f"{RECOMMEND}:{name}" for name in (START_TURN, PLAN_STRATEGY, *ACTOR_NODES)}
    assert inner <= drawn
    # ... and the graph built around a given recommender runs that one.
    mine = build_graph()
    assert dict(build_rollout_graph(mine).get_subgraphs())[RECOMMEND] is mine


def test_streaming_with_subgraphs_steps_into_each_recommender_turn() -> None:
    context = RolloutContext(recommender=Context(experts="rule"), seeker="act", max_turns=2)
    inner: list[str] = []
    outer: list[str] = []
    for namespace, update in rollout_graph.stream(
        {"case_id": first_case_id()}, context=context, stream_mode="updates", subgraphs=True
    ):
        if namespace:
            assert namespace[0].startswith(f"{RECOMMEND}:")
            inner.extend(update)
        else:
            outer.extend(update)
    turns = outer.count(JUDGE_TURN)
    assert inner.count(START_TURN) == inner.count(PLAN_STRATEGY) == turns >= 1


def test_an_episode_runs_from_a_case_id_alone() -> None:
    case_id = first_case_id()
    context = RolloutContext(recommender=Context(experts="rule"), seeker="act", max_turns=3)
    nodes = []
    for update in rollout_graph.stream(
        {"case_id": case_id}, context=context, stream_mode="updates"
    ):
        nodes.extend(update)
    turns = nodes.count(JUDGE_TURN)
    assert nodes == [START_EPISODE, *[RECOMMEND, SIMULATE_SEEKER, JUDGE_TURN] * turns]
    out = rollout_graph.invoke({"case_id": case_id}, context=context)
    assert 1 <= len(out["turns"]) <= 3 and out["done"]
    assert out["rewards"] == [t.reward for t in out["turns"]]
    messages = out["messages"]
    assert isinstance(messages[0], HumanMessage) and messages[0].content == "Hello."
    assert [type(m) for m in messages[1:]] == [AIMessage, HumanMessage] * len(out["turns"])
    assert [m.content for m in messages[1::2]] == [t.reply for t in out["turns"]]
    steps = list(stream_episode({"case_id": case_id}, context))
    assert steps[-1]["turns"] == out["turns"]  # the same episode, step by step


def test_a_one_turn_episode_fits_the_recursion_limit() -> None:
    # The recommender's subgraph inherits the episode's limit: one turn of the episode (4 steps)
    # must still leave room for the recommender's 5.
    context = RolloutContext(recommender=Context(experts="rule"), seeker="act", max_turns=1)
    steps = list(stream_episode({"case_id": first_case_id()}, context))
    assert len(steps[-1]["turns"]) == 1 and steps[-1]["done"]


def test_the_engine_is_checked() -> None:
    assert RolloutContext(engine="direct").engine == "direct"
    assert RolloutContext(engine="graph").engine == "graph"
    with pytest.raises(ContextError, match="engine must be one of graph, direct"):
        RolloutContext(engine="loop")  # type: ignore[arg-type]


def test_context_sent_as_json_is_read_and_checked() -> None:
    class Runtime:
        context = {"seeker": "act", "max_turns": 2, "recommender": {"experts": "rule"}}

    context = rollout_context_from(Runtime())
    assert context.max_turns == 2 and context.recommender.experts == "rule"
    Runtime.context = {"seeker": "robot"}
    with pytest.raises(ContextError, match="seeker must be one of llm, act"):
        rollout_context_from(Runtime())
    Runtime.context = {"max_turnz": 2}
    with pytest.raises(ContextError, match="max_turnz"):
        rollout_context_from(Runtime())
    with pytest.raises(ContextError, match="max_turns must be >= 1"):
        RolloutContext(max_turns=0)
    # The LangGraph server builds the dataclass itself, the nested settings still as a dict.
    served = RolloutContext(recommender={"experts": "rule", "top_k": 20})  # type: ignore[arg-type]
    assert isinstance(served.recommender, Context) and served.recommender.top_k == 20


def test_langgraph_json_serves_the_rollout_graph() -> None:
    config = json.loads((ROOT / "langgraph.json").read_text())
    assert config["graphs"]["rollout"] == "./graph/episode.py:rollout_graph"
    assert config["graphs"]["recommender"] == "./graph/graph.py:graph"
