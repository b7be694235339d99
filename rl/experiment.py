"""Experiments on the Planner: RL evidence (SFT vs SFT+RL over seeds and betas) and ablations.

`run_rl_evidence`: for every seed, evaluate the starting (SFT) Planner greedily on held-out cases,
then train it with RL once per beta and evaluate each result on the same cases with the same
seed, so every comparison is paired. The report gives SR mean and spread per arm, the gap
RL - SFT and whether it lies outside the seeds' spread (every RL seed above every SFT seed), and
the breadth of the strategy distribution (policy entropy, effective number of strategies) per
beta. Written as evidence.md, evidence.json and evidence.png.

`run_ablations`: the full system and its ablations (no Planner, no Preference Reasoner, no Fact
Retriever), SFT-only vs SFT+RL, random and majority planners, each rolled out on the same cases
with the same seeds; the runs are compared with the evaluation suite's comparison table.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal

from rl.reinforce import (
    LATEST_FILE,
    EvalResult,
    FeatureCache,
    ReinforceTrainer,
    RLConfig,
    effective_count,
    greedy_episodes,
    roll_out,
    strategy_shares,
    summarise_eval,
)
from rso.jsonio import dumps
from rso.modes import EndOn
from rso.runs.directory import EPISODES_FILE
from rso.runs.records import EpisodeRecord, in_id_order, read_episodes
from rso.strategies import STRATEGIES

DEFAULT_SEEDS = (0, 1, 2)
DEFAULT_BETAS = (0.01, 0.0)
#: Betas of the controlled arms: the paper's beta, the two others it tried, and no bonus.
DEFAULT_CONTROLLED_BETAS = (0.1, 0.01, 0.001, 0.0)


@dataclass
class EvidenceConfig:
    """Settings of the RL-evidence experiment."""

    #: RL settings shared by every arm (init, cases, updates, lr...); seed, beta, out are set here.
    rl: RLConfig
    seeds: tuple[int, ...] = DEFAULT_SEEDS
    betas: tuple[float, ...] = DEFAULT_BETAS
    #: Held-out case sets; each is evaluated for every arm.
    eval_sets: tuple[str, ...] = ("inspired-test",)
    #: Episode-ending rules of the evaluations (each set is evaluated under each rule); None =
    #: the training rule only. The first listed rule's SR is the primary comparison.
    eval_end_on: tuple[EndOn, ...] | None = None
    #: Also train every beta on the same logged rollouts of the SFT Planner (per seed): the
    #: bonus is then the only difference between the arms, free of the run-to-run noise of
    #: on-policy training, which at beta 0.01 is larger than the bonus's effect.
    controlled: bool = True
    #: Betas trained on the shared logged rollouts: a dose-response of the bonus, compared
    #: against the smallest (normally 0).
    controlled_betas: tuple[float, ...] = DEFAULT_CONTROLLED_BETAS
    out: Path = Path("runs/rl-evidence")
    #: Continue an interrupted experiment in `out`: finished RL runs are loaded, unfinished ones
    #: continue from their last checkpoint, complete logs are reused, evaluations run again.
    resume: bool = False

    def protocols(self) -> list[tuple[str, EndOn | None]]:
        """Return the (case set, episode-ending rule) pairs every arm is evaluated on."""
        rules = self.eval_end_on or (self.rl.end_on,)
        return [(s, rule) for s in self.eval_sets for rule in rules]


def protocol_label(eval_set: str, end_on: EndOn | None) -> str:
    """Return the report's name of one evaluation protocol."""
    return eval_set if end_on is None else f"{eval_set}, episodes end on {end_on}"


@dataclass
class ArmStats:
    """One arm over the seeds: SR per seed, mean, spread and strategy breadth."""

    name: str
    success_rates: list[float]
    strict_success_rates: list[float]
    mean_turns: list[float]
    policy_entropy: list[float]
    effective_strategies: list[float]
    strategy_shares: list[float] = field(default_factory=list)

    @property
    def mean(self) -> float:
        """Mean SR over the seeds."""
        return statistics.fmean(self.success_rates)

    @property
    def std(self) -> float:
        """Population standard deviation of SR over the seeds."""
        return statistics.pstdev(self.success_rates)

    def to_json(self) -> dict[str, Any]:
        """Return the arm as JSON-ready values, with its summary figures."""
        data = asdict(self)
        data.update(
            sr_mean=self.mean,
            sr_std=self.std,
            sr_min=min(self.success_rates),
            sr_max=max(self.success_rates),
            strict_sr_mean=statistics.fmean(self.strict_success_rates),
            turns_mean=statistics.fmean(self.mean_turns),
            entropy_mean=statistics.fmean(self.policy_entropy),
            effective_strategies_mean=statistics.fmean(self.effective_strategies),
        )
        return data


def _arm(name: str, results: Sequence[EvalResult]) -> ArmStats:
    shares = [
        statistics.fmean(r.strategy_shares[i] for r in results) for i in range(len(STRATEGIES))
    ]
    return ArmStats(
        name=name,
        success_rates=[r.success_rate for r in results],
        strict_success_rates=[r.strict_success_rate for r in results],
        mean_turns=[r.mean_turns for r in results],
        policy_entropy=[r.mean_policy_entropy for r in results],
        effective_strategies=[r.effective_strategies for r in results],
        strategy_shares=shares,
    )


def beta_label(beta: float) -> str:
    """Return the arm name of SFT+RL with entropy bonus `beta`."""
    return f"SFT+RL (beta={beta:g})"


def controlled_label(beta: float) -> str:
    """Return the arm name of RL from the SFT Planner's logged rollouts with bonus `beta`."""
    return f"SFT+RL from SFT logs (beta={beta:g})"


@dataclass(frozen=True)
class Breadth:
    """How broad a policy is on a fixed set of states."""

    #: Mean entropy of pi(.|s) over the states, in nats.
    entropy: float
    #: exp(entropy of the shares of the greedy choices over the states).
    effective_strategies: float


_BREADTH_CHUNK = 256


def breadth_on(policy: Any, texts: Sequence[str]) -> Breadth:
    """Measure `policy` on the Planner inputs `texts` (no gradient, dropout off)."""
    import torch

    from rl.losses import entropy

    if not texts:
        raise ValueError("no states to measure the policy's breadth on")
    policy.eval()
    with torch.no_grad():
        # In chunks: thousands of states through an uncached encoder would not fit at once.
        logits = torch.cat(
            [
                policy(list(texts[i : i + _BREADTH_CHUNK]))
                for i in range(0, len(texts), _BREADTH_CHUNK)
            ]
        )
    choices = [STRATEGIES[int(i)] for i in logits.argmax(dim=-1)]
    return Breadth(
        entropy=float(entropy(logits).mean()),
        effective_strategies=effective_count(strategy_shares(choices)),
    )


def _breadth_table(per_arm: dict[str, list[Breadth]]) -> dict[str, dict[str, Any]]:
    return {
        name: {
            "entropy": [b.entropy for b in values],
            "entropy_mean": statistics.fmean(b.entropy for b in values),
            "effective_strategies": [b.effective_strategies for b in values],
            "effective_strategies_mean": statistics.fmean(b.effective_strategies for b in values),
        }
        for name, values in per_arm.items()
    }


def _breadth_comparisons(
    table: dict[str, dict[str, Any]], labels: dict[float, str]
) -> dict[str, dict[str, Any]]:
    """Paired entropy gaps of every beta against the smallest one (normally beta 0)."""
    if len(labels) < 2:
        return {}
    low = min(labels)
    base = table[labels[low]]["entropy"]
    out = {}
    for beta, name in labels.items():
        if beta == low:
            continue
        gaps = [a - b for a, b in zip(table[name]["entropy"], base, strict=True)]
        out[f"{name} vs {labels[low]}"] = {
            "entropy_gaps": gaps,
            "entropy_gap_mean": statistics.fmean(gaps),
            "broader_on_every_seed": all(g > 0 for g in gaps),
        }
    return out


def _decision_states(records: Sequence[EpisodeRecord]) -> list[str]:
    """Return the Planner inputs of every decision in finished episodes, in episode order."""
    return [
        t.planner_input
        for r in records
        if r.status == "ok"
        for t in r.turns
        if t.strategy is not None and t.planner_input
    ]


def _rises_with_beta(table: dict[str, dict[str, Any]], labels: dict[float, str]) -> dict[str, Any]:
    """Whether the entropy grows with beta (ascending betas), per seed and on the means."""
    ordered = [table[labels[beta]] for beta in sorted(labels)]
    seeds = len(ordered[0]["entropy"])
    per_seed = [
        all(a["entropy"][i] < b["entropy"][i] for a, b in pairwise(ordered)) for i in range(seeds)
    ]
    return {
        "per_seed": per_seed,
        "on_every_seed": all(per_seed),
        "on_the_means": all(a["entropy_mean"] < b["entropy_mean"] for a, b in pairwise(ordered)),
    }


def _dose_response(per_arm: dict[str, list[Breadth]], labels: dict[float, str]) -> dict[str, Any]:
    """Breadth table of arms that differ in beta, their gaps to the smallest, and the trend."""
    table = _breadth_table(per_arm)
    return {
        "arms": table,
        "comparisons": _breadth_comparisons(table, labels),
        "rises_with_beta": _rises_with_beta(table, labels),
    }


def run_rl_evidence(config: EvidenceConfig) -> dict[str, Any]:
    """Run the experiment and write evidence.md / evidence.json / evidence.png; return the JSON."""
    from policy.checkpoint import load_checkpoint

    started = time.perf_counter()
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    if config.rl.init is None:
        raise ValueError("the RL-evidence experiment needs a starting (SFT) checkpoint")
    if config.controlled and len(set(config.controlled_betas)) < 2:
        raise ValueError(
            "the controlled arms need at least two different betas, got "
            f"{list(config.controlled_betas)}"
        )
    started_runs = sorted(
        path.parent.name
        for path in out.glob(f"*/{LATEST_FILE}")
        if path.parent.name.startswith(("rl-beta", "controlled-beta"))
    )
    if started_runs and not config.resume:
        raise FileExistsError(
            f"{out} already holds an RL-evidence experiment (runs {', '.join(started_runs)}); "
            "pass --resume to continue it, or choose another --out"
        )
    protocols = config.protocols()
    per_set: dict[str, dict[str, list[EvalResult]]] = {protocol_label(*p): {} for p in protocols}
    train_curves: dict[str, list[dict[str, Any]]] = {}
    sft = load_checkpoint(config.rl.init)
    # The SFT arm is only evaluated: caching its pooled states is exact and saves the encoder.
    sft_cache = FeatureCache(sft, 0, config.rl.cache_size)
    sft_cache.install()
    # With a frozen encoder every arm starts from the same one, so they can share its features.
    shared = sft_cache if config.rl.train == "head" else None
    # Breadth on fixed states: each arm's policy on the states of the SFT arm's held-out
    # evaluation of the same seed (first protocol), so that arms are compared on identical
    # states rather than on the different dialogues their own choices lead to.
    breadth: dict[str, list[Breadth]] = {}
    controlled: dict[str, list[Breadth]] = {}
    # The same arms measured on the states they learned from (the logged SFT rollouts), which
    # are the states the bonus regularises.
    controlled_experience: dict[str, list[Breadth]] = {}
    controlled_sr: dict[str, list[float]] = {}
    logged_episodes = config.rl.updates * config.rl.episodes_per_update

    def evaluate(
        policy: Any, rl_config: RLConfig, arm: str, tag: str, seed: int
    ) -> list[EpisodeRecord]:
        # Every arm sees the same cases with the same seed under each protocol: paired runs.
        first: list[EpisodeRecord] = []
        for eval_set, end_on in protocols:
            eval_config = replace(
                rl_config,
                eval_cases=eval_set,  # type: ignore[arg-type]
                end_on=end_on,
                seed=seed,
            )
            where = out / "eval" / f"{tag}-{eval_set}-end-{end_on or 'default'}-seed{seed}"
            records = greedy_episodes(policy, eval_config, where)
            per_set[protocol_label(eval_set, end_on)].setdefault(arm, []).append(
                summarise_eval(records, policy)
            )
            first = first or records
        return first

    for seed in config.seeds:
        states = _decision_states(evaluate(sft, config.rl, "SFT", "sft", seed))
        breadth.setdefault("SFT", []).append(breadth_on(sft, states))
        for beta in config.betas:
            run_dir = out / f"rl-beta{beta:g}-seed{seed}"
            rl_config = replace(
                config.rl,
                seed=seed,
                beta=beta,
                out=run_dir,
                eval_cases=None,  # evaluated below, under every protocol
                progress=config.rl.progress,
                resume=config.resume,
            )
            trainer = ReinforceTrainer(rl_config, share_features=shared)
            summary = trainer.run()
            train_curves[f"{beta_label(beta)} seed {seed}"] = summary.history
            evaluate(trainer.policy, rl_config, beta_label(beta), f"rl-beta{beta:g}", seed)
            breadth.setdefault(beta_label(beta), []).append(breadth_on(trainer.policy, states))
        if not config.controlled:
            continue
        # The same experience for every beta: the SFT Planner's sampled rollouts, as many
        # episodes as one on-policy run uses, learned from with importance weights.
        logs = out / f"sft-logs-seed{seed}"
        # Logs of an interrupted experiment are kept when complete: the controlled runs that
        # already learned from them must continue on the same episodes.
        if not (config.resume and _complete_logs(logs, logged_episodes)):
            logged = roll_out(
                sft,
                cases=config.rl.cases,
                episodes=logged_episodes,
                seed=seed,
                out=logs,
                mode="sample",
                config=config.rl,
                shuffle=True,
            )
        else:
            logged = in_id_order(read_episodes(logs / EPISODES_FILE))
        experience = _decision_states(logged)
        eval_set, end_on = protocols[0]
        for beta in config.controlled_betas:
            rl_config = replace(
                config.rl,
                seed=seed,
                beta=beta,
                out=out / f"controlled-beta{beta:g}-seed{seed}",
                from_runs=(logs,),
                # The on-policy arms' learning rate, not the logged-runs default: only beta differs.
                lr=config.rl.learning_rate(),
                eval_cases=None,
                resume=config.resume,
            )
            trainer = ReinforceTrainer(rl_config, share_features=shared)
            trainer.run()
            name = controlled_label(beta)
            controlled.setdefault(name, []).append(breadth_on(trainer.policy, states))
            controlled_experience.setdefault(name, []).append(
                breadth_on(trainer.policy, experience)
            )
            eval_config = replace(
                rl_config,
                eval_cases=eval_set,  # type: ignore[arg-type]
                end_on=end_on,
            )
            where = out / "eval" / f"controlled-beta{beta:g}-{eval_set}-seed{seed}"
            records = greedy_episodes(trainer.policy, eval_config, where)
            controlled_sr.setdefault(name, []).append(summarise_eval(records, None).success_rate)
    report: dict[str, Any] = {
        "config": {
            "seeds": list(config.seeds),
            "betas": list(config.betas),
            "eval_sets": list(config.eval_sets),
            "protocols": [protocol_label(*p) for p in protocols],
            "rl": config.rl.to_json(),
        },
        "sets": {},
        "seconds": 0.0,
    }
    for eval_set, arms in per_set.items():
        stats = {name: _arm(name, results) for name, results in arms.items()}
        sft_stats = stats["SFT"]
        comparisons = {}
        for beta in config.betas:
            rl_stats = stats[beta_label(beta)]
            comparisons[beta_label(beta)] = {
                "gap": rl_stats.mean - sft_stats.mean,
                "paired_gaps": [
                    a - b
                    for a, b in zip(rl_stats.success_rates, sft_stats.success_rates, strict=True)
                ],
                # Strict reading of "outside the seeds' spread": the ranges do not overlap.
                "outside_spread": min(rl_stats.success_rates) > max(sft_stats.success_rates),
                "strict_gap": statistics.fmean(rl_stats.strict_success_rates)
                - statistics.fmean(sft_stats.strict_success_rates),
                "strict_outside_spread": min(rl_stats.strict_success_rates)
                > max(sft_stats.strict_success_rates),
                "turns_gap": statistics.fmean(rl_stats.mean_turns)
                - statistics.fmean(sft_stats.mean_turns),
                "gap_over_spread": (rl_stats.mean - sft_stats.mean)
                / max(1e-9, sft_stats.std + rl_stats.std),
            }
        report["sets"][eval_set] = {
            "arms": {name: s.to_json() for name, s in stats.items()},
            "comparisons": comparisons,
        }
    breadth_table = _breadth_table(breadth)
    report["breadth"] = {
        "states": f"Planner inputs of the SFT arm's greedy evaluation on {protocols[0][0]} "
        "(same seed)",
        "arms": breadth_table,
        "comparisons": _breadth_comparisons(
            breadth_table, {beta: beta_label(beta) for beta in config.betas}
        ),
    }
    if controlled:
        labels = {beta: controlled_label(beta) for beta in config.controlled_betas}
        section = _dose_response(controlled, labels)
        for name, row in section["arms"].items():
            row["success_rates"] = controlled_sr[name]
            row["sr_mean"] = statistics.fmean(controlled_sr[name])
        report["controlled"] = {
            "logged_episodes": logged_episodes,
            "protocol": protocol_label(*protocols[0]),
            "betas": sorted(labels),
            **section,
            "experience": {
                "states": "Planner inputs of the logged SFT rollouts the arms were trained on "
                f"({logged_episodes} episodes per seed)",
                **_dose_response(controlled_experience, labels),
            },
        }
    report["train_curves"] = train_curves
    report["seconds"] = round(time.perf_counter() - started, 1)
    (out / "evidence.json").write_text(dumps(report, indent=2) + "\n", encoding="utf-8")
    (out / "evidence.md").write_text(evidence_markdown(report), encoding="utf-8")
    plot_evidence(report, out / "evidence.png")
    return report


def _complete_logs(run: Path, episodes: int) -> bool:
    """Return True when `run` holds `episodes` finished episodes (a complete logged run)."""
    path = run / EPISODES_FILE
    if not path.is_file():
        return False
    try:
        records = read_episodes(path)
    except (OSError, ValueError):
        return False
    return len(records) == episodes and all(r.status == "ok" for r in records)


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
        "every arm. SR: some turn reward > 0.7 (the paper); strict SR: explicit acceptance; "
        "turns: mean recommender turns.",
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


# -- ablations ------------------------------------------------------------------------------------

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
    seeker: Literal["act", "llm"] = "act"
    experts: Literal["rule", "llm"] = "rule"
    max_turns: int = 10
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
        stats = _arm(name, results)
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
        f"{config.end_on or 'the seeker default'}. SR: some turn reward > 0.7 (the paper); "
        "strict SR: explicit acceptance.",
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


__all__ = [
    "ALL_ARMS",
    "AblationConfig",
    "EvidenceConfig",
    "effective_count",
    "run_ablations",
    "run_rl_evidence",
]
