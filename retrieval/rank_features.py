"""The ranker's signals: one feature column per signal, for every movie of the knowledge base.

Given what the dialogue says (a dense query vector, the movies it named) and what the
knowledge base and the training dialogues say about each movie (`ItemData`), `feature_matrix`
returns an ``(n_movies, len(FEATURES))`` float32 array. Every signal is a cheap matrix-vector
product, so scoring all 6,991 movies takes well under a millisecond after the embedding.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any, Final, cast

import numpy as np
from scipy import sparse

from retrieval.attributes import Attributes, Said
from retrieval.dialogue import MentionedMovie, SaidAttribute
from retrieval.item_stats import ItemStats
from retrieval.sparse_rows import weighted_row_sum
from retrieval.turn_memory import TurnMemory

#: Feature columns, in order. See docs/recommendation.md for what each measures.
FEATURES: Final[tuple[str, ...]] = (
    "dense_dialogue",
    "dense_dialogue_z",
    "similar_dialogues",
    "suggestion_context",
    "dense_items",
    "attributes",
    "attributes_popular",
    "comention",
    "suggested_after",
    "popularity",
    "suggestion_prior",
    "year",
)
#: How much a named movie's weight decays per utterance of age.
RECENCY_DECAY: Final = 0.85
#: Weight of a movie only the recommender named (the seeker may not have liked it).
RECOMMENDER_WEIGHT: Final = 0.5
#: Pseudo-count in the co-mention conditional probabilities (shrinks rare movies' rows).
SMOOTHING: Final = 2.0
_YEAR_CENTRE: Final = 2000.0


@dataclass(frozen=True)
class ItemData:
    """Everything known about the movies, row-aligned with the knowledge base."""

    kb_ids: tuple[str, ...]
    #: Unit-length document embeddings, ``(n, d)``.
    vectors: np.ndarray
    #: L2-normalised TF-IDF rows over genres, directors, cast and writers.
    attributes: Attributes
    #: Release year (NaN unknown).
    years: np.ndarray
    stats: ItemStats
    #: Training turns for the similar-dialogues signal.
    memory: TurnMemory

    @cached_property
    def rows(self) -> dict[str, int]:
        """Map kb id -> row (built once)."""
        return {kb_id: row for row, kb_id in enumerate(self.kb_ids)}


def mention_weights(
    mentioned: Sequence[MentionedMovie], rows: Mapping[str, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the named movies in the knowledge base and their weights (recency, speaker)."""
    picked = [(rows[m.kb_id], m) for m in mentioned if m.kb_id in rows]
    index = np.asarray([row for row, _ in picked], dtype=np.int64)
    weights = np.asarray(
        [RECENCY_DECAY**m.age * (1.0 if m.seeker_named else RECOMMENDER_WEIGHT) for _, m in picked],
        dtype=np.float32,
    )
    return index, weights


def said_weights(said: Sequence[SaidAttribute], attributes: Attributes) -> Said:
    """Columns of the attribute tokens the dialogue named in words, and their recency weights."""
    return attributes.said([(s.token, RECENCY_DECAY**s.age) for s in said])


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def _conditional(
    matrix: sparse.csr_matrix, mentions: np.ndarray, index: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """Sum over named movies a of weight(a) * count(a, b) / (mentions(a) + smoothing)."""
    scale = weights / (mentions[index] + SMOOTHING)
    return weighted_row_sum(matrix, index, scale)


@lru_cache(maxsize=1)
def _blas_controller() -> Any:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def one_blas_thread() -> AbstractContextManager[Any]:
    """Run NumPy's BLAS on one thread: on these small products a second one mostly spin-waits.

    Measured in docs/recommendation.md (Speed), like torch's in `retrieval.embedding.one_thread`.
    """
    return cast(AbstractContextManager[Any], _blas_controller().limit(limits=1, user_api="blas"))


def feature_matrix(
    items: ItemData,
    query: np.ndarray,
    index: np.ndarray,
    weights: np.ndarray,
    stats: ItemStats | None = None,
    leave_out: int | None = None,
    features: Collection[str] = FEATURES,
    said: Said | None = None,
) -> np.ndarray:
    """Features of every movie for one dialogue: dense `query`, named movies' rows and weights.

    `said`: columns and weights of the genres and people named in words (`said_weights`). Only
    the columns named in `features` are computed (the others stay zero): ranking needs just the
    fusion's. While training, `stats` replaces the items' own counts and `leave_out` hides the
    turns of one dialog from the similar-dialogues signal (leave-one-dialogue-out).
    """
    stats = stats or items.stats
    out = np.zeros((len(items.kb_ids), len(FEATURES)), dtype=np.float32)

    def put(name: str, column: Callable[[], np.ndarray]) -> None:
        if name in features:
            out[:, FEATURES.index(name)] = column()

    # A zero query (a stated taste without dialogue text) scores 0 on every dense signal.
    if query.any():
        dense = items.vectors @ query
        put("dense_dialogue", lambda: dense)
        # The same similarity on the dialogue's own scale: cosines of some queries run high.
        put("dense_dialogue_z", lambda: (dense - dense.mean()) / (dense.std() + 1e-6))
        put("similar_dialogues", lambda: np.log1p(100.0 * items.memory.scores(query, leave_out)))
        put("suggestion_context", lambda: items.memory.context_scores(query, leave_out))
    popularity = np.log1p(np.maximum(stats.mentions, 0.0))
    if index.size or (said is not None and said[0].size):
        profile = items.attributes.profile(index, weights, said)
        similar = items.attributes.similarity(profile)
        put("attributes", lambda: similar)
        # Among the movies that fit, the ones many people talk about.
        put("attributes_popular", lambda: similar * popularity)
    if index.size:
        put("dense_items", lambda: items.vectors @ _unit(weights @ items.vectors[index]))
        put("comention", lambda: _counted(stats.comention, stats, index, weights))
        put("suggested_after", lambda: _counted(stats.suggested_after, stats, index, weights))
    put("popularity", lambda: popularity)
    put("suggestion_prior", lambda: np.log1p(np.maximum(stats.suggestions, 0.0)))
    put("year", lambda: np.nan_to_num(np.clip((items.years - _YEAR_CENTRE) / 10.0, -3.0, 2.0)))
    return out


def _counted(
    matrix: sparse.csr_matrix, stats: ItemStats, index: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    return np.log1p(50.0 * _conditional(matrix, stats.mentions, index, weights))
