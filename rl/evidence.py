"""The RL-evidence experiment: SFT vs SFT+RL over seeds and betas, paired on held-out cases.

For every seed, evaluate the starting (SFT) Planner greedily on held-out cases, then train it with
RL once per beta and evaluate each result on the same cases with the same seed, so every
comparison is paired. The report gives SR mean and spread per arm, the gap RL - SFT and whether
it lies outside the seeds' spread (every RL seed above every SFT seed), and the breadth of the
strategy distribution (policy entropy, effective number of strategies) per beta. Written as
evidence.md, evidence.json and evidence.png (`rl.evidence_report`).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from rl.arms import arm_stats, paired_comparison
from rl.breadth import (
    Breadth,
    breadth_comparisons,
    breadth_on,
    breadth_table,
    decision_states,
    dose_response,
)
from rl.evaluate import EvalResult, greedy_episodes, roll_out, summarise_eval
from rl.evidence_config import EvidenceConfig, beta_label, controlled_label, protocol_label
from rl.evidence_report import evidence_markdown, plot_evidence
from rl.features import FeatureCache
from rl.reinforce import ReinforceTrainer
from rl.reinforce_config import RLConfig
from rl.training_state import LATEST_FILE
from rso.jsonio import dumps
from rso.runs.directory import EPISODES_FILE
from rso.runs.records import EpisodeRecord, in_id_order, read_episodes


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
        states = decision_states(evaluate(sft, config.rl, "SFT", "sft", seed))
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
        experience = decision_states(logged)
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
        stats = {name: arm_stats(name, results) for name, results in arms.items()}
        sft_stats = stats["SFT"]
        comparisons = {
            beta_label(beta): paired_comparison(stats[beta_label(beta)], sft_stats)
            for beta in config.betas
        }
        report["sets"][eval_set] = {
            "arms": {name: s.to_json() for name, s in stats.items()},
            "comparisons": comparisons,
        }
    fixed_states = breadth_table(breadth)
    report["breadth"] = {
        "states": f"Planner inputs of the SFT arm's greedy evaluation on {protocols[0][0]} "
        "(same seed)",
        "arms": fixed_states,
        "comparisons": breadth_comparisons(
            fixed_states, {beta: beta_label(beta) for beta in config.betas}
        ),
    }
    if controlled:
        labels = {beta: controlled_label(beta) for beta in config.controlled_betas}
        section = dose_response(controlled, labels)
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
                **dose_response(controlled_experience, labels),
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
