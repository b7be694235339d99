"""Benchmark of the RL-evidence experiment's wall time (target: 20 minutes on a 2-core machine).

    .venv/bin/python bench/evidence.py                  # one repeat, prints a table
    .venv/bin/python bench/evidence.py --repeats 2 --write-results

Each repeat times, in the same process and on the same machine state:
- the baseline: one `rso train rl` run at the experiment's size (10 updates x 100 episodes from
  models/planner-sft, fast simulation, no evaluation);
- the whole experiment as `rso experiment rl-evidence` runs it by default: 3 seeds x betas 0.01
  and 0, greedy evaluations under both ending rules, and the controlled arms (betas 0.1, 0.01,
  0.001 and 0 on the same logged rollouts).
The table gives medians over the repeats and the experiment's time in baseline runs.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results import write_section  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

TARGET_S = 20 * 60


def one_repeat(workdir: Path, seeds: tuple[int, ...]) -> tuple[float, float]:
    """Return (seconds of one RL run, seconds of the whole experiment)."""
    from rl.evidence import run_rl_evidence
    from rl.evidence_config import EvidenceConfig
    from rl.reinforce import ReinforceTrainer
    from rl.reinforce_config import RLConfig

    rl = RLConfig(progress=False)
    start = time.perf_counter()
    ReinforceTrainer(replace(rl, eval_cases=None, out=workdir / "baseline")).run()
    baseline = time.perf_counter() - start
    config = EvidenceConfig(
        rl=rl, seeds=seeds, eval_end_on=("reward", "accept"), out=workdir / "evidence"
    )
    start = time.perf_counter()
    run_rl_evidence(config)
    return baseline, time.perf_counter() - start


def main() -> None:
    """Run the benchmark and print (and optionally record) the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--seeds", default="0,1,2", help="Comma-separated seeds.")
    parser.add_argument("--write-results", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()
    seeds = tuple(int(s) for s in args.seeds.split(","))
    load_at_start = os.getloadavg()[0]
    baselines, totals = [], []
    for repeat in range(args.repeats):
        with tempfile.TemporaryDirectory(prefix="rso-bench-evidence-") as tmp:
            baseline, total = one_repeat(Path(tmp), seeds)
        baselines.append(baseline)
        totals.append(total)
        print(f"repeat {repeat + 1}: one RL run {baseline:.0f} s, experiment {total:.0f} s")
    base, total = statistics.median(baselines), statistics.median(totals)
    runs = ", ".join(f"{t:.0f}" for t in totals)
    rendered = "\n".join(
        [
            "| measure | median | in baseline runs | target |",
            "|---|---:|---:|---|",
            f"| one RL run, 10 x 100 episodes (baseline) | {base:.0f} s | 1.0 | |",
            f"| RL-evidence experiment, seeds {args.seeds} (runs: {runs} s) | {total:.0f} s "
            f"| {total / base:.1f} | <= {TARGET_S / 60:.0f} min: "
            f"{'met' if total <= TARGET_S else 'NOT met'} |",
        ]
    )
    print(rendered)
    if args.write_results:
        command = "python bench/evidence.py " + " ".join(sys.argv[1:])
        write_section(
            "RL evidence run",
            f"Command: `{command.strip()}` on {platform.machine()}, {os.cpu_count()} CPUs, "
            f"load average {load_at_start:.1f} at start; medians of {args.repeats} repeat(s). "
            "The experiment is `rso experiment rl-evidence` with its defaults (betas 0.01 and "
            "0, evaluations under both ending rules, controlled arms at betas 0.1, 0.01, 0.001 "
            "and 0); the baseline is one "
            "`rso train rl` run of the same size, timed in the same repeat.\n\n"
            f"{rendered}\n",
        )


if __name__ == "__main__":
    main()
