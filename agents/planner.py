"""The Planner node: reads the dialogue, picks a strategy from the policy, routes to its Actor.

The policy network lives in `policy.network`; this node loads a checkpoint lazily (cached per path),
runs it in eval mode, and either samples the strategy (seeded per turn, so a rerun of the same
dialogue draws the same strategy) or takes the argmax. Without a checkpoint the policy is uniform.
"""

from __future__ import annotations

import hashlib
import logging
import math
import random
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

from langgraph.runtime import Runtime
from langgraph.types import Command
from typing_extensions import TypeIs

from graph.context import Context, context_from
from graph.routing import ActorNode, actor_node_name
from graph.state import State
from graph.utils import dialogue_turns
from rso.dialogue import format_dialogue
from rso.modes import PlannerMode
from rso.strategies import STRATEGIES, Strategy

if TYPE_CHECKING:
    pass

logger = logging.getLogger("rso.graph.planner")


class PlannerOutputError(RuntimeError):
    """The policy returned something that is not a distribution over the 14 strategies."""


@lru_cache(maxsize=1)
def _announce_uniform() -> None:
    logger.info("no Planner checkpoint set: using a uniform policy over the %d strategies", 14)


def is_uniform(checkpoint: str | None) -> TypeIs[Literal["uniform"] | None]:
    """Return True when `checkpoint` names the uniform policy (no checkpoint, or "uniform")."""
    return checkpoint is None or checkpoint == "uniform"


def strategy_distribution(dialogue: str, checkpoint: str | None) -> list[float]:
    """Return pi(. | dialogue) in `STRATEGIES` order; uniform when there is no checkpoint.

    `checkpoint` is a Planner name of `policy.planners`: a checkpoint path, "majority" or
    "memory:<key>" (a policy registered with `policy.planners.register_policy`).
    """
    if is_uniform(checkpoint):
        _announce_uniform()
        return [1.0 / len(STRATEGIES)] * len(STRATEGIES)
    # Baselines ("majority"), live policies ("memory:<key>") and checkpoints, resolved in one
    # place; a neural policy's forward passes are batched across concurrent episodes there.
    from policy.planners import planner_source

    probs = [float(p) for p in planner_source(checkpoint).distributions([dialogue])[0]]
    if len(probs) != len(STRATEGIES):
        raise PlannerOutputError(f"the Planner gave {len(probs)} probabilities, expected 14")
    if not all(math.isfinite(p) and p >= 0 for p in probs) or abs(sum(probs) - 1.0) > 1e-3:
        raise PlannerOutputError(f"the Planner's output is not a distribution: {probs}")
    return probs


def turn_uniform(seed: int, turn: int, dialogue: str) -> float:
    """Return a uniform draw in [0, 1) fixed by the seed, the turn and the dialogue so far."""
    digest = hashlib.sha256(f"{seed}\x1f{turn}\x1f{dialogue}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big")).random()


def choose_strategy(probs: Sequence[float], mode: PlannerMode, uniform: float) -> int:
    """Return the chosen index: the argmax, or the inverse-CDF draw of `uniform`."""
    if mode == "greedy":
        return max(range(len(probs)), key=lambda i: probs[i])  # first maximum on ties
    total = sum(probs)
    cumulative = 0.0
    for index, p in enumerate(probs):
        cumulative += p / total
        if p > 0 and uniform < cumulative:
            return index
    return max(i for i, p in enumerate(probs) if p > 0)  # rounding left uniform above the sum


def plan_strategy(state: State, runtime: Runtime[Context]) -> Command[ActorNode]:
    """Choose this turn's strategy and route to its Actor branch (the generic one if ablated)."""
    context = context_from(runtime)
    if not context.use_planner:
        update: dict[str, Any] = {
            "strategy": None,
            "strategy_probs": {},
            "strategy_logprob": None,
            "planner_input": "",
        }
        return Command(goto=actor_node_name(None), update=update)
    dialogue = format_dialogue(dialogue_turns(state.messages))
    probs = strategy_distribution(dialogue, context.planner_checkpoint)
    mode = context.planner_mode
    if is_uniform(context.planner_checkpoint):
        # The argmax of a uniform distribution is the first strategy on every turn, which would
        # silently turn the random baseline into a constant one: a uniform Planner always draws.
        mode = "sample"
    index = choose_strategy(probs, mode, turn_uniform(context.seed, state.turn, dialogue))
    strategy: Strategy = STRATEGIES[index]
    return Command(
        goto=actor_node_name(strategy),
        update={
            "strategy": strategy,
            "strategy_probs": dict(zip(STRATEGIES, probs, strict=True)),
            "strategy_logprob": math.log(probs[index]),
            "planner_input": dialogue,
        },
    )
