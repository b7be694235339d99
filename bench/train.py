"""Planner training throughput: SFT samples/s per path, and RL updates/s from logged RL runs.

Usage: python bench/train.py [--part all|sft|rl] [--samples 96] [--repeats 3] [--max-length 128]
       [--top-layers 1] [--rl-updates 3] [--rl-episodes 50]

Each path trains on the same fixed INSPIRED training samples. "first epoch" includes computing the
cached features (the frozen path's embeddings, the partial path's frozen lower blocks); "later
epochs" reuse them. Figures are medians over the repeats; CPU seconds are reported beside wall
time because the machine may be shared. Appends a "Training" section to bench/RESULTS.md.

RL: short runs of `rso train rl` (fast simulation, from the SFT checkpoint, no evaluation) on the
head-only path and the top-block path; the figures are read back from each run's logged
`rl_summary.json` (per-update wall time, split into rollouts and the policy update). Each on-policy
run is followed by an offline run over its own logged rollouts (`--from-runs`), which measures the
update alone. Medians over updates and repeats; the first update of a run (cold feature cache) is
reported apart. Replaces the "RL updates/s" part of the Training section.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.results import RESULTS, read_results, replace_marked  # noqa: E402
from policy.network import PlannerConfig, PlannerPolicy
from rl.features import set_trainable
from rl.reinforce import SUMMARY_FILE
from rl.sft import make_optimizer, train_epoch
from rl.sft_config import SFTConfig
from rl.sft_data import encode_samples, load_split_samples
from rl.sft_features import TrainingFeatures

START, END = "<!-- training-sft:start -->", "<!-- training-sft:end -->"
RL_START, RL_END = "<!-- training-rl:start -->", "<!-- training-rl:end -->"
RL_PLACEHOLDER = """### RL updates/s

_To be filled from logged RL runs by the RL loop (`rso train rl`): episodes per update, updates/s,
and the share of time spent in rollouts versus Planner updates._
"""


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(start: tuple[float, float]) -> tuple[float, float]:
    return time.perf_counter() - start[0], time.process_time() - start[1]


def bench_path(
    mode: str, texts: list[str], labels: list[int], base: SFTConfig, repeats: int
) -> dict[str, float]:
    config = replace(base, mode=mode)  # type: ignore[arg-type]
    policy = PlannerPolicy(
        PlannerConfig(
            backbone=config.backbone, max_length=config.max_length, pooling=config.pooling
        )
    )
    set_trainable(policy, config.trained_blocks())
    label_tensor = torch.tensor(labels)
    order = list(range(len(texts)))
    first: list[tuple[float, float]] = []
    later: list[tuple[float, float]] = []
    for _ in range(repeats):
        optimizer = make_optimizer(policy, config)
        start = _clock()
        features = TrainingFeatures(policy, config, texts, "bench")
        train_epoch(features, label_tensor, order, optimizer, None, None, config.batch_size)
        first.append(_since(start))
        start = _clock()
        train_epoch(features, label_tensor, order, optimizer, None, None, config.batch_size)
        later.append(_since(start))
    n = len(texts)
    return {
        "trainable": sum(p.numel() for p in policy.parameters() if p.requires_grad),
        "first_sps": n / statistics.median(w for w, _ in first),
        "later_sps": n / statistics.median(w for w, _ in later),
        "first_cpu_per_100": 100 * statistics.median(c for _, c in first) / n,
        "later_cpu_per_100": 100 * statistics.median(c for _, c in later) / n,
    }


def sft_section(args: argparse.Namespace) -> None:
    """Measure the SFT paths and write their table into the Training section."""
    torch.manual_seed(0)
    texts, labels = encode_samples(load_split_samples("train", args.samples))
    base = SFTConfig(
        max_length=args.max_length,
        top_layers=args.top_layers,
        batch_size=args.batch_size,
        progress=False,
        cache_embeddings=False,
    )
    load_before = os.getloadavg()[0]
    rows = {
        mode: bench_path(mode, texts, labels, base, args.repeats)
        for mode in ("frozen", "partial", "full")
    }
    full = rows["full"]
    header = (
        "| path | trainable params | first epoch samples/s | later epochs samples/s "
        "| CPU s/100 samples (first / later) | later-epoch speed-up vs full |\n"
        "|---|---:|---:|---:|---:|---:|\n"
    )
    names = {
        "frozen": "frozen encoder (head only)",
        "partial": f"partial (top {args.top_layers} block(s) + head)",
        "full": "full fine-tune",
    }
    body = "".join(
        f"| {names[m]} | {r['trainable'] / 1e6:.2f} M | {r['first_sps']:.1f} "
        f"| {r['later_sps']:.1f} "
        f"| {r['first_cpu_per_100']:.1f} / {r['later_cpu_per_100']:.1f} "
        f"| {r['later_sps'] / full['later_sps']:.1f}x |\n"
        for m, r in rows.items()
    )
    ratio = rows["frozen"]["first_sps"] / full["first_sps"]
    command = (
        f"python bench/train.py --part sft --samples {args.samples} --repeats {args.repeats} "
        f"--max-length {args.max_length} --top-layers {args.top_layers} "
        f"--batch-size {args.batch_size}"
    )
    section = (
        f"{START}\n### SFT throughput\n\n`{command}`\n\n"
        f"{args.samples} INSPIRED training samples, {args.max_length} tokens, "
        f"batch {args.batch_size}, medians of {args.repeats} runs; {os.cpu_count()} CPU cores "
        f"({platform.processor() or 'cpu'}), "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average "
        f"{load_before:.1f} at start. Frozen vs full, first epoch included: {ratio:.1f}x.\n\n"
        f"{header}{body}{END}\n"
    )
    print(header + body, end="")
    print(f"frozen / full samples/s (first epoch): {ratio:.1f}x")
    if args.no_append:
        return
    text = read_results()
    # Re-running replaces only this table; the rest of the file (other benches, the RL figures)
    # stays as it is.
    replaced = replace_marked(text, START, END, section)
    if replaced is None:
        replaced = text.rstrip("\n") + "\n\n## Training\n\n" + section + "\n" + RL_PLACEHOLDER
    RESULTS.write_text(replaced, encoding="utf-8")
    print(f"appended to {RESULTS}")


def _run_rate(run: Path) -> float:
    """Updates per second of a whole logged run, checkpoints and curve plots included."""
    summary = json.loads((run / SUMMARY_FILE).read_text(encoding="utf-8"))
    return float(summary["updates"]) / float(summary["seconds"])


def _logged_updates(run: Path) -> list[dict[str, float]]:
    """Per-update timings of a finished RL run, read from its rl_summary.json."""
    summary = json.loads((run / SUMMARY_FILE).read_text(encoding="utf-8"))
    return [
        {
            "seconds": float(row["seconds"]),
            "rollout_seconds": float(row["rollout_seconds"]),
            "update_seconds": float(row["update_seconds"]),
            "episodes": float(row["episodes"]),
            "steps": float(row["steps"]),
        }
        for row in summary["history"]
    ]


def _median(rows: list[dict[str, float]], key: str) -> float:
    return statistics.median(row[key] for row in rows)


def rl_runs(args: argparse.Namespace, work: Path) -> dict[str, dict[str, Any]]:
    """Run the short on-policy and offline RL runs of both paths; return their logged timings."""
    from rl.reinforce import train_rl
    from rl.reinforce_config import RLConfig

    results: dict[str, dict[str, Any]] = {}
    for path in ("head", "top"):
        for source in ("rollouts", "logged"):
            results[f"{path}/{source}"] = {"first": [], "later": [], "runs": []}
        for repeat in range(args.repeats):
            base = RLConfig(
                updates=args.rl_updates,
                episodes_per_update=args.rl_episodes,
                train=path,
                top_layers=args.top_layers,
                seed=repeat,
                eval_cases=None,
                concurrency=args.rl_concurrency,
                progress=False,
            )
            online = work / f"{path}-{repeat}"
            train_rl(replace(base, out=online))
            offline = work / f"{path}-{repeat}-logged"
            # The same policy start, learning from the on-policy run's logged rollouts.
            train_rl(
                replace(base, out=offline, from_runs=tuple(sorted((online / "rollouts").iterdir())))
            )
            for source, run in (("rollouts", online), ("logged", offline)):
                rows = _logged_updates(run)
                results[f"{path}/{source}"]["first"].append(rows[0])
                results[f"{path}/{source}"]["later"].extend(rows[1:])
                results[f"{path}/{source}"]["runs"].append(_run_rate(run))
    return results


def rl_section(args: argparse.Namespace) -> None:
    """Measure RL updates/s from logged runs and write them into the Training section."""
    import tempfile

    torch.manual_seed(0)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-rl-") as tmp:
        results = rl_runs(args, Path(tmp))
    names = {
        "head/rollouts": "head only, on-policy (rollouts + update)",
        "head/logged": "head only, from logged runs (update only)",
        "top/rollouts": f"top {args.top_layers} block(s) + head, on-policy",
        "top/logged": f"top {args.top_layers} block(s) + head, from logged runs",
    }
    header = (
        "| path | updates/s | episodes/s | s per update: rollouts / policy step "
        "| first update s (cold cache) | updates/s, whole run |\n"
        "|---|---:|---:|---|---:|---:|\n"
    )
    body = ""
    for key, result in results.items():
        later = result["later"] or result["first"]
        seconds = _median(later, "seconds")
        first = statistics.median(r["seconds"] for r in result["first"])
        body += (
            f"| {names[key]} | {1 / seconds:.3f} | {_median(later, 'episodes') / seconds:.1f} "
            f"| {_median(later, 'rollout_seconds'):.2f} / {_median(later, 'update_seconds'):.2f} "
            f"| {first:.1f} | {statistics.median(result['runs']):.3f} |\n"
        )
    command = (
        f"python bench/train.py --part rl --repeats {args.repeats} --rl-updates "
        f"{args.rl_updates} --rl-episodes {args.rl_episodes} --rl-concurrency "
        f"{args.rl_concurrency} --top-layers {args.top_layers}"
    )
    section = (
        f"{RL_START}\n### RL updates/s\n\n`{command}`\n\n"
        f"Runs of `rso train rl` from `models/planner-sft` on inspired-train, fast simulation "
        f"(act seeker, rule experts), {args.rl_episodes} episodes per update, {args.rl_updates} "
        f"updates per run, {args.repeats} runs per path (seeds 0..{args.repeats - 1}); figures "
        f"read from each run's logged `rl_summary.json`, medians over the updates after the "
        f"first (the first fills the feature cache and is shown apart); per-update times "
        f"leave out writing the checkpoint and the curves, which the last column (updates "
        f'over the whole run\'s wall time) includes. "From logged runs" replays the on-policy '
        f"run's own rollouts (`--from-runs`, a seeded draw from all of them per update), so "
        f"no rollouts run and the policy step includes encoding the texts not yet in the "
        f"feature cache (on-policy, the rollouts already encoded them). "
        f"{os.cpu_count()} CPU cores, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, load average {load_before:.1f} at start.\n\n"
        f"{header}{body}{RL_END}\n"
    )
    print(header + body, end="")
    if args.no_append:
        return
    text = read_results()
    replaced = replace_marked(text, RL_START, RL_END, section)
    if replaced is None:
        if RL_PLACEHOLDER in text:
            replaced = text.replace(RL_PLACEHOLDER, section)
        else:
            replaced = text.rstrip("\n") + "\n\n" + section
    RESULTS.write_text(replaced, encoding="utf-8")
    print(f"written to {RESULTS}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("all", "sft", "rl"), default="all")
    parser.add_argument("--samples", type=int, default=96)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-length", type=int, default=SFTConfig.max_length)
    parser.add_argument("--top-layers", type=int, default=SFTConfig.top_layers)
    parser.add_argument("--batch-size", type=int, default=SFTConfig.batch_size)
    parser.add_argument("--rl-updates", type=int, default=3, help="updates per RL run")
    parser.add_argument("--rl-episodes", type=int, default=50, help="episodes per RL update")
    parser.add_argument("--rl-concurrency", type=int, default=8, help="concurrent episodes")
    parser.add_argument("--no-append", action="store_true", help="print only")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.part in ("all", "sft"):
        sft_section(args)
    if args.part in ("all", "rl"):
        rl_section(args)


if __name__ == "__main__":
    main()
