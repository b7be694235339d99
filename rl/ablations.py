"""The ablation study: the full system and its ablations, SFT vs SFT+RL, random and majority.

Every arm (no Planner, no Preference Reasoner, no Fact Retriever, ...) is rolled out on the same
cases with the same seeds; the runs are compared with the evaluation suite's comparison table.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from rl.arms import DEFAULT_SEEDS, arm_stats
from rl.evaluate import roll_out, summarise_eval
from rl.reinforce_config import RLConfig
from rso.jsonio import dumps
from rso.modes import MAX_TURNS, SUCCESS_THRESHOLD, EndOn, ExpertsMode, SeekerMode

ArmName = Literal[
    "full", "no-planner", "no-reasoner", "no-retriever", "sft", "sft+rl", "random", "majority"
]
ALL_ARMS: tuple[ArmName, ...] = (
    "full",
    "no-planner",
    "no-reasoner",
    "no-retriever",
    "sft",
    "sft+rl",
    "random",
    "majority",
)


@dataclass
class AblationConfig:
    """Settings of the ablation/comparison experiment."""

    #: The SFT Planner checkpoint.
    sft: Path
    #: The SFT+RL Planner checkpoint; None leaves the "sft+rl" arm out (and "full" uses SFT).
    rl: Path | None = None
    arms: tuple[ArmName, ...] = ALL_ARMS
    cases: str = "inspired-test"
    episodes: int | None = None
    seeds: tuple[int, ...] = DEFAULT_SEEDS
    seeker: SeekerMode = "act"
    experts: ExpertsMode = "rule"
    max_turns: int = MAX_TURNS
    #: When an episode ends early: "reward" (the paper, as in RL training and the evidence's
    #: primary protocol), "accept", or None for the seeker's default.
    end_on: EndOn | None = "reward"
    concurrency: int = 4
    out: Path = Path("runs/ablations")
    #: Extra `Context` settings for every arm (model, base_url...).
    context: dict[str, Any] = field(default_factory=dict)


def arm_settings(name: ArmName, config: AblationConfig) -> tuple[str, dict[str, Any]]:
    """Return the planner name and the Context overrides of one arm."""
    best = str(config.rl or config.sft)
    table: dict[str, tuple[str, dict[str, Any]]] = {
        "full": (best, {}),
        "no-planner": ("none", {}),
        "no-reasoner": (best, {"use_reasoner": False}),
        "no-retriever": (best, {"use_retriever": False}),
        "sft": (str(config.sft), {}),
        "sft+rl": (str(config.rl), {}),
        "random": ("uniform", {}),
        "majority": ("majority", {}),
    }
    if name not in table:
        raise ValueError(f"unknown arm {name!r}; expected one of {', '.join(ALL_ARMS)}")
    if name == "sft+rl" and config.rl is None:
        raise ValueError("arm 'sft+rl' needs an RL checkpoint (--rl)")
    return table[name]


def run_ablations(config: AblationConfig) -> dict[str, Any]:
    """Roll out every arm on the same cases and seeds; write the comparison table; return it."""
    for checkpoint in (config.sft, config.rl):
        if checkpoint is not None and not Path(checkpoint).exists():
            raise FileNotFoundError(f"no Planner checkpoint at {checkpoint}")
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    rl_config = RLConfig(
        init=None,
        seeker=config.seeker,
        experts=config.experts,
        max_turns=config.max_turns,
        end_on=config.end_on,
        concurrency=config.concurrency,
    )
    rows: dict[str, dict[str, Any]] = {}
    run_dirs: dict[str, list[Path]] = {}
    for name in config.arms:
        planner, overrides = arm_settings(name, config)
        results = []
        for seed in config.seeds:
            run_dir = out / name / f"seed{seed}"
            records = roll_out(
                None,
                cases=config.cases,
                episodes=config.episodes,
                seed=seed,
                out=run_dir,
                mode="greedy",
                config=rl_config,
                planner=planner,
                overrides={**config.context, **overrides},
            )
            results.append(summarise_eval(records, None))
            run_dirs.setdefault(name, []).append(run_dir)
        stats = arm_stats(name, results)
        rows[name] = {"planner": planner, "overrides": overrides, **stats.to_json()}
    table = ablation_markdown(rows, config)
    comparison = _evaluation_comparison(run_dirs, out)
    report = {"config": _json_config(config), "arms": rows, "evaluation_comparison": comparison}
    (out / "ablations.json").write_text(dumps(report, indent=2) + "\n", encoding="utf-8")
    (out / "ablations.md").write_text(table, encoding="utf-8")
    return report


def _json_config(config: AblationConfig) -> dict[str, Any]:
    data = asdict(config)
    return {k: str(v) if isinstance(v, Path) else v for k, v in data.items()}


def _evaluation_comparison(run_dirs: dict[str, list[Path]], out: Path) -> str | None:
    """Compare the arms' runs with the evaluation suite (all seeds of an arm pooled)."""
    try:
        from evaluation.report import compare_runs
    except ImportError:
        return None
    path = out / "comparison.md"
    compare_runs({name: dirs for name, dirs in run_dirs.items()}, path)
    return str(path)


def _short_planner(planner: str) -> str:
    """Return a planner name, or the last two parts of a checkpoint path (x/planner)."""
    parts = Path(planner).parts
    return "/".join(parts[-2:]) if len(parts) > 1 else planner


def ablation_markdown(rows: dict[str, dict[str, Any]], config: AblationConfig) -> str:
    """Render the comparison table of the arms."""
    lines = [
        "# Ablations and comparisons",
        "",
        f"Cases {config.cases}, seeds {list(config.seeds)}, seeker {config.seeker}, experts "
        f"{config.experts}, greedy Planner, at most {config.max_turns} turns, episodes end on "
        f"{config.end_on or 'the seeker default'}. SR: some turn reward > {SUCCESS_THRESHOLD} "
        "(the paper); strict SR: explicit acceptance.",
        "",
        "| arm | planner | SR mean +- std | strict SR | turns | effective strategies |",
        "|---|---|---|---:|---:|---:|",
    ]
    for name, row in rows.items():
        lines.append(
            f"| {name} | {_short_planner(row['planner'])} "
            f"| {row['sr_mean']:.3f} +- {row['sr_std']:.3f} | {row['strict_sr_mean']:.3f} "
            f"| {row['turns_mean']:.2f} | {row['effective_strategies_mean']:.2f} |"
        )
    return "\n".join(lines) + "\n"
