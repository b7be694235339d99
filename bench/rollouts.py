"""Benchmark of batch rollouts: the fast simulation mode and the LLM mode at several concurrencies.

    .venv/bin/python bench/rollouts.py                  # both parts, prints a table
    .venv/bin/python bench/rollouts.py --skip-llm       # the fast mode only (no model server)
    .venv/bin/python bench/rollouts.py --write-results  # also update bench/RESULTS.md
    .venv/bin/python bench/rollouts.py --base-url http://127.0.0.1:8000/v1 --model NAME
                                                        # the LLM part against another server

    .venv/bin/python bench/rollouts.py --skip-llm --baseline ../old-checkout
                                                        # also the fast mode of another checkout
                                                        # (its own bench), in the same run

Fast mode: act-level seeker + rule experts + uniform Planner on INSPIRED train cases, 10 turns at
most, through the fast mode's default engine (the step engine, `graph.step_engine`) and through
the compiled episode graph (the recommender graph a subgraph of it); data loading is warmed up
first and not timed. With ``--baseline DIR`` the checkout in DIR runs its own
``bench/rollouts.py --skip-llm`` first, on the same machine at the same time, and the ratio of the
best fast-mode rates is printed. LLM mode: LLM seeker, LLM experts and LLM Rewarder against the
embedded SmolLM2-135M server (or --base-url), a few short episodes at concurrency 1, 4 and 8.
Every run goes through `rollouts.runner.run_rollouts`, the code path of `rso rollout`. The Ray
engine against this threaded runner, in the same run, is `bench/rollouts_ray.py` (its own
section of bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results import write_section  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

#: The fast mode's target on a 2-core machine.
TARGET_FAST_EPISODES_PER_S = 50.0
SECTION = "Rollouts"


@dataclass(frozen=True)
class Row:
    """One measured configuration."""

    mode: str
    engine: str
    concurrency: int
    episodes: int
    failed: int
    turns: int
    seconds: float
    success: float
    #: CPU seconds of this (the driver's) process during the run, all its threads.
    driver_cpu_s: float = 0.0

    @property
    def episodes_per_s(self) -> float:
        """Episodes per second."""
        return self.episodes / self.seconds

    @property
    def turns_per_s(self) -> float:
        """Recommender turns per second."""
        return self.turns / self.seconds


def measure(mode: str, workdir: Path, **config: Any) -> Row:
    """Run one batch into a fresh directory and time it."""
    from rollouts.config import RolloutConfig
    from rollouts.runner import run_rollouts

    name = f"{mode}-{config.get('engine')}-c{config.get('concurrency')}-{time.monotonic_ns()}"
    rollout_config = RolloutConfig(out=workdir / name, **config)
    start, cpu_start = time.perf_counter(), time.process_time()
    summary = run_rollouts(rollout_config, progress=False)
    seconds = time.perf_counter() - start
    driver_cpu_s = time.process_time() - cpu_start
    return Row(
        mode=mode,
        engine=summary.engine,
        concurrency=rollout_config.concurrency,
        episodes=summary.ran,
        failed=summary.failed,
        turns=summary.turns,
        seconds=seconds,
        success=summary.success_rate,
        driver_cpu_s=driver_cpu_s,
    )


def fast_rows(workdir: Path, episodes: int) -> list[Row]:
    """The LLM-free mode: a first pass (cold caches), then again with warm caches."""
    common: dict[str, Any] = {
        "cases": "inspired-train",
        "seeker": "act",
        "experts": "rule",
        "planner": "uniform",
    }
    # Loads cases, personas, the knowledge base and its vocabulary (not timed).
    measure("load", workdir, episodes=3, concurrency=1, **common)
    return [
        # First pass: every new dialogue and preference set is read and ranked once.
        measure("fast, cold", workdir, episodes=episodes, concurrency=1, **common),
        # The same episodes again: the steady state of RL batches over the same cases, through
        # the step engine (the fast mode's default) and through the compiled graphs.
        measure("fast", workdir, episodes=episodes, concurrency=1, **common),
        measure("fast", workdir, episodes=episodes, concurrency=4, **common),
        measure("fast", workdir, episodes=episodes, concurrency=1, engine="graph", **common),
        measure("fast", workdir, episodes=episodes, concurrency=4, engine="graph", **common),
    ]


def baseline_rows(checkout: Path, episodes: int) -> list[Row]:
    """Fast-mode rows of another checkout, measured by its own bench/rollouts.py."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    command = [sys.executable, "bench/rollouts.py", "--skip-llm", "--fast-episodes", str(episodes)]
    printed = subprocess.run(
        command, cwd=checkout, env=env, capture_output=True, text=True, check=True
    ).stdout
    rows = []
    for line in printed.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 11 and cells[0].startswith("fast") and cells[2].isdigit():
            mode, engine, concurrency, count, failed, turns, seconds = cells[:7]
            row = Row(
                mode=f"baseline {mode}",
                engine=engine,
                concurrency=int(concurrency),
                episodes=int(count),
                failed=int(failed),
                turns=int(turns),
                seconds=float(seconds),
                success=float(cells[10]),
            )
            if row not in rows:  # the bench prints its table more than once
                rows.append(row)
    if not rows:
        raise RuntimeError(f"no fast-mode rows in the baseline's output:\n{printed}")
    return rows


def llm_rows(
    workdir: Path,
    episodes: int,
    max_turns: int,
    samples: int,
    concurrencies: list[int],
    context: dict[str, Any],
) -> list[Row]:
    """LLM seeker + LLM experts + LLM Rewarder at each concurrency (after an untimed warm-up)."""
    # Starts the embedded server and loads the encoder and the FAISS index.
    measure(
        "load",
        workdir,
        cases="inspired-test",
        seeker="llm",
        experts="llm",
        episodes=1,
        max_turns=1,
        rewarder_samples=1,
        concurrency=1,
        context=context,
    )
    rows = []
    for concurrency in concurrencies:
        rows.append(
            measure(
                "llm",
                workdir,
                cases="inspired-test",
                seeker="llm",
                experts="llm",
                episodes=max(episodes, concurrency),
                max_turns=max_turns,
                rewarder_samples=samples,
                concurrency=concurrency,
                context=context,
            )
        )
    return rows


def fast_verdict(rows: list[Row]) -> str:
    """The fast mode's range against the target, and its ratio to each baseline engine."""
    fast = [r for r in rows if r.mode.startswith("fast") and r.engine != "graph"]
    if not fast:
        return ""
    best = max(r.episodes_per_s for r in fast)
    cold = min(r.episodes_per_s for r in fast)
    verdict = (
        f"Fast mode: {cold:.1f} (first pass) to {best:.1f} episodes/s through the default "
        f"engine ({fast[0].engine}) (target >= {TARGET_FAST_EPISODES_PER_S:.0f}: "
        f"{'met' if best >= TARGET_FAST_EPISODES_PER_S else 'NOT met'})."
    )
    graph = [r.episodes_per_s for r in rows if r.mode == "fast" and r.engine == "graph"]
    if graph:
        verdict += (
            f" Through the compiled graphs: {max(graph):.1f} episodes/s; the default engine "
            f"{best / max(graph):.2f}x that."
        )
    baseline = [r for r in rows if r.mode.startswith("baseline")]
    for engine in sorted({r.engine for r in baseline}):
        then = max(r.episodes_per_s for r in baseline if r.engine == engine)
        verdict += f" Baseline {engine} engine {then:.1f} episodes/s: ratio {best / then:.2f}."
    return verdict


def table(rows: list[Row]) -> str:
    """The rows as a Markdown table."""
    lines = [
        "| mode | engine | concurrency | episodes | failed | turns | seconds | episodes/s "
        "| episodes/min | turns/s | success |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.mode} | {r.engine} | {r.concurrency} | {r.episodes} | {r.failed} | {r.turns} "
            f"| {r.seconds:.1f} | {_rate(r.episodes_per_s)} | {_rate(60 * r.episodes_per_s)} "
            f"| {_rate(r.turns_per_s)} | {r.success:.2f} |"
        )
    return "\n".join(lines)


def _rate(value: float) -> str:
    # Three significant digits without scientific notation (0.0213, 2.13, 213, 2130).
    return f"{value:.0f}" if value >= 100 else f"{value:.3g}"


def main() -> None:
    """Run the benchmark and print (and optionally record) the table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--fast-episodes", type=int, default=400)
    parser.add_argument("--skip-llm", action="store_true", help="Fast mode only.")
    parser.add_argument("--skip-fast", action="store_true", help="LLM mode only.")
    parser.add_argument(
        "--llm-episodes", type=int, default=2, help="Episodes per level (at least the concurrency)."
    )
    parser.add_argument("--llm-max-turns", type=int, default=1)
    parser.add_argument(
        "--rewarder-samples", type=int, default=2, help="Rewarder samples per turn (method: 10)."
    )
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--base-url", default=None, help="OpenAI-compatible /v1 URL.")
    parser.add_argument("--model", default=None, help="Served model name.")
    parser.add_argument("--label", default=None, help="Backend label for the results section.")
    parser.add_argument(
        "--baseline",
        type=Path,
        default=None,
        help="Another checkout whose fast mode runs first, for a ratio measured in the same run.",
    )
    parser.add_argument(
        "--baseline-label", default=None, help="What the baseline checkout is, for the results."
    )
    parser.add_argument("--write-results", action="store_true")
    parser.add_argument(
        "--section", default=SECTION, help="Heading of the section written to bench/RESULTS.md."
    )
    args = parser.parse_args()

    load_at_start = os.getloadavg()[0]
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="rso-bench-") as tmp:
        workdir = Path(tmp)
        if not args.skip_fast:
            if args.baseline is not None:
                rows += baseline_rows(args.baseline.resolve(), args.fast_episodes)
            rows += fast_rows(workdir, args.fast_episodes)
            print(table(rows), flush=True)
        if not args.skip_llm:
            context = {
                k: v for k, v in {"base_url": args.base_url, "model": args.model}.items() if v
            }
            rows += llm_rows(
                workdir,
                args.llm_episodes,
                args.llm_max_turns,
                args.rewarder_samples,
                args.concurrency,
                context,
            )
    rendered = table(rows)
    print(rendered)
    verdict = fast_verdict(rows)
    if verdict:
        print(verdict)
    if args.write_results:
        backend = args.label or (args.base_url or "embedded SmolLM2-135M-Instruct (llama.cpp)")
        command = "python bench/rollouts.py " + " ".join(sys.argv[1:])
        baseline = ""
        if args.baseline is not None:
            baseline = (
                f" Baseline rows: the fast mode of the checkout in {args.baseline} "
                f"({args.baseline_label or 'unlabelled'}), run by its own bench first."
            )
        write_section(
            args.section,
            f"Command: `{command.strip()}` on {platform.machine()}, "
            f"{os.cpu_count()} CPUs, load average {load_at_start:.1f} at start (a shared "
            f"machine: LLM figures vary with it); LLM backend: {backend}. Fast mode = "
            f"act-level seeker + rule experts + uniform Planner, INSPIRED train cases, at most "
            f"10 turns; LLM mode = LLM seeker, LLM experts and LLM Rewarder "
            f"({args.rewarder_samples} samples a turn), "
            f"{args.llm_max_turns} turns at most.{baseline}\n\n{rendered}\n\n{verdict}\n",
        )


if __name__ == "__main__":
    main()
