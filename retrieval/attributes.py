"""The movies' attributes as TF-IDF rows, and the attribute profile of a dialogue.

Each movie is a bag of tokens: ``g:<genre>``, ``d:<director>``, ``c:<cast member>`` (the first
five) and ``w:<writer>``, weighed by inverse document frequency and normalised. A dialogue's
profile combines the attributes of the movies it named (weighed by recency and speaker, as in
`retrieval.rank_features.mention_weights`) with the genres and people it names in words
("something scary", "anything with Tom Hanks"); the `attributes` signal is the cosine of each
movie's row with that profile.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Final

import numpy as np
from scipy import sparse

from retrieval.sparse_rows import weighted_row_sum
from retrieval.taste_words import Vocabulary, named_in
from rso.data.records import Movie

#: Weight of the words' profile against the named movies' (each normalised first): measured in
#: docs/recommendation.md (Signals).
SAID_WEIGHT: Final = 0.5
#: Cast members of a movie that count as its attributes.
MAX_CAST: Final = 5


#: Columns of the attribute tokens a dialogue names in words, and their weights.
Said = tuple[np.ndarray, np.ndarray]


def movie_tokens(movie: Movie, max_cast: int = MAX_CAST) -> set[str]:
    """Return a movie's attribute tokens: genres, directors, first cast members, writers."""
    return {
        *(f"g:{g.lower()}" for g in movie.genres),
        *(f"d:{p}" for p in movie.directors),
        *(f"c:{p}" for p in movie.cast[:max_cast]),
        *(f"w:{p}" for p in movie.writers),
    }


def said_tokens(genres: Sequence[str], people: Sequence[str]) -> list[str]:
    """Return the tokens of named genres and people (a person as director and as cast)."""
    return [f"g:{g.lower()}" for g in genres] + [f"{r}:{p}" for p in people for r in ("d", "c")]


def word_finder(vocabulary: Vocabulary) -> Callable[[str, bool], list[str]]:
    """``find(text, seeker)``: the tokens of what `text` names; a seeker's negated sentences out.

    "I don't like horror" is not a wish for horror; a recommender's "no horror, then?" still
    says what the conversation is about.
    """

    def find(text: str, seeker: bool) -> list[str]:
        return said_tokens(*named_in(text, vocabulary, skip_negated=seeker))

    return find


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


@dataclass(frozen=True, eq=False)
class Attributes:
    """L2-normalised TF-IDF rows (movies x tokens), the tokens and their IDF weights."""

    matrix: sparse.csr_matrix
    tokens: tuple[str, ...]
    idf: np.ndarray

    @classmethod
    def of(cls, movies: Sequence[Movie]) -> Attributes:
        """Build the rows of `movies` (row order kept)."""
        vocabulary: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        for row, movie in enumerate(movies):
            for token in sorted(movie_tokens(movie)):
                rows.append(row)
                cols.append(vocabulary.setdefault(token, len(vocabulary)))
        shape = (len(movies), len(vocabulary))
        ones = np.ones(len(rows), dtype=np.float32)
        counts = sparse.csr_matrix((ones, (rows, cols)), shape=shape)
        document_frequency = np.asarray((counts > 0).sum(axis=0)).ravel()
        idf = np.log((1 + len(movies)) / (1 + document_frequency)).astype(np.float32) + 1.0
        weighted = sparse.csr_matrix(counts.multiply(idf[None, :]))
        norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
        scale = sparse.diags(np.where(norms > 0, 1.0 / np.maximum(norms, 1e-12), 0.0))
        matrix = sparse.csr_matrix(scale @ weighted, dtype=np.float32)
        return cls(matrix, tuple(vocabulary), idf)

    @cached_property
    def columns(self) -> dict[str, int]:
        """Map token -> column."""
        return {token: column for column, token in enumerate(self.tokens)}

    def said(self, tokens: Sequence[tuple[str, float]]) -> Said:
        """Columns and weights of weighted tokens said in a dialogue (unknown tokens dropped)."""
        known = [(self.columns[t], w) for t, w in tokens if t in self.columns]
        return (
            np.asarray([c for c, _ in known], dtype=np.int64),
            np.asarray([w for _, w in known], dtype=np.float32),
        )

    def profile(
        self,
        rows: np.ndarray,
        weights: np.ndarray,
        said: Said | None = None,
    ) -> np.ndarray:
        """Return the profile: the named movies' rows plus `SAID_WEIGHT` x the said tokens'."""
        named = weighted_row_sum(self.matrix, rows, weights)
        words = np.zeros_like(named)
        if said is not None and said[0].size:
            np.add.at(words, said[0], said[1] * self.idf[said[0]])
        return _unit(_unit(named) + SAID_WEIGHT * _unit(words))

    @cached_property
    def _by_token(self) -> sparse.csc_matrix:
        return sparse.csc_matrix(self.matrix > 0, dtype=np.float32)

    def coverage(self, said: Said, rows: np.ndarray) -> np.ndarray:
        """Share of the said tokens' weight each of `rows` has (0 to 1; zeros when none said)."""
        columns, weights = said
        total = float(weights.sum()) if columns.size else 0.0
        if total <= 0:
            return np.zeros(len(rows), dtype=np.float32)
        covered = self._by_token[:, columns][rows] @ (weights / total)
        return np.asarray(covered, dtype=np.float32).ravel()

    def similarity(self, profile: np.ndarray) -> np.ndarray:
        """Cosine of every movie's row with a unit `profile`."""
        return np.asarray(self.matrix @ profile, dtype=np.float32).ravel()

    def arrays(self) -> dict[str, np.ndarray]:
        """Every array by name, for saving as ``.npy`` files (no pickling)."""
        return {
            "data": self.matrix.data.astype(np.float32),
            "indices": self.matrix.indices.astype(np.int32),
            "indptr": self.matrix.indptr.astype(np.int64),
            "shape": np.asarray(self.matrix.shape, dtype=np.int64),
            # UTF-8, NUL-separated: a fixed-width string array would pad every name to the longest.
            "tokens": np.frombuffer("\0".join(self.tokens).encode("utf-8"), dtype=np.uint8),
            "idf": self.idf.astype(np.float32),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Attributes:
        """Rebuild from `arrays` output."""
        shape = tuple(int(x) for x in arrays["shape"])
        matrix = sparse.csr_matrix(
            (arrays["data"], arrays["indices"], arrays["indptr"]), shape=shape
        )
        text = np.asarray(arrays["tokens"], dtype=np.uint8).tobytes().decode("utf-8")
        tokens = tuple(text.split("\0")) if text else ()
        if len(tokens) != shape[1] or arrays["idf"].shape != (shape[1],):
            raise ValueError("attribute tokens do not match the attribute matrix")
        return cls(matrix, tokens, np.asarray(arrays["idf"], dtype=np.float32))
