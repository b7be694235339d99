"""The heavy shared resources the experts use, each loaded on first use and then cached.

Experts reach them only through these functions (as ``resources.movie_index()``), so importing the
graph stays fast and tests can swap in small fixtures by patching one attribute.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from retrieval.index import MovieIndex
    from retrieval.recommender import MovieRecommender
    from retrieval.taste_words import Vocabulary
    from retrieval.titles import TitleMatcher
    from rso.data.records import Movie


def movie_index() -> MovieIndex:
    """Return the knowledge base's FAISS index (the encoder and the index load on first use)."""
    from retrieval.index import get_movie_index

    return get_movie_index()


def recommender() -> MovieRecommender:
    """Return the learned movie ranker (built from data/ on first use, then cached)."""
    from retrieval.recommender_default import get_recommender

    return get_recommender()


def title_matcher() -> TitleMatcher:
    """Return the knowledge base's title matcher (built on first use)."""
    from retrieval.titles import get_title_matcher

    return get_title_matcher()


def movies() -> dict[str, Movie]:
    """Return the knowledge base's movies by kb_id (loaded on first use)."""
    from rso.data.movies import movies_by_id

    return movies_by_id()


def vocabulary() -> Vocabulary:
    """Return the genres and people of the knowledge base (built on first use)."""
    from retrieval.taste_words import default_vocabulary

    return default_vocabulary()
