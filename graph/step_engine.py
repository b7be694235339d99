"""The step engine: the graphs' own nodes run in order in this thread, without LangGraph's loop.

LLM-free rollouts (the act-level seeker and the rule experts, the RL loop's fast mode) spend
most of their time in LangGraph's per-step bookkeeping, not in the nodes: eight steps a turn at
a quarter of a millisecond each. This engine plays the same node functions the compiled graphs
are built from (`graph.builder.recommender_nodes`, `graph.episode.episode_nodes`), follows the
same fixed edges and the nodes' `Command`s, and merges every update with the reducers the state
classes declare in their annotations, as the compiled graphs do. It uses public LangGraph API
only (`Command`, `Overwrite`, `Runtime`, `add_messages` through the annotations). Tests hold it to
the compiled graphs: the same episodes, record for record. Studio, ``langgraph dev``,
checkpointers and callbacks need the compiled graphs; batch rollouts pick this engine with
``engine="direct"`` (the default of the fast mode).
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from langgraph.errors import GraphRecursionError
from langgraph.graph import END
from langgraph.runtime import Runtime
from langgraph.types import Command, Overwrite

from graph.builder import RECOMMENDER_EDGES, recommender_nodes
from graph.context import Context
from graph.episode import EPISODE_EDGES, TURN_STEPS, episode_nodes, episode_steps
from graph.episode_context import RolloutContext
from graph.episode_state import RolloutInput, RolloutOutput, RolloutState
from graph.state import InputState, OutputState, State

Reducer = Callable[[Any, Any], Any]


_REDUCERS: dict[type, Mapping[str, Reducer | None]] = {}


def _reducers(state_type: type) -> Mapping[str, Reducer | None]:
    """Each field of a state class and its reducer (the last callable of its ``Annotated``)."""
    known = _REDUCERS.get(state_type)
    if known is not None:
        return known
    hints = typing.get_type_hints(state_type, include_extras=True)
    reducers: dict[str, Reducer | None] = {}
    for item in dataclasses.fields(state_type):
        extras = getattr(hints[item.name], "__metadata__", ())
        reducers[item.name] = next((x for x in reversed(extras) if callable(x)), None)
    _REDUCERS[state_type] = reducers
    return reducers


def merge(state: Any, update: Mapping[str, Any] | None) -> Any:
    """Return `state` with `update` applied: reducers where declared, else the new value."""
    if not update:
        return state
    reducers = _reducers(type(state))
    changes: dict[str, Any] = {}
    for key, value in update.items():
        if key not in reducers:
            raise KeyError(f"{type(state).__name__} has no key {key!r}")
        reducer = reducers[key]
        if isinstance(value, Overwrite):
            changes[key] = value.value
        elif reducer is None:
            changes[key] = value
        else:
            changes[key] = reducer(changes.get(key, getattr(state, key)), value)
    return dataclasses.replace(state, **changes)


@dataclass(frozen=True)
class Wiring:
    """A graph as the engine runs it: nodes by name (the entry first) and the fixed edges."""

    nodes: Mapping[str, Callable[..., Any]]
    edges: Mapping[str, str]


def run_steps(wiring: Wiring, state: Any, runtime: Runtime[Any], limit: int) -> Iterator[Any]:
    """Run `wiring` from its entry node on `state`; yield the state after every step."""
    node = next(iter(wiring.nodes))
    for _ in range(limit):
        result = wiring.nodes[node](state, runtime)
        if isinstance(result, Command):
            state = merge(state, result.update)
            node = str(result.goto)
        else:
            state = merge(state, result)
            node = wiring.edges[node]
        yield state
        if node == END:
            return
    raise GraphRecursionError(f"recursion limit of {limit} steps reached without hitting END")


def _values(state: Any, output_type: type) -> dict[str, Any]:
    return {f.name: getattr(state, f.name) for f in dataclasses.fields(output_type)}


class StepRecommender:
    """The recommender graph's turn through the step engine (`invoke`, like the compiled graph)."""

    def __init__(self) -> None:
        self.wiring = Wiring(recommender_nodes(), RECOMMENDER_EDGES)

    def invoke(self, input: InputState, *, context: Context) -> dict[str, Any]:
        """Play one turn on `input`; return the `OutputState` values."""
        final = start = merge(State(), _values(input, InputState))
        for final in run_steps(self.wiring, start, Runtime(context=context), TURN_STEPS):  # noqa: B007
            pass
        return _values(final, OutputState)


_EPISODE_WIRING = Wiring(episode_nodes(StepRecommender()), EPISODE_EDGES)


def stream_episode_steps(
    graph_input: RolloutInput | Mapping[str, Any], context: RolloutContext
) -> Iterator[dict[str, Any]]:
    """Play one episode; yield its output after each step, as `graph.episode.stream_episode`."""
    if not isinstance(graph_input, RolloutInput):
        graph_input = RolloutInput(**graph_input)
    start = merge(RolloutState(), _values(graph_input, RolloutInput))
    runtime = Runtime(context=context)
    for state in run_steps(_EPISODE_WIRING, start, runtime, episode_steps(context)):
        yield _values(state, RolloutOutput)
