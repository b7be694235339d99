"""FAISS in this process: imported lazily, tuned once, with the OpenMP threads of each search."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

from rso import env

#: Environment variable setting FAISS's OpenMP threads for searches (default 1).
THREADS_ENV: Final = env.FAISS_THREADS.name

_faiss_configured = threading.Event()


def import_faiss() -> Any:
    """Import FAISS and tune it once per process for small exact indexes."""
    import faiss

    if not _faiss_configured.is_set():
        # Score batches of 20+ queries with one matrix product (BLAS) rather than a per-query
        # scan: about 4x faster for a batch of 64 here. (This FAISS build defaults to 128000
        # queries before it switches.)
        faiss.cvar.distance_compute_blas_threshold = 20
        _faiss_configured.set()
    return faiss


def search_threads(n_queries: int = 1) -> int:
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
def omp_threads(faiss: Any, threads: int) -> Iterator[None]:
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
