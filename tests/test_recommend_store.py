"""The ranker's artefacts on disk: round trip, and stale, corrupt or missing ones detected."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retrieval.recommender import MovieRecommender
from retrieval.recommender_store import (
    FUSION_FILE,
    META_FILE,
    RecommenderLoadError,
    input_fingerprint,
    read,
    save,
)
from tests.recommend_fixtures import make_recommender


@pytest.fixture(scope="module")
def ranker() -> MovieRecommender:
    return make_recommender()


def saved(ranker: MovieRecommender, directory: Path, fingerprint: str = "f1") -> Path:
    return save(
        directory,
        ranker.items,
        ranker.fusion,
        fingerprint=fingerprint,
        training_dialogs=sorted(ranker.training_dialogs),
    )


def load(ranker: MovieRecommender, directory: Path, fingerprint: str = "f1") -> object:
    return read(directory, fingerprint, ranker.items.kb_ids, ranker.items.vectors)


def test_round_trip_keeps_every_array_and_the_fusion(
    ranker: MovieRecommender, tmp_path: Path
) -> None:
    items, fusion, meta = read(
        saved(ranker, tmp_path), "f1", ranker.items.kb_ids, ranker.items.vectors
    )
    assert np.array_equal(items.stats.mentions, ranker.items.stats.mentions)
    assert (items.stats.comention != ranker.items.stats.comention).nnz == 0
    assert (items.attributes.matrix != ranker.items.attributes.matrix).nnz == 0
    assert items.attributes.tokens == ranker.items.attributes.tokens
    assert np.array_equal(items.attributes.idf, ranker.items.attributes.idf)
    assert np.array_equal(fusion.weights, ranker.fusion.weights)
    assert set(meta["training_dialogs"]) == ranker.training_dialogs
    assert not list(tmp_path.glob("*.pkl")) and not list(tmp_path.glob("*.pickle"))


def test_missing_artefacts_are_reported_as_missing(
    ranker: MovieRecommender, tmp_path: Path
) -> None:
    with pytest.raises(RecommenderLoadError) as caught:
        load(ranker, tmp_path)
    assert caught.value.kind == "missing"


def test_a_changed_input_fingerprint_makes_them_stale(
    ranker: MovieRecommender, tmp_path: Path
) -> None:
    saved(ranker, tmp_path, "old")
    with pytest.raises(RecommenderLoadError) as caught:
        load(ranker, tmp_path, "new")
    assert caught.value.kind == "stale"


def test_a_changed_knowledge_base_makes_them_stale(
    ranker: MovieRecommender, tmp_path: Path
) -> None:
    saved(ranker, tmp_path)
    with pytest.raises(RecommenderLoadError) as caught:
        read(tmp_path, "f1", ranker.items.kb_ids[:-1], ranker.items.vectors[:-1])
    assert caught.value.kind == "stale"


@pytest.mark.parametrize("victim", [FUSION_FILE, "stats.mentions.npy", META_FILE])
def test_an_altered_file_is_corrupt(ranker: MovieRecommender, tmp_path: Path, victim: str) -> None:
    saved(ranker, tmp_path)
    path = tmp_path / victim
    path.write_bytes(path.read_bytes()[:-3] + b"xyz")
    with pytest.raises(RecommenderLoadError) as caught:
        load(ranker, tmp_path)
    assert caught.value.kind == "corrupt"


def test_fingerprint_follows_data_file_contents_index_and_query_encoder(tmp_path: Path) -> None:
    data = tmp_path / "turns.jsonl.gz"
    data.write_bytes(b"one")
    first = input_fingerprint([data], "index-a", "minilm")
    assert input_fingerprint([data], "index-a", "minilm") == first
    assert input_fingerprint([data], "index-b", "minilm") != first
    assert input_fingerprint([data], "index-a", "minilm+student") != first
    data.write_bytes(b"two")
    assert input_fingerprint([data], "index-a", "minilm") != first
    assert input_fingerprint([data], "index-a", "q", seed=1) != input_fingerprint(
        [data], "index-a", "q"
    )
