"""Entropy-regularised REINFORCE for the Planner: rollouts -> Rewarder scores -> policy update.

One update of the on-policy loop: roll out `episodes_per_update` simulated dialogues on the
training cases with the current Planner *sampling* its strategies, read every turn's reward from
the logged `EpisodeRecord`s, turn them into (normalised, discounted) returns with `rl.returns` and
take one optimiser step on the loss of `rl.losses`. With ``from_runs`` no rollouts are made: each
update draws episodes from logged runs of earlier policies and corrects for the policy change with
clipped importance weights pi/mu, mu being the probability logged when the strategy was chosen.

Training paths:
- "head" (default, the fast CPU path): the encoder is frozen; the pooled embedding of each
  Planner-input text is computed once and cached, so both the rollouts and the updates cost one
  linear layer per decision after the first time a text is seen.
- "top": the top `top_layers` transformer blocks and the head train; the frozen lower blocks'
  output is cached per text in the same way (bounded, least recently used first out).

Dropout stays off during RL: the behaviour probabilities logged during rollouts come from the
eval-mode network, and the importance ratio is only meaningful if the update compares the same
function. Everything random derives from (seed, update index), so a resumed run repeats exactly
what an uninterrupted one would have done.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import time
from collections import Counter, OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

from policy.checkpoint import load_checkpoint, read_checkpoint_config, save_checkpoint
from policy.network import PlannerPolicy
from rl.losses import (
    DEFAULT_BETA,
    DEFAULT_IMPORTANCE_CLIP,
    ENTROPY_SCALES,
    EntropyScale,
    entropy,
    reinforce_loss,
)
from rl.returns import DEFAULT_GAMMA, Normalisation, episode_advantages
from rso.data.eval_cases import CaseSet
from rso.jsonio import write_json
from rso.modes import END_ON, EndOn
from rso.runs.directory import EPISODES_FILE
from rso.runs.records import EpisodeRecord, in_id_order, read_episodes
from rso.strategies import STRATEGIES, STRATEGY_INDEX

#: Which parameters RL changes: the head only (frozen, cached encoder) or top blocks + head.
TrainPath = Literal["head", "top"]


STATE_FILE = "rl_state.json"
OPTIMIZER_FILE = "optimizer.safetensors"
LATEST_FILE = "latest.json"
CURVES_CSV = "curves.csv"
CURVES_PNG = "curves.png"
SUMMARY_FILE = "rl_summary.json"
FINAL_DIR = "planner"
STATE_VERSION = 1
#: Adam learning rate of on-policy RL: suits the head-only path (1e-3 barely moved the SFT
#: Planner in 10 x 100 episodes, 3e-2 collapses the strategy distribution faster).
ON_POLICY_LR = 1e-2
#: ... and of learning from logged runs of another policy: at 1e-2 the policy leaves the logging
#: policy so fast that the importance weights degrade and the result depends on the batch order
#: (SR 0.879-1.000 over 11 runs from SFT logs); 3e-3 gave 0.989-1.000 (docs/training.md).
LOGGED_RUNS_LR = 3e-3


def _default_init() -> Path:
    from rl.sft import DEFAULT_SFT_OUTPUT

    return DEFAULT_SFT_OUTPUT


@dataclass
class RLConfig:
    """Settings of one RL run of the Planner."""

    #: Starting checkpoint (the SFT warm-up by default); None starts from a fresh head.
    init: Path | None = field(default_factory=_default_init)
    cases: CaseSet = "inspired-train"
    updates: int = 10
    episodes_per_update: int = 100
    gamma: float = DEFAULT_GAMMA
    beta: float = DEFAULT_BETA
    #: "mean": the paper's formula as written (beta times the per-step mean entropy), whose
    #: bonus is ~1/T of the policy term's scale; "decision": the bonus is counted at every
    #: decision, like the policy term (docs/training.md, "Breadth of the strategy distribution").
    entropy_scale: EntropyScale = "mean"
    #: Adam learning rate; None = ON_POLICY_LR, or LOGGED_RUNS_LR with `from_runs`
    #: (`learning_rate()` resolves it; docs/training.md).
    lr: float | None = None
    #: Subtract the batch's mean turn reward from every r_t before discounting: the Rewarder
    #: scores a neutral turn 0.6, so raw returns grow with dialogue length; centred rewards make
    #: success worth more than a long polite dialogue.
    baseline: bool = True
    #: How returns are standardised: "episode" (the paper), "batch" or "none".
    normalisation: Normalisation = "batch"
    #: Upper clip of the importance ratio pi/mu (logged runs and any reuse of a batch).
    importance_clip: float = DEFAULT_IMPORTANCE_CLIP
    train: TrainPath = "head"
    #: Trained transformer blocks with train="top".
    top_layers: int = 1
    #: Gradient steps per update on the same batch (the later ones are importance-weighted).
    steps_per_update: int = 1
    max_grad_norm: float = 1.0
    seed: int = 0
    out: Path = Path("runs/rl")
    #: Logged runs (directories holding episodes.jsonl) to learn from instead of rolling out.
    from_runs: tuple[Path, ...] = ()
    #: Held-out cases for the greedy evaluation before and after training; None skips it.
    eval_cases: CaseSet | None = "inspired-test"
    #: Evaluation episodes (None = every case once).
    eval_episodes: int | None = None
    #: Evaluate every N updates as well (0 = only before and after training).
    eval_every: int = 0
    seeker: Literal["act", "llm"] = "act"
    experts: Literal["rule", "llm"] = "rule"
    max_turns: int = 10
    #: When an episode ends early: "reward" (the paper: at the first turn reward > 0.7, which is
    #: what the summed-reward objective assumes) or "accept" (explicit acceptance or the seeker
    #: leaving); None = the seeker's default ("accept" for the act seeker). See docs/training.md.
    end_on: EndOn | None = "reward"
    #: Episodes rolled out at once; the Planner's forward passes are batched across them.
    concurrency: int = 8
    #: Cached feature entries kept (per text; "top" entries are large, hence the cap).
    cache_size: int = 50_000
    resume: bool = False
    progress: bool = True

    def validate(self) -> None:
        """Raise ValueError naming the first setting no run can use."""
        checks: list[tuple[bool, str]] = [
            (self.updates >= 1, f"updates must be >= 1, got {self.updates}"),
            (
                self.episodes_per_update >= 1,
                f"episodes_per_update must be >= 1, got {self.episodes_per_update}",
            ),
            (0.0 <= self.gamma <= 1.0, f"gamma must lie in [0, 1], got {self.gamma}"),
            (self.beta >= 0.0, f"beta must be >= 0, got {self.beta}"),
            (
                self.entropy_scale in ENTROPY_SCALES,
                f"entropy_scale must be one of {', '.join(ENTROPY_SCALES)}, "
                f"got {self.entropy_scale!r}",
            ),
            (self.learning_rate() > 0.0, f"lr must be > 0, got {self.lr}"),
            (self.importance_clip > 0, f"importance_clip must be > 0, got {self.importance_clip}"),
            (self.train in ("head", "top"), f"train must be head or top, got {self.train!r}"),
            (self.top_layers >= 1, f"top_layers must be >= 1, got {self.top_layers}"),
            (self.steps_per_update >= 1, "steps_per_update must be >= 1"),
            (self.eval_every >= 0, "eval_every must be >= 0"),
            (
                self.end_on in (None, *END_ON),
                f"end_on must be one of {', '.join(END_ON)} or None, got {self.end_on!r}",
            ),
            (
                self.normalisation in ("episode", "batch", "none"),
                f"normalisation must be episode, batch or none, got {self.normalisation!r}",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        for run in self.from_runs:
            if not (Path(run) / EPISODES_FILE).is_file():
                raise FileNotFoundError(f"--from-runs {run}: no episodes.jsonl in that directory")

    def learning_rate(self) -> float:
        """Return the Adam learning rate: `lr`, or the default of the run's kind."""
        if self.lr is not None:
            return self.lr
        return LOGGED_RUNS_LR if self.from_runs else ON_POLICY_LR

    def to_json(self) -> dict[str, Any]:
        """Return the settings as JSON-ready values (the learning rate resolved)."""
        data = asdict(self)
        data["lr"] = self.learning_rate()
        for key, value in data.items():
            if isinstance(value, Path):
                data[key] = str(value)
        data["from_runs"] = [str(p) for p in self.from_runs]
        return data


# -- cached features ----------------------------------------------------------------------------


class FeatureCache:
    """Per-text output of the Planner's frozen part, installed as the policy's `encode`.

    With the cache installed, every caller of the policy (the rollout's Planner node as well as
    the update) runs only the trainable part on top of the cached features.
    """

    def __init__(
        self,
        policy: PlannerPolicy,
        top_layers: int,
        max_entries: int,
        share_with: FeatureCache | None = None,
    ) -> None:
        self.policy = policy
        #: 0 = the whole encoder is frozen (cache pooled vectors); N = cache below the top N.
        self.top_layers = top_layers
        self.max_entries = max_entries
        self._store: OrderedDict[str, torch.Tensor] = OrderedDict()
        if share_with is not None:
            # Only exact when both policies have the same frozen part (the caller's promise:
            # the same starting checkpoint); the cut point must match as well.
            if share_with.top_layers != top_layers:
                raise ValueError(
                    f"cannot share cached features cut below {share_with.top_layers} top blocks "
                    f"with a cache cut below {top_layers}"
                )
            self._store = share_with._store
        self.hits = 0
        self.misses = 0

    def install(self) -> None:
        """Route the policy's `encode` through the cache (for this policy object only)."""
        self.policy.encode = self.encode  # type: ignore[method-assign]

    @torch.no_grad()
    def _compute(self, texts: list[str]) -> list[torch.Tensor]:
        policy = self.policy
        batch = policy.tokenize(texts)
        lengths = batch["attention_mask"].sum(dim=1).tolist()
        if self.top_layers == 0:
            out = policy.encoder(**batch)
            pooled = policy.pool(out.last_hidden_state, batch["attention_mask"])
            return [row.detach().clone() for row in pooled]
        hidden = policy.lower_hidden(batch, self.top_layers)
        # Keep each text's states without padding, so a cached entry does not depend on which
        # texts it was first encoded with.
        return [hidden[i, : int(n)].detach().clone() for i, n in enumerate(lengths)]

    def features(self, texts: Sequence[str]) -> list[torch.Tensor]:
        """Return the cached frozen-part output of each text, computing the missing ones."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._store))
        self.misses += len(missing)
        self.hits += len(texts) - len(missing)
        for start in range(0, len(missing), 64):
            chunk = missing[start : start + 64]
            for text, value in zip(chunk, self._compute(chunk), strict=True):
                self._store[text] = value
        out = []
        for text in texts:
            self._store.move_to_end(text)
            out.append(self._store[text])
        while len(self._store) > self.max_entries:
            self._store.popitem(last=False)
        return out

    def encode(self, texts: Sequence[str]) -> torch.Tensor:
        """Pooled states [B, H] of the texts: cached, plus the trainable top blocks if any."""
        if isinstance(texts, str):
            raise TypeError("pass a sequence of dialogue texts, not one string")
        values = self.features(texts)
        if self.top_layers == 0:
            return torch.stack(values)
        width = max(v.shape[0] for v in values)
        hidden_size = values[0].shape[1]
        hidden = torch.zeros(len(values), width, hidden_size, dtype=values[0].dtype)
        mask = torch.zeros(len(values), width, dtype=torch.long)
        for i, v in enumerate(values):
            hidden[i, : v.shape[0]] = v
            mask[i, : v.shape[0]] = 1
        device = self.policy.device
        return self.policy.upper_pooled(hidden.to(device), mask.to(device), self.top_layers)


def set_rl_trainable(policy: PlannerPolicy, path: TrainPath, top_layers: int) -> list[str]:
    """Freeze everything but the trained part; return the trained parameter-name prefixes."""
    prefixes = ["head."] if path == "head" else policy.top_layer_prefixes(top_layers)
    for name, p in policy.named_parameters():
        p.requires_grad_(name.startswith(tuple(prefixes)))
    return prefixes


# -- batches of logged steps ----------------------------------------------------------------------


@dataclass(frozen=True)
class StepBatch:
    """The Planner decisions of a set of episodes, flattened in episode order."""

    texts: list[str]
    actions: torch.Tensor
    #: Rewards of the decision steps, one list per episode (for the returns).
    rewards: list[list[float]]
    #: mu(h_t | s_t) logged at decision time, one per step.
    behaviour: torch.Tensor
    episode_ids: list[str]
    successes: list[bool]
    #: Episodes left out, by reason (failed episodes, episodes without Planner decisions).
    skipped: dict[str, int]

    @property
    def n_episodes(self) -> int:
        """Number of episodes in the batch."""
        return len(self.rewards)


def batch_from_episodes(episodes: Iterable[EpisodeRecord], source: str = "rollouts") -> StepBatch:
    """Collect the Planner decisions of finished episodes; raise if none can be learned from."""
    texts: list[str] = []
    actions: list[int] = []
    behaviour: list[float] = []
    rewards: list[list[float]] = []
    ids: list[str] = []
    successes: list[bool] = []
    skipped: Counter[str] = Counter()
    for episode in episodes:
        if episode.status != "ok":
            skipped["failed"] += 1
            continue
        steps = [t for t in episode.turns if t.strategy is not None]
        if not steps:
            skipped["no_planner_decision"] += 1
            continue
        if len(steps) != len(episode.turns):
            raise ValueError(
                f"{source}: episode {episode.episode_id} mixes turns with and without a strategy"
            )
        for turn in steps:
            assert turn.strategy is not None
            where = f"{source}: episode {episode.episode_id} turn {turn.turn}"
            if not turn.planner_input:
                raise ValueError(f"{where}: no planner_input logged; cannot replay the decision")
            index = STRATEGY_INDEX[turn.strategy]
            if turn.probs:
                mu = float(turn.probs[index])
            elif turn.logprob is not None:
                mu = math.exp(turn.logprob)
            else:
                raise ValueError(f"{where}: neither probs nor logprob logged")
            if not 0.0 < mu <= 1.0 + 1e-6:
                raise ValueError(f"{where}: logged probability {mu} of {turn.strategy!r}")
            texts.append(turn.planner_input)
            actions.append(index)
            behaviour.append(min(mu, 1.0))
        rewards.append([float(t.reward) for t in steps])
        ids.append(episode.episode_id)
        successes.append(bool(episode.success))
    if not rewards:
        detail = ", ".join(f"{k}: {v}" for k, v in sorted(skipped.items())) or "no episodes"
        raise ValueError(f"{source}: no episode with Planner decisions to learn from ({detail})")
    return StepBatch(
        texts=texts,
        actions=torch.tensor(actions, dtype=torch.long),
        rewards=rewards,
        behaviour=torch.tensor(behaviour, dtype=torch.float32),
        episode_ids=ids,
        successes=successes,
        skipped=dict(skipped),
    )


def centred_rewards(rewards: Sequence[Sequence[float]]) -> list[list[float]]:
    """Subtract the mean turn reward of the whole batch from every reward (the reward baseline)."""
    flat = [r for episode in rewards for r in episode]
    mean = sum(flat) / len(flat)
    return [[r - mean for r in episode] for episode in rewards]


@dataclass(frozen=True)
class UpdateStats:
    """What one policy update measured (before the step, under the behaviour batch)."""

    loss: float
    policy_term: float
    entropy: float
    mean_weight: float
    clipped_fraction: float


def reinforce_step(
    policy: PlannerPolicy,
    optimizer: torch.optim.Optimizer,
    batch: StepBatch,
    config: RLConfig,
    *,
    importance: bool = True,
) -> UpdateStats:
    """Take `config.steps_per_update` optimiser steps of the entropy-regularised REINFORCE loss."""
    rewards = centred_rewards(batch.rewards) if config.baseline else batch.rewards
    advantages, _ = episode_advantages(
        rewards, gamma=config.gamma, normalisation=config.normalisation
    )
    params = [p for p in policy.parameters() if p.requires_grad]
    policy.eval()  # dropout off: see the module docstring
    first: UpdateStats | None = None
    for _ in range(config.steps_per_update):
        logits = policy(batch.texts)
        parts = reinforce_loss(
            logits,
            batch.actions.to(logits.device),
            advantages.to(logits.device),
            beta=config.beta,
            num_episodes=batch.n_episodes,
            behaviour_prob=batch.behaviour.to(logits.device) if importance else None,
            importance_clip=config.importance_clip,
            entropy_scale=config.entropy_scale,
        )
        optimizer.zero_grad(set_to_none=True)
        parts.loss.backward()
        if config.max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
        optimizer.step()
        if first is None:
            first = UpdateStats(
                loss=float(parts.loss.detach()),
                policy_term=float(parts.policy_term),
                entropy=float(parts.entropy),
                mean_weight=float(parts.mean_weight),
                clipped_fraction=float(parts.clipped_fraction),
            )
    assert first is not None
    return first


# -- rollouts and evaluation ----------------------------------------------------------------------


@dataclass(frozen=True)
class EvalResult:
    """Greedy evaluation of a Planner on held-out cases."""

    episodes: int
    success_rate: float
    strict_success_rate: float
    mean_turns: float
    mean_reward: float
    #: Share of each strategy among the evaluation's decisions (STRATEGIES order).
    strategy_shares: list[float]
    mean_policy_entropy: float

    @property
    def effective_strategies(self) -> float:
        """exp(entropy of the strategy shares): how many strategies are really in use."""
        return effective_count(self.strategy_shares)


def effective_count(shares: Sequence[float]) -> float:
    """Return exp(H(shares)), the number of equally used strategies with the same entropy."""
    h = -sum(p * math.log(p) for p in shares if p > 0)
    return math.exp(h)


def strategy_shares(strategies: Iterable[str]) -> list[float]:
    """Share of each strategy in `STRATEGIES` order."""
    counts = Counter(strategies)
    total = sum(counts.values())
    return [counts.get(s, 0) / total if total else 0.0 for s in STRATEGIES]


def roll_out(
    policy: PlannerPolicy | None,
    *,
    cases: str,
    episodes: int | None,
    seed: int,
    out: Path,
    mode: Literal["sample", "greedy"],
    config: RLConfig,
    planner: str | None = None,
    overrides: dict[str, Any] | None = None,
    shuffle: bool = False,
) -> list[EpisodeRecord]:
    """Run simulated episodes with `policy` (or the named `planner`); return them by episode id.

    A partly written directory from an interrupted run is replaced: the episodes are a pure
    function of the seed, so running them again gives the same records.
    """
    from rollouts.runner import RolloutConfig, run_rollouts

    if out.exists():
        shutil.rmtree(out)
    rollout_config = RolloutConfig(
        out=out,
        cases=cases,  # type: ignore[arg-type]
        seeker=config.seeker,
        experts=config.experts,
        planner=planner or "uniform",  # ignored when a policy is passed
        episodes=episodes,
        concurrency=config.concurrency,
        seed=seed,
        max_turns=config.max_turns,
        end_on=config.end_on,
        shuffle_cases=shuffle,
        context={"planner_mode": mode, **(overrides or {})},
    )
    summary = run_rollouts(rollout_config, policy=policy, progress=False)
    return in_id_order(summary.episodes)


def summarise_eval(records: Sequence[EpisodeRecord], policy: PlannerPolicy | None) -> EvalResult:
    """SR, strict SR, turns, reward, strategy shares and policy entropy of evaluation episodes."""
    ok = [r for r in records if r.status == "ok"]
    if not ok:
        raise ValueError("evaluation produced no finished episode")
    turns = [t for r in ok for t in r.turns]
    texts = [t.planner_input for t in turns if t.strategy is not None]
    mean_entropy = float("nan")
    if policy is not None and texts:
        with torch.no_grad():
            mean_entropy = float(entropy(policy(texts)).mean())
    elif turns and all(t.probs for t in turns):
        probs = torch.tensor([t.probs for t in turns])
        mean_entropy = float(-(probs * probs.clamp_min(1e-12).log()).sum(-1).mean())
    return EvalResult(
        episodes=len(ok),
        success_rate=sum(r.success for r in ok) / len(ok),
        strict_success_rate=sum(r.strict_success for r in ok) / len(ok),
        mean_turns=sum(r.n_turns for r in ok) / len(ok),
        mean_reward=sum(t.reward for t in turns) / max(1, len(turns)),
        strategy_shares=strategy_shares(t.strategy for t in turns if t.strategy is not None),
        mean_policy_entropy=mean_entropy,
    )


def greedy_episodes(
    policy: PlannerPolicy | None,
    config: RLConfig,
    out: Path,
    seed: int | None = None,
    planner: str | None = None,
) -> list[EpisodeRecord]:
    """Greedy (argmax) episodes on `config.eval_cases`, as the method prescribes for testing."""
    if config.eval_cases is None:
        raise ValueError("no evaluation cases configured")
    if policy is not None:
        policy.eval()
    return roll_out(
        policy,
        cases=config.eval_cases,
        episodes=config.eval_episodes,
        seed=config.seed if seed is None else seed,
        out=out,
        mode="greedy",
        config=config,
        planner=planner,
    )


def evaluate_policy(
    policy: PlannerPolicy | None,
    config: RLConfig,
    out: Path,
    seed: int | None = None,
    planner: str | None = None,
) -> EvalResult:
    """Summarise the greedy episodes of `policy` on `config.eval_cases` (`greedy_episodes`)."""
    return summarise_eval(greedy_episodes(policy, config, out, seed, planner), policy)


# -- checkpoints and resume -----------------------------------------------------------------------


def _optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], Any]:
    state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, float]] = {}
    for index, values in state["state"].items():
        for key, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{index}.{key}"] = value.detach().cpu().contiguous().clone()
            else:
                scalars.setdefault(str(index), {})[key] = float(value)
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _load_optimizer(
    optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict[str, Any]
) -> None:
    state: dict[int, dict[str, Any]] = {}
    for name, tensor in tensors.items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = tensor
    for index, values in meta.get("scalars", {}).items():
        state.setdefault(int(index), {}).update(values)
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def _stored_prefixes(init: Path | None, trained: list[str]) -> list[str] | None:
    """Prefixes to store: what RL trains plus what the starting checkpoint already changed."""
    if init is None:
        return trained
    config = read_checkpoint_config(init)
    if config.get("stored") != "partial":
        return None  # a full starting checkpoint stays full
    return sorted(set(config.get("stored_prefixes") or ()) | set(trained))


def save_training_state(
    out: Path,
    update: int,
    policy: PlannerPolicy,
    optimizer: torch.optim.Optimizer,
    stored_prefixes: list[str] | None,
    history: list[dict[str, Any]],
    config: RLConfig,
    extra: dict[str, Any],
) -> Path:
    """Write the checkpoint after `update` updates, point latest.json at it, drop older ones."""
    from safetensors.torch import save_file

    directory = out / "checkpoints" / f"update-{update:04d}"
    save_checkpoint(
        policy,
        directory,
        trained_prefixes=stored_prefixes,
        dtype="float32",  # exact resume: fp16 storage would perturb the continued run
        metadata={"rl_update": update, "rl_config": config.to_json()},
    )
    tensors, meta = _optimizer_tensors(optimizer)
    save_file(tensors, str(directory / OPTIMIZER_FILE))
    state = {
        "state_version": STATE_VERSION,
        "update": update,
        "config": config.to_json(),
        "optimizer": meta,
        "history": history,
        **extra,
    }
    _write_json(directory / STATE_FILE, state)
    _write_json(out / LATEST_FILE, {"update": update, "dir": str(directory.relative_to(out))})
    for old in (out / "checkpoints").iterdir():
        if old != directory and old.name.startswith("update-"):
            shutil.rmtree(old)
    return directory


def _write_json(path: Path, data: Any) -> None:
    write_json(path, data, indent=2, sort_keys=True)


def latest_checkpoint(out: Path) -> tuple[int, Path] | None:
    """Return (updates done, checkpoint dir) of a run directory, or None if it has none."""
    pointer = out / LATEST_FILE
    if not pointer.is_file():
        return None
    data = json.loads(pointer.read_text(encoding="utf-8"))
    return int(data["update"]), out / data["dir"]


# -- curves ---------------------------------------------------------------------------------------

_CURVE_FIELDS = [
    "update",
    "episodes",
    "mean_reward",
    "success_rate",
    "policy_entropy",
    "loss",
    "mean_weight",
    "clipped_fraction",
    "eval_success_rate",
    "seconds",
    "rollout_seconds",
    "update_seconds",
    "steps",
]


def write_curves(out: Path, history: list[dict[str, Any]]) -> None:
    """Write the per-update curves to curves.csv and curves.png."""
    columns = _CURVE_FIELDS + [f"share:{s}" for s in STRATEGIES]
    tmp = out / (CURVES_CSV + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in history:
            flat = {k: row.get(k, "") for k in _CURVE_FIELDS}
            flat.update({f"share:{s}": row["shares"][i] for i, s in enumerate(STRATEGIES)})
            writer.writerow(flat)
    os.replace(tmp, out / CURVES_CSV)
    plot_curves(history, out / CURVES_PNG)


def plot_curves(history: list[dict[str, Any]], path: Path) -> Path:
    """Plot mean reward, SR, policy entropy and the strategy distribution per update."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    updates = [row["update"] for row in history]
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    axes[0, 0].plot(updates, [row["mean_reward"] for row in history], marker="o")
    axes[0, 0].set_title("mean turn reward (rollouts)")
    axes[0, 1].plot(updates, [row["success_rate"] for row in history], marker="o", label="train")
    evals = [
        (row["update"], row["eval_success_rate"])
        for row in history
        if row.get("eval_success_rate") not in (None, "")
    ]
    if evals:
        axes[0, 1].plot(*zip(*evals, strict=True), marker="s", label="held-out (greedy)")
    axes[0, 1].set_title("success rate")
    axes[0, 1].legend()
    axes[1, 0].plot(updates, [row["policy_entropy"] for row in history], marker="o")
    axes[1, 0].set_title("policy entropy (nats)")
    shares = torch.tensor([row["shares"] for row in history]).T if history else torch.zeros(0)
    if history:
        axes[1, 1].stackplot(updates, shares.numpy(), labels=STRATEGIES)
        axes[1, 1].legend(fontsize=6, loc="center left", bbox_to_anchor=(1.0, 0.5))
    axes[1, 1].set_title("strategy distribution (rollouts)")
    for ax in axes.flat:
        ax.set_xlabel("update")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


# -- the trainer ----------------------------------------------------------------------------------


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
            state = json.loads((directory / STATE_FILE).read_text(encoding="utf-8"))
            if state.get("state_version") != STATE_VERSION:
                raise ValueError(f"{directory / STATE_FILE}: unknown state version")
            self._check_same_settings(state["config"], directory)
            self.policy = load_checkpoint(directory)
            self.start_update = done
            self.history = list(state["history"])
            self.eval_before = state.get("eval_before")
        elif config.init is not None:
            self.policy = load_checkpoint(config.init)
        else:
            self.policy = PlannerPolicy()
        trained = set_rl_trainable(self.policy, config.train, config.top_layers)
        self.stored_prefixes = _stored_prefixes(config.init, trained)
        self.cache = FeatureCache(
            self.policy,
            0 if config.train == "head" else config.top_layers,
            config.cache_size,
            share_with=share_features,
        )
        self.cache.install()
        self.optimizer = torch.optim.Adam(
            [p for p in self.policy.parameters() if p.requires_grad], lr=config.learning_rate()
        )
        if resumed is not None:
            from safetensors.torch import load_file

            _load_optimizer(
                self.optimizer, load_file(str(resumed[1] / OPTIMIZER_FILE)), state["optimizer"]
            )
        self.logged = self._load_logged() if config.from_runs else []

    def _check_same_settings(self, saved: dict[str, Any], directory: Path) -> None:
        # Only the length of the run may change on resume; anything else would splice two
        # different experiments into one curve.
        current = self.config.to_json()
        # Runs saved before the setting existed used the paper's per-step mean.
        saved = {"entropy_scale": "mean", **saved}
        ignored = {"updates", "resume", "progress", "concurrency"}
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
        _write_json(self.out / SUMMARY_FILE, summary.to_json())
        return summary


def train_rl(config: RLConfig) -> RLSummary:
    """Run (or resume) RL training of the Planner with `config`."""
    return ReinforceTrainer(config).run()
