"""The recommender's state types: per-turn keys derived from `TurnState`, and reset every turn."""

from __future__ import annotations

from dataclasses import fields

from langchain_core.messages import AIMessage, HumanMessage

from graph.nodes import start_turn
from graph.state import PER_TURN_KEYS, InputState, OutputState, State, TurnOutput, TurnState
from tests.world import runtime


def names(schema: type) -> set[str]:
    return {f.name for f in fields(schema)}


def test_per_turn_keys_are_derived_from_the_turn_state() -> None:
    assert set(PER_TURN_KEYS) == names(TurnState) and len(PER_TURN_KEYS) == len(names(TurnState))
    # Every per-turn decision is returned; only the experts' scratch stays inside the graph.
    assert names(TurnOutput) <= names(OutputState)
    assert set(PER_TURN_KEYS) - names(OutputState) == {"candidates"}
    # What a thread carries from turn to turn is never reset.
    assert not {"messages", "recommended_history", "preferences"} & set(PER_TURN_KEYS)
    assert names(InputState) | names(OutputState) | names(TurnState) | {"seeker_text"} == names(
        State
    )


def test_start_turn_resets_every_per_turn_key_and_keeps_the_rest() -> None:
    stale = State(
        messages=[HumanMessage("Hi"), AIMessage("Hello!"), HumanMessage("Horror, please.")],
        recommended_history=[["m1"]],
        preferences="Likes horror movies.",
        reply="old reply",
        strategy="Credibility",
        strategy_probs={"Credibility": 1.0},
        strategy_logprob=0.0,
        planner_input="Seeker: Hi",
        retrieved=[("m1", 0.9)],
        chosen_movie="m1",
        movie_facts="Alien (1979) is a horror movie.",
        recommended=["m1"],
        candidates=["m1"],
    )
    fresh = State()
    assert all(getattr(stale, key) != getattr(fresh, key) for key in PER_TURN_KEYS)
    update = start_turn(stale, runtime()).update
    assert isinstance(update, dict)
    assert {key: update[key] for key in PER_TURN_KEYS} == {
        key: getattr(fresh, key) for key in PER_TURN_KEYS
    }
    assert update["turn"] == 1 and update["seeker_text"] == "Horror, please."
    assert not {"messages", "recommended_history", "preferences"} & set(update)
