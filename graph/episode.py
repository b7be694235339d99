"""The episode graph (``rollout``): one simulated episode, recommender -> seeker -> judge, looped.

    start_episode -> recommend -> simulate_seeker -> judge_turn -> (recommend | END)
                        |
                        +-- the recommender graph, one turn, as a subgraph

One invocation plays a whole episode of one case: the seeker opens with "Hello.", the compiled
recommender graph answers (a subgraph of ``recommend``, so Studio steps into every turn), the
simulated seeker replies (the LLM seeker, or the act-level seeker), and the exchange is scored
(the LLM Rewarder, or the act judge for the act-level seeker). The episode ends when the seeker
leaves, after ``max_turns`` turns, or by `RolloutContext.end_on`: at the first turn reward above
`SUCCESS_THRESHOLD` (the paper's rule, the LLM seeker's default), or only on an explicit
acceptance (the act-level seeker's default: it shows interest, scored 0.8, before it accepts, so
the reward rule would end its episodes before any decision).

The pieces: settings (`graph.episode_context`), state (`graph.episode_state`), nodes
(`graph.episode_nodes`); this module wires them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

from langchain_core.runnables import RunnableConfig
from langgraph.graph import START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from graph.builder import RecommenderGraph, build_graph
from graph.episode_context import RolloutContext
from graph.episode_nodes import (
    JUDGE_TURN,
    RECOMMEND,
    SIMULATE_SEEKER,
    START_EPISODE,
    TurnRunner,
    judge_turn,
    make_recommend_node,
    simulate_seeker,
    start_episode,
)
from graph.episode_state import RolloutInput, RolloutOutput, RolloutState

RolloutGraph = CompiledStateGraph[RolloutState, RolloutContext, RolloutInput, RolloutOutput]


def build_rollout_graph(recommender: RecommenderGraph | None = None) -> RolloutGraph:
    """Compile the episode graph around a compiled recommender graph (a fresh one by default).

    No checkpointer: an episode is one invocation (`langgraph dev` adds its own).
    """
    builder = StateGraph(
        RolloutState,
        context_schema=RolloutContext,
        input_schema=RolloutInput,
        output_schema=RolloutOutput,
    )
    nodes = episode_nodes(recommender or build_graph())
    for name, node in nodes.items():
        builder.add_node(name, node)
    builder.add_edge(START, next(iter(nodes)))
    for source, target in EPISODE_EDGES.items():
        builder.add_edge(source, target)
    return builder.compile(name="rollout")


def episode_nodes(recommender: TurnRunner) -> dict[str, Callable[..., Any]]:
    """Return the episode graph's nodes by name, the first one first; `recommender` plays turns."""
    return {
        START_EPISODE: start_episode,
        RECOMMEND: make_recommend_node(recommender),
        SIMULATE_SEEKER: simulate_seeker,
        JUDGE_TURN: judge_turn,
    }


#: The episode graph's fixed edges; the judge routes itself (next turn or the end).
EPISODE_EDGES: Final[Mapping[str, str]] = {
    START_EPISODE: RECOMMEND,
    RECOMMEND: SIMULATE_SEEKER,
    SIMULATE_SEEKER: JUDGE_TURN,
}


#: Steps of one recommender turn: start, Preference Reasoner, Fact Retriever, Planner, Actor.
TURN_STEPS = 5


def episode_steps(context: RolloutContext) -> int:
    """Graph steps one episode may take: the start, then three nodes per turn.

    The recommender's subgraph inherits the episode's recursion limit, so the limit is never
    below the steps of one recommender turn (a one-turn episode takes fewer steps than that).
    """
    return max(1 + 3 * context.max_turns + 1, TURN_STEPS + 1)


#: The compiled episode graph, as served by ``langgraph dev`` ("rollout" in langgraph.json).
rollout_graph = build_rollout_graph()


def stream_episode(
    graph_input: RolloutInput | Mapping[str, Any],
    context: RolloutContext,
    graph: RolloutGraph = rollout_graph,
) -> Iterator[dict[str, Any]]:
    """Play one episode; yield its output after each step (a failure keeps what was played)."""
    if not isinstance(graph_input, RolloutInput):
        graph_input = RolloutInput(**graph_input)
    config: RunnableConfig = {"recursion_limit": episode_steps(context)}
    yield from graph.stream(graph_input, config, context=context, stream_mode="values")
