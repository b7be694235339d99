"""Planner SFT throughput: samples/s of the frozen-encoder, partial and full fine-tuning paths.

Usage: python bench/train.py [--samples 96] [--repeats 3] [--max-length 128] [--top-layers 1]

Each path trains on the same fixed INSPIRED training samples. "first epoch" includes computing the
cached features (the frozen path's embeddings, the partial path's frozen lower blocks); "later
epochs" reuse them. Figures are medians over the repeats; CPU seconds are reported beside wall
time because the machine may be shared. Appends a "Training" section to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from dataclasses import replace
from pathlib import Path

import torch

from rl.policy import PlannerConfig, PlannerPolicy
from rl.sft import (
    SFTConfig,
    TrainingFeatures,
    encode_samples,
    load_split_samples,
    make_optimizer,
    set_trainable,
    train_epoch,
)

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
START, END = "<!-- training-sft:start -->", "<!-- training-sft:end -->"
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
    set_trainable(policy, config)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=96)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-length", type=int, default=SFTConfig.max_length)
    parser.add_argument("--top-layers", type=int, default=SFTConfig.top_layers)
    parser.add_argument("--batch-size", type=int, default=SFTConfig.batch_size)
    parser.add_argument("--no-append", action="store_true", help="print only")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
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
        f"python bench/train.py --samples {args.samples} --repeats {args.repeats} "
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
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmarks\n"
    if START in text and END in text:
        # Re-running replaces only this table; the rest of the file (other benches, the RL
        # figures) stays as it is.
        head, rest = text.split(START, 1)
        text = head + section.rstrip("\n") + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n## Training\n\n" + section + "\n" + RL_PLACEHOLDER
    RESULTS.write_text(text, encoding="utf-8")
    print(f"appended to {RESULTS}")


if __name__ == "__main__":
    main()
