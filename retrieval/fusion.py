"""The learned fusion of the ranker's signals: a logistic regression over the feature columns.

Trained on training turns only: the movies the recommender suggested are the positives; the
negatives are each signal's strongest other candidates plus a seeded random sample. Stored as
JSON (feature names, standardisation, weights); scoring is one matrix-vector product.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from retrieval.rank_features import FEATURES

#: Negatives per turn: the top of each signal, plus this many random movies.
TOP_PER_SIGNAL: Final = 40
RANDOM_NEGATIVES: Final = 100
#: Inverse regularisation strength of the logistic regression, chosen by cross-validation over
#: the training turns (docs/recommendation.md, Fusion).
REGULARISATION_C: Final = 3e-4
#: The signals the shipped fusion weighs. The other three still pick negatives, but weighing them
#: cost recall in cross-validation over the training turns and on the validation split.
FUSED_FEATURES: Final[tuple[str, ...]] = tuple(
    name for name in FEATURES if name not in ("dense_items", "suggested_after", "year")
)


@dataclass(frozen=True)
class Fusion:
    """A linear scorer: ``((x - mean) / scale) @ weights`` over named feature columns."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray

    def score(self, matrix: np.ndarray) -> np.ndarray:
        """Scores of the rows of a `feature_matrix` (columns in `FEATURES` order)."""
        columns = [FEATURES.index(name) for name in self.features]
        return ((matrix[:, columns] - self.mean) / self.scale) @ self.weights

    @classmethod
    def single(cls, feature: str, backoff: str | None = None) -> Fusion:
        """One signal alone (a baseline), ties broken by a tiny weight on `backoff`."""
        names = (feature,) if backoff is None else (feature, backoff)
        weights = np.asarray([1.0, 1e-3][: len(names)], dtype=np.float32)
        zeros, ones = np.zeros(len(names), np.float32), np.ones(len(names), np.float32)
        return cls(names, zeros, ones, weights)

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-ready view."""
        return {
            "features": list(self.features),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "weights": self.weights.tolist(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fusion:
        """Rebuild from `to_json` output, checking names and lengths."""
        features = tuple(str(name) for name in data["features"])
        unknown = [name for name in features if name not in FEATURES]
        if unknown:
            raise ValueError(f"unknown fusion features {unknown}")
        arrays = [np.asarray(data[key], dtype=np.float32) for key in ("mean", "scale", "weights")]
        if any(a.shape != (len(features),) for a in arrays):
            raise ValueError("fusion arrays do not match its feature list")
        return cls(features, *arrays)


def sample_rows(
    matrix: np.ndarray,
    positives: np.ndarray,
    excluded: np.ndarray,
    rng: np.random.Generator,
    features: Sequence[str] = FEATURES,
) -> tuple[np.ndarray, np.ndarray]:
    """Training rows of one turn: the positives and sampled negatives, with 0/1 labels."""
    n = matrix.shape[0]
    blocked = np.zeros(n, dtype=bool)
    blocked[excluded] = True
    blocked[positives] = True
    candidates: list[np.ndarray] = []
    top = min(TOP_PER_SIGNAL, n - 1)
    for name in features:
        column = matrix[:, FEATURES.index(name)]
        candidates.append(np.argpartition(-column, top)[:top])
    candidates.append(rng.choice(n, size=min(RANDOM_NEGATIVES, n), replace=False))
    negatives = np.unique(np.concatenate(candidates))
    negatives = negatives[~blocked[negatives]]
    rows = np.concatenate([positives, negatives])
    labels = np.concatenate([np.ones(len(positives)), np.zeros(len(negatives))])
    return rows, labels


def fit_fusion(
    matrix: np.ndarray,
    labels: np.ndarray,
    features: Sequence[str] = FUSED_FEATURES,
    seed: int = 0,
    regularisation: float = REGULARISATION_C,
) -> Fusion:
    """Fit the logistic regression on stacked training rows (columns in `FEATURES` order)."""
    from sklearn.linear_model import LogisticRegression

    columns = [FEATURES.index(name) for name in features]
    x = matrix[:, columns].astype(np.float64)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=regularisation, max_iter=2000, random_state=seed)
    model.fit((x - mean) / scale, labels)
    return Fusion(
        tuple(features),
        mean.astype(np.float32),
        scale.astype(np.float32),
        model.coef_.ravel().astype(np.float32),
    )
