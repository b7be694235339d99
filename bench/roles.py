"""Benchmark of the LLM roles: seconds per call of each role on fixed INSPIRED-test contexts.

    .venv/bin/python bench/roles.py                     # 20 contexts, embedded model
    .venv/bin/python bench/roles.py --contexts 200 --write-results
    RSO_BASE_URL=http://127.0.0.1:8000/v1 .venv/bin/python bench/roles.py

It runs `rso eval roles` (the same contexts, seed and expert functions, resumable in --out) and
prints each role's wall seconds per call, with its ratio to the fastest role; a role call is one
call of the expert function, retries and post-processing included (the Rewarder's holds all its
samples).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results import write_section  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def speed_table(report: dict[str, Any]) -> str:
    """Return a Markdown table: role, calls, seconds per call, ratio to the fastest role."""
    timed = {
        role: stats
        for role, stats in report["calls"].items()
        if stats["calls"] and stats["seconds_per_call"] is not None
    }
    fastest = min((s["seconds_per_call"] for s in timed.values()), default=None)
    lines = ["| role | calls | s/call | x fastest |", "|---|---:|---:|---:|"]
    for role, stats in sorted(timed.items(), key=lambda item: item[1]["seconds_per_call"]):
        ratio = stats["seconds_per_call"] / fastest if fastest else float("nan")
        lines.append(
            f"| {role} | {stats['calls']} | {stats['seconds_per_call']:.2f} | {ratio:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    """Run the role evaluation and print the speed table."""
    from rollouts.roles import RolesConfig, evaluate_roles

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contexts", type=int, default=20, help="INSPIRED-test contexts")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="records (default: a temp dir)")
    parser.add_argument("--write-results", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="rso-bench-roles-"))
    report = evaluate_roles(
        RolesConfig(out=out, contexts=args.contexts, seed=args.seed),
        notify=lambda line: print(line, file=sys.stderr),
    )
    table = speed_table(report)
    print(table)
    if args.write_results:
        backend = os.environ.get("RSO_BASE_URL") or "embedded SmolLM2-135M"
        command = f"python bench/roles.py --contexts {args.contexts} --seed {args.seed}"
        write_section(
            "LLM roles",
            f"Command: `{command}` ({backend}, 2 CPU cores, no GPU)\n\n{table}\n",
        )


if __name__ == "__main__":
    main()
