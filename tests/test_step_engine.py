"""The step engine's own parts: merging updates with the state's reducers, routing, the limit."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.errors import GraphRecursionError
from langgraph.graph import END
from langgraph.runtime import Runtime
from langgraph.types import Command, Overwrite

from graph.context import Context
from graph.graph import graph
from graph.state import InputState, State
from graph.step_engine import StepRecommender, Wiring, merge, run_steps


def test_merge_applies_the_declared_reducers_and_overwrites() -> None:
    state = State(messages=[HumanMessage("Hi", id="1")], turn=2)
    merged = merge(state, {"messages": [AIMessage("Hello", id="2")], "turn": 3})
    assert [m.content for m in merged.messages] == ["Hi", "Hello"]  # add_messages appends
    assert merged.turn == 3 and state.turn == 2  # a plain key is replaced; the input is kept
    record = {"turn": 0, "node": "x", "problem": "p", "action": "a"}
    logged = merge(merged, {"fallbacks": [record]})
    assert merge(logged, {"fallbacks": [record]}).fallbacks == [record, record]
    assert merge(logged, {"fallbacks": Overwrite([])}).fallbacks == []
    assert merge(state, None) is state
    with pytest.raises(KeyError, match="no key 'nope'"):
        merge(state, {"nope": 1})


def test_run_steps_follows_commands_and_edges_and_stops_at_the_limit() -> None:
    def first(state: State, runtime: Runtime[Context]) -> Command[str]:
        return Command(goto="second", update={"turn": state.turn + 1})

    def second(state: State, runtime: Runtime[Context]) -> dict[str, int]:
        return {"turn": state.turn * 10}

    wiring = Wiring({"first": first, "second": second}, {"second": END})
    steps = list(run_steps(wiring, State(turn=1), Runtime(context=Context()), limit=5))
    assert [s.turn for s in steps] == [2, 20]
    looping = Wiring({"first": first, "second": second}, {"second": "first"})
    with pytest.raises(GraphRecursionError):
        list(run_steps(looping, State(), Runtime(context=Context()), limit=5))


def test_a_turn_through_the_step_engine_equals_the_compiled_graph() -> None:
    context = Context(experts="rule", planner_checkpoint=None, seed=3)
    turn = InputState(messages=[HumanMessage("Hi! I love sci-fi movies like Alien.", id="s1")])
    compiled = graph.invoke(turn, context=context)
    stepped = StepRecommender().invoke(turn, context=context)
    assert stepped.keys() == compiled.keys()
    for key in stepped:
        if key != "messages":  # the reply's message id is drawn at random by add_messages
            assert stepped[key] == compiled[key], key
    assert [m.content for m in stepped["messages"]] == [m.content for m in compiled["messages"]]
    assert stepped["reply"] and stepped["strategy"]
