"""The Planner's supervised warm-up on INSPIRED: one sample per labelled recommender turn.

Cross-entropy on (dialogue history, strategy) pairs; the epoch with the best validation macro-F1
is kept, saved, reloaded and tested, beside two baselines fit on the same split. The training
paths and the defaults are described in `rl.sft_config`.
"""

from __future__ import annotations

import math
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel
from tqdm.auto import tqdm

from policy.checkpoint import load_checkpoint, save_checkpoint
from policy.network import PlannerConfig, PlannerPolicy
from rl.baselines import most_frequent_baseline, tfidf_logreg_baseline
from rl.classifier_metrics import ClassifierMetrics, classification_metrics, plot_confusion
from rl.features import CHUNK, chunks, set_trainable
from rl.sft_config import SFTConfig, refuse_committed_output
from rl.sft_data import class_weights, encode_samples, load_split_samples
from rl.sft_features import TrainingFeatures
from rso.data.records import PlannerSample, Split
from rso.paths import REPO_ROOT

SUMMARY_FILE = "sft_summary.json"
CONFUSION_FILE = "confusion_matrix.png"


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


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# -- training ---------------------------------------------------------------------------------


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
    for idx in chunks(len(features), batch_size * 2):
        out.extend(int(i) for i in features.logits(idx).argmax(dim=-1))
    return out


def _shown(path: Path) -> str:
    # Paths inside the repository are written relative to it, so a committed summary is portable.
    try:
        return str(Path(path).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def run_sft(
    config: SFTConfig,
    samples: dict[Split, list[PlannerSample]] | None = None,
    *,
    force: bool = False,
) -> SFTSummary:
    """Train, select by validation macro-F1, save, reload and test the Planner; return the summary.

    `samples` replaces the INSPIRED splits (tests pass tiny fixtures); the baselines are trained on
    the same training split and scored on the same test split. Writing over the committed Planner
    (`rso.paths.DEFAULT_PLANNER_DIR`) needs `force`.
    """
    config.validate()
    refuse_committed_output(config.output, force)
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
    stored_prefixes = set_trainable(policy, config.trained_blocks())
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
            chunks(len(test_texts), CHUNK), desc="test", disable=not config.progress, leave=False
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
