"""Settings of the Planner's supervised warm-up (`rso train sft`).

Three training paths:
- "frozen": the encoder is fixed; pooled embeddings are computed once (kept under the cache
  directory) and only the linear head is trained. Fast, but weak (docs/training.md).
- "partial" (default): the bottom blocks are fixed and their output is computed once in memory;
  the top `top_layers` blocks and the head are fine-tuned on it. Most of the gain of fine-tuning
  at a fraction of its cost on CPU, and the checkpoint stores only the trained blocks (a few MB).
- "full": everything is fine-tuned end to end (the paper's setting; use a GPU).

The paper's values (lr 6e-6, 10 epochs, batch 16, 512 tokens, RoBERTa-large) take days on two CPU
cores; the defaults here finish within about 30 minutes on such a machine (bench/RESULTS.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from policy.checkpoint import StorageDtype
from policy.network import Pooling, default_backbone
from rso.paths import DEFAULT_PLANNER_DIR

TrainMode = Literal["frozen", "partial", "full"]
TRAIN_MODES: tuple[TrainMode, ...] = ("frozen", "partial", "full")
ClassWeighting = Literal["none", "sqrt", "balanced"]


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
    output: Path = DEFAULT_PLANNER_DIR
    #: fp16 halves the checkpoint; the reported test figures come from the stored weights.
    storage_dtype: StorageDtype = "float16"
    device: str = "cpu"
    baselines: bool = True
    progress: bool = True
    #: Reuse frozen-mode embeddings cached on disk (off for benchmarks that time the encoding).
    cache_embeddings: bool = True

    def trained_blocks(self) -> int | None:
        """Top blocks trained with the head (0: the head only; None: the whole network)."""
        return {"frozen": 0, "partial": self.top_layers, "full": None}[self.mode]

    def validate(self) -> None:
        """Raise ValueError naming the first setting no run can use."""
        if self.mode not in TRAIN_MODES:
            raise ValueError(f"unknown mode {self.mode!r}; expected frozen, partial or full")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("epochs and batch_size must be at least 1")


def refuse_committed_output(output: Path, force: bool) -> None:
    """Raise FileExistsError if `output` is the committed SFT Planner and `force` is not set."""
    if force or not (DEFAULT_PLANNER_DIR / "planner.json").is_file():
        return
    if Path(output).resolve() == DEFAULT_PLANNER_DIR.resolve():
        raise FileExistsError(
            f"{DEFAULT_PLANNER_DIR} holds the committed SFT Planner; pass --force to overwrite "
            "it or --output to write elsewhere"
        )
