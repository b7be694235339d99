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
from functools import lru_cache
from typing import Any, Final, cast

import numpy as np
from scipy import sparse

from retrieval.dialogue import MentionedMovie
from retrieval.item_stats import ItemStats
from retrieval.turn_memory import TurnMemory
from rso.data.records import Movie

#: Feature columns, in order. See docs/recommendation.md for what each measures.
FEATURES: Final[tuple[str, ...]] = (
    "dense_dialogue",
    "dense_dialogue_z",
    "similar_dialogues",
    "dense_items",
    "attributes",
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
    attributes: sparse.csr_matrix
    #: Release year (NaN unknown).
    years: np.ndarray
    stats: ItemStats
    #: Training turns for the similar-dialogues signal.
    memory: TurnMemory

    @property
    def rows(self) -> dict[str, int]:
        """Map kb id -> row."""
        return {kb_id: row for row, kb_id in enumerate(self.kb_ids)}


def attribute_matrix(movies: Sequence[Movie], max_cast: int = 5) -> sparse.csr_matrix:
    """TF-IDF rows over each movie's genres, directors, first cast members and writers."""
    vocabulary: dict[str, int] = {}
    rows: list[int] = []
    cols: list[int] = []
    for row, movie in enumerate(movies):
        tokens = {
            *(f"g:{g.lower()}" for g in movie.genres),
            *(f"d:{p}" for p in movie.directors),
            *(f"c:{p}" for p in movie.cast[:max_cast]),
            *(f"w:{p}" for p in movie.writers),
        }
        for token in sorted(tokens):
            rows.append(row)
            cols.append(vocabulary.setdefault(token, len(vocabulary)))
    shape = (len(movies), max(1, len(vocabulary)))
    ones = np.ones(len(rows), dtype=np.float32)
    matrix = sparse.csr_matrix((ones, (rows, cols)), shape=shape)
    document_frequency = np.asarray((matrix > 0).sum(axis=0)).ravel()
    idf = np.log((1 + len(movies)) / (1 + document_frequency)).astype(np.float32) + 1.0
    weighted = sparse.csr_matrix(matrix.multiply(idf[None, :]))
    norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
    scale = sparse.diags(np.where(norms > 0, 1.0 / np.maximum(norms, 1e-12), 0.0))
    return sparse.csr_matrix(scale @ weighted, dtype=np.float32)


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


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def _conditional(
    matrix: sparse.csr_matrix, mentions: np.ndarray, index: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """Sum over named movies a of weight(a) * count(a, b) / (mentions(a) + smoothing)."""
    if index.size == 0:
        return np.zeros(matrix.shape[1], dtype=np.float32)
    scale = weights / (mentions[index] + SMOOTHING)
    return np.asarray(matrix[index].T @ scale, dtype=np.float32).ravel()


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
) -> np.ndarray:
    """Features of every movie for one dialogue: dense `query`, named movies' rows and weights.

    Only the columns named in `features` are computed (the others stay zero): ranking needs
    just the fusion's. While training, `stats` replaces the items' own counts and `leave_out`
    hides the turns of one dialog from the similar-dialogues signal (leave-one-dialogue-out).
    """
    stats = stats or items.stats
    out = np.zeros((len(items.kb_ids), len(FEATURES)), dtype=np.float32)

    def put(name: str, column: Callable[[], np.ndarray]) -> None:
        if name in features:
            out[:, FEATURES.index(name)] = column()

    dense = items.vectors @ query
    put("dense_dialogue", lambda: dense)
    # The same similarity on the dialogue's own scale: cosines of some queries run high.
    put("dense_dialogue_z", lambda: (dense - dense.mean()) / (dense.std() + 1e-6))
    put("similar_dialogues", lambda: np.log1p(100.0 * items.memory.scores(query, leave_out)))
    if index.size:
        put("dense_items", lambda: items.vectors @ _unit(weights @ items.vectors[index]))
        put("attributes", lambda: _attribute_similarity(items, index, weights))
        put("comention", lambda: _counted(stats.comention, stats, index, weights))
        put("suggested_after", lambda: _counted(stats.suggested_after, stats, index, weights))
    put("popularity", lambda: np.log1p(np.maximum(stats.mentions, 0.0)))
    put("suggestion_prior", lambda: np.log1p(np.maximum(stats.suggestions, 0.0)))
    put("year", lambda: np.nan_to_num(np.clip((items.years - _YEAR_CENTRE) / 10.0, -3.0, 2.0)))
    return out


def _counted(
    matrix: sparse.csr_matrix, stats: ItemStats, index: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    return np.log1p(50.0 * _conditional(matrix, stats.mentions, index, weights))


def _attribute_similarity(items: ItemData, index: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """TF-IDF cosine of every movie with the weighted profile of the named movies."""
    profile = sparse.csr_matrix(weights[None, :]) @ items.attributes[index]
    return np.asarray(items.attributes @ _unit(profile.toarray().ravel())).ravel()
