"""Distil the ranker's query encoder: three of MiniLM's layers taught to give MiniLM's vectors.

`distill` runs the whole recipe that produced ``models/query-encoder`` (``rso recommend
distill``): the teacher (MiniLM, float32 on ONNX Runtime) embeds the training texts
(`retrieval/student_texts.py`) in length-sorted batches, saved block by block so an interrupted
run resumes where it stopped; the student starts as MiniLM with only layers 1, 3 and 5 and its
token embeddings frozen, and is trained on 1 - cosine to the teacher's vectors with AdamW
(linear warm-up, then linear decay) over length-bucketed batches; every `eval_every` steps the
cosine on the validation exchanges is logged, never used to choose anything. The layers are
saved in float16 with a card holding the settings and the curve (`save_student`).

On two CPU cores the full recipe takes about 45 minutes: 15 of teacher vectors, 30 of training.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

from retrieval.embedding import SentenceEmbedder
from retrieval.onnx_embedding import OnnxEmbedder
from retrieval.student_encoder import StudentWeights, keep_layers, save_student
from retrieval.student_texts import DistillTexts

logger = logging.getLogger(__name__)

#: Texts per teacher block saved to the work directory (a resumed run redoes at most one).
TEACHER_BLOCK: Final = 6400
#: Texts per teacher call: sorted by length, so a call pads little.
TEACHER_BATCH: Final = 64
#: Batches are drawn from groups of this many batches' texts sorted by length.
BUCKET_BATCHES: Final = 64


@dataclass(frozen=True)
class DistillSettings:
    """The recipe; the defaults made the committed student."""

    layers: tuple[int, ...] = (1, 3, 5)
    steps: int = 1503
    batch_size: int = 32
    #: Tokens per training text (longer are cut; exchanges are 30 tokens at the median).
    max_tokens: int = 128
    lr: float = 4e-4
    weight_decay: float = 0.01
    warmup_steps: int = 200
    eval_every: int = 250
    seed: int = 0


def teacher_vectors(
    teacher: OnnxEmbedder, texts: Sequence[str], work_dir: Path, progress: Callable[[str], None]
) -> np.ndarray:
    """Return the teacher's float32 vectors of `texts`, each block saved under `work_dir`."""
    key = hashlib.sha256((teacher.model_id + "\0" + "\0".join(texts)).encode()).hexdigest()[:16]
    blocks = work_dir / f"teacher-{key}"
    blocks.mkdir(parents=True, exist_ok=True)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.zeros((len(texts), teacher.dimension), np.float32)
    started = time.perf_counter()
    for block_start in range(0, len(order), TEACHER_BLOCK):
        rows = order[block_start : block_start + TEACHER_BLOCK]
        path = blocks / f"{block_start:07d}.npy"
        if path.is_file():
            vectors = np.load(path, allow_pickle=False)
        else:
            vectors = np.concatenate(
                [
                    teacher.embed([texts[i] for i in rows[s : s + TEACHER_BATCH]])
                    for s in range(0, len(rows), TEACHER_BATCH)
                ]
            )
            partial = path.with_suffix(".partial.npy")
            np.save(partial, vectors)
            partial.replace(path)
        out[rows] = vectors
        done = min(block_start + TEACHER_BLOCK, len(order))
        progress(f"teacher vectors {done:,}/{len(order):,} ({time.perf_counter() - started:.0f} s)")
    return out


def _batches(lengths: Sequence[int], size: int, rng: random.Random) -> list[list[int]]:
    """One pass of index batches: shuffled, length-bucketed within groups, in shuffled order."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    group = size * BUCKET_BATCHES
    chunks = [
        sorted(order[i : i + group], key=lambda j: lengths[j]) for i in range(0, len(order), group)
    ]
    batches = [c[i : i + size] for c in chunks for i in range(0, len(c), size)]
    rng.shuffle(batches)
    return batches


def distill(
    base: SentenceEmbedder,
    texts: DistillTexts,
    output: Path,
    work_dir: Path,
    settings: DistillSettings | None = None,
    progress: Callable[[str], None] = logger.info,
) -> StudentWeights:
    """Train a student of `base` on `texts` and save it to `output`; return it loaded."""
    import torch

    settings = settings or DistillSettings()
    if not texts.train:
        raise ValueError("no training texts to distil from")
    started = time.perf_counter()
    teacher = OnnxEmbedder(base)
    train_targets = torch.from_numpy(teacher_vectors(teacher, texts.train, work_dir, progress))
    valid_targets = torch.from_numpy(teacher_vectors(teacher, texts.valid, work_dir, progress))
    teacher_seconds = time.perf_counter() - started

    torch.manual_seed(settings.seed)
    loaded: Any = base._load()
    tokenizer = loaded[0].tokenizer
    model = copy.deepcopy(loaded[0].auto_model).float().train()
    keep_layers(model, settings.layers)
    for parameter in model.embeddings.parameters():
        parameter.requires_grad = False

    def encode(batch: Sequence[str]) -> Any:
        tokens = tokenizer(
            list(batch),
            padding=True,
            truncation=True,
            max_length=settings.max_tokens,
            return_tensors="pt",
        )
        hidden = model(**tokens).last_hidden_state
        weights = tokens["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1)

    def valid_cosine() -> tuple[float, float]:
        if not texts.valid:
            return float("nan"), float("nan")
        model.eval()
        with torch.inference_mode():
            valid = texts.valid
            got = torch.cat([encode(valid[s : s + 64]) for s in range(0, len(valid), 64)])
        model.train()
        cosine = (got * torch.nn.functional.normalize(valid_targets, dim=-1)).sum(1)
        return round(float(cosine.mean()), 4), round(float(cosine.min()), 4)

    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=settings.lr, weight_decay=settings.weight_decay)
    total = settings.steps
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda s: min(1.0, (s + 1) / max(1, settings.warmup_steps)) * max(0.0, 1 - s / total),
    )
    targets = torch.nn.functional.normalize(train_targets, dim=-1)
    lengths = [len(t) for t in texts.train]
    rng = random.Random(settings.seed)
    start_mean, start_min = valid_cosine()
    curve: list[dict[str, Any]] = [{"step": 0, "valid_cosine": start_mean, "valid_min": start_min}]
    progress(f"student of layers {list(settings.layers)}: validation cosine {start_mean} at start")
    step, losses, train_started = 0, [], time.perf_counter()
    while step < total:
        for batch in _batches(lengths, settings.batch_size, rng):
            if step >= total:
                break
            loss = (1 - (encode([texts.train[i] for i in batch]) * targets[batch]).sum(1)).mean()
            loss.backward()
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            step += 1
            losses.append(float(loss.detach()))
            if step % settings.eval_every == 0 or step == total:
                mean, low = valid_cosine()
                point = {
                    "step": step,
                    "loss": round(float(np.mean(losses)), 4),
                    "valid_cosine": mean,
                    "valid_min": low,
                    "seconds": round(time.perf_counter() - train_started),
                }
                curve.append(point)
                progress(json.dumps(point))
                losses = []
    training = asdict(settings) | {
        "layers": list(settings.layers),
        "train_texts": len(texts.train),
        "valid_exchanges": len(texts.valid),
        "teacher_seconds": round(teacher_seconds),
        "train_seconds": round(time.perf_counter() - train_started),
        "curve": curve,
    }
    return save_student(output, model, settings.layers, base.weights_id, training)
