"""Nodes of the episode graph: start the episode, the recommender's turn, the seeker, the judge."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Final, Literal, Protocol

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.runtime import Runtime
from langgraph.types import Command

from agents.act_seeker import ActSeeker
from agents.seeker import goal_from_case, seeker_reply
from agents.seeker_acts import RecommenderAct, act_score
from agents.seeker_goal import SeekerGoal
from graph import resources
from graph.context import Context
from graph.episode_context import RolloutContext, rollout_context_from
from graph.episode_state import RolloutState
from graph.state import FallbackRecord, InputState, TurnOutput
from graph.utils import fallback
from rso.data.cases import UnknownCaseError, episode_seed, find_case, has_goal, persona_of
from rso.data.records import EvalCase, Movie
from rso.dialogue import OPENING
from rso.modes import SUCCESS_THRESHOLD, GoalMode
from rso.runs.records import TurnRecord
from rso.strategies import STRATEGIES

START_EPISODE: Final = "start_episode"
RECOMMEND: Final = "recommend"
SIMULATE_SEEKER: Final = "simulate_seeker"
JUDGE_TURN: Final = "judge_turn"
AfterJudge = Literal["recommend", "__end__"]

#: The per-turn decisions of the recommender that the seeker and the judge read.
_TURN_OUTPUT_KEYS: Final = tuple(f.name for f in dataclasses.fields(TurnOutput))


class EpisodeNode(Protocol):
    """A node of the episode graph: reads the episode and its settings, returns what changes."""

    def __call__(self, state: RolloutState, runtime: Runtime[RolloutContext]) -> dict[str, Any]:
        """Return the state keys this node changes."""
        ...


class TurnRunner(Protocol):
    """What plays the recommender's turn: the compiled recommender graph, or the step engine."""

    def invoke(self, input: Any, *, context: Context) -> dict[str, Any]:
        """Play one turn on `input` (an `InputState`); return the `OutputState` values."""
        ...


class RolloutError(RuntimeError):
    """An episode cannot start or continue (unknown case, missing persona, bad settings)."""


@lru_cache(maxsize=4096)
def _linked(matcher: Any, title: str) -> str | None:
    # Keyed by the matcher too, so that a matcher swapped in (tests) is asked afresh.
    return matcher.match(title)


def target_of(case: EvalCase) -> Movie | None:
    """Return a case's hidden target movie: its `target_movie` linked to the knowledge base."""
    if case.target_movie is None:
        return None
    kb_id = _linked(resources.title_matcher(), case.target_movie)
    return resources.movies().get(kb_id) if kb_id is not None else None


def can_play(case: EvalCase, goal: GoalMode = "genre") -> bool:
    """Return True when a seeker can be given a goal of this mode for the case."""
    return has_goal(case) if goal == "genre" else target_of(case) is not None


def goal_of(case: EvalCase, goal: GoalMode = "genre") -> SeekerGoal:
    """Return the seeker's goal for a case in a goal mode, or raise RolloutError.

    "genre": the case's first target genre; "item": its hidden target movie (`target_of`).
    """
    if goal == "item":
        target = target_of(case)
        if target is None:
            known = f"{case.target_movie!r} is not in the knowledge base"
            why = "no target movie" if case.target_movie is None else known
            raise RolloutError(f"case {case.case_id!r} has no item-mode goal: {why}")
        return goal_from_case(case, target)
    try:
        return goal_from_case(case)
    except ValueError as exc:
        raise RolloutError(str(exc)) from None


@lru_cache(maxsize=1024)
def _with_seed(context: Context, seed: int) -> Context:
    # Cached: every turn of an episode asks for it, and building a Context validates every field.
    return dataclasses.replace(context, seed=seed)


def _act_seeker(case: EvalCase, seed: int, goal: GoalMode) -> ActSeeker:
    return ActSeeker(
        goal=goal_of(case, goal), persona=persona_of(case), movies=resources.movies(), seed=seed
    )


def start_episode(state: RolloutState, runtime: Runtime[RolloutContext]) -> dict[str, Any]:
    """Resolve the case, persona, goal and seed; the seeker opens the dialogue."""
    context = rollout_context_from(runtime)
    if not state.case_id:
        raise RolloutError("no case id: start an episode with {'case_id': '<dataset>:<dialog id>'}")
    try:
        case = find_case(state.case_id, context.cases)
    except UnknownCaseError as exc:
        raise RolloutError(str(exc)) from None
    seed = (
        state.seed
        if state.seed is not None
        else episode_seed(context.recommender.seed, case.case_id, state.episode_index)
    )
    update: dict[str, Any] = {
        "case": case,
        "persona_id": case.user_id,
        "goal": goal_of(case, context.goal).label,
        "episode_seed": seed,
        "messages": [HumanMessage(OPENING, name="seeker")],
    }
    if context.seeker == "act":
        update["seeker_state"] = _act_seeker(case, seed, context.goal).start()
    return update


def make_recommend_node(recommender: TurnRunner) -> EpisodeNode:
    """Return the node that plays the recommender's turn through the compiled `recommender`.

    The recommender graph runs as this node's subgraph: invoked inside the node (its state and
    settings differ from the episode's), so Studio and ``stream(subgraphs=True)`` step into it.
    """

    def recommend(state: RolloutState, runtime: Runtime[RolloutContext]) -> dict[str, Any]:
        """Play the recommender's turn (the recommender graph) on the dialogue so far."""
        context = rollout_context_from(runtime)
        turn_input = InputState(
            messages=state.messages,
            recommended_history=[turn.recommended for turn in state.turns],
        )
        output = recommender.invoke(
            turn_input, context=_with_seed(context.recommender, state.episode_seed)
        )
        reply = output["messages"][-1]
        if not isinstance(reply, AIMessage):
            raise RolloutError("the recommender turn did not end with the recommender's reply")
        return {
            "messages": [reply],
            "recommender_turn": TurnOutput(
                **{k: output[k] for k in _TURN_OUTPUT_KEYS if k in output}
            ),
            "recommender_preferences": output.get("preferences", ""),
            "turn_fallbacks": list(output["fallbacks"]),
        }

    return recommend


def simulate_seeker(state: RolloutState, runtime: Runtime[RolloutContext]) -> dict[str, Any]:
    """Let the simulated seeker answer the recommender's reply."""
    context = rollout_context_from(runtime)
    if state.case is None:
        raise RolloutError("the episode has no case; start it with start_episode")
    if context.seeker == "act":
        if state.seeker_state is None:
            raise RolloutError("the act-level seeker has no state; start the episode first")
        turn = state.recommender_turn
        act = RecommenderAct(
            strategy=turn.strategy,
            movie=turn.recommended[0] if turn.recommended else None,
            facts_given=bool(turn.movie_facts),
        )
        seeker = _act_seeker(state.case, state.episode_seed, context.goal)
        seeker_state, answer = seeker.step(state.seeker_state, act)
        return {
            "messages": [HumanMessage(answer.text, name="seeker")],
            "seeker_reply": answer.text,
            "seeker_act": answer.act,
            "seeker_state": seeker_state,
            "seeker_done": answer.done,
        }
    settings = _with_seed(context.recommender, state.episode_seed).llm("seeker")
    goal = goal_of(state.case, context.goal)
    reply = seeker_reply(state.messages, goal, persona_of(state.case), settings)
    fallbacks = list(state.turn_fallbacks)
    if reply.fallback is not None:
        fallbacks.append(
            fallback(
                len(state.turns), SIMULATE_SEEKER, reply.fallback, "the seeker said a safe reply"
            )
        )
    return {
        "messages": [HumanMessage(reply.text, name="seeker")],
        "seeker_reply": reply.text,
        "seeker_act": None,
        "seeker_done": False,
        "turn_fallbacks": fallbacks,
    }


def _llm_reward(
    state: RolloutState, context: RolloutContext
) -> tuple[list[float], bool, list[FallbackRecord]]:
    from agents.rewarder import score_turn

    settings = _with_seed(context.recommender, state.episode_seed).llm("rewarder")
    result = score_turn(
        state.messages, settings, samples=context.rewarder_samples, use_n=context.rewarder_n
    )
    fallbacks = []
    if result.parse_failures:
        fallbacks.append(
            fallback(
                len(state.turns),
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
        if state.seeker_act is None:
            raise RolloutError("the act-level seeker gave no act this turn")
        samples = [act_score(state.seeker_act)]
        strict = state.seeker_act == "accept"
        judge_fallbacks: list[FallbackRecord] = []
    else:
        samples, strict, judge_fallbacks = _llm_reward(state, context)
    reward = sum(samples) / len(samples)
    turn = state.recommender_turn
    turn_index = len(state.turns)
    success = reward > SUCCESS_THRESHOLD
    ends_episode = strict if context.resolved_end_on == "accept" else success
    done = ends_episode or state.seeker_done or turn_index + 1 >= context.max_turns
    probs: Mapping[str, float] = turn.strategy_probs
    record = TurnRecord(
        turn=turn_index,
        planner_input=turn.planner_input,
        strategy=turn.strategy,
        probs=[float(probs[s]) for s in STRATEGIES] if probs else [],
        logprob=turn.strategy_logprob,
        preferences=state.recommender_preferences,
        chosen_movie=turn.chosen_movie,
        movie_facts=turn.movie_facts,
        reply=turn.reply,
        recommended=list(turn.recommended),
        top=[(str(k), float(s)) for k, s in turn.retrieved],
        seeker_reply=state.seeker_reply,
        seeker_act=state.seeker_act,
        reward_samples=samples,
        reward=reward,
        done=done,
        fallbacks=[*(dict(f) for f in state.turn_fallbacks), *(dict(f) for f in judge_fallbacks)],
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
