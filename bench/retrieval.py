"""Benchmark the movie index: build, cached load, query latency, FAISS vs numpy brute force, memory.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/retrieval.py [--build-repeats 3] [--repeats 5]

Everything runs in one process on the full knowledge base, in a temporary cache (the project
cache is left alone). FAISS and the numpy baseline are timed interleaved, repetition by
repetition, so that a busy machine slows both alike. Prints a Markdown table (and --json FILE
writes the raw figures).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from retrieval.embedding import EmbeddingSettings, SentenceEmbedder  # noqa: E402
from retrieval.index import MovieIndex  # noqa: E402
from rso.data.movies import load_movies  # noqa: E402
from rso.data.records import Movie  # noqa: E402


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def make_queries(movies: list[Movie], count: int, seed: int) -> list[str]:
    """Realistic query texts: seeker-like requests built from KB genres, plots and titles."""
    rng = random.Random(seed)
    with_plot = [m for m in movies if m.plot and m.genres]
    out = []
    for n in range(count):
        movie = rng.choice(with_plot)
        kind = n % 3
        if kind == 0:
            out.append(f"I'd like a {movie.genres[0]} movie. {movie.plot.split('.')[0]}.")
        elif kind == 1:
            out.append(f"Have you seen {movie.title}? I loved it, something similar please.")
        else:
            words = movie.plot.split()
            out.append(" ".join(words[: max(6, len(words) // 2)]))
    return out


def numpy_search(matrix: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Brute force: one matrix product, argpartition for the top k, then sort those k."""
    scores = np.atleast_2d(queries) @ matrix.T
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1)
    rows = np.take_along_axis(top, order, axis=1)
    return rows, np.take_along_axis(scores, rows, axis=1)


def cpu_work_probe(movies: list[Movie], count: int, seed: int) -> dict[str, float]:
    """Single-thread CPU seconds per doc, per precision: unlike wall time, immune to other load."""
    import torch

    docs = [m.doc for m in movies]
    random.Random(seed).shuffle(docs)
    docs = docs[:count]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    out = {}
    try:
        for precision in ("bfloat16", "float32"):
            probe = SentenceEmbedder(EmbeddingSettings.from_env(precision=precision))
            probe.embed(["warm up"])
            before = time.process_time()
            probe.embed(docs)
            out[precision] = (time.process_time() - before) / len(docs)
    finally:
        torch.set_num_threads(threads)
    return out


def _torch_threads() -> int:
    import torch

    return int(torch.get_num_threads())


def _faiss_threads() -> int:
    from retrieval.faiss_runtime import search_threads

    return search_threads()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-repeats", type=int, default=3, help="full index builds to time")
    parser.add_argument("--load-repeats", type=int, default=20, help="cached loads to time")
    parser.add_argument("--repeats", type=int, default=5, help="passes over the query set")
    parser.add_argument("--queries", type=int, default=200, help="query texts per pass")
    parser.add_argument("--batch", type=int, default=64, help="queries per batched search")
    parser.add_argument("-k", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--probe-docs", type=int, default=512, help="docs for the 1-thread CPU probe (0: skip)"
    )
    parser.add_argument("--limit", type=int, default=None, help="first N movies only (smoke test)")
    parser.add_argument("--json", type=Path, default=None, help="also write raw figures here")
    args = parser.parse_args()

    load_before = os.getloadavg()
    figures: dict[str, Any] = {"args": vars(args) | {"json": str(args.json)}}
    kb_seconds, movies = timed(load_movies)
    movies = movies[: args.limit] if args.limit else movies
    embedder = SentenceEmbedder(EmbeddingSettings.from_env())
    model_seconds, _ = timed(lambda: embedder.embed(["warm up"]))
    rss_model = peak_rss_mb()

    build_times, build_cpu = [], []
    index: MovieIndex | None = None
    for _ in range(args.build_repeats):
        cpu_before = time.process_time()
        seconds, index = timed(lambda: MovieIndex.build(movies, embedder))
        build_times.append(seconds)
        # CPU seconds over all threads: on a shared machine wall time also counts waiting.
        build_cpu.append(time.process_time() - cpu_before)
    assert index is not None
    built: MovieIndex = index
    rss_build = peak_rss_mb()

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "index"
        save_seconds, _ = timed(lambda: built.save(directory))
        # Cold: a new embedder must hash the model files to check the fingerprint.
        cold_seconds, _ = timed(
            lambda: MovieIndex.read(directory, movies, SentenceEmbedder(embedder.settings))
        )
        tracemalloc.start()
        load_times = []
        for _ in range(args.load_repeats):
            seconds, loaded = timed(lambda: MovieIndex.read(directory, movies, embedder))
            load_times.append(seconds)
        load_traced_peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        with_kb_times = []
        for _ in range(min(5, args.load_repeats)):
            seconds, _ = timed(
                lambda: MovieIndex.read(directory, load_movies()[: len(movies)], embedder)  # noqa: B023
            )
            with_kb_times.append(seconds)
    index = loaded

    queries = make_queries(movies, args.queries, args.seed)
    vectors = embedder.embed(queries)
    matrix = index.document_vectors()  # the indexed vectors, for numpy
    k, batch = args.k, args.batch

    # Same answers? (ties aside, FAISS and numpy must agree on the top k.)
    faiss_ids = [
        [index.kb_ids.index(h.kb_id) for h in hits]
        for hits in index.search_vectors(vectors[:20], k)
    ]
    numpy_ids, _ = numpy_search(matrix, vectors[:20], k)
    agreement = float(
        np.mean(
            [len(set(a) & set(b.tolist())) / k for a, b in zip(faiss_ids, numpy_ids, strict=True)]
        )
    )

    single_embed, single_faiss, single_numpy = [], [], []
    batch_embed, batch_faiss, batch_numpy = [], [], []
    for _ in range(args.repeats):
        for n, text in enumerate(queries):
            single_embed.append(timed(lambda: index.search(text, k))[0])  # noqa: B023
            query = vectors[n : n + 1]
            single_faiss.append(timed(lambda: index.search_vectors(query, k))[0])  # noqa: B023
            single_numpy.append(timed(lambda: index.hits(*numpy_search(matrix, query, k)))[0])  # noqa: B023
        for start in range(0, len(queries) - batch + 1, batch):
            texts, block = queries[start : start + batch], vectors[start : start + batch]
            batch_embed.append(timed(lambda: index.search_batch(texts, k))[0])  # noqa: B023
            batch_faiss.append(timed(lambda: index.search_vectors(block, k))[0])  # noqa: B023
            batch_numpy.append(timed(lambda: index.hits(*numpy_search(matrix, block, k)))[0])  # noqa: B023
    rss_end = peak_rss_mb()
    load_after = os.getloadavg()
    probe = cpu_work_probe(movies, args.probe_docs, args.seed) if args.probe_docs else {}

    ms = 1e3
    median_build = statistics.median(build_times)
    rows = [
        ("knowledge base parse (load_movies)", f"{kb_seconds:.2f} s", f"{len(movies):,} movies"),
        ("embedding model load + first text", f"{model_seconds:.2f} s", embedder.model_id),
        (
            f"full index build (median of {args.build_repeats})",
            f"{median_build:.1f} s",
            f"{len(movies) / median_build:,.0f} docs/s; runs: "
            + ", ".join(f"{t:.1f}" for t in build_times)
            + f"; CPU time (all threads) median {statistics.median(build_cpu):.1f} s",
        ),
        ("save (write_index + sidecar)", f"{save_seconds * ms:.0f} ms", ""),
        ("cached load, cold (hashes model files)", f"{cold_seconds * ms:.0f} ms", ""),
        (
            f"cached load, warm (median of {args.load_repeats})",
            f"{statistics.median(load_times) * ms:.0f} ms",
            f"max {max(load_times) * ms:.0f} ms",
        ),
        (
            "cached load incl. KB parse (median)",
            f"{statistics.median(with_kb_times) * ms:.0f} ms",
            "",
        ),
    ]
    latency_rows = [
        ("single query, embed + search", single_embed, 1),
        ("single query, FAISS search only", single_faiss, 1),
        ("single query, numpy brute force", single_numpy, 1),
        (f"batch of {batch}, embed + search", batch_embed, batch),
        (f"batch of {batch}, FAISS search only", batch_faiss, batch),
        (f"batch of {batch}, numpy brute force", batch_numpy, batch),
    ]
    print(f"# Retrieval benchmark ({platform.machine()}, {os.cpu_count()} CPUs, k={k})\n")
    print(
        f"load average (1 min) before {load_before[0]:.2f}, after {load_after[0]:.2f}; "
        f"torch threads {_torch_threads()}, FAISS search threads {_faiss_threads()}\n"
    )
    print("| measure | value | notes |\n|---|---|---|")
    for name, value, note in rows:
        print(f"| {name} | {value} | {note} |")
    print(f"\n| search (k={k}) | p50 | p99 | per query (p50) | samples |")
    print("|---|---|---|---|---|")
    for name, values, size in latency_rows:
        p50, p99 = pct(values, 50) * ms, pct(values, 99) * ms
        print(f"| {name} | {p50:.3f} ms | {p99:.3f} ms | {p50 / size:.3f} ms | {len(values)} |")
    ratio_single = pct(single_numpy, 50) / pct(single_faiss, 50)
    ratio_batch = pct(batch_numpy, 50) / pct(batch_faiss, 50)
    print(
        f"\nnumpy/FAISS time ratio (p50; > 1 means FAISS is faster): single {ratio_single:.2f}, "
        f"batch {ratio_batch:.2f}; top-{k} agreement FAISS vs numpy {agreement:.3f}"
    )
    print(
        f"peak RSS: after model load {rss_model:.0f} MB, after builds {rss_build:.0f} MB, "
        f"at end {rss_end:.0f} MB; traced Python/numpy peak while loading the index "
        f"{load_traced_peak:.1f} MB"
    )
    for precision, per_doc in probe.items():
        print(
            f"embedding CPU work, 1 thread, {precision}: {per_doc * 1e3:.1f} ms/doc = "
            f"{per_doc * len(movies):.0f} CPU-s for the full KB ({args.probe_docs} docs sampled)"
        )
    figures.update(
        cpu_probe_seconds_per_doc=probe,
        kb_seconds=kb_seconds,
        model_seconds=model_seconds,
        build_seconds=build_times,
        build_cpu_seconds=build_cpu,
        save_seconds=save_seconds,
        cold_load_seconds=cold_seconds,
        load_seconds=load_times,
        load_with_kb_seconds=with_kb_times,
        latency_ms={
            name: {"p50": pct(v, 50) * ms, "p99": pct(v, 99) * ms, "n": len(v)}
            for name, v, _ in latency_rows
        },
        ratio_single=ratio_single,
        ratio_batch=ratio_batch,
        agreement=agreement,
        peak_rss_mb={"model": rss_model, "build": rss_build, "end": rss_end},
        load_traced_peak_mb=load_traced_peak,
        load_average={"before": load_before, "after": load_after},
        model_id=embedder.model_id,
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
