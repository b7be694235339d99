"""Supervised warm-up of the Planner on INSPIRED: one sample per labelled recommender turn.

Three training paths share one loop:
- "frozen": the encoder is fixed; pooled embeddings are computed once (cached under the cache
  directory) and only the linear head is trained. Fast, but weak (~0.13 macro-F1 with MiniLM).
- "partial" (default): the bottom blocks are fixed and their output is computed once in memory;
  the top `top_layers` blocks and the head are fine-tuned on it. Most of the gain of fine-tuning
  at a fraction of its cost on CPU, and the checkpoint stores only the trained blocks (a few MB).
- "full": everything is fine-tuned end to end (the paper's setting; use a GPU).

The paper's values (lr 6e-6, 10 epochs, batch 16, 512 tokens, RoBERTa-large) take days on two CPU
cores; the defaults here were chosen so that the default path finishes within about 30 minutes on
such a machine while clearly beating TF-IDF + logistic regression (see bench/RESULTS.md).
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel
from tqdm.auto import tqdm

from policy.checkpoint import StorageDtype, load_checkpoint, save_checkpoint
from policy.network import (
    PlannerConfig,
    PlannerPolicy,
    Pooling,
    default_backbone,
)
from rl.baselines import most_frequent_baseline, tfidf_logreg_baseline
from rso.data.records import PlannerSample, Split
from rso.dialogue import format_dialogue
from rso.paths import DEFAULT_PLANNER_DIR, REPO_ROOT, cache_dir
from rso.strategies import STRATEGIES, STRATEGY_INDEX

TrainMode = Literal["frozen", "partial", "full"]
ClassWeighting = Literal["none", "sqrt", "balanced"]

#: Where ``rso train sft`` writes by default: the committed Planner the recommender loads.
DEFAULT_SFT_OUTPUT = DEFAULT_PLANNER_DIR

SUMMARY_FILE = "sft_summary.json"
CONFUSION_FILE = "confusion_matrix.png"


@dataclass
class SFTConfig:
    """Settings of one supervised warm-up run."""

    backbone: str = field(default_factory=default_backbone)
    mode: TrainMode = "partial"
    #: Fine-tuned transformer blocks, counted from the top (mode "partial").
    top_layers: int = 1
    pooling: Pooling = "mean"
    dropout: float = 0.1
    #: 64 tokens keep the last ~4 utterances (median), which carry most of the signal, and halve
    #: the CPU cost of 128.
    max_length: int = 64
    epochs: int = 3
    batch_size: int = 32
    #: Learning rate of the fine-tuned encoder blocks (the paper's 6e-6 is for 10 epochs of
    #: RoBERTa-large; the few top blocks of a small encoder tolerate much more).
    lr: float = 2e-4
    #: Learning rate of the freshly initialised linear head.
    head_lr: float = 2e-3
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    #: "sqrt" softens the class imbalance (Credibility is 15x Self Modeling) for macro-F1.
    class_weight: ClassWeighting = "sqrt"
    seed: int = 0
    #: Keep only the first N training samples (quick runs and tests); None keeps all.
    limit_train: int | None = None
    limit_eval: int | None = None
    output: Path = DEFAULT_SFT_OUTPUT
    #: fp16 halves the checkpoint; the reported test figures come from the stored weights.
    storage_dtype: StorageDtype = "float16"
    device: str = "cpu"
    baselines: bool = True
    progress: bool = True
    #: Reuse frozen-mode embeddings cached on disk (off for benchmarks that time the encoding).
    cache_embeddings: bool = True


class StrategyScore(BaseModel):
    """F1 and support of one strategy."""

    f1: float
    support: int


class ClassifierMetrics(BaseModel):
    """Accuracy, macro-F1 and per-strategy F1 of one classifier on one split."""

    accuracy: float
    macro_f1: float
    per_strategy: dict[str, StrategyScore]


class EpochLog(BaseModel):
    """Training loss and validation scores after one epoch."""

    epoch: int
    train_loss: float
    valid_accuracy: float
    valid_macro_f1: float
    seconds: float


class SFTSummary(BaseModel):
    """Everything one warm-up run measured, written beside the checkpoint."""

    schema_version: int = 1
    config: dict[str, Any]
    samples: dict[str, int]
    trainable_parameters: int
    epochs: list[EpochLog]
    best_epoch: int
    best_valid_macro_f1: float
    test: ClassifierMetrics
    baselines: dict[str, ClassifierMetrics]
    baseline_settings: dict[str, str]
    checkpoint: str
    checkpoint_bytes: int
    confusion_matrix_png: str
    seconds: dict[str, float]


# -- data -------------------------------------------------------------------------------------


def sample_text(sample: PlannerSample) -> str:
    """Return the Planner's input for a sample: its history as Seeker/Recommender lines."""
    return format_dialogue([(u.speaker, u.text) for u in sample.history])


def encode_samples(samples: Sequence[PlannerSample]) -> tuple[list[str], list[int]]:
    """Return the texts and label indices of samples."""
    return [sample_text(s) for s in samples], [STRATEGY_INDEX[s.label] for s in samples]


def load_split_samples(split: Split, limit: int | None = None) -> list[PlannerSample]:
    """Planner samples of an INSPIRED split, optionally the first `limit` of them."""
    from rso.data.inspired import planner_samples

    samples = planner_samples(split)
    if not samples:
        raise ValueError(f"INSPIRED split {split!r} has no Planner samples")
    return samples[:limit] if limit is not None else samples


def class_weights(labels: Sequence[int], scheme: ClassWeighting) -> torch.Tensor | None:
    """Cross-entropy weights per strategy from training label counts (mean 1 over seen classes)."""
    if scheme == "none":
        return None
    counts = Counter(labels)
    total = len(labels)
    raw = torch.zeros(len(STRATEGIES))
    for label, count in counts.items():
        raw[label] = total / (len(counts) * count)
    if scheme == "sqrt":
        raw = raw.sqrt()
    elif scheme != "balanced":
        raise ValueError(f"unknown class weighting {scheme!r}; expected none, sqrt or balanced")
    seen = raw > 0
    raw[seen] = raw[seen] / raw[seen].mean()
    return raw


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# -- features ---------------------------------------------------------------------------------


class TrainingFeatures:
    """How a training path turns sample indices into logits (cached features or end to end)."""

    def __init__(
        self, policy: PlannerPolicy, config: SFTConfig, texts: Sequence[str], name: str
    ) -> None:
        self.policy, self.config, self.texts = policy, config, list(texts)
        self.pooled: torch.Tensor | None = None
        self.hidden: torch.Tensor | None = None
        self.mask: torch.Tensor | None = None
        if config.mode == "frozen":
            self.pooled = _cached_pooled(policy, config, self.texts, name)
        elif config.mode == "partial":
            self.hidden, self.mask = _lower_states(policy, config, self.texts, name)

    def __len__(self) -> int:
        return len(self.texts)

    def logits(self, index: Sequence[int]) -> torch.Tensor:
        """Return logits [len(index), 14] for the samples at `index` (with gradient)."""
        device = self.policy.device
        if self.pooled is not None:
            return self.policy.classify(self.pooled[list(index)].to(device))
        if self.hidden is not None and self.mask is not None:
            mask = self.mask[list(index)]
            width = int(mask.sum(dim=1).max())  # trim padding shared by the whole batch
            hidden = self.hidden[list(index), :width].to(device, torch.float32)
            mask = mask[:, :width].to(device, torch.long)
            pooled = self.policy.upper_pooled(hidden, mask, self.config.top_layers)
            return self.policy.classify(pooled)
        return self.policy([self.texts[i] for i in index])


def _batches(n: int, size: int) -> list[list[int]]:
    return [list(range(i, min(i + size, n))) for i in range(0, n, size)]


@torch.no_grad()
def _cached_pooled(
    policy: PlannerPolicy, config: SFTConfig, texts: list[str], name: str
) -> torch.Tensor:
    from safetensors.torch import load_file, save_file

    key = hashlib.sha256(
        json.dumps(
            [
                policy.backbone_fingerprint(),
                config.backbone,
                config.max_length,
                config.pooling,
                texts,
            ]
        ).encode("utf-8")
    ).hexdigest()[:20]
    path = cache_dir() / "planner-sft" / f"pooled-{key}.safetensors"
    if config.cache_embeddings and path.is_file():
        return load_file(str(path))["pooled"]
    policy.eval()
    chunks = [
        policy.encode([texts[i] for i in idx]).cpu()
        for idx in tqdm(
            _batches(len(texts), 64), desc=f"embed {name}", disable=not config.progress, leave=False
        )
    ]
    pooled = torch.cat(chunks)
    if config.cache_embeddings:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file({"pooled": pooled.contiguous()}, str(path))
    return pooled


@torch.no_grad()
def _lower_states(
    policy: PlannerPolicy, config: SFTConfig, texts: list[str], name: str
) -> tuple[torch.Tensor, torch.Tensor]:
    # The frozen bottom's output is kept in memory in fp16 (about 0.8 GB for INSPIRED train at 64
    # tokens); it is exact to recompute, so it is not worth a disk cache of that size.
    policy.eval()
    n = len(texts)
    hidden_size = int(policy.encoder.config.hidden_size)
    hidden = torch.zeros(n, config.max_length, hidden_size, dtype=torch.float16)
    mask = torch.zeros(n, config.max_length, dtype=torch.bool)
    for idx in tqdm(
        _batches(n, 64), desc=f"encode {name}", disable=not config.progress, leave=False
    ):
        batch = policy.tokenize([texts[i] for i in idx])
        states = policy.lower_hidden(batch, config.top_layers).cpu()
        width = states.shape[1]
        hidden[idx[0] : idx[-1] + 1, :width] = states.to(torch.float16)
        mask[idx[0] : idx[-1] + 1, :width] = batch["attention_mask"].cpu().bool()
    return hidden, mask


# -- training ---------------------------------------------------------------------------------


def set_trainable(policy: PlannerPolicy, config: SFTConfig) -> list[str] | None:
    """Freeze what the mode keeps fixed; return the stored prefixes (None: store everything)."""
    if config.mode == "full":
        for p in policy.parameters():
            p.requires_grad_(True)
        return None
    prefixes = (
        ["head."] if config.mode == "frozen" else policy.top_layer_prefixes(config.top_layers)
    )
    for name, p in policy.named_parameters():
        p.requires_grad_(name.startswith(tuple(prefixes)))
    return prefixes


def make_optimizer(policy: PlannerPolicy, config: SFTConfig) -> torch.optim.AdamW:
    """AdamW over the trainable parameters: head and encoder learning rates, no decay on 1-D."""
    groups: dict[tuple[float, float], list[torch.nn.Parameter]] = {}
    for name, p in policy.named_parameters():
        if not p.requires_grad:
            continue
        lr = config.head_lr if name.startswith("head.") else config.lr
        # The usual practice: no weight decay on biases and LayerNorm gains.
        decay = 0.0 if p.dim() < 2 else config.weight_decay
        groups.setdefault((lr, decay), []).append(p)
    return torch.optim.AdamW(
        [{"params": ps, "lr": lr, "weight_decay": wd} for (lr, wd), ps in groups.items()]
    )


def _linear_warmup(total: int, warmup: int) -> Callable[[int], float]:
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total - step) / max(1, total - warmup))

    return factor


def train_epoch(
    features: TrainingFeatures,
    labels: torch.Tensor,
    order: Sequence[int],
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None,
    weights: torch.Tensor | None,
    batch_size: int,
    desc: str | None = None,
) -> float:
    """Run one pass of cross-entropy updates over samples `order` (labels aligned); mean loss."""
    policy = features.policy
    policy.train()
    params = [p for p in policy.parameters() if p.requires_grad]
    running, seen = 0.0, 0
    bar = tqdm(range(0, len(order), batch_size), desc=desc, disable=desc is None)
    for start in bar:
        index = list(order[start : start + batch_size])
        logits = features.logits(index)
        target = labels[start : start + batch_size].to(policy.device)
        loss = F.cross_entropy(logits, target, weight=weights)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        running += loss.item() * len(index)
        seen += len(index)
        bar.set_postfix(loss=f"{running / seen:.3f}")
    return running / max(1, seen)


@torch.no_grad()
def _predict(features: TrainingFeatures, batch_size: int) -> list[int]:
    features.policy.eval()
    out: list[int] = []
    for idx in _batches(len(features), batch_size * 2):
        out.extend(int(i) for i in features.logits(idx).argmax(dim=-1))
    return out


def classification_metrics(y_true: Sequence[int], y_pred: Sequence[int]) -> ClassifierMetrics:
    """Accuracy, macro-F1 (over strategies present in truth or prediction) and per-strategy F1."""
    from sklearn.metrics import accuracy_score, f1_score

    labels = list(range(len(STRATEGIES)))
    per = f1_score(y_true, y_pred, labels=labels, average=None, zero_division=0)
    support = Counter(y_true)
    return ClassifierMetrics(
        accuracy=float(accuracy_score(y_true, y_pred)),
        macro_f1=float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
        per_strategy={
            s: StrategyScore(f1=float(per[i]), support=support.get(i, 0))
            for i, s in enumerate(STRATEGIES)
        },
    )


def plot_confusion(y_true: Sequence[int], y_pred: Sequence[int], path: Path, title: str) -> Path:
    """Save a row-normalised confusion matrix of strategies as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import confusion_matrix

    counts = confusion_matrix(y_true, y_pred, labels=list(range(len(STRATEGIES))))
    rows = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, rows, out=np.zeros(counts.shape), where=rows > 0)
    fig, ax = plt.subplots(figsize=(9, 8))
    image = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    ax.set_xticks(range(len(STRATEGIES)), STRATEGIES, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(STRATEGIES)), STRATEGIES, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    for i in range(len(STRATEGIES)):
        for j in range(len(STRATEGIES)):
            if counts[i, j]:
                color = "white" if share[i, j] > 0.5 else "black"
                ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=6, color=color)
    fig.colorbar(image, ax=ax, fraction=0.046, label="share of true row")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _shown(path: Path) -> str:
    # Paths inside the repository are written relative to it, so a committed summary is portable.
    try:
        return str(Path(path).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def run_sft(
    config: SFTConfig,
    samples: dict[Split, list[PlannerSample]] | None = None,
) -> SFTSummary:
    """Train, select by validation macro-F1, save, reload and test the Planner; return the summary.

    `samples` replaces the INSPIRED splits (tests pass tiny fixtures); the baselines are trained on
    the same training split and scored on the same test split.
    """
    if config.mode not in ("frozen", "partial", "full"):
        raise ValueError(f"unknown mode {config.mode!r}; expected frozen, partial or full")
    if config.epochs < 1 or config.batch_size < 1:
        raise ValueError("epochs and batch_size must be at least 1")
    timings: dict[str, float] = {}
    started = time.perf_counter()
    seed_everything(config.seed)
    splits: dict[Split, list[PlannerSample]] = {}
    for split in ("train", "valid", "test"):
        if samples is not None:
            if not samples.get(split):
                raise ValueError(f"no samples given for split {split!r}")
            splits[split] = samples[split]
        else:
            limit = config.limit_train if split == "train" else config.limit_eval
            splits[split] = load_split_samples(split, limit)
    train_texts, train_labels = encode_samples(splits["train"])
    valid_texts, valid_labels = encode_samples(splits["valid"])
    test_texts, test_labels = encode_samples(splits["test"])

    policy = PlannerPolicy(
        PlannerConfig(
            backbone=config.backbone,
            pooling=config.pooling,
            dropout=config.dropout,
            max_length=config.max_length,
        )
    ).to(config.device)
    stored_prefixes = set_trainable(policy, config)
    trainable = [(n, p) for n, p in policy.named_parameters() if p.requires_grad]

    t0 = time.perf_counter()
    train_features = TrainingFeatures(policy, config, train_texts, "train")
    valid_features = TrainingFeatures(policy, config, valid_texts, "valid")
    timings["features"] = time.perf_counter() - t0

    weights = class_weights(train_labels, config.class_weight)
    if weights is not None:
        weights = weights.to(policy.device)
    optimizer = make_optimizer(policy, config)
    steps_per_epoch = math.ceil(len(train_labels) / config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, _linear_warmup(total_steps, max(1, int(config.warmup_ratio * total_steps)))
    )
    labels_tensor = torch.tensor(train_labels, dtype=torch.long)
    order_rng = torch.Generator().manual_seed(config.seed)

    epochs: list[EpochLog] = []
    best_f1, best_epoch = -1.0, 0
    best_state: dict[str, torch.Tensor] = {}
    t0 = time.perf_counter()
    for epoch in range(1, config.epochs + 1):
        epoch_start = time.perf_counter()
        permutation = torch.randperm(len(train_labels), generator=order_rng).tolist()
        train_loss = train_epoch(
            train_features,
            labels_tensor[permutation],
            permutation,
            optimizer,
            scheduler,
            weights,
            config.batch_size,
            desc=f"epoch {epoch}/{config.epochs}" if config.progress else None,
        )
        valid_pred = _predict(valid_features, config.batch_size)
        valid = classification_metrics(valid_labels, valid_pred)
        epochs.append(
            EpochLog(
                epoch=epoch,
                train_loss=train_loss,
                valid_accuracy=valid.accuracy,
                valid_macro_f1=valid.macro_f1,
                seconds=time.perf_counter() - epoch_start,
            )
        )
        if config.progress:
            tqdm.write(
                f"epoch {epoch}: loss {train_loss:.4f}  valid acc {valid.accuracy:.4f}"
                f"  macro-F1 {valid.macro_f1:.4f}",
                file=sys.stderr,  # stdout is reserved for the --json summary
            )
        if valid.macro_f1 > best_f1:
            best_f1, best_epoch = valid.macro_f1, epoch
            best_state = {n: p.detach().clone() for n, p in trainable}
    timings["train"] = time.perf_counter() - t0
    del train_features, valid_features

    with torch.no_grad():
        for name, p in trainable:
            p.copy_(best_state[name])
    output = Path(config.output)
    run_config = {k: _shown(v) if isinstance(v, Path) else v for k, v in asdict(config).items()}
    save_checkpoint(
        policy,
        output,
        trained_prefixes=stored_prefixes,
        dtype=config.storage_dtype,
        metadata={
            "trained_on": "INSPIRED rso_sft train" if samples is None else "given samples",
            "selected_by": "valid macro-F1",
            "best_epoch": best_epoch,
            "best_valid_macro_f1": best_f1,
            "sft_config": run_config,
        },
    )

    # Test figures come from the checkpoint as stored (fp16 weights, standard text path), so they
    # describe exactly what the recommender will load.
    t0 = time.perf_counter()
    reloaded = load_checkpoint(output, device=config.device)
    test_pred: list[int] = []
    with torch.no_grad():
        for idx in tqdm(
            _batches(len(test_texts), 64), desc="test", disable=not config.progress, leave=False
        ):
            test_pred.extend(int(i) for i in reloaded([test_texts[i] for i in idx]).argmax(-1))
    test = classification_metrics(test_labels, test_pred)
    confusion = plot_confusion(
        test_labels,
        test_pred,
        output / CONFUSION_FILE,
        f"Planner ({config.mode}) on INSPIRED test: macro-F1 {test.macro_f1:.3f}",
    )
    timings["test"] = time.perf_counter() - t0

    baseline_metrics: dict[str, ClassifierMetrics] = {}
    baseline_settings: dict[str, str] = {}
    if config.baselines:
        t0 = time.perf_counter()
        for result in (
            most_frequent_baseline(train_labels, len(test_labels)),
            tfidf_logreg_baseline(
                train_texts, train_labels, valid_texts, valid_labels, test_texts, config.seed
            ),
        ):
            baseline_metrics[result.name] = classification_metrics(test_labels, result.predictions)
            baseline_settings[result.name] = result.chosen
        timings["baselines"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - started

    summary = SFTSummary(
        config=run_config,
        samples={"train": len(train_labels), "valid": len(valid_labels), "test": len(test_labels)},
        trainable_parameters=sum(p.numel() for _, p in trainable),
        epochs=epochs,
        best_epoch=best_epoch,
        best_valid_macro_f1=best_f1,
        test=test,
        baselines=baseline_metrics,
        baseline_settings=baseline_settings,
        checkpoint=_shown(output),
        checkpoint_bytes=sum(
            f.stat().st_size for f in output.iterdir() if f.name.startswith("planner.")
        ),
        confusion_matrix_png=_shown(confusion),
        seconds={k: round(v, 2) for k, v in timings.items()},
    )
    (output / SUMMARY_FILE).write_text(summary.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return summary
