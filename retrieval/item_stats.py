"""Collaborative counts from training dialogues: popularity, co-mention, "suggested after".

A training dialogue is its movie mentions in order, each with the speaker who named it. From
them:

- ``mentions[i]``: dialogues naming movie i (popularity prior);
- ``suggestions[i]``: dialogues where the recommender named movie i first (suggestion prior);
- ``comention[a, b]``: dialogues naming both a and b (symmetric, zero diagonal);
- ``suggested_after[a, b]``: dialogues where b was first named by the recommender after a had
  been named (directed: what recommenders suggest to someone who talked about a).

Counts of one dialogue can be subtracted again (`ItemStats.without`), so that features of a
training turn never see its own dialogue (leave-one-dialogue-out).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from rso.data.records import Speaker

#: A dialogue's mentions in order: (speaker, kb id); repeats allowed.
DialogueMentions = Sequence[tuple[Speaker, str]]


@dataclass(frozen=True)
class ItemStats:
    """Counts over some training dialogues, indexed by knowledge-base row."""

    mentions: np.ndarray
    suggestions: np.ndarray
    comention: sparse.csr_matrix
    suggested_after: sparse.csr_matrix

    @classmethod
    def count(
        cls, dialogues: Iterable[DialogueMentions], rows: Mapping[str, int], n_items: int
    ) -> ItemStats:
        """Count over `dialogues`; movies outside `rows` (not in the knowledge base) are skipped."""
        mentions = np.zeros(n_items, dtype=np.float32)
        suggestions = np.zeros(n_items, dtype=np.float32)
        pair_a: list[int] = []
        pair_b: list[int] = []
        after_a: list[int] = []
        after_b: list[int] = []
        for dialogue in dialogues:
            order: list[int] = []
            first_by: dict[int, Speaker] = {}
            for speaker, kb_id in dialogue:
                row = rows.get(kb_id)
                if row is None or row in first_by:
                    continue
                first_by[row] = speaker
                order.append(row)
            for position, row in enumerate(order):
                mentions[row] += 1
                if first_by[row] == "RECOMMENDER":
                    suggestions[row] += 1
                    after_a.extend(order[:position])
                    after_b.extend([row] * position)
            for a in order:
                for b in order:
                    if a != b:
                        pair_a.append(a)
                        pair_b.append(b)
        shape = (n_items, n_items)
        return cls(
            mentions=mentions,
            suggestions=suggestions,
            comention=_counts(pair_a, pair_b, shape),
            suggested_after=_counts(after_a, after_b, shape),
        )

    @property
    def n_items(self) -> int:
        """Number of knowledge-base rows."""
        return int(self.mentions.shape[0])

    def without(self, other: ItemStats) -> ItemStats:
        """Subtract `other`'s counts (a dialogue's own): leave-one-dialogue-out statistics."""
        return ItemStats(
            mentions=self.mentions - other.mentions,
            suggestions=self.suggestions - other.suggestions,
            comention=(self.comention - other.comention).tocsr(),
            suggested_after=(self.suggested_after - other.suggested_after).tocsr(),
        )

    def arrays(self) -> dict[str, np.ndarray]:
        """Every array by name, for saving as ``.npy`` files (sparse matrices as CSR parts)."""
        out = {"mentions": self.mentions, "suggestions": self.suggestions}
        for name in ("comention", "suggested_after"):
            matrix: sparse.csr_matrix = getattr(self, name)
            out[f"{name}.data"] = matrix.data.astype(np.float32)
            out[f"{name}.indices"] = matrix.indices.astype(np.int32)
            out[f"{name}.indptr"] = matrix.indptr.astype(np.int64)
        return out

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> ItemStats:
        """Rebuild from `arrays` output."""
        n = int(arrays["mentions"].shape[0])
        matrices = {
            name: sparse.csr_matrix(
                (arrays[f"{name}.data"], arrays[f"{name}.indices"], arrays[f"{name}.indptr"]),
                shape=(n, n),
            )
            for name in ("comention", "suggested_after")
        }
        return cls(
            mentions=np.asarray(arrays["mentions"], dtype=np.float32),
            suggestions=np.asarray(arrays["suggestions"], dtype=np.float32),
            comention=matrices["comention"],
            suggested_after=matrices["suggested_after"],
        )


def _counts(a: list[int], b: list[int], shape: tuple[int, int]) -> sparse.csr_matrix:
    ones = np.ones(len(a), dtype=np.float32)
    matrix = sparse.coo_matrix((ones, (np.asarray(a, int), np.asarray(b, int))), shape=shape)
    return matrix.tocsr()  # duplicates are summed
