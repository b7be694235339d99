"""Shipped document vectors: written, read back, used only while they match, and the real ones."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np
import pytest

from retrieval.doc_vectors import (
    SHIPPED,
    SIDECAR_FILE,
    VECTORS_FILE,
    DocumentVectors,
    ShippedVectorsUnusable,
    default_vectors_dir,
    read_shipped_vectors,
    write_shipped_vectors,
)
from retrieval.embedding import get_embedder
from retrieval.index import MovieIndex
from rso.data.movies import load_movies
from rso.data.records import Movie
from tests.test_retrieval import HashingEmbedder, make_movie

MOVIES = [
    make_movie("m:1", "Star Wars", 1977, "A farm boy joins rebels and a wizard against an empire."),
    make_movie("m:2", "Finding Nemo", 2003, "A clownfish father searches the ocean for his son."),
    make_movie("m:3", "Heat", 1995, "A detective hunts a crew of bank robbers in Los Angeles."),
    make_movie("m:4", "Alien", 1979, "A monster stalks the crew of a spaceship in deep space."),
]


@pytest.fixture
def shipped(tmp_path: Path) -> Path:
    """Vectors of MOVIES exported by the hashing embedder into a temporary data folder."""
    embedder = HashingEmbedder()
    vectors = embedder.embed([m.doc for m in MOVIES])
    return write_shipped_vectors(tmp_path / "embeddings", MOVIES, embedder, vectors)


def test_round_trip_keeps_vectors_within_half_precision(shipped: Path) -> None:
    embedder = HashingEmbedder()
    back = read_shipped_vectors(shipped, MOVIES, embedder)
    exact = embedder.embed([m.doc for m in MOVIES])
    assert back.dtype == np.float32 and back.shape == exact.shape
    assert np.allclose(np.linalg.norm(back, axis=1), 1.0, atol=1e-6)
    assert np.abs(back - exact).max() < 1e-3
    stored = np.load(shipped / VECTORS_FILE, allow_pickle=False)
    assert stored.dtype == np.float16
    meta = json.loads((shipped / SIDECAR_FILE).read_text())
    assert (meta["precision"], meta["dtype"], meta["count"]) == ("float32", "float16", 4)


def test_a_matching_file_is_indexed_without_embedding(shipped: Path, tmp_path: Path) -> None:
    embedder = HashingEmbedder()
    index = MovieIndex.create(MOVIES, embedder, shipped)
    assert embedder.calls == 0
    assert index.documents == SHIPPED
    assert index.search("clownfish ocean son", k=1)[0].kb_id == "m:2"
    # The index sidecar keeps the origin, and an index built by embedding says so too.
    index.save(tmp_path / "index")
    assert MovieIndex.read(tmp_path / "index", MOVIES, embedder).documents == SHIPPED
    embedded = MovieIndex.build(MOVIES, embedder)
    assert embedded.documents == DocumentVectors("embedded", "float32")
    assert [h.kb_id for h in embedded.search("crew", k=4)] == [
        h.kb_id for h in index.search("crew", k=4)
    ]


def _damage_checksum(directory: Path) -> None:
    (directory / VECTORS_FILE).write_bytes((directory / VECTORS_FILE).read_bytes()[:-8])


def _pickled_objects(directory: Path) -> None:
    # An object array needs pickle to load; a recorded checksum must not make it acceptable.
    np.save(directory / VECTORS_FILE, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    meta = json.loads((directory / SIDECAR_FILE).read_text())
    meta["sha256"] = hashlib.sha256((directory / VECTORS_FILE).read_bytes()).hexdigest()
    (directory / SIDECAR_FILE).write_text(json.dumps(meta))


def _other_format(directory: Path) -> None:
    meta = json.loads((directory / SIDECAR_FILE).read_text())
    (directory / SIDECAR_FILE).write_text(json.dumps(meta | {"format": 99}))


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (_damage_checksum, "checksum"),
        (_pickled_objects, "unreadable"),
        (_other_format, "format 99"),
        (lambda d: (d / SIDECAR_FILE).write_text("{"), "unreadable"),
    ],
)
def test_damaged_files_are_refused(shipped: Path, damage: object, reason: str) -> None:
    damage(shipped)  # type: ignore[operator]
    with pytest.raises(ShippedVectorsUnusable, match=reason):
        read_shipped_vectors(shipped, MOVIES, HashingEmbedder())


def test_a_changed_kb_or_model_embeds_again_and_says_why(
    shipped: Path, caplog: pytest.LogCaptureFixture
) -> None:
    changed: list[Movie] = [*MOVIES[:-1], MOVIES[-1].model_copy(update={"doc": "new text"})]
    embedder = HashingEmbedder()
    with caplog.at_level(logging.WARNING, logger="retrieval.index"):
        index = MovieIndex.create(changed, embedder, shipped)
    assert embedder.calls == 1 and index.documents.origin == "embedded"
    assert "knowledge base changed since they were exported" in caplog.text
    other = HashingEmbedder(model_id="hashing-test@2")
    with pytest.raises(ShippedVectorsUnusable, match="exported with hashing-test@1"):
        read_shipped_vectors(shipped, MOVIES, other)
    with pytest.raises(ShippedVectorsUnusable, match="none here") as info:
        read_shipped_vectors(shipped.parent / "absent", MOVIES, embedder)
    assert info.value.missing


def test_the_committed_vectors_match_the_committed_kb_and_model() -> None:
    # Fails when data/movies.jsonl.gz or the model changes without `rso index build
    # --export-embeddings`: a fresh clone would then embed every movie again.
    movies = load_movies(source="processed")
    vectors = read_shipped_vectors(default_vectors_dir(), movies, get_embedder())
    assert vectors.shape == (len(movies), 384)
