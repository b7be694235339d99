"""Benchmark of the Ray engine against the threaded runner, in the same run.

    .venv/bin/python bench/rollouts_ray.py                  # fast mode, prints a table
    .venv/bin/python bench/rollouts_ray.py --write-results  # also update bench/RESULTS.md
    .venv/bin/python bench/rollouts_ray.py --base-urls URL1,URL2 --model NAME
                                                            # also the LLM mode, one server and
                                                            # the fleet of two, on 2 workers

Fast mode (act seeker, rule experts, uniform Planner, INSPIRED train cases, at most 10 turns):
the threaded runner at concurrency 1 and 4 and a local Ray instance with 2 workers, in interleaved
rounds, then with 1 worker (concurrency 1 each; medians reported), every configuration on the
same episodes after untimed passes that warm the caches of the process (or the actors) playing
them;
all of it twice, the episodes' nodes run by the step engine (the fast mode's default) on the
threads and the actors alike, then by the compiled graphs.
The per-episode overhead of the Ray engine is the time one worker takes beyond the threaded
runner at concurrency 1, per episode (medians of the rounds): both play the same episodes one at
a time in one process, so the difference is scheduling, transfer and writing. The capacity model
of docs/scaling.md is checked against the rows.
Every run goes through `rollouts.runner.run_rollouts`, the code path of `rso rollout`.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results import write_section  # noqa: E402
from bench.rollouts import Row, measure, table  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

SECTION = "Rollouts on Ray"
ENGINE_LABELS = {"direct": "step engine", "graph": "compiled graphs"}
#: Untimed passes of the pool of two over the episodes before any is timed.
WARM_PASSES = 5
#: Targets: 2 workers against the threaded runner, and the engine's overhead per episode.
TARGET_SPEEDUP = 1.6
TARGET_OVERHEAD_MS = 20.0

FAST: dict[str, Any] = {
    "cases": "inspired-train",
    "seeker": "act",
    "experts": "rule",
    "planner": "uniform",
}


#: How episodes' nodes run, on threads and on the actors alike: the step engine (the fast mode's
#: default) and the compiled graphs.
NODE_ENGINES = ("direct", "graph")


def fast_rows(workdir: Path, episodes: int, rounds: int) -> list[Row]:
    """Rounds of, per node engine: threads at concurrency 1 and 4, Ray with 1 and 2 workers."""
    rows = []
    for nodes in NODE_ENGINES:
        threads: dict[str, Any] = {**FAST, "engine": nodes}
        ray: dict[str, Any] = {**FAST, "engine": "ray", "nodes": nodes, "concurrency": 1}
        measure("load", workdir, episodes=episodes, concurrency=1, **threads)
        # Starts Ray and the actors, and warms each actor's caches on the same episodes: each
        # actor keeps its own, and which actor plays an episode changes from run to run, so
        # several passes, until both have played (nearly) every episode.
        for _ in range(WARM_PASSES):
            measure("load", workdir, episodes=episodes, workers=2, **ray)
        # Interleaved rounds: a shared machine's load drifts, and each round sees it alike.
        two, one = [], []
        for _ in range(rounds):
            rows += [
                measure("fast", workdir, episodes=episodes, concurrency=1, **threads),
                measure("fast", workdir, episodes=episodes, concurrency=4, **threads),
            ]
            two.append(measure("fast", workdir, episodes=episodes, workers=2, **ray))
        # One worker: the pool's first actor, warm (the pool shrinks; growing it again would
        # start a cold actor, so the one-worker runs come last).
        for _ in range(rounds):
            one.append(measure("fast", workdir, episodes=episodes, workers=1, **ray))
        rows += [_labelled(row, 2, nodes) for row in two] + [_labelled(r, 1, nodes) for r in one]
    return rows


def llm_rows(workdir: Path, urls: list[str], model: str | None, episodes: int) -> list[Row]:
    """LLM mode on 2 Ray workers (concurrency 2 each) against one server, then the fleet."""
    llm: dict[str, Any] = {
        "cases": "inspired-test",
        "seeker": "llm",
        "experts": "llm",
        "engine": "ray",
        "workers": 2,
        "concurrency": 2,
        "max_turns": 2,
        "rewarder_samples": 2,
        "context": {"model": model} if model else {},
    }
    measure("load", workdir, episodes=4, base_urls=(urls[0],), **llm)
    rows = []
    for fleet in (urls[:1], urls):
        row = measure("llm", workdir, episodes=episodes, base_urls=tuple(fleet), **llm)
        rows.append(_labelled(row, 2, "graph", f", {len(fleet)} server(s)"))
    return rows


def _labelled(row: Row, workers: int, nodes: str, extra: str = "") -> Row:
    return Row(**{**row.__dict__, "engine": f"ray, {workers} worker(s), {nodes}{extra}"})


def capacity(
    workers: int, cores: int, episode_s: float, overhead_s: float, driver_s: float
) -> float:
    """Episodes/s of `workers` CPU-bound workers on `cores` beside a driver (docs/scaling.md).

    Each worker plays an episode in ``episode_s + overhead_s``; all cores together also carry
    the driver's ``driver_s`` of CPU per episode.
    """
    per_episode = episode_s + overhead_s
    return min(workers / per_episode, cores / (per_episode + driver_s))


def verdict(rows: list[Row], nodes: str) -> str:
    """Speed-up, overhead and the capacity model's predictions (medians over the rounds)."""
    fast = [r for r in rows if r.mode == "fast"]
    threaded = {c: [r for r in fast if r.engine == nodes and r.concurrency == c] for c in (1, 4)}
    ray = {w: [r for r in fast if r.engine == f"ray, {w} worker(s), {nodes}"] for w in (1, 2)}
    if not all(threaded.values()) or not all(ray.values()):
        return ""
    rate = {key: statistics.median([r.episodes_per_s for r in group]) for key, group in ray.items()}
    best_threaded = max(statistics.median([r.episodes_per_s for r in g]) for g in threaded.values())
    speedup = rate[2] / best_threaded
    # Same episodes, one at a time, in one process: the difference is the engine's overhead.
    overhead_ms = 1000 * (
        statistics.median([r.seconds / r.episodes for r in ray[1]])
        - statistics.median([t.seconds / t.episodes for t in threaded[1]])
    )
    episode_s = statistics.median([t.seconds / t.episodes for t in threaded[1]])
    cores = os.cpu_count() or 1
    overhead = max(overhead_ms, 0.0)
    # The driver receives, writes and fsyncs every record on a core the workers also need.
    driver_ms = statistics.median([1000 * r.driver_cpu_s / r.episodes for r in ray[2]])
    overhead_met = "met" if overhead_ms <= TARGET_OVERHEAD_MS else "NOT met"
    lines = [
        f"Nodes through the {ENGINE_LABELS[nodes]}, on the threads and on the actors.",
        f"Medians of {len(ray[1])} interleaved rounds. Ray, 2 workers: {rate[2]:.1f} episodes/s "
        f"= {speedup:.2f}x the best threaded runner ({best_threaded:.1f}; target >= "
        f"{TARGET_SPEEDUP}x: {'met' if speedup >= TARGET_SPEEDUP else 'NOT met'}).",
        f"Per-episode overhead of the Ray engine (1 worker against the threaded runner at "
        f"concurrency 1, same episodes, medians): {overhead_ms:.1f} ms (target <= "
        f"{TARGET_OVERHEAD_MS:.0f} ms: {overhead_met}).",
        f"Capacity model (docs/scaling.md), CPU-bound: episodes/s = min(W / (t_ep + o), "
        f"cores / (t_ep + o + d)), t_ep = {1000 * episode_s:.1f} ms, o = {overhead:.1f} ms, "
        f"d = {driver_ms:.1f} ms of the driver's CPU per episode (2 workers), {cores} cores:",
    ]
    for workers, measured in sorted(rate.items()):
        predicted = capacity(workers, cores, episode_s, overhead / 1000, driver_ms / 1000)
        error = (predicted - measured) / measured
        lines.append(
            f"  {workers} worker(s): predicted {predicted:.1f}, measured {measured:.1f} "
            f"episodes/s ({100 * error:+.0f}%)."
        )
    return "\n".join(lines)


def main() -> None:
    """Run the benchmark and print (and optionally record) the table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--fast-episodes", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3, help="Interleaved rounds (median).")
    parser.add_argument("--base-urls", default=None, help="Two /v1 URLs: also the LLM mode.")
    parser.add_argument("--model", default=None, help="Served model name (LLM mode).")
    parser.add_argument("--llm-episodes", type=int, default=8)
    parser.add_argument("--write-results", action="store_true")
    args = parser.parse_args()

    load_at_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="rso-bench-ray-") as tmp:
        rows = fast_rows(Path(tmp), args.fast_episodes, args.rounds)
        print(table(rows), flush=True)
        if args.base_urls:
            urls = [u.strip() for u in args.base_urls.split(",") if u.strip()]
            rows += llm_rows(Path(tmp), urls, args.model, args.llm_episodes)
    rendered = table(rows)
    summary = "\n\n".join(verdict(rows, nodes) for nodes in NODE_ENGINES)
    print(rendered)
    print(summary)
    if args.write_results:
        command = "python bench/rollouts_ray.py " + " ".join(sys.argv[1:])
        write_section(
            SECTION,
            f"Command: `{command.strip()}` on {platform.machine()}, {os.cpu_count()} CPUs, "
            f"load average {load_at_start:.1f} at start (a shared machine). Fast mode = "
            f"act-level seeker + rule experts + uniform Planner, INSPIRED train cases, at most "
            f"10 turns, warm caches; Ray = a local instance, concurrency 1 per worker.\n\n"
            f"{rendered}\n\n{summary}\n",
        )


if __name__ == "__main__":
    main()
