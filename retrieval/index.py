"""A small typed FAISS index over the movie knowledge base, cached on disk with a fingerprint.

Every movie's ``doc`` is embedded (unit vectors) into an exact inner-product index, so scores are
cosine similarities. On disk an index is two files: ``movies.faiss`` (written by
``faiss.write_index``, never pickled) and ``movies.meta.json``, a sidecar with the kb ids and titles
in row order, the embedding model id, the knowledge-base fingerprint and a checksum of the index
file. Loading checks all of them: a stale or corrupt index is rebuilt, never silently used.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

import numpy as np

from retrieval.embedding import TextEmbedder, get_embedder
from rso import env
from rso.data.records import Movie
from rso.paths import cache_dir

if TYPE_CHECKING:
    import faiss

logger = logging.getLogger(__name__)

INDEX_FILE: Final = "movies.faiss"
META_FILE: Final = "movies.meta.json"
#: Bumped whenever the on-disk layout or what is embedded changes; old caches then rebuild.
FORMAT_VERSION: Final = 1
#: Environment variable setting FAISS's OpenMP threads for searches (default 1).
THREADS_ENV: Final = env.FAISS_THREADS.name

_faiss_configured = threading.Event()

#: Why a saved index cannot be used.
LoadFailure = Literal["missing", "stale", "corrupt"]


class IndexLoadError(RuntimeError):
    """A cached index cannot be used; ``reason`` says why (missing, stale or corrupt)."""

    def __init__(self, directory: Path, reason: str, *, kind: LoadFailure) -> None:
        super().__init__(f"index at {directory} is {kind}: {reason}")
        self.directory = directory
        self.reason = reason
        self.kind: LoadFailure = kind


@dataclass(frozen=True)
class SearchHit:
    """One retrieved movie: cosine ``score`` and 1-based ``rank`` within its result list."""

    kb_id: str
    title: str
    score: float
    rank: int


def _import_faiss() -> Any:
    """Import FAISS and tune it once per process for small exact indexes."""
    import faiss

    if not _faiss_configured.is_set():
        # Score batches of 20+ queries with one matrix product (BLAS) rather than a per-query
        # scan: about 4x faster for a batch of 64 here. (This FAISS build defaults to 128000
        # queries before it switches.)
        faiss.cvar.distance_compute_blas_threshold = 20
        _faiss_configured.set()
    return faiss


def _search_threads(n_queries: int = 1) -> int:
    """Return the OpenMP threads of a search: ``$RSO_FAISS_THREADS``, else 1 or all cores.

    One thread for a single query: it takes well under a millisecond, and on a 2-core machine
    shared with the embedding model and the LLM server, OpenMP workers spinning for the second
    core cost more than they gain. A batch is one matrix product plus per-query top-k selection,
    which both parallelise: with one thread it ran at half the speed of numpy's threaded BLAS
    (see bench/RESULTS.md).
    """
    raw = os.environ.get(THREADS_ENV)
    if not raw:
        return 1 if n_queries <= 1 else max(1, os.cpu_count() or 1)
    try:
        return max(1, int(raw))
    except ValueError:
        raise ValueError(f"{THREADS_ENV}={raw!r} is not an integer") from None


@contextmanager
def _omp_threads(faiss: Any, threads: int) -> Iterator[None]:
    """Run FAISS with ``threads`` OpenMP threads, then restore the previous setting.

    The setting is per calling thread but shared with torch when both use one OpenMP runtime,
    so leaving it changed would also slow the embedding model down.
    """
    previous = faiss.omp_get_max_threads()
    if previous == threads:
        yield
        return
    faiss.omp_set_num_threads(threads)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(previous)


def kb_fingerprint(movies: Sequence[Movie]) -> str:
    """SHA-256 over what the index stores per row, in row order: kb id, title and embedded doc."""
    parts: list[bytes] = []
    for movie in movies:
        # Length-prefixed fields so that no two different knowledge bases hash alike.
        for value in (movie.kb_id, movie.title, movie.doc):
            data = value.encode("utf-8")
            parts.append(len(data).to_bytes(8, "little"))
            parts.append(data)
    return hashlib.sha256(b"".join(parts)).hexdigest()


def index_fingerprint(movies: Sequence[Movie], embedder: TextEmbedder) -> str:
    """Stamp an index: format version, knowledge base, embedding model and dimension."""
    return _stamp(kb_fingerprint(movies), embedder)


def _stamp(kb_digest: str, embedder: TextEmbedder) -> str:
    stamp = {
        "format": FORMAT_VERSION,
        "kb": kb_digest,
        "model": embedder.model_id,
        "dimension": embedder.dimension,
    }
    return hashlib.sha256(json.dumps(stamp, sort_keys=True).encode()).hexdigest()


def _file_sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


class MovieIndex:
    """Exact cosine search over movie descriptions (FAISS ``IndexFlatIP`` on unit vectors)."""

    def __init__(
        self,
        faiss_index: faiss.Index,
        kb_ids: Sequence[str],
        titles: Sequence[str],
        *,
        fingerprint: str,
        kb_digest: str,
        embedder: TextEmbedder,
    ) -> None:
        """Wrap a filled FAISS index whose row i is movie ``kb_ids[i]``."""
        if faiss_index.ntotal != len(kb_ids) or len(kb_ids) != len(titles):
            raise ValueError(
                f"index has {faiss_index.ntotal} rows but {len(kb_ids)} kb ids and "
                f"{len(titles)} titles"
            )
        if faiss_index.d != embedder.dimension:
            raise ValueError(
                f"index dimension {faiss_index.d} != embedder dimension {embedder.dimension}"
            )
        self._index = faiss_index
        self.kb_ids: tuple[str, ...] = tuple(kb_ids)
        self.titles: tuple[str, ...] = tuple(titles)
        self.fingerprint = fingerprint
        self.kb_digest = kb_digest
        self.embedder = embedder

    def __len__(self) -> int:
        """Return the number of indexed movies."""
        return int(self._index.ntotal)

    @property
    def dimension(self) -> int:
        """Vector size."""
        return int(self._index.d)

    # --- building, saving, loading ------------------------------------------------------------

    @classmethod
    def build(cls, movies: Sequence[Movie], embedder: TextEmbedder) -> MovieIndex:
        """Embed every movie's ``doc`` and index the vectors."""
        if not movies:
            raise ValueError("cannot build an index over an empty knowledge base")
        ids = [m.kb_id for m in movies]
        if len(set(ids)) != len(ids):
            duplicate = next(i for i in ids if ids.count(i) > 1)
            raise ValueError(f"duplicate kb_id {duplicate!r} in the knowledge base")
        faiss = _import_faiss()
        started = time.perf_counter()
        vectors = embedder.embed([m.doc for m in movies])
        if vectors.shape != (len(movies), embedder.dimension):
            raise ValueError(
                f"embedder returned shape {vectors.shape}, expected "
                f"{(len(movies), embedder.dimension)}"
            )
        index = faiss.IndexFlatIP(embedder.dimension)
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        logger.info(
            "indexed %d movies in %.1f s (%s)",
            len(movies),
            time.perf_counter() - started,
            embedder.model_id,
        )
        kb_digest = kb_fingerprint(movies)
        return cls(
            index,
            ids,
            [m.title for m in movies],
            fingerprint=_stamp(kb_digest, embedder),
            kb_digest=kb_digest,
            embedder=embedder,
        )

    def save(self, directory: Path | str) -> Path:
        """Write the index and its sidecar into ``directory`` atomically; returns the directory."""
        faiss = _import_faiss()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        index_tmp = directory / (INDEX_FILE + ".tmp")
        meta_tmp = directory / (META_FILE + ".tmp")
        faiss.write_index(self._index, str(index_tmp))
        meta = {
            "format_version": FORMAT_VERSION,
            "fingerprint": self.fingerprint,
            "kb_fingerprint": self.kb_digest,
            "model_id": self.embedder.model_id,
            "dimension": self.dimension,
            "count": len(self),
            "index_sha256": _file_sha256(index_tmp),
            "kb_ids": list(self.kb_ids),
            "titles": list(self.titles),
        }
        meta_tmp.write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        # The sidecar goes last: a crash in between leaves a checksum mismatch, not a silent mix.
        os.replace(index_tmp, directory / INDEX_FILE)
        os.replace(meta_tmp, directory / META_FILE)
        logger.info("saved movie index (%d rows) to %s", len(self), directory)
        return directory

    @classmethod
    def read(
        cls, directory: Path | str, movies: Sequence[Movie], embedder: TextEmbedder
    ) -> MovieIndex:
        """Read a saved index, raising `IndexLoadError` if it is missing, stale or corrupt."""
        directory = Path(directory)
        index_path, meta_path = directory / INDEX_FILE, directory / META_FILE
        if not index_path.is_file() or not meta_path.is_file():
            raise IndexLoadError(directory, "no saved index", kind="missing")

        def corrupt(reason: str) -> IndexLoadError:
            return IndexLoadError(directory, reason, kind="corrupt")

        def stale(reason: str) -> IndexLoadError:
            return IndexLoadError(directory, reason, kind="stale")

        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise corrupt(f"{META_FILE} is unreadable ({exc})") from None
        required = {
            "format_version": int,
            "fingerprint": str,
            "kb_fingerprint": str,
            "model_id": str,
            "dimension": int,
            "count": int,
            "index_sha256": str,
            "kb_ids": list,
            "titles": list,
        }
        if not isinstance(meta, dict):
            raise corrupt(f"{META_FILE} does not hold a JSON object")
        for key, kind in required.items():
            if not isinstance(meta.get(key), kind):
                raise corrupt(f"{META_FILE} lacks a valid {key!r}")
        if meta["format_version"] != FORMAT_VERSION:
            raise stale(f"format version {meta['format_version']} != {FORMAT_VERSION}")

        # Staleness first, naming what changed, so the log says why a rebuild happens.
        kb_digest = kb_fingerprint(movies)
        if meta["kb_fingerprint"] != kb_digest:
            raise stale("the knowledge base changed since it was built")
        if meta["model_id"] != embedder.model_id:
            raise stale(f"built with {meta['model_id']}, now using {embedder.model_id}")
        fingerprint = _stamp(kb_digest, embedder)
        if meta["fingerprint"] != fingerprint:
            raise stale("fingerprint mismatch")

        count, dimension = meta["count"], meta["dimension"]
        kb_ids, titles = meta["kb_ids"], meta["titles"]
        if len(kb_ids) != count or len(titles) != count or count != len(movies):
            raise corrupt(
                f"row count mismatch: sidecar says {count}, lists {len(kb_ids)} ids and "
                f"{len(titles)} titles, knowledge base has {len(movies)} movies"
            )
        if kb_ids != [m.kb_id for m in movies] or titles != [m.title for m in movies]:
            raise corrupt("sidecar ids or titles differ from the knowledge base")
        if dimension != embedder.dimension:
            raise corrupt(f"sidecar dimension {dimension} != embedder {embedder.dimension}")
        # Checksum before parsing: FAISS may misbehave on a damaged file instead of raising.
        if _file_sha256(index_path) != meta["index_sha256"]:
            raise corrupt(f"{INDEX_FILE} does not match its recorded checksum")
        faiss = _import_faiss()
        try:
            index = faiss.read_index(str(index_path))
        except RuntimeError as exc:
            raise corrupt(f"{INDEX_FILE} is unreadable ({exc})") from None
        if index.ntotal != count:
            raise corrupt(f"{INDEX_FILE} has {index.ntotal} rows, expected {count}")
        if index.d != dimension:
            raise corrupt(f"{INDEX_FILE} has dimension {index.d}, expected {dimension}")
        if index.metric_type != faiss.METRIC_INNER_PRODUCT:
            raise corrupt(f"{INDEX_FILE} is not an inner-product index")
        return cls(
            index, kb_ids, titles, fingerprint=fingerprint, kb_digest=kb_digest, embedder=embedder
        )

    @classmethod
    def load(
        cls,
        directory: Path | str,
        movies: Sequence[Movie],
        embedder: TextEmbedder,
        *,
        rebuild: bool = True,
    ) -> MovieIndex:
        """Load a saved index; if missing, stale or corrupt, rebuild and save it (or raise)."""
        try:
            return cls.read(directory, movies, embedder)
        except IndexLoadError as exc:
            if not rebuild:
                raise
            if exc.kind == "missing":
                logger.info("no movie index at %s yet; building it", exc.directory)
            else:
                logger.warning("rebuilding the movie index: %s", exc)
        index = cls.build(movies, embedder)
        index.save(directory)
        return index

    def vectors(self) -> np.ndarray:
        """Every indexed vector as an ``(n, d)`` float32 array, row-aligned with `kb_ids`."""
        return np.ascontiguousarray(self._index.reconstruct_n(0, len(self)), dtype=np.float32)

    # --- searching ----------------------------------------------------------------------------

    def search(self, text: str, k: int = 50) -> list[SearchHit]:
        """Return the ``k`` movies whose descriptions are closest to ``text``, best first."""
        if not isinstance(text, str):
            raise TypeError(f"search text must be str, got {type(text).__name__}")
        return self.search_batch([text], k)[0]

    def search_batch(self, texts: Sequence[str], k: int = 50) -> list[list[SearchHit]]:
        """`search` for several texts at once (one embedding batch, one FAISS call)."""
        if isinstance(texts, str):
            raise TypeError("search_batch takes a list of texts, not a single string")
        if not texts:
            return []
        return self.search_vectors(self.embedder.embed(list(texts)), k)

    def search_vectors(self, vectors: np.ndarray, k: int = 50) -> list[list[SearchHit]]:
        """Search with ready query vectors (``(n, d)`` or ``(d,)``, unit length), no embedding."""
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        queries = np.asarray(vectors, dtype=np.float32)
        if queries.ndim == 1:
            queries = queries[None, :]
        if queries.ndim != 2 or queries.shape[1] != self.dimension:
            raise ValueError(
                f"query vectors must have shape (n, {self.dimension}), got {np.shape(vectors)}"
            )
        if not np.isfinite(queries).all():
            raise ValueError("query vectors contain NaN or infinity")
        faiss = _import_faiss()
        k = min(k, len(self))
        with _omp_threads(faiss, _search_threads(len(queries))):
            scores, rows = self._index.search(np.ascontiguousarray(queries), k)
        return self.hits(rows, scores)

    def hits(self, rows: np.ndarray, scores: np.ndarray) -> list[list[SearchHit]]:
        """Turn ranked ``(n, k)`` row ids and scores into `SearchHit` lists (row -1 = no hit)."""
        return [
            [
                SearchHit(
                    kb_id=self.kb_ids[row], title=self.titles[row], score=float(score), rank=rank
                )
                for rank, (row, score) in enumerate(zip(row_ids, row_scores, strict=True), 1)
                if row >= 0
            ]
            for row_ids, row_scores in zip(rows.tolist(), scores.tolist(), strict=True)
        ]


def default_index_dir() -> Path:
    """Where the default index is cached: ``cache_dir()/index``."""
    return cache_dir() / "index"


@lru_cache(maxsize=2)
def _cached_index(directory: Path) -> MovieIndex:
    from rso.data.movies import load_movies

    return MovieIndex.load(directory, load_movies(), get_embedder())


def get_movie_index(directory: Path | str | None = None) -> MovieIndex:
    """Return the shared default index: loaded from the cache, else built and saved there."""
    return _cached_index(Path(directory or default_index_dir()).expanduser().resolve())
