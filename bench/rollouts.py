"""Benchmark of batch rollouts: the fast simulation mode and the LLM mode at several concurrencies.

    .venv/bin/python bench/rollouts.py                  # both parts, prints a table
    .venv/bin/python bench/rollouts.py --skip-llm       # the fast mode only (no model server)
    .venv/bin/python bench/rollouts.py --write-results  # also update bench/RESULTS.md
    .venv/bin/python bench/rollouts.py --base-url http://127.0.0.1:8000/v1 --model NAME
                                                        # the LLM part against another server

Fast mode: act-level seeker + rule experts + uniform Planner on INSPIRED train cases, 10 turns at
most, through both engines (the direct loop and LangGraph's compiled graphs); data loading is
warmed up first and not timed. LLM mode: LLM seeker, LLM experts and LLM Rewarder against the
embedded SmolLM2-135M server (or --base-url), a few short episodes at concurrency 1, 4 and 8.
Every run goes through `rollouts.runner.run_rollouts`, the code path of `rso rollout`.
"""

from __future__ import annotations

import argparse
import os
import platform
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
    start = time.perf_counter()
    summary = run_rollouts(rollout_config, progress=False)
    seconds = time.perf_counter() - start
    return Row(
        mode=mode,
        engine=summary.engine,
        concurrency=rollout_config.concurrency,
        episodes=summary.ran,
        failed=summary.failed,
        turns=summary.turns,
        seconds=seconds,
        success=summary.success_rate,
    )


def fast_rows(workdir: Path, episodes: int) -> list[Row]:
    """The LLM-free mode: a first pass (cold caches), then both engines with warm caches."""
    common: dict[str, Any] = {"cases": "inspired-train", "seeker": "act", "experts": "rule"}
    # Loads cases, personas, the knowledge base and its vocabulary (not timed).
    measure("load", workdir, episodes=3, concurrency=1, **common)
    return [
        # First pass: every new preference set is ranked once (the ranking cache fills up).
        measure("fast, cold", workdir, episodes=episodes, concurrency=1, engine="direct", **common),
        # The same episodes again: the steady state of RL batches over the same cases.
        measure("fast", workdir, episodes=episodes, concurrency=1, engine="direct", **common),
        measure("fast", workdir, episodes=episodes, concurrency=4, engine="direct", **common),
        measure("fast", workdir, episodes=episodes, concurrency=1, engine="graph", **common),
    ]


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
    fast = [r for r in rows if r.mode.startswith("fast") and r.engine == "direct"]
    verdict = ""
    if fast:
        best = max(r.episodes_per_s for r in fast)
        cold = min(r.episodes_per_s for r in fast)
        verdict = (
            f"Fast mode: {cold:.1f} (first pass) to {best:.1f} episodes/s with the direct engine "
            f"(target >= {TARGET_FAST_EPISODES_PER_S:.0f}: "
            f"{'met' if best >= TARGET_FAST_EPISODES_PER_S else 'NOT met'})."
        )
        print(verdict)
    if args.write_results:
        backend = args.label or (args.base_url or "embedded SmolLM2-135M-Instruct (llama.cpp)")
        command = "python bench/rollouts.py " + " ".join(sys.argv[1:])
        write_section(
            args.section,
            f"Command: `{command.strip()}` on {platform.machine()}, "
            f"{os.cpu_count()} CPUs, load average {load_at_start:.1f} at start (a shared "
            f"machine: LLM figures vary with it); LLM backend: {backend}. Fast mode = "
            f"act-level seeker + rule experts + uniform Planner, INSPIRED train cases, at most "
            f"10 turns; LLM mode = LLM seeker, LLM experts and LLM Rewarder "
            f"({args.rewarder_samples} samples a turn), "
            f"{args.llm_max_turns} turns at most.\n\n{rendered}\n\n{verdict}\n",
        )


if __name__ == "__main__":
    main()
