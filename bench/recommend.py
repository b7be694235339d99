"""Benchmark the movie ranker: build, load, latency per dialogue, and quality against baselines.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/recommend.py [--latency-turns 300] [--no-write]

Builds the ranker's artefacts from data/ in a temporary directory (the project cache is left
alone; the movie index comes from the cache, built once), times a warm load, ranks the pinned
validation split of the ReDial turns (dialogue-disjoint from everything the ranker learned) and
the INSPIRED test turns with the ranker and the three baselines, and times ranking per turn
(`bench/recommend_latency.py`: turn by turn and cold, with and without the embedding cache).
Prints one Markdown table and replaces the "Recommendation" section of bench/RESULTS.md.
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
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.recommend_latency import latency_rows  # noqa: E402
from bench.results import write_section  # noqa: E402
from evaluation.recommendation import RecommendationReport, baselines, evaluate  # noqa: E402
from retrieval.fusion import Fusion, fit_fusion  # noqa: E402
from retrieval.rank_features import FEATURES  # noqa: E402
from retrieval.recommender_build import training_split  # noqa: E402
from retrieval.recommender_default import default_inputs, training_data  # noqa: E402
from retrieval.recommender_store import read, save  # noqa: E402
from rso import jsonio  # noqa: E402
from rso.data.rec_turns import (  # noqa: E402
    is_validation_dialog,
    load_inspired_test_turns,
    load_redial_rec_turns,
)
from rso.data.turn_file import TurnLine  # noqa: E402


def metric_cells(report: RecommendationReport, name: str) -> list[float]:
    metrics = next(s.metrics for s in report.systems if s.name == name)
    return [
        metrics.recall["recall@1"].value,
        metrics.recall["recall@10"].value,
        metrics.recall["recall@50"].value,
        metrics.mrr.value,
        metrics.ndcg_10.value,
    ]


def quality_table(report: RecommendationReport, reference: str) -> list[str]:
    base = metric_cells(report, reference)
    lines = [
        "| system | Recall@1 | Recall@10 | Recall@50 | MRR@50 | NDCG@10 | R@10 vs dense |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for system in report.systems:
        m = system.metrics
        ratio = m.recall["recall@10"].value / base[1] if base[1] else float("nan")
        cells = [
            *(str(m.recall[f"recall@{k}"]) for k in (1, 10, 50)),
            str(m.mrr),
            str(m.ndcg_10),
            f"{ratio:.1f}x",
        ]
        lines.append(f"| {system.name} | " + " | ".join(cells) + " |")
    return lines


def _only(report: RecommendationReport, names: dict[str, Any]) -> RecommendationReport:
    kept = [s for s in report.systems if s.name in names]
    return RecommendationReport(**{**vars(report), "systems": kept})


def toggled(feature: str, fused: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    """The ablation of one signal: the fused ones without it, or with it added back."""
    if feature in fused:
        return f"without {feature}", tuple(f for f in fused if f != feature)
    return f"with {feature}", tuple(f for f in FEATURES if f in fused or f == feature)


def ablation_table(report: RecommendationReport, fusion: Fusion) -> list[str]:
    full = metric_cells(report, "ranker")
    lines = [
        "| signal | weight | R@10 without (with) | R@50 without (with) | change R@10 / R@50 "
        "| R@10 alone | R@50 alone |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for feature in FEATURES:
        name, _ = toggled(feature, fusion.features)
        changed = metric_cells(report, name)
        alone = metric_cells(report, f"{feature} alone")
        if feature in fusion.features:
            weight = f"{float(fusion.weights[list(fusion.features).index(feature)]):+.2f}"
            cells = f"{changed[1]:.3f} | {changed[2]:.3f}"
        else:
            weight, cells = "left out", f"({changed[1]:.3f}) | ({changed[2]:.3f})"
        lines.append(
            f"| `{feature}` | {weight} | {cells} | "
            f"{changed[1] - full[1]:+.3f} / {changed[2] - full[2]:+.3f} | {alone[1]:.3f} | "
            f"{alone[2]:.3f} |"
        )
    lines.append(f"| all fused (the ranker) | | {full[1]:.3f} | {full[2]:.3f} | | | |")
    return lines


def validation_turns() -> list[TurnLine]:
    """The ReDial turns of the pinned validation fold (never trained on)."""
    return [
        TurnLine(t.context, t.targets, t.dialog_id, t.turn_id)
        for t in load_redial_rec_turns()
        if is_validation_dialog(t.dialog_id)
    ]


def latency_only(turns: int, load_before: float) -> None:
    """Time the cached default ranker on unseen validation dialogues (nothing is written)."""
    from retrieval.recommender_default import get_recommender

    rows = latency_rows(get_recommender(), validation_turns(), turns)
    print(f"load average {load_before:.1f} -> {os.getloadavg()[0]:.1f}")
    print("\n".join(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-turns", type=int, default=200, help="turns to time")
    parser.add_argument("--no-write", action="store_true", help="do not touch bench/RESULTS.md")
    parser.add_argument(
        "--torch-threads", type=int, default=0, help="torch threads for the batch embeddings"
    )
    parser.add_argument(
        "--latency-only", action="store_true", help="time the cached default ranker only"
    )
    parser.add_argument("--smoke", action="store_true", help="a few turns only (a code check)")
    parser.add_argument("--json", type=Path, default=None, help="also write raw figures here")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    if args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)

    if args.latency_only:
        latency_only(args.latency_turns, load_before)
        return
    inputs = default_inputs()
    inputs.embedder.embed(["warm up"])

    started = time.perf_counter()
    cpu_before = time.process_time()
    data = training_split(training_data())
    if args.smoke:
        data = replace(data, redial_turns=list(data.redial_turns)[:60])
    built = inputs.fit(data)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "recommender"
        save(
            directory,
            built.items,
            built.fusion,
            fingerprint=inputs.fingerprint,
            training_dialogs=[],
        )
        build_seconds = time.perf_counter() - started
        build_cpu = time.process_time() - cpu_before
        size_mb = sum(p.stat().st_size for p in directory.iterdir()) / 1e6
        load_times = []
        for _ in range(5):
            began = time.perf_counter()
            read(directory, inputs.fingerprint, inputs.kb_ids, inputs.vectors)
            load_times.append(time.perf_counter() - began)
    report, rows, labels = built.report, built.rows, built.labels
    recommender = inputs.recommender(built.items, built.fusion, report.training_dialogs)
    match = inputs.matcher.match

    valid = validation_turns()
    inspired = [TurnLine(t.context, t.targets, None, t.turn_id) for t in load_inspired_test_turns()]
    if args.smoke:
        valid, inspired, args.no_write = valid[:30], inspired[:20], True
    systems: dict[str, Any] = {"ranker": (None, "dialogue"), **baselines()}
    reference = "dense retrieval, last two utterances"
    ablation: dict[str, Any] = {}
    for feature in FEATURES:
        name, kept = toggled(feature, built.fusion.features)
        ablation[name] = (fit_fusion(rows, labels, kept), "dialogue")
    for feature in FEATURES:
        ablation[f"{feature} alone"] = (Fusion.single(feature, "popularity"), "dialogue")
    redial_report = evaluate(recommender, valid, match, {**systems, **ablation})
    inspired_report = evaluate(recommender, inspired, match, systems)

    latency = latency_rows(recommender, valid, args.latency_turns)
    load_after = os.getloadavg()[0]

    ms = 1e3
    ranker = metric_cells(redial_report, "ranker")
    dense = metric_cells(redial_report, reference)
    lines = [
        "Command: `HF_HUB_OFFLINE=1 .venv/bin/python bench/recommend.py` "
        f"({platform.machine()}, {os.cpu_count()} CPUs, load average {load_before:.1f} at start, "
        f"{load_after:.1f} at end; {len(inputs.movies):,} movies; "
        f"query encoder {inputs.embedder.model_id})",
        "",
        "| measure | value | target |",
        "|---|---|---|",
        f"| build of all learned artefacts (counts, turn memory, fusion; index excluded) | "
        f"{build_seconds:.1f} s (CPU {build_cpu:.1f} s; {report.training_turns:,} training "
        f"turns, {report.training_rows:,} rows; {size_mb:.1f} MB on disk) | <= 300 s |",
        f"| load of saved artefacts (median of 5) | {statistics.median(load_times) * ms:.0f} ms "
        "| |",
        *latency,
        f"| validation Recall@10 / Recall@50 | {ranker[1]:.3f} / {ranker[2]:.3f} "
        f"({ranker[1] / dense[1]:.1f}x dense retrieval at Recall@10) | >= 0.20 / 0.40, >= 3x |",
        "",
        f"**ReDial validation split** (fold 0 of the dialog-id hash, {redial_report.n_turns} turns "
        f"of {len({t.dialog_id for t in valid})} dialogs, never trained on; "
        f"{redial_report.n_evaluated} (turn, target) pairs: {redial_report.n_targets} targets, "
        f"{redial_report.n_unmatched} unmatched to the knowledge base, "
        f"{redial_report.n_in_context} already named in the context and reported apart):",
        "",
        *quality_table(_only(redial_report, systems), reference),
        "",
        f"**INSPIRED test turns** (cross-dataset; {inspired_report.n_turns} turns, "
        f"{inspired_report.n_evaluated} pairs, {inspired_report.n_unmatched} targets unmatched, "
        f"{inspired_report.n_in_context} already named):",
        "",
        *quality_table(inspired_report, reference),
    ]
    text = "\n".join(lines)
    print(text)
    print(
        "\nAblation (validation split; 'without': the fusion refitted without that signal, "
        "'with': a signal the fusion leaves out added back; 'alone': the signal with a "
        "popularity tie-break):\n"
    )
    print("\n".join(ablation_table(redial_report, built.fusion)))
    if not args.no_write:
        write_section("Recommendation", text)
    if args.json:
        figures = {
            "build_seconds": build_seconds,
            "build_cpu_seconds": build_cpu,
            "load_seconds": load_times,
            "redial": redial_report.to_json(),
            "inspired": inspired_report.to_json(),
        }
        args.json.write_text(jsonio.dumps(figures, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
