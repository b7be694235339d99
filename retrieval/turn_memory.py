"""Similar training dialogues: the movies recommenders suggested after conversations like this one.

Every training turn is kept as its dense query vector and the movies suggested next. Two signals
read it:

- `TurnMemory.scores`: the nearest training turns (cosine, top `NEIGHBOURS`) vote for their
  suggestions, each with weight ``max(similarity, 0) ** POWER`` (a session-based
  nearest-neighbour recommender);
- `TurnMemory.context_scores`: each movie's suggestion context, the sum of the query vectors of
  the turns after which it was suggested; the cosine of a new dialogue with it, times
  ``log(1 + times suggested)`` (a prototype per movie: smoother than the nearest turns' votes,
  and it reaches every movie ever suggested).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Final

import numpy as np
from scipy import sparse

from retrieval.sparse_rows import weighted_row_sum

NEIGHBOURS: Final = 50
POWER: Final = 3.0


@dataclass(frozen=True)
class TurnMemory:
    """Training turns: query vectors, suggested movies (rows), and each turn's dialog number."""

    vectors: np.ndarray
    targets: sparse.csr_matrix
    dialogs: np.ndarray

    @classmethod
    def of(
        cls,
        vectors: np.ndarray,
        targets: Sequence[Sequence[int]],
        dialogs: Sequence[int],
        n_items: int,
    ) -> TurnMemory:
        """Build from per-turn vectors, suggested rows and dialog numbers."""
        rows = [turn for turn, picked in enumerate(targets) for _ in picked]
        cols = [row for picked in targets for row in picked]
        matrix = sparse.csr_matrix(
            (np.ones(len(rows), np.float32), (rows, cols)), shape=(len(targets), n_items)
        )
        return cls(
            np.ascontiguousarray(vectors, dtype=np.float32),
            matrix,
            np.asarray(dialogs, dtype=np.int64),
        )

    def scores(self, query: np.ndarray, leave_out: int | None = None) -> np.ndarray:
        """Votes of the nearest training turns for every movie (`leave_out`: a dialog number)."""
        n_items = self.targets.shape[1]
        if self.vectors.shape[0] == 0:
            return np.zeros(n_items, dtype=np.float32)
        similarity = self.vectors @ query
        if leave_out is not None:
            similarity = np.where(self.dialogs == leave_out, -1.0, similarity)
        k = min(NEIGHBOURS, similarity.shape[0])
        nearest = np.argpartition(-similarity, k - 1)[:k]
        weights = np.maximum(similarity[nearest], 0.0) ** POWER
        total = float(weights.sum())
        if total <= 0:
            return np.zeros(n_items, dtype=np.float32)
        return weighted_row_sum(self.targets, nearest, weights / total)

    @cached_property
    def _contexts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Movies ever suggested (rows), their summed query vectors, its norms, the counts."""
        counts = np.asarray(self.targets.sum(axis=0), dtype=np.float64).ravel()
        rows = np.flatnonzero(counts > 0)
        sums = np.asarray(self.targets[:, rows].T @ self.vectors, dtype=np.float64)
        return rows, sums, np.linalg.norm(sums, axis=1), counts[rows]

    @cached_property
    def _scaled_contexts(self) -> np.ndarray:
        """Each suggested movie's unit context x log(1 + suggestions): one product a turn."""
        _, sums, norms, counts = self._contexts
        scale = np.where(norms > 1e-9, np.log1p(counts) / np.maximum(norms, 1e-9), 0.0)
        return np.ascontiguousarray(sums * scale[:, None], dtype=np.float32)

    def context_scores(self, query: np.ndarray, leave_out: int | None = None) -> np.ndarray:
        """Cosine with each movie's suggestion context x log(1 + suggestions); 0 if never.

        `leave_out` (a dialog number) takes that dialog's turns out of the contexts and counts.
        """
        n_items = self.targets.shape[1]
        out = np.zeros(n_items, dtype=np.float32)
        rows, sums, norms, counts = self._contexts
        if rows.size == 0:
            return out
        if leave_out is None:
            out[rows] = self._scaled_contexts @ np.asarray(query, dtype=np.float32)
            return out
        own = np.flatnonzero(self.dialogs == leave_out)
        own_targets = self.targets[own][:, rows]
        if own.size and own_targets.nnz:
            sums = sums - np.asarray(own_targets.T @ self.vectors[own], dtype=np.float64)
            norms = np.linalg.norm(sums, axis=1)
            counts = counts - np.asarray(own_targets.sum(axis=0), dtype=np.float64).ravel()
        cosine = np.where(norms > 1e-9, (sums @ query) / np.maximum(norms, 1e-9), 0.0)
        out[rows] = cosine * np.log1p(np.maximum(counts, 0.0))
        return out
