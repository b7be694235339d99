"""Plots of a run: the SR@t curve and the strategy distribution over conversation progress."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rso.strategies import STRATEGIES


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    return plt


def plot_sr_at_t(curves: Mapping[str, Sequence[float]], path: Path) -> Path:
    """Draw one SR@t curve per run (t = 1..len) and save it as PNG."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name, curve in curves.items():
        ax.plot(range(1, len(curve) + 1), curve, marker="o", label=name)
    ax.set_xlabel("turn t")
    ax.set_ylabel("SR@t")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_strategy_distribution(shares: Sequence[Mapping[str, float]], path: Path) -> Path:
    """Draw the stacked share of each strategy per progress bucket (the paper's Figure 3)."""
    plt = _pyplot()
    buckets = len(shares)
    labels = [f"{100 * i // buckets}-{100 * (i + 1) // buckets}%" for i in range(buckets)]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    bottom = [0.0] * buckets
    colours = plt.get_cmap("tab20").colors
    for index, strategy in enumerate(STRATEGIES):
        values = [bucket.get(strategy, 0.0) for bucket in shares]
        ax.bar(labels, values, bottom=bottom, label=strategy, color=colours[index % len(colours)])
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_xlabel("conversation progress")
    ax.set_ylabel("share of turns")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7, bbox_to_anchor=(1.01, 1), loc="upper left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
