"""Rollouts of a Planner in the simulation, and the greedy evaluation of held-out cases."""

from __future__ import annotations

import math
import shutil
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from policy.network import PlannerPolicy
from rl.losses import entropy
from rl.reinforce_config import RLConfig
from rso.modes import PlannerMode
from rso.runs.records import EpisodeRecord, in_id_order
from rso.strategies import STRATEGIES


@dataclass(frozen=True)
class EvalResult:
    """Greedy evaluation of a Planner on held-out cases."""

    episodes: int
    success_rate: float
    strict_success_rate: float
    mean_turns: float
    mean_reward: float
    #: Share of each strategy among the evaluation's decisions (STRATEGIES order).
    strategy_shares: list[float]
    mean_policy_entropy: float

    @property
    def effective_strategies(self) -> float:
        """exp(entropy of the strategy shares): how many strategies are really in use."""
        return effective_count(self.strategy_shares)


def effective_count(shares: Sequence[float]) -> float:
    """Return exp(H(shares)), the number of equally used strategies with the same entropy."""
    h = -sum(p * math.log(p) for p in shares if p > 0)
    return math.exp(h)


def strategy_shares(strategies: Iterable[str]) -> list[float]:
    """Share of each strategy in `STRATEGIES` order."""
    counts = Counter(strategies)
    total = sum(counts.values())
    return [counts.get(s, 0) / total if total else 0.0 for s in STRATEGIES]


def roll_out(
    policy: PlannerPolicy | None,
    *,
    cases: str,
    episodes: int | None,
    seed: int,
    out: Path,
    mode: PlannerMode,
    config: RLConfig,
    planner: str | None = None,
    overrides: dict[str, Any] | None = None,
    shuffle: bool = False,
    policy_version: int | None = None,
) -> list[EpisodeRecord]:
    """Run simulated episodes with `policy` (or the named `planner`); return them by episode id.

    A partly written directory from an interrupted run is replaced: the episodes are a pure
    function of the seed, so running them again gives the same records. `policy_version` (the
    updates `policy` has taken) goes into every record; the engine is `config.engine`.
    """
    from rollouts.config import RolloutConfig
    from rollouts.runner import run_rollouts

    if out.exists():
        shutil.rmtree(out)
    rollout_config = RolloutConfig(
        out=out,
        cases=cases,  # type: ignore[arg-type]
        seeker=config.seeker,
        experts=config.experts,
        planner=planner or "uniform",  # ignored when a policy is passed
        episodes=episodes,
        concurrency=config.concurrency,
        seed=seed,
        max_turns=config.max_turns,
        end_on=config.end_on,
        shuffle_cases=shuffle,
        engine="ray" if config.engine == "ray" else None,
        workers=config.workers,
        ray_address=config.ray_address,
        context={"planner_mode": mode, **(overrides or {})},
    )
    summary = run_rollouts(
        rollout_config, policy=policy, policy_version=policy_version, progress=False
    )
    return in_id_order(summary.episodes)


def summarise_eval(records: Sequence[EpisodeRecord], policy: PlannerPolicy | None) -> EvalResult:
    """SR, strict SR, turns, reward, strategy shares and policy entropy of evaluation episodes."""
    ok = [r for r in records if r.status == "ok"]
    if not ok:
        raise ValueError("evaluation produced no finished episode")
    turns = [t for r in ok for t in r.turns]
    texts = [t.planner_input for t in turns if t.strategy is not None]
    mean_entropy = float("nan")
    if policy is not None and texts:
        with torch.no_grad():
            mean_entropy = float(entropy(policy(texts)).mean())
    elif turns and all(t.probs for t in turns):
        probs = torch.tensor([t.probs for t in turns])
        mean_entropy = float(-(probs * probs.clamp_min(1e-12).log()).sum(-1).mean())
    return EvalResult(
        episodes=len(ok),
        success_rate=sum(r.success for r in ok) / len(ok),
        strict_success_rate=sum(r.strict_success for r in ok) / len(ok),
        mean_turns=sum(r.n_turns for r in ok) / len(ok),
        mean_reward=sum(t.reward for t in turns) / max(1, len(turns)),
        strategy_shares=strategy_shares(t.strategy for t in turns if t.strategy is not None),
        mean_policy_entropy=mean_entropy,
    )


def greedy_episodes(
    policy: PlannerPolicy | None,
    config: RLConfig,
    out: Path,
    seed: int | None = None,
    planner: str | None = None,
) -> list[EpisodeRecord]:
    """Greedy (argmax) episodes on `config.eval_cases`, as the method prescribes for testing."""
    if config.eval_cases is None:
        raise ValueError("no evaluation cases configured")
    if policy is not None:
        policy.eval()
    return roll_out(
        policy,
        cases=config.eval_cases,
        episodes=config.eval_episodes,
        seed=config.seed if seed is None else seed,
        out=out,
        mode="greedy",
        config=config,
        planner=planner,
    )


def evaluate_policy(
    policy: PlannerPolicy | None,
    config: RLConfig,
    out: Path,
    seed: int | None = None,
    planner: str | None = None,
) -> EvalResult:
    """Summarise the greedy episodes of `policy` on `config.eval_cases` (`greedy_episodes`)."""
    return summarise_eval(greedy_episodes(policy, config, out, seed, planner), policy)
