"""The RL-evidence report as markdown tables (evidence.md) and a figure (evidence.png)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rso.modes import SUCCESS_THRESHOLD
from rso.strategies import STRATEGIES


def evidence_markdown(report: dict[str, Any]) -> str:
    """Render the evidence report as markdown tables."""
    cfg = report["config"]
    rl = cfg["rl"]
    lines = [
        "# RL evidence: SFT vs SFT+RL",
        "",
        f"Seeds {cfg['seeds']}; RL: {rl['updates']} updates x {rl['episodes_per_update']} "
        f"episodes on {rl['cases']}, lr {rl['lr']}, gamma {rl['gamma']}, "
        f"normalisation {rl['normalisation']}, reward baseline {rl['baseline']}, "
        f"train {rl['train']}, training episodes end on {rl.get('end_on') or 'default'}; "
        f"seeker {rl['seeker']}, experts {rl['experts']}. "
        "Evaluation: greedy Planner, every held-out case once per seed, the same seeds for "
        f"every arm. SR: some turn reward > {SUCCESS_THRESHOLD} (the paper); strict SR: explicit "
        "acceptance; turns: mean recommender turns.",
        "",
    ]
    for eval_set, data in report["sets"].items():
        lines += [
            f"## {eval_set}",
            "",
            "| arm | SR mean +- std | SR per seed | strict SR mean +- std | turns "
            "| policy entropy | effective strategies |",
            "|---|---|---|---|---:|---:|---:|",
        ]
        for name, arm in data["arms"].items():
            per_seed = ", ".join(f"{x:.3f}" for x in arm["success_rates"])
            strict = arm["strict_success_rates"]
            lines.append(
                f"| {name} | {arm['sr_mean']:.3f} +- {arm['sr_std']:.3f} | {per_seed} "
                f"| {statistics.fmean(strict):.3f} +- {statistics.pstdev(strict):.3f} "
                f"| {arm['turns_mean']:.2f} "
                f"| {arm['entropy_mean']:.3f} | {arm['effective_strategies_mean']:.2f} |"
            )
        lines += [
            "",
            "| comparison | gap (SR) | paired SR gaps | SR outside the seeds' spread "
            "| gap (strict SR) | strict outside spread | gap (turns) |",
            "|---|---:|---|---|---:|---|---:|",
        ]
        for name, comp in data["comparisons"].items():
            gaps = ", ".join(f"{g:+.3f}" for g in comp["paired_gaps"])
            lines.append(
                f"| {name} - SFT | {comp['gap']:+.3f} | {gaps} "
                f"| {_yes(comp['outside_spread'])} | {comp.get('strict_gap', 0.0):+.3f} "
                f"| {_yes(comp.get('strict_outside_spread', False))} "
                f"| {comp.get('turns_gap', 0.0):+.2f} |"
            )
        lines.append("")
    lines += _breadth_markdown(report)
    lines.append(f"Wall time: {report['seconds']:.0f} s.")
    return "\n".join(lines) + "\n"


def _breadth_markdown(report: dict[str, Any]) -> list[str]:
    breadth = report.get("breadth")
    if not breadth:
        return []

    def arm_rows(arms: dict[str, dict[str, Any]], with_sr: bool) -> list[str]:
        rows = []
        for name, arm in arms.items():
            per_seed = ", ".join(f"{x:.3f}" for x in arm["entropy"])
            row = (
                f"| {name} | {arm['entropy_mean']:.3f} | {per_seed} "
                f"| {arm['effective_strategies_mean']:.2f} |"
            )
            if with_sr:
                srs = ", ".join(f"{x:.3f}" for x in arm["success_rates"])
                row += f" {arm['sr_mean']:.3f} ({srs}) |"
            rows.append(row)
        return rows

    def comparison_rows(comparisons: dict[str, dict[str, Any]]) -> list[str]:
        if not comparisons:
            return []
        rows = [
            "",
            "| comparison | entropy gap, mean | per seed | broader on every seed |",
            "|---|---:|---|---|",
        ]
        for name, comp in comparisons.items():
            gaps = ", ".join(f"{g:+.3f}" for g in comp["entropy_gaps"])
            rows.append(
                f"| {name} | {comp['entropy_gap_mean']:+.3f} | {gaps} "
                f"| {_yes(comp['broader_on_every_seed'])} |"
            )
        return rows

    lines = [
        "## Breadth of the strategy distribution",
        "",
        f"Every policy measured on the same states: {breadth['states']}. Entropy: mean "
        "H(pi(.|s)) in nats; effective strategies: exp(entropy of the shares of the greedy "
        "choices) on those states.",
        "",
        "| arm | entropy | entropy per seed | effective strategies |",
        "|---|---:|---|---:|",
        *arm_rows(breadth["arms"], with_sr=False),
        *comparison_rows(breadth["comparisons"]),
        "",
    ]
    controlled = report.get("controlled")
    if controlled:
        lines += [
            "### The entropy bonus isolated",
            "",
            f"Every beta trained on the same experience: {controlled['logged_episodes']} "
            "sampled episodes of the SFT Planner per seed (importance-weighted), with the "
            "on-policy runs' other settings, so the bonus is the only difference between the "
            f"arms. SR: greedy, {controlled['protocol']}.",
            "",
            "| arm | entropy | entropy per seed | effective strategies | SR (per seed) |",
            "|---|---:|---|---:|---|",
            *arm_rows(controlled["arms"], with_sr=True),
            *comparison_rows(controlled["comparisons"]),
            "",
        ]
        lines += _rises_line(controlled.get("rises_with_beta"), controlled.get("betas", []))
        experience = controlled.get("experience")
        if experience:
            lines += [
                f"The same arms on the states they were trained on: {experience['states']}.",
                "",
                "| arm | entropy | entropy per seed | effective strategies |",
                "|---|---:|---|---:|",
                *arm_rows(experience["arms"], with_sr=False),
                *comparison_rows(experience["comparisons"]),
                "",
                *_rises_line(experience.get("rises_with_beta"), controlled.get("betas", [])),
            ]
    return lines


def _rises_line(rises: dict[str, Any] | None, betas: Sequence[float]) -> list[str]:
    if not rises:
        return []
    ascending = " < ".join(f"{b:g}" for b in betas)
    return [
        f"Entropy rises with beta ({ascending}): on the means {_yes(rises['on_the_means'])}; "
        f"on every seed {_yes(rises['on_every_seed'])} "
        f"(per seed: {', '.join(_yes(x) for x in rises['per_seed'])}).",
        "",
    ]


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def plot_evidence(report: dict[str, Any], path: Path) -> Path:
    """Bar chart of SR per arm (seeds as points) and strategy shares per arm, per held-out set."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = list(report["sets"])
    fig, axes = plt.subplots(len(sets), 2, figsize=(13, 4.5 * len(sets)), squeeze=False)
    for row, eval_set in enumerate(sets):
        arms = report["sets"][eval_set]["arms"]
        names = list(arms)
        ax = axes[row, 0]
        ax.bar(names, [arms[n]["sr_mean"] for n in names], color="#9ecae1")
        for i, n in enumerate(names):
            points = arms[n]["success_rates"]
            ax.scatter([i] * len(points), points, color="k", s=12)
        ax.set_ylabel("success rate")
        ax.set_title(f"{eval_set}: SR per arm (points: seeds)")
        ax.tick_params(axis="x", labelsize=8)
        ax = axes[row, 1]
        bottom = [0.0] * len(names)
        for i, strategy in enumerate(STRATEGIES):
            heights = [arms[n]["strategy_shares"][i] for n in names]
            ax.bar(names, heights, bottom=bottom, label=strategy)
            bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
        ax.set_title(f"{eval_set}: strategy distribution (greedy)")
        ax.tick_params(axis="x", labelsize=8)
        ax.legend(fontsize=6, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
