"""How broad a policy's strategy distribution is on fixed states, and how it varies with beta."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import torch

from rl.evaluate import effective_count, strategy_shares
from rl.losses import entropy
from rso.runs.records import EpisodeRecord
from rso.strategies import STRATEGIES


@dataclass(frozen=True)
class Breadth:
    """How broad a policy is on a fixed set of states."""

    #: Mean entropy of pi(.|s) over the states, in nats.
    entropy: float
    #: exp(entropy of the shares of the greedy choices over the states).
    effective_strategies: float


_BREADTH_CHUNK = 256


def breadth_on(policy: Any, texts: Sequence[str]) -> Breadth:
    """Measure `policy` on the Planner inputs `texts` (no gradient, dropout off)."""
    if not texts:
        raise ValueError("no states to measure the policy's breadth on")
    policy.eval()
    with torch.no_grad():
        # In chunks: thousands of states through an uncached encoder would not fit at once.
        logits = torch.cat(
            [
                policy(list(texts[i : i + _BREADTH_CHUNK]))
                for i in range(0, len(texts), _BREADTH_CHUNK)
            ]
        )
    choices = [STRATEGIES[int(i)] for i in logits.argmax(dim=-1)]
    return Breadth(
        entropy=float(entropy(logits).mean()),
        effective_strategies=effective_count(strategy_shares(choices)),
    )


def breadth_table(per_arm: dict[str, list[Breadth]]) -> dict[str, dict[str, Any]]:
    """Entropy and effective strategies of every arm: per seed and their means."""
    return {
        name: {
            "entropy": [b.entropy for b in values],
            "entropy_mean": statistics.fmean(b.entropy for b in values),
            "effective_strategies": [b.effective_strategies for b in values],
            "effective_strategies_mean": statistics.fmean(b.effective_strategies for b in values),
        }
        for name, values in per_arm.items()
    }


def breadth_comparisons(
    table: dict[str, dict[str, Any]], labels: dict[float, str]
) -> dict[str, dict[str, Any]]:
    """Paired entropy gaps of every beta against the smallest one (normally beta 0)."""
    if len(labels) < 2:
        return {}
    low = min(labels)
    base = table[labels[low]]["entropy"]
    out = {}
    for beta, name in labels.items():
        if beta == low:
            continue
        gaps = [a - b for a, b in zip(table[name]["entropy"], base, strict=True)]
        out[f"{name} vs {labels[low]}"] = {
            "entropy_gaps": gaps,
            "entropy_gap_mean": statistics.fmean(gaps),
            "broader_on_every_seed": all(g > 0 for g in gaps),
        }
    return out


def decision_states(records: Sequence[EpisodeRecord]) -> list[str]:
    """Return the Planner inputs of every decision in finished episodes, in episode order."""
    return [
        t.planner_input
        for r in records
        if r.status == "ok"
        for t in r.turns
        if t.strategy is not None and t.planner_input
    ]


def rises_with_beta(table: dict[str, dict[str, Any]], labels: dict[float, str]) -> dict[str, Any]:
    """Whether the entropy grows with beta (ascending betas), per seed and on the means."""
    ordered = [table[labels[beta]] for beta in sorted(labels)]
    seeds = len(ordered[0]["entropy"])
    per_seed = [
        all(a["entropy"][i] < b["entropy"][i] for a, b in pairwise(ordered)) for i in range(seeds)
    ]
    return {
        "per_seed": per_seed,
        "on_every_seed": all(per_seed),
        "on_the_means": all(a["entropy_mean"] < b["entropy_mean"] for a, b in pairwise(ordered)),
    }


def dose_response(per_arm: dict[str, list[Breadth]], labels: dict[float, str]) -> dict[str, Any]:
    """Breadth table of arms that differ in beta, their gaps to the smallest, and the trend."""
    table = breadth_table(per_arm)
    return {
        "arms": table,
        "comparisons": breadth_comparisons(table, labels),
        "rises_with_beta": rises_with_beta(table, labels),
    }
