"""The ranker's per-utterance embedding cache: hits, misses, eviction, and unchanged rankings."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from retrieval.utterance_cache import UtteranceEmbeddings
from tests.recommend_fixtures import make_recommender
from tests.test_retrieval import HashingEmbedder


class CountingEmbedder(HashingEmbedder):
    """A hashing embedder that records every text it was asked to embed."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[list[str]] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.texts.append(list(texts))
        return super().embed(texts)


def test_only_new_texts_are_embedded_and_vectors_match_the_embedder() -> None:
    inner = CountingEmbedder()
    cache = UtteranceEmbeddings(inner, maxsize=10)
    first = cache.embed(["hi", "horror please"])
    assert (cache.hits, cache.misses) == (0, 2)
    second = cache.embed(["hi", "horror please", "and ghosts", "hi"])
    assert inner.texts == [["hi", "horror please"], ["and ghosts"]]
    assert (cache.hits, cache.misses) == (3, 3)
    np.testing.assert_array_equal(second[:2], first)
    np.testing.assert_array_equal(second[3], first[0])
    np.testing.assert_allclose(
        second, HashingEmbedder().embed(["hi", "horror please", "and ghosts", "hi"])
    )
    assert cache.embed([]).shape == (0, inner.dimension)


def test_the_least_recently_used_text_is_evicted_first() -> None:
    inner = CountingEmbedder()
    cache = UtteranceEmbeddings(inner, maxsize=2)
    cache.embed(["a", "b"])
    cache.embed(["a"])  # "b" is now the oldest
    cache.embed(["c"])
    assert len(cache) == 2
    cache.embed(["a", "b"])
    assert inner.texts[-1] == ["b"]


def test_size_zero_embeds_every_text_every_time() -> None:
    inner = CountingEmbedder()
    cache = UtteranceEmbeddings(inner, maxsize=0)
    cache.embed(["a"])
    cache.embed(["a"])
    assert inner.texts == [["a"], ["a"]] and len(cache) == 0
    with pytest.raises(ValueError):
        UtteranceEmbeddings(inner, maxsize=-1)


def test_a_new_turn_embeds_only_its_new_exchange_and_ranks_as_the_uncached_path() -> None:
    cached, uncached = make_recommender(), make_recommender()
    uncached.utterances = UtteranceEmbeddings(uncached.embedder, maxsize=0)
    dialogue = [("RECOMMENDER", "Hi, what do you like?"), ("SEEKER", "I loved The Shining (1980).")]
    later = [*dialogue, ("RECOMMENDER", "Scary ones, then?"), ("SEEKER", "Yes, like Heat (1995).")]
    for turns in (dialogue, later, later):
        assert cached.recommend(turns, k=5) == uncached.recommend(turns, k=5)  # type: ignore[arg-type]
    assert cached.utterances.misses == 2  # each exchange embedded once over three calls
    assert uncached.utterances.misses == 1 + 2 + 2
