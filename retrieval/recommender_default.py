"""The default ranker: built from the committed data in `data/`, cached, loaded once per process."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from retrieval.attributes import word_finder
from retrieval.embedding import TextEmbedder
from retrieval.fusion import Fusion
from retrieval.rank_features import ItemData
from retrieval.recommender import MovieRecommender
from retrieval.recommender_build import BuildReport, BuiltRanker, TrainingData, fit_ranker
from retrieval.recommender_store import (
    RecommenderLoadError,
    default_recommender_dir,
    input_fingerprint,
    read,
    save,
)
from retrieval.taste_words import Vocabulary, default_vocabulary
from rso.data import rec_turns, redial
from rso.data.records import Movie
from rso.paths import processed_data_dir

if TYPE_CHECKING:
    from retrieval.titles import TitleMatcher

logger = logging.getLogger(__name__)


def data_files() -> list[Path]:
    """Return the processed files the default ranker learns from."""
    names = (
        redial.PROCESSED_REDIAL,
        rec_turns.PROCESSED_REDIAL_TURNS,
        rec_turns.PROCESSED_INSPIRED_MENTIONS,
    )
    return [processed_data_dir() / name for name in names]


def training_data() -> TrainingData:
    """Every training input, from the processed files (the validation fold is dropped later)."""
    return TrainingData(
        redial.load_redial_dialogs(),
        rec_turns.load_redial_rec_turns(),
        rec_turns.load_inspired_train_mentions(),
    )


@dataclass(frozen=True)
class DefaultInputs:
    """What the default ranker is built over: the movie records, the index's vectors, titles."""

    movies: Sequence[Movie]
    vectors: np.ndarray
    embedder: TextEmbedder
    matcher: TitleMatcher
    #: Genres and people of the knowledge base, to read what a dialogue names in words.
    vocabulary: Vocabulary
    #: Stamps the artefacts: the data files, the index and the feature code.
    fingerprint: str
    #: The documents' own encoder (MiniLM), for the dense-retrieval baseline; None: `embedder`.
    document_embedder: TextEmbedder | None = None

    @property
    def kb_ids(self) -> list[str]:
        """Knowledge-base ids, row-aligned with `vectors`."""
        return [m.kb_id for m in self.movies]

    def fit(self, data: TrainingData) -> BuiltRanker:
        """Learn the artefacts from `data` (its validation fold is dropped)."""
        return fit_ranker(
            self.movies,
            self.vectors,
            data,
            self.embedder,
            self.matcher.find_in_text,
            word_finder(self.vocabulary),
            self.matcher.match,
        )

    def recommender(
        self, items: ItemData, fusion: Fusion, training_dialogs: Iterable[str]
    ) -> MovieRecommender:
        """Wrap built or loaded artefacts as a ranker."""
        return MovieRecommender(
            items,
            [m.display_title for m in self.movies],
            fusion,
            self.embedder,
            self.matcher.find_in_text,
            word_finder(self.vocabulary),
            training_dialogs=training_dialogs,
            fingerprint=self.fingerprint,
            document_embedder=self.document_embedder,
        )


def default_inputs() -> DefaultInputs:
    """Load the knowledge base, the movie index and the title matcher (each cached)."""
    from retrieval.index import get_movie_index
    from retrieval.onnx_embedding import query_embedder
    from retrieval.titles import get_title_matcher
    from rso.data.movies import load_movies

    index = get_movie_index()
    queries = query_embedder(index.embedder)
    documents = None if queries.weights_id == index.embedder.weights_id else index.embedder
    return DefaultInputs(
        load_movies(),
        index.document_vectors(),
        queries,
        get_title_matcher(),
        default_vocabulary(),
        input_fingerprint(data_files(), index.fingerprint, queries.weights_id),
        None if documents is None else query_embedder(documents, encoder="full"),
    )


def load_default(
    directory: Path | None = None, *, rebuild: bool = True, force: bool = False
) -> tuple[MovieRecommender, BuildReport | None]:
    """Load the default ranker; build and save it when missing or stale (or when `force`d).

    Returns the ranker and, when it was built, the build report.
    """
    directory = directory or default_recommender_dir()
    inputs = default_inputs()
    report: BuildReport | None = None
    try:
        if force:
            raise RecommenderLoadError(directory, "a rebuild was asked for", kind="stale")
        items, fusion, meta = read(directory, inputs.fingerprint, inputs.kb_ids, inputs.vectors)
        training = meta["training_dialogs"]
    except RecommenderLoadError as exc:
        if not rebuild:
            raise
        logger.info("building the ranker's artefacts (%s)", exc)
        built = inputs.fit(training_data())
        items, fusion, report = built.items, built.fusion, built.report
        training = report.training_dialogs
        save(
            directory,
            items,
            fusion,
            fingerprint=inputs.fingerprint,
            training_dialogs=training,
            extra={
                "seconds": round(report.seconds, 1),
                "training_turns": report.training_turns,
                "training_rows": report.training_rows,
            },
        )
    return inputs.recommender(items, fusion, training), report


@lru_cache(maxsize=2)
def _cached(directory: Path) -> MovieRecommender:
    return load_default(directory)[0]


def get_recommender(directory: Path | str | None = None) -> MovieRecommender:
    """Return the shared ranker: loaded from the cache, else built from `data/` and saved."""
    return _cached(Path(directory or default_recommender_dir()).expanduser().resolve())
