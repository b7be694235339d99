"""The supervised warm-up's data: INSPIRED Planner samples as (text, label) and class weights."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import torch

from rl.sft_config import ClassWeighting
from rso.data.records import PlannerSample, Split
from rso.dialogue import format_dialogue
from rso.strategies import STRATEGIES, STRATEGY_INDEX


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
