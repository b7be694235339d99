"""The default ranker: built from the committed data in `data/`, cached, loaded once per process."""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

from retrieval.recommender import MovieRecommender
from retrieval.recommender_build import BuildReport, TrainingData, build
from retrieval.recommender_store import (
    RecommenderLoadError,
    default_recommender_dir,
    input_fingerprint,
    read,
    save,
)
from rso.data import rec_turns, redial
from rso.paths import processed_data_dir

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


def load_default(
    directory: Path | None = None, *, rebuild: bool = True, force: bool = False
) -> tuple[MovieRecommender, BuildReport | None]:
    """Load the default ranker; build and save it when missing or stale (or when `force`d).

    Returns the ranker and, when it was built, the build report.
    """
    from retrieval.index import get_movie_index
    from retrieval.titles import get_title_matcher
    from rso.data.movies import load_movies

    directory = directory or default_recommender_dir()
    movies = load_movies()
    index = get_movie_index()
    matcher = get_title_matcher()
    vectors = index.document_vectors()
    kb_ids = [m.kb_id for m in movies]
    titles = [m.display_title for m in movies]
    fingerprint = input_fingerprint(data_files(), index.fingerprint)
    report: BuildReport | None = None
    try:
        if force:
            raise RecommenderLoadError(directory, "a rebuild was asked for", kind="stale")
        items, fusion, meta = read(directory, fingerprint, kb_ids, vectors)
        training = meta["training_dialogs"]
    except RecommenderLoadError as exc:
        if not rebuild:
            raise
        logger.info("building the ranker's artefacts (%s)", exc)
        items, fusion, report = build(
            movies, vectors, training_data(), index.embedder, matcher.find_in_text, matcher.match
        )
        training = report.training_dialogs
        save(
            directory,
            items,
            fusion,
            fingerprint=fingerprint,
            training_dialogs=training,
            extra={
                "seconds": round(report.seconds, 1),
                "training_turns": report.training_turns,
                "training_rows": report.training_rows,
            },
        )
    recommender = MovieRecommender(
        items,
        titles,
        fusion,
        index.embedder,
        matcher.find_in_text,
        training_dialogs=training,
        fingerprint=fingerprint,
    )
    return recommender, report


@lru_cache(maxsize=2)
def _cached(directory: Path) -> MovieRecommender:
    return load_default(directory)[0]


def get_recommender(directory: Path | str | None = None) -> MovieRecommender:
    """Return the shared ranker: loaded from the cache, else built from `data/` and saved."""
    return _cached(Path(directory or default_recommender_dir()).expanduser().resolve())
