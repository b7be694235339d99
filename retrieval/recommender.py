"""The movie ranker: which movies of the knowledge base to suggest next in a dialogue.

It reads the whole dialogue (dense similarity of its recent exchanges and of the Preference
Reasoner's summary to every movie description), the movies the seeker and the recommender named
(item-to-item similarity: co-mention in training dialogues, shared genres and people, document
similarity), the genres and people it names in words, and a popularity prior counted from
training dialogues; a logistic regression fuses the signals. Movies already named in the
dialogue, and those the caller excludes (rejected), are never returned. The artefacts it learns
are built and cached by `retrieval.recommender_store`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Final, Literal

import numpy as np

from retrieval.attributes import Said, said_tokens
from retrieval.dialogue import (
    DialogueTurn,
    MentionedMovie,
    TitleFinder,
    WordFinder,
    dialogue_vector,
    last_two_text,
    mentioned_movies,
    query_exchanges,
    said_attributes,
)
from retrieval.embedding import TextEmbedder
from retrieval.fusion import Fusion
from retrieval.rank_features import (
    FEATURES,
    ItemData,
    feature_matrix,
    mention_weights,
    one_blas_thread,
    said_weights,
)
from retrieval.utterance_cache import DEFAULT_SIZE, UtteranceEmbeddings

#: What the dense query is built from: the whole dialogue (newest first) or today's last two.
QueryMode = Literal["dialogue", "last_two"]
#: Utterance texts whose title lookups are remembered (a live dialogue re-reads its history).
_FIND_CACHE: Final = 4096
#: The head of a ranking that is reordered by how much of the genres and people the dialogue
#: names in words each movie has (stable: equal coverage keeps the fused order). Only the order
#: inside the head changes, so Recall@10 and Recall@50 cannot (docs/recommendation.md, Signals).
COVERAGE_HEAD: Final = 10


@dataclass(frozen=True)
class Recommendation:
    """One ranked movie: fused ``score`` and 1-based ``rank``."""

    kb_id: str
    title: str
    score: float
    rank: int


@dataclass(frozen=True)
class Evidence:
    """What the ranker read from one dialogue."""

    mentioned: tuple[MentionedMovie, ...]
    query: np.ndarray
    rows: np.ndarray
    weights: np.ndarray
    #: Columns and weights of the attribute tokens (genres, people) named in words.
    said: Said = (np.zeros(0, np.int64), np.zeros(0, np.float32))


class MovieRecommender:
    """Ranks every movie of the knowledge base for a dialogue (a few milliseconds per call).

    Example (with the default artefacts, built on first use)::

        >>> from retrieval.recommender_default import get_recommender
        >>> ranker = get_recommender()
        >>> picks = ranker.recommend(
        ...     [("RECOMMENDER", "Hi, what do you like?"),
        ...      ("SEEKER", "Scary movies, like The Shining (1980).")], k=3)
        >>> [p.title for p in picks]  # doctest: +SKIP
        ['The Exorcist (1973)', 'It (2017)', 'Insidious (2010)']
    """

    def __init__(
        self,
        items: ItemData,
        titles: Sequence[str],
        fusion: Fusion,
        embedder: TextEmbedder,
        find_titles: TitleFinder,
        find_words: WordFinder,
        *,
        training_dialogs: Iterable[str] = (),
        fingerprint: str = "",
        cache_size: int = DEFAULT_SIZE,
        document_embedder: TextEmbedder | None = None,
    ) -> None:
        """Wrap built artefacts; `titles` are "Title (Year)", row-aligned with `items`.

        `find_titles` finds the movies a text names, `find_words` its genres and people
        (`retrieval.attributes.word_finder`).

        `cache_size` exchange vectors are kept, so a new turn embeds only its new exchange
        (0: embed every exchange on every call).

        `document_embedder` is the model the movie documents were embedded with, when the
        queries use another (a distilled student): the dense-retrieval baseline (``query=
        "last_two"``, the retrieval the ranker replaced) embeds its query with it.
        """
        if len(titles) != len(items.kb_ids):
            raise ValueError(f"{len(titles)} titles for {len(items.kb_ids)} movies")
        self.items = items
        self.titles = tuple(titles)
        self.fusion = fusion
        self.embedder = embedder
        self.utterances = UtteranceEmbeddings(embedder, cache_size)
        self._baseline = (
            self.utterances
            if document_embedder is None
            else UtteranceEmbeddings(document_embedder, cache_size)
        )
        self.training_dialogs = frozenset(training_dialogs)
        self.fingerprint = fingerprint
        self._rows = items.rows
        self._find = lru_cache(maxsize=_FIND_CACHE)(lambda text: tuple(find_titles(text)))
        self._words = lru_cache(maxsize=_FIND_CACHE)(
            lambda text, seeker: tuple(find_words(text, seeker))
        )

    def __len__(self) -> int:
        """Return the number of movies ranked."""
        return len(self.items.kb_ids)

    def forget(self) -> None:
        """Drop remembered exchange vectors and title lookups (the next call starts cold)."""
        self.utterances.clear()
        self._baseline.clear()
        self._find.cache_clear()
        self._words.cache_clear()

    def find_titles(self, text: str) -> list[str]:
        """Return the kb ids of the movies named in `text` (remembered per text)."""
        return list(self._find(text))

    def evidence(
        self,
        dialogue: Sequence[DialogueTurn],
        summary: str | None = None,
        query: QueryMode = "dialogue",
    ) -> Evidence:
        """Read a dialogue: the movies it names and its dense query (new exchanges embedded).

        `query` "last_two" is the dense-retrieval baseline: the last two utterances, embedded by
        the documents' own encoder.
        """
        mentioned = tuple(mentioned_movies(dialogue, self.find_titles))
        texts = query_exchanges(dialogue) if query == "dialogue" else [last_two_text(dialogue)]
        extra = [summary] if summary and summary.strip() else []
        cache = self.utterances if query == "dialogue" else self._baseline
        vectors = cache.embed(texts + extra)
        vector = dialogue_vector(vectors[: len(texts)], texts) + vectors[len(texts) :].sum(axis=0)
        norm = float(np.linalg.norm(vector))
        rows, weights = mention_weights(mentioned, self._rows)
        said = said_weights(said_attributes(dialogue, self._words), self.items.attributes)
        return Evidence(mentioned, vector / norm if norm > 0 else vector, rows, weights, said)

    def taste_evidence(
        self, genres: Sequence[str] = (), people: Sequence[str] = (), titles: Sequence[str] = ()
    ) -> Evidence:
        """Evidence from a stated taste alone: genres, people and liked titles (kb ids).

        Nothing is embedded: the dense query is zero, so the dense signals give every movie the
        same score and the order comes from the titles' co-mentions and attributes, the genres
        and people, and popularity. The rule experts order equally fitting movies by it.
        """
        rows = np.asarray([self._rows[t] for t in titles if t in self._rows], dtype=np.int64)
        said = self.items.attributes.said([(t, 1.0) for t in said_tokens(genres, people)])
        query = np.zeros(self.items.vectors.shape[1], dtype=np.float32)
        return Evidence((), query, rows, np.ones(rows.size, dtype=np.float32), said)

    def features(self, evidence: Evidence, names: Collection[str] = FEATURES) -> np.ndarray:
        """Return the signals `names` of every movie: an ``(n_movies, len(FEATURES))`` array."""
        with one_blas_thread():
            return feature_matrix(
                self.items,
                evidence.query,
                evidence.rows,
                evidence.weights,
                features=names,
                said=evidence.said,
            )

    def scores(self, evidence: Evidence, fusion: Fusion | None = None) -> np.ndarray:
        """Fused score of every movie (higher is better), before any exclusion."""
        fusion = fusion or self.fusion
        # The fusion's product on one BLAS thread too: the same scores, to the last bit, in
        # every process.
        with one_blas_thread():
            return fusion.score(self.features(evidence, fusion.features))

    def top(
        self,
        scores: np.ndarray,
        evidence: Evidence,
        k: int = 50,
        exclude: Iterable[str] = (),
        *,
        cover_head: bool = True,
    ) -> list[Recommendation]:
        """Return the `k` best-scored movies, minus those the dialogue named and `exclude`.

        With `cover_head` (the ranker's own order) the first `COVERAGE_HEAD` are reordered by how
        much of the genres and people named in words each has; baselines rank by score alone.
        """
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        scores = np.asarray(scores, dtype=np.float64).copy()
        scores[evidence.rows] = -np.inf
        blocked = [self._rows[kb_id] for kb_id in exclude if kb_id in self._rows]
        scores[blocked] = -np.inf
        reorder = cover_head and evidence.said[0].size > 0
        # A short list is the start of the long one: the head is ordered before it is cut.
        n = min(max(k, COVERAGE_HEAD) if reorder else k, int(np.isfinite(scores).sum()))
        if n == 0:
            return []
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top], kind="stable")]
        if reorder:
            head = top[:COVERAGE_HEAD]
            cover = np.round(self.items.attributes.coverage(evidence.said, head), 3)
            top[: len(head)] = head[np.argsort(-cover, kind="stable")]
        top = top[:k]
        return [
            Recommendation(self.items.kb_ids[row], self.titles[row], float(scores[row]), rank)
            for rank, row in enumerate(top.tolist(), start=1)
        ]

    def rank(
        self,
        evidence: Evidence,
        k: int = 50,
        exclude: Iterable[str] = (),
        fusion: Fusion | None = None,
    ) -> list[Recommendation]:
        """Return the top `k` movies for read `evidence`, minus named and `exclude`d ones."""
        scores = self.scores(evidence, fusion)
        return self.top(scores, evidence, k, exclude, cover_head=fusion is None)

    def recommend(
        self,
        dialogue: Sequence[DialogueTurn],
        summary: str | None = None,
        *,
        k: int = 50,
        exclude: Iterable[str] = (),
    ) -> list[Recommendation]:
        """Top `k` movies for a dialogue (oldest utterance first) and an optional summary."""
        return self.rank(self.evidence(dialogue, summary), k, exclude)
