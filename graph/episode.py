"""The rollout graph: one simulated episode = recommender turn -> seeker -> Rewarder, looped.

    start_episode -> recommend -> simulate_seeker -> judge_turn -> (recommend | END)

One invocation plays a whole episode of one case: the seeker opens with "Hello.", the recommender
graph answers (run through its compiled graph, or node by node with the direct engine), the
simulated seeker replies (the LLM seeker, or the act-level seeker), and the Rewarder scores the
exchange (the LLM judge, or the act judge for the act-level seeker). The loop ends on success
(turn reward above `SUCCESS_THRESHOLD`), when the seeker leaves, or after ``max_turns`` turns.

Two engines run the same node functions (of both graphs):
- ``graph``: LangGraph's compiled graphs (what Studio shows; the default with LLM roles, whose
  latency dwarfs the orchestration);
- ``direct``: `stream_direct`, a plain loop over a `StateGraph`'s own nodes, edges and reducers
  with no per-step Pregel bookkeeping (the default of the LLM-free fast mode, act seeker + rule
  experts, where orchestration would otherwise cost more than the turn itself).

Reducers of `RolloutState`: ``messages`` uses `add_messages`; ``turns`` and ``rewards`` append
(`append_items`); every other key is written by one node at a time (last value wins).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal, TypeVar, get_args

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.channels.binop import BinaryOperatorAggregate
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command, Overwrite

from agents.act_seeker import SeekerState
from agents.seeker import goal_from_case
from agents.seeker_goal import SeekerGoal
from graph.context import Context, ContextError
from rso.data.eval_cases import CaseSet
from rso.data.records import EvalCase
from rso.dialogue import OPENING
from rso.modes import END_ON, SEEKER_MODES, SUCCESS_THRESHOLD, EndOn, SeekerMode
from rso.runs.records import TurnRecord
from rso.strategies import STRATEGIES

if TYPE_CHECKING:
    from agents.act_seeker import ActSeeker
    from rso.data.records import Persona

#: How graphs are executed: LangGraph's compiled graph, or the plain loop of `stream_direct`.
EngineName = Literal["graph", "direct"]
ENGINES: Final[tuple[EngineName, ...]] = get_args(EngineName)

#: What the seeker says first in every episode.

START_EPISODE: Final = "start_episode"
RECOMMEND: Final = "recommend"
SIMULATE_SEEKER: Final = "simulate_seeker"
JUDGE_TURN: Final = "judge_turn"
AfterJudge = Literal["recommend", "__end__"]

T = TypeVar("T")


class RolloutError(RuntimeError):
    """An episode cannot start or continue (unknown case, missing persona, bad settings)."""


def append_items(left: list[T], right: list[T]) -> list[T]:
    """Reducer of ``turns`` and ``rewards``: append this step's items."""
    return [*left, *right]


# --- settings ------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class RolloutContext:
    """Settings of a rollout: the recommender's `Context` plus what only simulation needs."""

    #: Every setting of the recommender graph (models, Planner, ablations, experts, seed).
    recommender: Context = field(default_factory=Context.from_env)
    #: The simulated seeker: "llm" (persona prompt) or "act" (act-level, LLM-free).
    seeker: SeekerMode = "act"
    #: Most recommender turns per episode (the method uses 10).
    max_turns: int = 10
    #: When an episode ends before ``max_turns`` (see `EndOn`); None = "accept" for the act-level
    #: seeker, "reward" (the paper's protocol) for the LLM seeker. SR is measured the same way in
    #: both: the first turn whose reward exceeds `SUCCESS_THRESHOLD`.
    end_on: EndOn | None = None
    #: Rewarder samples per turn (the method draws 10 at temperature 1.1); the act judge uses 1.
    rewarder_samples: int = 10
    #: Ask for all Rewarder samples in one request with ``n`` (vLLM honours it; with llama.cpp's
    #: server, which ignores it, the rest are requested singly); False = one request per sample.
    rewarder_n: bool = True
    #: Case set searched first for a case id (ids are unique within a set).
    cases: CaseSet = "inspired-test"
    #: How the recommender turn runs inside an episode (see the module docstring).
    engine: EngineName = "graph"

    def __post_init__(self) -> None:
        """Reject values no rollout can use, naming the field."""
        from rso.data.eval_cases import CASE_SETS

        if isinstance(self.recommender, Mapping):
            # A context sent as JSON (LangGraph server, Studio) nests the recommender's as a dict.
            object.__setattr__(self, "recommender", Context.from_env(**self.recommender))
        if not isinstance(self.recommender, Context):
            raise ContextError("recommender must be a Context (or a mapping of its fields)")
        if self.seeker not in SEEKER_MODES:
            raise ContextError(f"seeker must be one of {', '.join(SEEKER_MODES)}", "seeker")
        if self.engine not in ENGINES:
            raise ContextError(f"engine must be one of {', '.join(ENGINES)}", "engine")
        if self.cases not in CASE_SETS:
            raise ContextError(f"cases must be one of {', '.join(CASE_SETS)}", "cases")
        if self.max_turns < 1:
            raise ContextError(f"max_turns must be >= 1, got {self.max_turns}", "max_turns")
        if self.end_on is not None and self.end_on not in END_ON:
            raise ContextError(f"end_on must be one of {', '.join(END_ON)}", "end_on")
        if self.rewarder_samples < 1:
            raise ContextError(
                f"rewarder_samples must be >= 1, got {self.rewarder_samples}", "rewarder_samples"
            )

    @property
    def resolved_end_on(self) -> EndOn:
        """The episode-ending rule in force: `end_on`, or the seeker's default."""
        if self.end_on is not None:
            return self.end_on
        return "accept" if self.seeker == "act" else "reward"


def rollout_context_from(runtime: Any) -> RolloutContext:
    """Return the run's `RolloutContext`: defaults when absent, built from JSON if a mapping."""
    context = getattr(runtime, "context", None)
    if isinstance(context, RolloutContext):
        return context
    if context is None:
        return RolloutContext()
    if isinstance(context, Mapping):
        values = dict(context)
        known = {f.name for f in dataclasses.fields(RolloutContext)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ContextError(f"unknown RolloutContext field(s): {', '.join(unknown)}", unknown[0])
        return RolloutContext(**values)
    raise ContextError(f"runtime.context must be a RolloutContext, got {type(context).__name__}")


# --- state ---------------------------------------------------------------------------------------


@dataclass
class RolloutInput:
    """What starts an episode: a case id, the episode's index, and optionally its seed."""

    #: Case id, e.g. "inspired:123" (looked up in the context's case set first, then the others).
    case_id: str = ""
    #: Repetition of this case within a run (episodes cycle through the cases).
    episode_index: int = 0
    #: Seed of this episode's draws; None = derived from the context's seed, case and index.
    seed: int | None = None


@dataclass
class RolloutOutput:
    """What an episode returns."""

    #: The whole dialogue, the seeker's opening first.
    messages: Annotated[list[AnyMessage], add_messages] = field(default_factory=list)
    #: One record per recommender turn, with the seeker's reaction and the reward.
    turns: Annotated[list[TurnRecord], append_items] = field(default_factory=list)
    #: The turn rewards r_t, in order.
    rewards: Annotated[list[float], append_items] = field(default_factory=list)
    #: Some turn reward exceeded `SUCCESS_THRESHOLD`.
    success: bool = False
    #: The seeker explicitly accepted a recommendation.
    strict_success: bool = False
    #: The episode is over.
    done: bool = False


@dataclass
class RolloutState(RolloutInput, RolloutOutput):
    """The full state of one episode."""

    #: The resolved case (set by ``start_episode``).
    case: EvalCase | None = None
    #: INSPIRED survey user id of the seeker's persona.
    persona_id: str = ""
    #: What the seeker wants, "genre:<genre>".
    goal: str = ""
    #: The seed actually used (``seed`` or the derived one); the recommender's Context gets it.
    episode_seed: int = 0
    #: The recommender's output of the current turn, waiting for the seeker and the Rewarder.
    recommender_output: dict[str, Any] = field(default_factory=dict)
    #: The seeker's answer of the current turn and its act (act-level seeker only).
    seeker_reply: str = ""
    seeker_act: str | None = None
    #: What failed in the seeker or the Rewarder this turn and what was done instead.
    turn_fallbacks: list[dict[str, Any]] = field(default_factory=list)
    #: The act-level seeker's memory between turns (None with the LLM seeker).
    seeker_state: SeekerState | None = None
    #: The seeker ended the episode (accepted, or left out of patience).
    seeker_done: bool = False


# --- cases, personas and seeds -------------------------------------------------------------------


@cache
def _cases_by_id(name: CaseSet) -> dict[str, EvalCase]:
    from rso.data.eval_cases import load_eval_cases

    return {case.case_id: case for case in load_eval_cases(name)}


def find_case(case_id: str, preferred: CaseSet = "inspired-test") -> EvalCase:
    """Return the case with this id, searching `preferred` first, then the other case sets."""
    from rso.data.eval_cases import CASE_SETS

    for name in (preferred, *(s for s in CASE_SETS if s != preferred)):
        case = _cases_by_id(name).get(case_id)
        if case is not None:
            return case
    raise RolloutError(f"unknown case id {case_id!r} (searched {', '.join(CASE_SETS)})")


@cache
def _personas() -> dict[str, Persona]:
    from rso.data.personas import load_personas

    return load_personas()


def persona_of(case: EvalCase) -> Persona | None:
    """Return the survey persona of a case's seeker (None if the survey has no row for it)."""
    return _personas().get(case.user_id)


def goal_of(case: EvalCase) -> SeekerGoal:
    """Return the seeker's goal for a case (its first target genre), or raise RolloutError."""
    try:
        return goal_from_case(case)
    except ValueError as exc:
        raise RolloutError(str(exc)) from None


def has_goal(case: EvalCase) -> bool:
    """Return True when a seeker can be given a goal for this case (a target genre)."""
    return any(g.strip() for g in case.target_genres)


def episode_seed(seed: int, case_id: str, index: int) -> int:
    """Seed of one episode from the run's seed, the case and the index (not the run order)."""
    digest = hashlib.sha256(f"{seed}\x1f{case_id}\x1f{index}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


# --- graph execution -----------------------------------------------------------------------------


def _field_defaults(schema: type[Any]) -> dict[str, Any]:
    defaults: dict[str, Any] = {}
    for f in dataclasses.fields(schema):
        if f.default_factory is not dataclasses.MISSING:
            defaults[f.name] = f.default_factory()
        elif f.default is not dataclasses.MISSING:
            defaults[f.name] = f.default
    return defaults


@dataclass(frozen=True)
class _Plan:
    """What `stream_direct` needs of a graph: nodes, static successors, reducers, schemas."""

    nodes: dict[str, Any]
    successors: dict[str, str]
    reducers: dict[str, Any]
    state_schema: type[Any]
    output_keys: tuple[str, ...]


@cache
def _plan(builder: StateGraph[Any, Any, Any, Any]) -> _Plan:
    successors: dict[str, str] = {}
    for start, end in builder.edges:
        if start in successors:
            raise NotImplementedError(
                f"the direct engine runs sequential graphs only; {start!r} fans out"
            )
        successors[start] = end
    if builder.branches or builder.waiting_edges:
        raise NotImplementedError("the direct engine does not run conditional or joining edges")
    reducers = {
        name: channel.operator
        for name, channel in builder.channels.items()
        if isinstance(channel, BinaryOperatorAggregate)
    }
    output = builder.output_schema
    return _Plan(
        nodes={name: _node_function(name, spec.runnable) for name, spec in builder.nodes.items()},
        successors=successors,
        reducers=reducers,
        state_schema=builder.state_schema,
        output_keys=tuple(f.name for f in dataclasses.fields(output)),
    )


def _node_function(name: str, runnable: Any) -> Any:
    # LangGraph wraps each node function in a runnable that keeps the function as ``func``.
    func = getattr(runnable, "func", None)
    if not callable(func):
        raise NotImplementedError(f"node {name!r} is not a plain function; run it with the graph")
    return func


def _apply(values: dict[str, Any], update: Mapping[str, Any] | None, plan: _Plan) -> None:
    for key, value in (update or {}).items():
        if isinstance(value, Overwrite):
            values[key] = value.value
        elif key in plan.reducers:
            values[key] = plan.reducers[key](values[key], value)
        else:
            values[key] = value


def stream_direct(
    compiled: CompiledStateGraph[Any, Any, Any, Any], graph_input: Mapping[str, Any], context: Any
) -> Iterator[dict[str, Any]]:
    """Run a sequential graph's own node functions in a plain loop; yield the state after each.

    Routing follows each node's `Command.goto` or the graph's static edge, and updates go through
    the graph's reducers, so the result equals ``compiled.stream(..., stream_mode="values")``
    without LangGraph's per-step task and checkpoint bookkeeping.
    """
    plan = _plan(compiled.builder)
    runtime = Runtime(context=context)
    values = _field_defaults(plan.state_schema)
    _apply(values, graph_input, plan)
    node = plan.successors[START]
    while node != END:
        result = plan.nodes[node](plan.state_schema(**values), runtime)
        if isinstance(result, Command):
            _apply(values, result.update, plan)
            goto = result.goto
            if not isinstance(goto, str):
                raise NotImplementedError(f"node {node!r} routed to {goto!r}; one target expected")
            node = goto
        else:
            _apply(values, result, plan)
            node = plan.successors[node]
        yield values


def run_graph(
    compiled: CompiledStateGraph[Any, Any, Any, Any],
    graph_input: Mapping[str, Any],
    context: Any,
    engine: EngineName,
    max_steps: int = 100,
) -> Iterator[dict[str, Any]]:
    """Yield the state after each step, through LangGraph or the direct engine."""
    if engine == "direct":
        yield from stream_direct(compiled, graph_input, context)
    else:
        config: RunnableConfig = {"recursion_limit": max_steps}
        yield from compiled.stream(dict(graph_input), config, context=context, stream_mode="values")


def episode_steps(context: RolloutContext) -> int:
    """Graph steps one episode may take: the start, then three nodes per turn."""
    return 1 + 3 * context.max_turns + 1


def output_of(
    compiled: CompiledStateGraph[Any, Any, Any, Any], values: Mapping[str, Any]
) -> dict[str, Any]:
    """Return the output-schema keys of a state."""
    return {key: values[key] for key in _plan(compiled.builder).output_keys if key in values}


def run_recommender_turn(
    messages: Sequence[AnyMessage], context: Context, engine: EngineName
) -> dict[str, Any]:
    """Play one recommender turn on the dialogue so far; return the recommender's output state."""
    from graph.graph import graph as recommender

    values: dict[str, Any] = {}
    for step in run_graph(recommender, {"messages": list(messages)}, context, engine):
        values = step
    return output_of(recommender, values)


# --- nodes ---------------------------------------------------------------------------------------


def _recommender_context(context: RolloutContext, seed: int) -> Context:
    return _with_seed(context.recommender, seed)


@lru_cache(maxsize=1024)
def _with_seed(context: Context, seed: int) -> Context:
    # Cached: every turn of an episode asks for it, and building a Context validates every field.
    return dataclasses.replace(context, seed=seed)


def _act_seeker(state: RolloutState) -> ActSeeker:
    from agents.act_seeker import ActSeeker
    from rso.data.movies import movies_by_id

    assert state.case is not None
    return ActSeeker(
        goal=goal_of(state.case),
        persona=persona_of(state.case),
        movies=movies_by_id(),
        seed=state.episode_seed,
    )


def start_episode(state: RolloutState, runtime: Runtime[RolloutContext]) -> dict[str, Any]:
    """Resolve the case, persona, goal and seed; the seeker opens the dialogue."""
    context = rollout_context_from(runtime)
    if not state.case_id:
        raise RolloutError("no case id: start an episode with {'case_id': '<dataset>:<dialog id>'}")
    case = find_case(state.case_id, context.cases)
    seed = (
        state.seed
        if state.seed is not None
        else episode_seed(context.recommender.seed, case.case_id, state.episode_index)
    )
    update: dict[str, Any] = {
        "case": case,
        "persona_id": case.user_id,
        "goal": goal_of(case).label,
        "episode_seed": seed,
        "messages": [HumanMessage(OPENING, name="seeker")],
    }
    if context.seeker == "act":
        seeker = _act_seeker(dataclasses.replace(state, case=case, episode_seed=seed))
        update["seeker_state"] = seeker.start()
    return update


def recommend(state: RolloutState, runtime: Runtime[RolloutContext]) -> dict[str, Any]:
    """Play the recommender's turn (the recommender graph) on the dialogue so far."""
    context = rollout_context_from(runtime)
    output = run_recommender_turn(
        state.messages, _recommender_context(context, state.episode_seed), context.engine
    )
    reply_message = output["messages"][-1]
    if not isinstance(reply_message, AIMessage):
        raise RolloutError("the recommender turn did not end with the recommender's reply")
    output.pop("messages")
    return {"messages": [reply_message], "recommender_output": output}


def simulate_seeker(state: RolloutState, runtime: Runtime[RolloutContext]) -> dict[str, Any]:
    """Let the simulated seeker answer the recommender's reply."""
    context = rollout_context_from(runtime)
    output = state.recommender_output
    if context.seeker == "act":
        from agents.seeker_acts import RecommenderAct

        if state.seeker_state is None:
            raise RolloutError("the act-level seeker has no state; start the episode first")
        act = RecommenderAct(
            strategy=output.get("strategy"),
            movie=(output.get("recommended") or [None])[0],
            facts_given=bool(output.get("movie_facts")),
        )
        seeker_state, turn = _act_seeker(state).step(state.seeker_state, act)
        return {
            "messages": [HumanMessage(turn.text, name="seeker")],
            "seeker_reply": turn.text,
            "seeker_act": turn.act,
            "seeker_state": seeker_state,
            "seeker_done": turn.done,
            "turn_fallbacks": [],
        }
    from agents.seeker import seeker_reply

    assert state.case is not None
    settings = _recommender_context(context, state.episode_seed).llm("seeker")
    reply = seeker_reply(state.messages, goal_of(state.case), persona_of(state.case), settings)
    fallbacks: list[dict[str, Any]] = []
    if reply.fallback is not None:
        fallbacks.append(
            _fallback(state, SIMULATE_SEEKER, reply.fallback, "the seeker said a safe reply")
        )
    return {
        "messages": [HumanMessage(reply.text, name="seeker")],
        "seeker_reply": reply.text,
        "seeker_act": None,
        "seeker_done": False,
        "turn_fallbacks": fallbacks,
    }


def _fallback(state: RolloutState, node: str, failure: str, action: str) -> dict[str, Any]:
    from graph.utils import fallback

    return dict(fallback(len(state.turns), node, failure, action))


def _llm_reward(
    state: RolloutState, context: RolloutContext
) -> tuple[list[float], bool, list[dict[str, Any]]]:
    from agents.rewarder import score_turn

    settings = _recommender_context(context, state.episode_seed).llm("rewarder")
    result = score_turn(
        state.messages, settings, samples=context.rewarder_samples, use_n=context.rewarder_n
    )
    fallbacks = []
    if result.parse_failures:
        fallbacks.append(
            _fallback(
                state,
                JUDGE_TURN,
                f"{len(result.parse_failures)} of {len(result.samples)} Rewarder answers named "
                "no option",
                "scored them as 'other' (0.6)",
            )
        )
    return list(result.samples), bool(result.strict_success), fallbacks


def judge_turn(state: RolloutState, runtime: Runtime[RolloutContext]) -> Command[AfterJudge]:
    """Score the exchange (Rewarder or act judge), log the turn, and loop or end the episode."""
    context = rollout_context_from(runtime)
    if context.seeker == "act":
        from agents.seeker_acts import act_score

        if state.seeker_act is None:
            raise RolloutError("the act-level seeker gave no act this turn")
        samples = [act_score(state.seeker_act)]  # type: ignore[arg-type]
        strict = state.seeker_act == "accept"
        judge_fallbacks: list[dict[str, Any]] = []
    else:
        samples, strict, judge_fallbacks = _llm_reward(state, context)
    reward = sum(samples) / len(samples)
    output = state.recommender_output
    turn_index = len(state.turns)
    success = reward > SUCCESS_THRESHOLD
    ends_episode = strict if context.resolved_end_on == "accept" else success
    done = ends_episode or state.seeker_done or turn_index + 1 >= context.max_turns
    probs: Mapping[str, float] = output.get("strategy_probs") or {}
    record = TurnRecord(
        turn=turn_index,
        planner_input=output.get("planner_input", ""),
        strategy=output.get("strategy"),
        probs=[float(probs[s]) for s in STRATEGIES] if probs else [],
        logprob=output.get("strategy_logprob"),
        reply=output.get("reply", ""),
        recommended=list(output.get("recommended", [])),
        top=[(str(k), float(s)) for k, s in output.get("retrieved", [])],
        seeker_reply=state.seeker_reply,
        seeker_act=state.seeker_act,
        reward_samples=samples,
        reward=reward,
        done=done,
        fallbacks=[
            *(dict(f) for f in output.get("fallbacks", [])),
            *state.turn_fallbacks,
            *judge_fallbacks,
        ],
    )
    update: dict[str, Any] = {
        "turns": [record],
        "rewards": [reward],
        "success": state.success or success,
        "strict_success": state.strict_success or strict,
        "done": done,
    }
    goto: AfterJudge = "__end__" if done else "recommend"
    return Command(goto=goto, update=update)


# --- wiring --------------------------------------------------------------------------------------

RolloutGraph = CompiledStateGraph[RolloutState, RolloutContext, RolloutInput, RolloutOutput]


def build_rollout_graph() -> RolloutGraph:
    """Compile the rollout graph (no checkpointer: an episode is one invocation)."""
    builder = StateGraph(
        RolloutState,
        context_schema=RolloutContext,
        input_schema=RolloutInput,
        output_schema=RolloutOutput,
    )
    builder.add_node(START_EPISODE, start_episode)
    builder.add_node(RECOMMEND, recommend)
    builder.add_node(SIMULATE_SEEKER, simulate_seeker)
    builder.add_node(JUDGE_TURN, judge_turn)
    builder.add_edge(START, START_EPISODE)
    builder.add_edge(START_EPISODE, RECOMMEND)
    builder.add_edge(RECOMMEND, SIMULATE_SEEKER)
    builder.add_edge(SIMULATE_SEEKER, JUDGE_TURN)
    return builder.compile(name="rollout")


#: The compiled rollout graph, as served by ``langgraph dev`` ("rollout" in langgraph.json).
rollout_graph = build_rollout_graph()
