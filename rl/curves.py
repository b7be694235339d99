"""The per-update curves of an RL run: curves.csv and curves.png."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import torch

from rso.strategies import STRATEGIES

CURVES_CSV = "curves.csv"
CURVES_PNG = "curves.png"

_CURVE_FIELDS = [
    "update",
    "episodes",
    "mean_reward",
    "success_rate",
    "policy_entropy",
    "loss",
    "mean_weight",
    "clipped_fraction",
    "eval_success_rate",
    "seconds",
    "rollout_seconds",
    "update_seconds",
    "steps",
]


def write_curves(out: Path, history: list[dict[str, Any]]) -> None:
    """Write the per-update curves to curves.csv and curves.png."""
    columns = _CURVE_FIELDS + [f"share:{s}" for s in STRATEGIES]
    tmp = out / (CURVES_CSV + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in history:
            flat = {k: row.get(k, "") for k in _CURVE_FIELDS}
            flat.update({f"share:{s}": row["shares"][i] for i, s in enumerate(STRATEGIES)})
            writer.writerow(flat)
    os.replace(tmp, out / CURVES_CSV)
    plot_curves(history, out / CURVES_PNG)


def plot_curves(history: list[dict[str, Any]], path: Path) -> Path:
    """Plot mean reward, SR, policy entropy and the strategy distribution per update."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    updates = [row["update"] for row in history]
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    axes[0, 0].plot(updates, [row["mean_reward"] for row in history], marker="o")
    axes[0, 0].set_title("mean turn reward (rollouts)")
    axes[0, 1].plot(updates, [row["success_rate"] for row in history], marker="o", label="train")
    evals = [
        (row["update"], row["eval_success_rate"])
        for row in history
        if row.get("eval_success_rate") not in (None, "")
    ]
    if evals:
        axes[0, 1].plot(*zip(*evals, strict=True), marker="s", label="held-out (greedy)")
    axes[0, 1].set_title("success rate")
    axes[0, 1].legend()
    axes[1, 0].plot(updates, [row["policy_entropy"] for row in history], marker="o")
    axes[1, 0].set_title("policy entropy (nats)")
    shares = torch.tensor([row["shares"] for row in history]).T if history else torch.zeros(0)
    if history:
        axes[1, 1].stackplot(updates, shares.numpy(), labels=STRATEGIES)
        axes[1, 1].legend(fontsize=6, loc="center left", bbox_to_anchor=(1.0, 0.5))
    axes[1, 1].set_title("strategy distribution (rollouts)")
    for ax in axes.flat:
        ax.set_xlabel("update")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
