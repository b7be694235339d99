"""A small typed FAISS index over the movie knowledge base, cached on disk with a fingerprint.

Every movie's ``doc`` is embedded (unit vectors) into an exact inner-product index, so scores are
cosine similarities. On disk an index is two files: ``movies.faiss`` (written by
``faiss.write_index``, never pickled) and ``movies.meta.json``, a sidecar with the kb ids and titles
in row order, the embedding model id, the knowledge-base fingerprint, where the document vectors
came from and a checksum of the index file. Loading checks all of them: a stale or corrupt index
is rebuilt, never silently used. A rebuild takes the shipped document vectors
(`retrieval.doc_vectors`) when they match the knowledge base and model, else embeds every doc.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal

import numpy as np

from retrieval.doc_vectors import (
    SHIPPED,
    DocumentVectors,
    ShippedVectorsUnusable,
    default_vectors_dir,
    read_shipped_vectors,
)
from retrieval.embedding import TextEmbedder, get_embedder
from retrieval.faiss_runtime import import_faiss, omp_threads, search_threads
from retrieval.fingerprint import FORMAT_VERSION, file_sha256, index_stamp, kb_fingerprint
from rso.data.records import Movie
from rso.jsonio import invalid_key, read_json_object
from rso.paths import cache_dir

if TYPE_CHECKING:
    import faiss

logger = logging.getLogger(__name__)

INDEX_FILE: Final = "movies.faiss"
META_FILE: Final = "movies.meta.json"

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
        documents: DocumentVectors,
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
        self.documents = documents

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
        _check_movies(movies)
        started = time.perf_counter()
        vectors = embedder.embed([m.doc for m in movies])
        logger.info(
            "embedded %d movies in %.1f s (%s)",
            len(movies),
            time.perf_counter() - started,
            embedder.model_id,
        )
        embedded = DocumentVectors("embedded", embedder.precision)
        return cls.from_vectors(movies, embedder, vectors, embedded)

    @classmethod
    def from_vectors(
        cls,
        movies: Sequence[Movie],
        embedder: TextEmbedder,
        vectors: np.ndarray,
        documents: DocumentVectors,
    ) -> MovieIndex:
        """Index ready unit vectors, row i for ``movies[i]``, that came from ``documents``."""
        _check_movies(movies)
        if vectors.shape != (len(movies), embedder.dimension):
            raise ValueError(
                f"got vectors of shape {vectors.shape}, expected "
                f"{(len(movies), embedder.dimension)}"
            )
        index = import_faiss().IndexFlatIP(embedder.dimension)
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        kb_digest = kb_fingerprint(movies)
        return cls(
            index,
            [m.kb_id for m in movies],
            [m.title for m in movies],
            fingerprint=index_stamp(kb_digest, embedder),
            kb_digest=kb_digest,
            embedder=embedder,
            documents=documents,
        )

    @classmethod
    def create(
        cls,
        movies: Sequence[Movie],
        embedder: TextEmbedder,
        shipped: Path | None = None,
        *,
        on_unusable: Callable[[str], None] | None = None,
    ) -> MovieIndex:
        """Index the shipped document vectors if they match, else embed every doc.

        Why shipped vectors that are there do not fit is logged, and passed to ``on_unusable``.
        """
        directory = shipped or default_vectors_dir()
        try:
            vectors = read_shipped_vectors(directory, movies, embedder)
        except ShippedVectorsUnusable as exc:
            if exc.missing:
                logger.info("embedding every movie: %s", exc)
            else:
                logger.warning("embedding every movie: %s", exc)
                if on_unusable is not None:
                    on_unusable(str(exc))
            return cls.build(movies, embedder)
        logger.info("indexing the shipped document vectors from %s", directory)
        return cls.from_vectors(movies, embedder, vectors, SHIPPED)

    def document_vectors(self) -> np.ndarray:
        """Return the indexed document vectors, ``(len(self), dimension)`` float32, row order."""
        return np.ascontiguousarray(self._index.reconstruct_n(0, len(self)), dtype=np.float32)

    def save(self, directory: Path | str) -> Path:
        """Write the index and its sidecar into ``directory`` atomically; returns the directory."""
        faiss = import_faiss()
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
            "documents": self.documents.to_json(),
            "index_sha256": file_sha256(index_tmp),
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
            meta = read_json_object(meta_path)
        except ValueError as exc:
            raise corrupt(str(exc)) from None
        required = {
            "format_version": int,
            "fingerprint": str,
            "kb_fingerprint": str,
            "model_id": str,
            "dimension": int,
            "count": int,
            "documents": dict,
            "index_sha256": str,
            "kb_ids": list,
            "titles": list,
        }
        # The version first: an older layout lacks newer keys, which makes it stale, not corrupt.
        if isinstance(meta.get("format_version"), int) and meta["format_version"] != FORMAT_VERSION:
            raise stale(f"format version {meta['format_version']} != {FORMAT_VERSION}")
        if (key := invalid_key(meta, required)) is not None:
            raise corrupt(f"{META_FILE} lacks a valid {key!r}")

        # Staleness first, naming what changed, so the log says why a rebuild happens.
        kb_digest = kb_fingerprint(movies)
        if meta["kb_fingerprint"] != kb_digest:
            raise stale("the knowledge base changed since it was built")
        if meta["model_id"] != embedder.model_id:
            raise stale(f"built with {meta['model_id']}, now using {embedder.model_id}")
        fingerprint = index_stamp(kb_digest, embedder)
        if meta["fingerprint"] != fingerprint:
            raise stale("fingerprint mismatch")

        documents = DocumentVectors.from_json(meta["documents"])
        if documents is None:
            raise corrupt(f"{META_FILE} has an invalid 'documents' entry")
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
        if file_sha256(index_path) != meta["index_sha256"]:
            raise corrupt(f"{INDEX_FILE} does not match its recorded checksum")
        faiss = import_faiss()
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
            index,
            kb_ids,
            titles,
            fingerprint=fingerprint,
            kb_digest=kb_digest,
            embedder=embedder,
            documents=documents,
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
        index = cls.create(movies, embedder)
        index.save(directory)
        return index

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
        faiss = import_faiss()
        k = min(k, len(self))
        with omp_threads(faiss, search_threads(len(queries))):
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


def _check_movies(movies: Sequence[Movie]) -> None:
    if not movies:
        raise ValueError("cannot build an index over an empty knowledge base")
    ids = [m.kb_id for m in movies]
    if len(set(ids)) != len(ids):
        duplicate = next(i for i in ids if ids.count(i) > 1)
        raise ValueError(f"duplicate kb_id {duplicate!r} in the knowledge base")


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
