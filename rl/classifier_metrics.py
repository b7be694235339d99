"""How well a Planner classifies strategies: accuracy, macro-F1, per-strategy F1, confusion."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from rso.strategies import STRATEGIES


class StrategyScore(BaseModel):
    """F1 and support of one strategy."""

    f1: float
    support: int


class ClassifierMetrics(BaseModel):
    """Accuracy, macro-F1 and per-strategy F1 of one classifier on one split."""

    accuracy: float
    macro_f1: float
    per_strategy: dict[str, StrategyScore]


def classification_metrics(y_true: Sequence[int], y_pred: Sequence[int]) -> ClassifierMetrics:
    """Accuracy, macro-F1 (over strategies present in truth or prediction) and per-strategy F1."""
    from sklearn.metrics import accuracy_score, f1_score

    labels = list(range(len(STRATEGIES)))
    per = f1_score(y_true, y_pred, labels=labels, average=None, zero_division=0)
    support = Counter(y_true)
    return ClassifierMetrics(
        accuracy=float(accuracy_score(y_true, y_pred)),
        macro_f1=float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
        per_strategy={
            s: StrategyScore(f1=float(per[i]), support=support.get(i, 0))
            for i, s in enumerate(STRATEGIES)
        },
    )


def plot_confusion(y_true: Sequence[int], y_pred: Sequence[int], path: Path, title: str) -> Path:
    """Save a row-normalised confusion matrix of strategies as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import confusion_matrix

    counts = confusion_matrix(y_true, y_pred, labels=list(range(len(STRATEGIES))))
    rows = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, rows, out=np.zeros(counts.shape), where=rows > 0)
    fig, ax = plt.subplots(figsize=(9, 8))
    image = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    ax.set_xticks(range(len(STRATEGIES)), STRATEGIES, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(STRATEGIES)), STRATEGIES, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    for i in range(len(STRATEGIES)):
        for j in range(len(STRATEGIES)):
            if counts[i, j]:
                color = "white" if share[i, j] > 0.5 else "black"
                ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=6, color=color)
    fig.colorbar(image, ax=ax, fraction=0.046, label="share of true row")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
