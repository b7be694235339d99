"""The movie index on a tiny fixture knowledge base: build, search, save/load, stale and corrupt."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import faiss
import numpy as np
import pytest

from retrieval.embedding import (
    EmbeddingError,
    EmbeddingSettings,
    SentenceEmbedder,
    get_embedder,
    l2_normalize,
)
from retrieval.fingerprint import kb_fingerprint
from retrieval.index import (
    INDEX_FILE,
    META_FILE,
    IndexLoadError,
    MovieIndex,
    SearchHit,
    get_movie_index,
)
from rso.data.records import Movie

DIM = 64


class HashingEmbedder:
    """Deterministic bag-of-words vectors: texts sharing words are close. No model needed."""

    precision = "float32"

    def __init__(self, model_id: str = "hashing-test@1", dimension: int = DIM) -> None:
        self.model_id = model_id
        self.weights_id = model_id
        self.dimension = dimension
        self.calls = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"[a-z]+", text.lower()):
                bucket = int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dimension
                out[row, bucket] += 1.0
        return l2_normalize(out)


def make_movie(kb_id: str, title: str, year: int, plot: str) -> Movie:
    return Movie(kb_id=kb_id, title=title, year=year, plot=plot, doc=f"{title} ({year}). {plot}")


@pytest.fixture
def movies() -> list[Movie]:
    return [
        make_movie(
            "m:1", "Star Wars", 1977, "A farm boy joins rebels and a wizard against an empire."
        ),
        make_movie(
            "m:2", "Finding Nemo", 2003, "A clownfish father searches the ocean for his son."
        ),
        make_movie("m:3", "Heat", 1995, "A detective hunts a crew of bank robbers in Los Angeles."),
        make_movie("m:4", "Toy Story", 1995, "Toys come alive when their owner leaves the room."),
        make_movie("m:5", "Alien", 1979, "A monster stalks the crew of a spaceship in deep space."),
        make_movie(
            "m:6", "Titanic", 1997, "Lovers meet aboard an ocean liner that hits an iceberg."
        ),
    ]


@pytest.fixture
def embedder() -> HashingEmbedder:
    return HashingEmbedder()


# --- embedding wrapper (no model load needed) ------------------------------------------------


def test_importing_retrieval_does_not_import_torch_or_faiss() -> None:
    code = (
        "import sys, retrieval.embedding, retrieval.index, retrieval.titles;"
        "print(sorted(m for m in ('torch', 'faiss', 'sentence_transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_l2_normalize_makes_unit_rows_and_keeps_zero_rows() -> None:
    vectors = l2_normalize(np.array([[3.0, 4.0], [0.0, 0.0]], dtype=np.float64))
    assert vectors.dtype == np.float32 and vectors.flags.c_contiguous
    np.testing.assert_allclose(vectors, [[0.6, 0.8], [0.0, 0.0]], rtol=1e-6)


def _fake_model_dir(root: Path, weights: bytes) -> Path:
    root.mkdir(parents=True)
    (root / "modules.json").write_text(
        json.dumps(
            [
                {
                    "idx": 0,
                    "name": "0",
                    "path": "",
                    "type": "sentence_transformers.models.Transformer",
                },
                {
                    "idx": 1,
                    "name": "1",
                    "path": "1_Pooling",
                    "type": "sentence_transformers.models.Pooling",
                },
            ]
        )
    )
    (root / "1_Pooling").mkdir()
    (root / "1_Pooling" / "config.json").write_text(json.dumps({"word_embedding_dimension": 48}))
    (root / "model.safetensors").write_bytes(weights)
    (root / "README.md").write_text("docs only")
    return root


def test_model_id_and_dimension_come_from_files_without_loading(tmp_path: Path) -> None:
    first = SentenceEmbedder(EmbeddingSettings(model_path=_fake_model_dir(tmp_path / "a", b"w1")))
    same = SentenceEmbedder(EmbeddingSettings(model_path=_fake_model_dir(tmp_path / "b", b"w1")))
    other = SentenceEmbedder(EmbeddingSettings(model_path=_fake_model_dir(tmp_path / "c", b"w2")))
    assert first.dimension == 48
    assert first.weights_digest == same.weights_digest != other.weights_digest
    (tmp_path / "a" / "README.md").write_text("edited docs do not change the vectors")
    assert SentenceEmbedder(first.settings).weights_digest == first.weights_digest
    assert not first.loaded
    forced = SentenceEmbedder(EmbeddingSettings(model_path=tmp_path / "a", precision="float32"))
    assert forced.model_id.endswith("/float32") and forced.model_id.startswith("a@sha256:")


def test_embedding_settings_reject_bad_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RSO_EMBEDDING_BATCH_SIZE", "many")
    with pytest.raises(EmbeddingError, match="RSO_EMBEDDING_BATCH_SIZE"):
        EmbeddingSettings.from_env()
    monkeypatch.setenv("RSO_EMBEDDING_BATCH_SIZE", "8")
    assert EmbeddingSettings.from_env().batch_size == 8
    with pytest.raises(EmbeddingError, match="precision"):
        EmbeddingSettings(precision="float8")  # type: ignore[arg-type]
    with pytest.raises(EmbeddingError, match="not a sentence-transformers model"):
        _ = SentenceEmbedder(EmbeddingSettings(model_path=Path("/nonexistent/model"))).model_path


def test_get_embedder_is_shared_and_lazy() -> None:
    embedder = get_embedder()
    assert get_embedder() is embedder
    assert embedder.dimension == 384
    assert embedder.model_id.startswith("all-MiniLM-L6-v2@sha256:")
    with pytest.raises(EmbeddingError, match="not a single string"):
        embedder.embed("one text")
    with pytest.raises(EmbeddingError, match="text 1 is int"):
        embedder.embed(["fine", 3])  # type: ignore[list-item]
    assert embedder.embed([]).shape == (0, 384)


# --- building and searching ----------------------------------------------------------------------


def test_build_and_search_ranks_matching_doc_first(
    movies: list[Movie], embedder: HashingEmbedder
) -> None:
    index = MovieIndex.build(movies, embedder)
    assert len(index) == len(movies) and index.dimension == DIM
    hits = index.search("a clownfish searches the ocean for his son", k=3)
    assert hits[0] == SearchHit(kb_id="m:2", title="Finding Nemo", score=hits[0].score, rank=1)
    assert [h.rank for h in hits] == [1, 2, 3]
    assert all(a.score >= b.score for a, b in zip(hits, hits[1:], strict=False))
    assert 0.0 < hits[0].score <= 1.0 + 1e-6
    assert index.search("monster spaceship crew", k=1)[0].kb_id == "m:5"


def test_k_larger_than_the_index_returns_every_movie_once(
    movies: list[Movie], embedder: HashingEmbedder
) -> None:
    hits = MovieIndex.build(movies, embedder).search("ocean", k=50)
    assert sorted(h.kb_id for h in hits) == sorted(m.kb_id for m in movies)


def test_search_batch_and_vectors_agree_with_single_search(
    movies: list[Movie], embedder: HashingEmbedder
) -> None:
    index = MovieIndex.build(movies, embedder)
    queries = ["bank robbers", "toys alive", "iceberg lovers"]
    batch = index.search_batch(queries, k=4)
    assert batch == [index.search(q, k=4) for q in queries]
    vectors = embedder.embed(queries)
    assert index.search_vectors(vectors, k=4) == batch
    assert index.search_vectors(vectors[0], k=4) == batch[:1]  # a single 1-d vector
    assert index.search_batch([], k=4) == []


def test_bad_search_arguments_are_rejected(movies: list[Movie], embedder: HashingEmbedder) -> None:
    index = MovieIndex.build(movies, embedder)
    with pytest.raises(ValueError, match="k must be >= 1"):
        index.search("x", k=0)
    with pytest.raises(ValueError, match=f"shape \\(n, {DIM}\\)"):
        index.search_vectors(np.zeros((2, DIM + 1), dtype=np.float32), k=1)
    with pytest.raises(ValueError, match="NaN"):
        index.search_vectors(np.full((1, DIM), np.nan, dtype=np.float32), k=1)
    with pytest.raises(TypeError):
        index.search_batch("not a list", k=1)


def test_search_threads_follow_the_setting_and_are_restored(
    movies: list[Movie], embedder: HashingEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = MovieIndex.build(movies, embedder)
    before = faiss.omp_get_max_threads()
    expected = index.search("ocean", k=3)
    monkeypatch.setenv("RSO_FAISS_THREADS", "2")
    assert index.search("ocean", k=3) == expected
    # The OpenMP setting may be shared with torch: a search must not leave it changed.
    assert faiss.omp_get_max_threads() == before
    monkeypatch.setenv("RSO_FAISS_THREADS", "two")
    with pytest.raises(ValueError, match="RSO_FAISS_THREADS"):
        index.search("ocean", k=3)


def test_build_rejects_empty_or_duplicate_knowledge_base(
    movies: list[Movie], embedder: HashingEmbedder
) -> None:
    with pytest.raises(ValueError, match="empty"):
        MovieIndex.build([], embedder)
    with pytest.raises(ValueError, match="duplicate kb_id 'm:1'"):
        MovieIndex.build([*movies, movies[0]], embedder)


# --- persistence ---------------------------------------------------------------------------------


def test_save_load_round_trip(
    movies: list[Movie], embedder: HashingEmbedder, tmp_path: Path
) -> None:
    built = MovieIndex.build(movies, embedder)
    built.save(tmp_path)
    assert (tmp_path / INDEX_FILE).read_bytes()[:4] == b"IxFI"  # FAISS's own format, not pickle
    meta = json.loads((tmp_path / META_FILE).read_text())
    assert meta["kb_ids"] == [m.kb_id for m in movies]
    assert meta["titles"] == [m.title for m in movies]
    assert meta["kb_fingerprint"] == kb_fingerprint(movies)
    assert meta["model_id"] == embedder.model_id and meta["count"] == len(movies)

    calls = embedder.calls
    loaded = MovieIndex.load(tmp_path, movies, embedder)
    assert embedder.calls == calls  # nothing re-embedded
    assert loaded.fingerprint == built.fingerprint
    queries = ["wizard rebels empire", "detective", "ocean liner"]
    assert loaded.search_batch(queries, k=6) == built.search_batch(queries, k=6)


def test_missing_index_is_built_and_saved(
    movies: list[Movie], embedder: HashingEmbedder, tmp_path: Path
) -> None:
    with pytest.raises(IndexLoadError) as info:
        MovieIndex.read(tmp_path / "none", movies, embedder)
    assert info.value.kind == "missing"
    index = MovieIndex.load(tmp_path / "none", movies, embedder)
    assert len(index) == len(movies)
    assert MovieIndex.read(tmp_path / "none", movies, embedder).fingerprint == index.fingerprint


def test_changed_movie_makes_the_index_stale_and_it_is_rebuilt(
    movies: list[Movie], embedder: HashingEmbedder, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    MovieIndex.build(movies, embedder).save(tmp_path)
    changed = [
        *movies[:-1],
        movies[-1].model_copy(update={"doc": "A volcano erupts on an island."}),
    ]
    assert kb_fingerprint(changed) != kb_fingerprint(movies)
    with pytest.raises(IndexLoadError, match="knowledge base changed") as info:
        MovieIndex.read(tmp_path, changed, embedder)
    assert info.value.kind == "stale"
    with pytest.raises(IndexLoadError):
        MovieIndex.load(tmp_path, changed, embedder, rebuild=False)

    with caplog.at_level(logging.WARNING, logger="retrieval.index"):
        rebuilt = MovieIndex.load(tmp_path, changed, embedder)
    assert "rebuilding the movie index" in caplog.text and "knowledge base changed" in caplog.text
    assert rebuilt.search("volcano island", k=1)[0].kb_id == "m:6"
    assert MovieIndex.read(tmp_path, changed, embedder).fingerprint == rebuilt.fingerprint


def test_other_embedding_model_makes_the_index_stale(
    movies: list[Movie], embedder: HashingEmbedder, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    MovieIndex.build(movies, embedder).save(tmp_path)
    other = HashingEmbedder(model_id="hashing-test@2")
    with caplog.at_level(logging.WARNING, logger="retrieval.index"):
        MovieIndex.load(tmp_path, movies, other)
    assert "built with hashing-test@1, now using hashing-test@2" in caplog.text
    assert json.loads((tmp_path / META_FILE).read_text())["model_id"] == "hashing-test@2"


def _rewrite_index(directory: Path, index: faiss.Index) -> None:
    """Replace the index file and fix its checksum, so only the deeper checks can notice."""
    faiss.write_index(index, str(directory / INDEX_FILE))
    meta_path = directory / META_FILE
    meta = json.loads(meta_path.read_text())
    meta["index_sha256"] = hashlib.sha256((directory / INDEX_FILE).read_bytes()).hexdigest()
    meta_path.write_text(json.dumps(meta))


def _garbage_index(directory: Path) -> None:
    (directory / INDEX_FILE).write_bytes(b"not a faiss index at all")


def _truncated_index(directory: Path) -> None:
    data = (directory / INDEX_FILE).read_bytes()
    (directory / INDEX_FILE).write_bytes(data[: len(data) // 2])


def _garbage_sidecar(directory: Path) -> None:
    (directory / META_FILE).write_text("{ this is not json")


def _wrong_count_sidecar(directory: Path) -> None:
    meta = json.loads((directory / META_FILE).read_text())
    meta["count"] = 5
    (directory / META_FILE).write_text(json.dumps(meta))


def _fewer_rows(directory: Path) -> None:
    smaller = faiss.IndexFlatIP(DIM)
    smaller.add(HashingEmbedder().embed(["only", "three", "rows"]))
    _rewrite_index(directory, smaller)


def _other_dimension(directory: Path) -> None:
    wider = faiss.IndexFlatIP(DIM * 2)
    wider.add(np.eye(6, DIM * 2, dtype=np.float32))
    _rewrite_index(directory, wider)


def _unreadable_with_valid_checksum(directory: Path) -> None:
    (directory / INDEX_FILE).write_bytes(b"IxFI" + b"\x00" * 7)
    meta = json.loads((directory / META_FILE).read_text())
    meta["index_sha256"] = hashlib.sha256((directory / INDEX_FILE).read_bytes()).hexdigest()
    (directory / META_FILE).write_text(json.dumps(meta))


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (_garbage_index, "checksum"),
        (_truncated_index, "checksum"),
        (_garbage_sidecar, "unreadable"),
        (_wrong_count_sidecar, "row count mismatch"),
        (_fewer_rows, "has 3 rows, expected 6"),
        (_other_dimension, f"dimension {DIM * 2}, expected {DIM}"),
        (_unreadable_with_valid_checksum, "unreadable"),
    ],
)
def test_corrupt_index_is_detected_and_rebuilt(
    damage: object,
    reason: str,
    movies: list[Movie],
    embedder: HashingEmbedder,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    good = MovieIndex.build(movies, embedder)
    good.save(tmp_path)
    damage(tmp_path)  # type: ignore[operator]
    with pytest.raises(IndexLoadError, match=reason) as info:
        MovieIndex.read(tmp_path, movies, embedder)
    assert info.value.kind == "corrupt"
    with caplog.at_level(logging.WARNING, logger="retrieval.index"):
        rebuilt = MovieIndex.load(tmp_path, movies, embedder)
    assert "rebuilding the movie index" in caplog.text and reason in caplog.text
    assert rebuilt.search_batch(["detective"], k=6) == good.search_batch(["detective"], k=6)
    MovieIndex.read(tmp_path, movies, embedder)  # the rebuilt files are valid again


def test_get_movie_index_is_cached_per_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, movies: list[Movie], embedder: HashingEmbedder
) -> None:
    import rso.data.movies
    from retrieval import index as index_module

    monkeypatch.setattr(rso.data.movies, "load_movies", lambda: movies)
    monkeypatch.setattr(index_module, "get_embedder", lambda: embedder)
    index_module._cached_index.cache_clear()
    try:
        first = get_movie_index(tmp_path / "idx")
        assert get_movie_index(tmp_path / "idx") is first
        assert (tmp_path / "idx" / INDEX_FILE).is_file()
        monkeypatch.setenv("RSO_CACHE_DIR", str(tmp_path / "cache"))
        assert get_movie_index() is not first
        assert (tmp_path / "cache" / "index" / META_FILE).is_file()
    finally:
        index_module._cached_index.cache_clear()
