"""Reports: one run's metrics as report.md, metrics.json and plots; several runs side by side."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from evaluation.metrics import RunMetrics, compute_metrics, genres_lookup
from evaluation.plots import plot_sr_at_t, plot_strategy_distribution
from rso import jsonio
from rso.runs.directory import load_run


def _default_genres() -> Callable[[str], set[str]]:
    from rso.data.movies import movies_by_id

    return genres_lookup(movies_by_id())


def metrics_table(runs: Mapping[str, RunMetrics]) -> str:
    """Render runs side by side as a markdown table (95% bootstrap intervals in brackets)."""
    lines = [
        "| run | episodes | failed | SR | strict SR | AvgT | Recall@1 | Recall@5 | Recall@10 "
        "| persuasiveness | credibility |",
        "|---|---:|---:|---|---|---|---|---|---|---|---|",
    ]
    for name, m in runs.items():
        persuasion = str(m.persuasiveness.mean) if m.persuasiveness else "-"
        credibility = str(m.credibility) if m.credibility else "-"
        lines.append(
            f"| {name} | {m.n_episodes} | {m.n_failed} | {m.sr} | {m.strict_sr} | "
            f"{m.avg_turns} | {m.recall['recall@1']} | {m.recall['recall@5']} | "
            f"{m.recall['recall@10']} | {persuasion} | {credibility} |"
        )
    return "\n".join(lines) + "\n"


def write_report(
    name: str,
    metrics: RunMetrics,
    out_dir: Path,
) -> dict[str, Path]:
    """Write report.md, metrics.json and the two plots of one run into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "metrics": out_dir / "metrics.json",
        "report": out_dir / "report.md",
        "sr_at_t": plot_sr_at_t({name: metrics.sr_at_t}, out_dir / "sr_at_t.png"),
        "strategies": plot_strategy_distribution(
            metrics.strategy_shares, out_dir / "strategy_distribution.png"
        ),
    }
    # Metrics without data (no finished episode) are NaN: written as null, shown as "n/a".
    paths["metrics"].write_text(jsonio.dumps(metrics.to_json(), indent=2) + "\n", encoding="utf-8")
    lines = [f"# Evaluation: {name}", "", metrics_table({name: metrics}), ""]
    lines.append("SR@t: " + ", ".join(f"t={t + 1}: {v:.3f}" for t, v in enumerate(metrics.sr_at_t)))
    if metrics.n_without_ranking:
        lines.append(
            f"\n{metrics.n_without_ranking} episode(s) ended without a ranked list "
            "(counted as recall misses)."
        )
    if metrics.persuasiveness is not None:
        p = metrics.persuasiveness
        lines.append(
            f"\nPersuasiveness over {p.n_scored} dialogue(s); excluded: {p.n_over_persuaded} "
            f"over-persuaded, {p.n_pre_equals_true} with pre == true, {p.n_missing} missing."
        )
    lines += ["", "![SR@t](sr_at_t.png)", "", "![strategies](strategy_distribution.png)", ""]
    paths["report"].write_text("\n".join(lines), encoding="utf-8")
    return paths


def evaluate_run(
    run: Path | Sequence[Path],
    out_dir: Path,
    *,
    name: str | None = None,
    genres_of: Callable[[str], set[str]] | None = None,
    **options: Any,
) -> RunMetrics:
    """Compute and write the report of one run (directories or episode files pooled)."""
    episodes = load_run(run)
    metrics = compute_metrics(episodes, genres_of or _default_genres(), **options)
    label = name or (Path(run).name if isinstance(run, Path | str) else "run")
    write_report(label, metrics, out_dir)
    return metrics


def compare_runs(
    runs: Mapping[str, Path | Sequence[Path]],
    out_path: Path,
    *,
    genres_of: Callable[[str], set[str]] | None = None,
    **options: Any,
) -> str:
    """Write one markdown table comparing several runs (each run's directories pooled)."""
    genres = genres_of or _default_genres()
    metrics = {name: compute_metrics(load_run(p), genres, **options) for name, p in runs.items()}
    table = "# Comparison\n\n" + metrics_table(metrics)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(table, encoding="utf-8")
    plot_sr_at_t({n: m.sr_at_t for n, m in metrics.items()}, out_path.with_suffix(".sr_at_t.png"))
    return table
