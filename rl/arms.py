"""One arm of an experiment over seeds: SR per seed, mean, spread and strategy breadth."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from rl.evaluate import EvalResult
from rso.strategies import STRATEGIES

#: Seeds every experiment runs by default.
DEFAULT_SEEDS = (0, 1, 2)


@dataclass
class ArmStats:
    """One arm over the seeds: SR per seed, mean, spread and strategy breadth."""

    name: str
    success_rates: list[float]
    strict_success_rates: list[float]
    mean_turns: list[float]
    policy_entropy: list[float]
    effective_strategies: list[float]
    strategy_shares: list[float] = field(default_factory=list)

    @property
    def mean(self) -> float:
        """Mean SR over the seeds."""
        return statistics.fmean(self.success_rates)

    @property
    def std(self) -> float:
        """Population standard deviation of SR over the seeds."""
        return statistics.pstdev(self.success_rates)

    def to_json(self) -> dict[str, Any]:
        """Return the arm as JSON-ready values, with its summary figures."""
        data = asdict(self)
        data.update(
            sr_mean=self.mean,
            sr_std=self.std,
            sr_min=min(self.success_rates),
            sr_max=max(self.success_rates),
            strict_sr_mean=statistics.fmean(self.strict_success_rates),
            turns_mean=statistics.fmean(self.mean_turns),
            entropy_mean=statistics.fmean(self.policy_entropy),
            effective_strategies_mean=statistics.fmean(self.effective_strategies),
        )
        return data


def arm_stats(name: str, results: Sequence[EvalResult]) -> ArmStats:
    """Summarise the evaluations of one arm, one per seed."""
    shares = [
        statistics.fmean(r.strategy_shares[i] for r in results) for i in range(len(STRATEGIES))
    ]
    return ArmStats(
        name=name,
        success_rates=[r.success_rate for r in results],
        strict_success_rates=[r.strict_success_rate for r in results],
        mean_turns=[r.mean_turns for r in results],
        policy_entropy=[r.mean_policy_entropy for r in results],
        effective_strategies=[r.effective_strategies for r in results],
        strategy_shares=shares,
    )


def paired_comparison(treated: ArmStats, control: ArmStats) -> dict[str, Any]:
    """Gaps of `treated` over `control` (same seeds) in SR, strict SR and turns, with spreads."""
    return {
        "gap": treated.mean - control.mean,
        "paired_gaps": [
            a - b for a, b in zip(treated.success_rates, control.success_rates, strict=True)
        ],
        # Strict reading of "outside the seeds' spread": the ranges do not overlap.
        "outside_spread": min(treated.success_rates) > max(control.success_rates),
        "strict_gap": statistics.fmean(treated.strict_success_rates)
        - statistics.fmean(control.strict_success_rates),
        "strict_outside_spread": min(treated.strict_success_rates)
        > max(control.strict_success_rates),
        "turns_gap": statistics.fmean(treated.mean_turns) - statistics.fmean(control.mean_turns),
        "gap_over_spread": (treated.mean - control.mean) / max(1e-9, control.std + treated.std),
    }
