"""Entropy-regularised REINFORCE for the Planner: rollouts -> Rewarder scores -> policy update.

One update of the on-policy loop: roll out `episodes_per_update` simulated dialogues on the
training cases with the current Planner *sampling* its strategies, read every turn's reward from
the logged `EpisodeRecord`s, turn them into (normalised, discounted) returns with `rl.returns` and
take one optimiser step on the loss of `rl.losses` (`rl.update`). With ``from_runs`` no rollouts
are made: each update draws episodes from logged runs of earlier policies and corrects for the
policy change with clipped importance weights pi/mu, mu being the probability logged when the
strategy was chosen.

Training paths:
- "head" (default, the fast CPU path): the encoder is frozen; the pooled embedding of each
  Planner-input text is computed once and cached (`rl.features`), so both the rollouts and the
  updates cost one linear layer per decision after the first time a text is seen.
- "top": the top `top_layers` transformer blocks and the head train; the frozen lower blocks'
  output is cached per text in the same way (bounded, least recently used first out).

Everything random derives from (seed, update index), so a resumed run repeats exactly what an
uninterrupted one would have done.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from policy.checkpoint import load_checkpoint, save_checkpoint
from policy.network import PlannerPolicy
from rl.curves import write_curves
from rl.evaluate import evaluate_policy, roll_out, strategy_shares
from rl.features import FeatureCache, set_trainable
from rl.reinforce_config import RLConfig
from rl.steps import batch_from_episodes
from rl.training_state import (
    LATEST_FILE,
    latest_checkpoint,
    load_optimizer,
    prefixes_to_store,
    read_training_state,
    save_training_state,
    write_run_json,
)
from rl.update import reinforce_step
from rso.runs.directory import EPISODES_FILE
from rso.runs.records import EpisodeRecord, in_id_order, read_episodes
from rso.strategies import STRATEGIES

SUMMARY_FILE = "rl_summary.json"
FINAL_DIR = "planner"


@dataclass
class RLSummary:
    """What an RL run did and measured."""

    config: dict[str, Any]
    updates: int
    checkpoint: str
    history: list[dict[str, Any]]
    eval_before: dict[str, Any] | None
    eval_after: dict[str, Any] | None
    seconds: float
    cache: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        """Return the summary as JSON-ready values."""
        return asdict(self)


def update_seed(seed: int, update: int) -> int:
    """Seed of the rollouts of one update, derived from the run seed and the update index."""
    return seed * 100_003 + update + 1


class ReinforceTrainer:
    """The RL loop of the Planner; `run()` trains, checkpoints every update and evaluates."""

    def __init__(self, config: RLConfig, share_features: FeatureCache | None = None) -> None:
        """Set up (or, with `config.resume`, restore) a run.

        `share_features`: the feature cache of another policy with the same frozen part (the
        same starting checkpoint), reused so that experiments do not encode a text twice.
        """
        config.validate()
        self.config = config
        self.out = Path(config.out)
        self.start_update = 0
        self.history: list[dict[str, Any]] = []
        self.eval_before: dict[str, Any] | None = None
        resumed = latest_checkpoint(self.out) if config.resume else None
        if config.resume and resumed is None and (self.out / "checkpoints").exists():
            raise FileNotFoundError(f"--resume: {self.out} has checkpoints but no {LATEST_FILE}")
        if not config.resume and (self.out / LATEST_FILE).exists():
            raise FileExistsError(
                f"{self.out} already holds an RL run; pass --resume to continue it or choose "
                "another --out"
            )
        torch.manual_seed(config.seed)
        if resumed is not None:
            done, directory = resumed
            state = read_training_state(directory)
            self._check_same_settings(state["config"], directory)
            self.policy = load_checkpoint(directory)
            self.start_update = done
            self.history = list(state["history"])
            self.eval_before = state.get("eval_before")
        elif config.init is not None:
            self.policy = load_checkpoint(config.init)
        else:
            self.policy = PlannerPolicy()
        trained = set_trainable(self.policy, config.trained_blocks())
        self.stored_prefixes = prefixes_to_store(config.init, trained)
        self.cache = FeatureCache(
            self.policy, config.trained_blocks(), config.cache_size, share_with=share_features
        )
        self.cache.install()
        self.optimizer = torch.optim.Adam(
            [p for p in self.policy.parameters() if p.requires_grad], lr=config.learning_rate()
        )
        if resumed is not None:
            load_optimizer(self.optimizer, resumed[1], state["optimizer"])
        self.logged = self._load_logged() if config.from_runs else []

    def _check_same_settings(self, saved: dict[str, Any], directory: Path) -> None:
        # Only the length of the run may change on resume; anything else would splice two
        # different experiments into one curve.
        current = self.config.to_json()
        # Runs saved before the setting existed used the paper's per-step mean.
        saved = {"entropy_scale": "mean", **saved}
        ignored = {"updates", "resume", "progress", "concurrency", "engine", "workers"}
        ignored.add("ray_address")
        diffs = [k for k in current if k not in ignored and saved.get(k) != current[k]]
        if diffs:
            raise ValueError(
                f"--resume: settings differ from the run in {directory}: {', '.join(diffs)}"
            )

    def _load_logged(self) -> list[EpisodeRecord]:
        episodes: list[EpisodeRecord] = []
        for run in self.config.from_runs:
            path = Path(run) / EPISODES_FILE
            found = read_episodes(path)
            if not found:
                raise ValueError(f"--from-runs {run}: episodes.jsonl holds no episode")
            batch_from_episodes(found, source=str(path))  # fail early on unusable logs
            episodes.extend(in_id_order(found))
        return episodes

    def _logged_batch(self, update: int) -> list[EpisodeRecord]:
        # A seeded permutation per pass over the logged episodes, cycling as needed.
        n = len(self.logged)
        size = self.config.episodes_per_update
        chosen: list[EpisodeRecord] = []
        position = update * size
        while len(chosen) < size:
            epoch, offset = divmod(position, n)
            order = torch.randperm(
                n, generator=torch.Generator().manual_seed(update_seed(self.config.seed, epoch))
            ).tolist()
            take = min(size - len(chosen), n - offset)
            chosen.extend(self.logged[i] for i in order[offset : offset + take])
            position += take
        return chosen

    def _evaluate(self, tag: str) -> dict[str, Any]:
        result = evaluate_policy(self.policy, self.config, self.out / "eval" / tag)
        data = asdict(result)
        data["effective_strategies"] = result.effective_strategies
        return data

    def run(self) -> RLSummary:
        """Train for the remaining updates and return the summary (also written as JSON)."""
        config = self.config
        started = time.perf_counter()
        self.out.mkdir(parents=True, exist_ok=True)
        if config.eval_cases is not None and self.eval_before is None:
            self.eval_before = self._evaluate("before")
        for update in range(self.start_update, config.updates):
            t0 = time.perf_counter()
            if config.from_runs:
                records = self._logged_batch(update)
                source = "logged runs"
            else:
                self.policy.eval()
                records = roll_out(
                    self.policy,
                    cases=config.cases,
                    episodes=config.episodes_per_update,
                    seed=update_seed(config.seed, update),
                    out=self.out / "rollouts" / f"update-{update:04d}",
                    mode="sample",
                    config=config,
                    # A different draw of training cases at every update.
                    shuffle=True,
                    policy_version=update,
                )
                source = f"rollouts of update {update}"
            t_rollouts = time.perf_counter() - t0
            batch = batch_from_episodes(records, source=source)
            t1 = time.perf_counter()
            stats = reinforce_step(self.policy, self.optimizer, batch, config)
            t_step = time.perf_counter() - t1
            row: dict[str, Any] = {
                "update": update + 1,
                "episodes": batch.n_episodes,
                "skipped": batch.skipped,
                "mean_reward": sum(sum(r) for r in batch.rewards)
                / sum(len(r) for r in batch.rewards),
                "success_rate": sum(batch.successes) / batch.n_episodes,
                "policy_entropy": stats.entropy,
                "loss": stats.loss,
                "mean_weight": stats.mean_weight,
                "clipped_fraction": stats.clipped_fraction,
                "shares": strategy_shares(STRATEGIES[int(a)] for a in batch.actions),
                "eval_success_rate": None,
            }
            last = update + 1 == config.updates
            if (
                config.eval_cases is not None
                and config.eval_every
                and (update + 1) % config.eval_every == 0
                and not last
            ):
                row["eval_success_rate"] = self._evaluate(f"update-{update + 1:04d}")[
                    "success_rate"
                ]
            row["seconds"] = round(time.perf_counter() - t0, 3)
            # The split lets benchmarks read rollout vs update cost from any logged run.
            row["rollout_seconds"] = round(t_rollouts, 3)
            row["update_seconds"] = round(t_step, 3)
            row["steps"] = len(batch.texts)
            self.history.append(row)
            save_training_state(
                self.out,
                update + 1,
                self.policy,
                self.optimizer,
                self.stored_prefixes,
                self.history,
                config,
                {"eval_before": self.eval_before},
            )
            write_curves(self.out, self.history)
            if config.progress:
                print(
                    f"update {update + 1}/{config.updates}: reward {row['mean_reward']:.3f} "
                    f"SR {row['success_rate']:.3f} entropy {row['policy_entropy']:.3f} "
                    f"({row['seconds']:.1f}s)",
                    flush=True,
                )
        eval_after = None
        if config.eval_cases is not None:
            eval_after = self._evaluate("after")
            if self.history:
                self.history[-1]["eval_success_rate"] = eval_after["success_rate"]
                write_curves(self.out, self.history)
        final = self.out / FINAL_DIR
        save_checkpoint(
            self.policy,
            final,
            trained_prefixes=self.stored_prefixes,
            dtype="float32",
            metadata={"rl_updates": config.updates, "rl_config": config.to_json()},
        )
        summary = RLSummary(
            config=config.to_json(),
            updates=config.updates,
            checkpoint=str(final),
            history=self.history,
            eval_before=self.eval_before,
            eval_after=eval_after,
            seconds=round(time.perf_counter() - started, 2),
            cache={"hits": self.cache.hits, "misses": self.cache.misses},
        )
        write_run_json(self.out / SUMMARY_FILE, summary.to_json())
        return summary


def train_rl(config: RLConfig) -> RLSummary:
    """Run (or resume) RL training of the Planner with `config`."""
    return ReinforceTrainer(config).run()
