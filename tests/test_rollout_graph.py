"""The rollout graph: topology, input, settings, and one episode stepped through its nodes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from graph.context import Context, ContextError
from graph.episode import (
    JUDGE_TURN,
    RECOMMEND,
    SIMULATE_SEEKER,
    START_EPISODE,
    RolloutContext,
    build_rollout_graph,
    rollout_context_from,
    rollout_graph,
    stream_direct,
)
from graph.graph import graph as recommender
from rso.data.eval_cases import load_eval_cases

ROOT = Path(__file__).resolve().parents[1]


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
    assert build_rollout_graph() is not rollout_graph


def test_an_episode_runs_from_a_case_id_alone() -> None:
    case = next(c for c in load_eval_cases("inspired-test") if c.target_genres)
    context = RolloutContext(recommender=Context(experts="rule"), seeker="act", max_turns=3)
    nodes = []
    for update in rollout_graph.stream(
        {"case_id": case.case_id}, context=context, stream_mode="updates"
    ):
        nodes.extend(update)
    turns = nodes.count(JUDGE_TURN)
    assert nodes == [START_EPISODE, *[RECOMMEND, SIMULATE_SEEKER, JUDGE_TURN] * turns]
    out = rollout_graph.invoke({"case_id": case.case_id}, context=context)
    assert 1 <= len(out["turns"]) <= 3 and out["done"]
    assert out["rewards"] == [t.reward for t in out["turns"]]
    messages = out["messages"]
    assert isinstance(messages[0], HumanMessage) and messages[0].content == "Hello."
    assert [type(m) for m in messages[1:]] == [AIMessage, HumanMessage] * len(out["turns"])


def test_the_direct_engine_follows_the_recommender_graph() -> None:
    context = Context(experts="rule")
    steps = list(stream_direct(recommender, {"messages": [HumanMessage("Hello.")]}, context))
    final = steps[-1]
    compiled = recommender.invoke({"messages": [HumanMessage("Hello.")]}, context=context)
    assert final["reply"] == compiled["reply"] and final["strategy"] == compiled["strategy"]
    assert len(steps) == 5  # start, reasoner, retriever, planner, one Actor branch


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
