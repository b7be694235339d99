"""The Planner's frozen part, computed once per text: the feature cache of SFT and RL.

Training changes only the head, or the head and the top blocks; everything below them is fixed,
so its output for a dialogue text never changes and is computed once. `FeatureCache` keeps it per
text in memory (pooled vectors when the whole encoder is frozen, the hidden states below the top
blocks otherwise) and can stand in for the policy's `encode`, so that every caller of the policy
(the rollouts' Planner node as well as the update) runs only the trainable part. SFT's frozen
mode also keeps the pooled vectors of its splits on disk (`pooled_on_disk`).
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import torch
from tqdm.auto import tqdm

from policy.network import PlannerPolicy

#: Texts encoded in one forward pass of the frozen part.
CHUNK = 64


def chunks(n: int, size: int) -> list[list[int]]:
    """Split range(n) into consecutive index lists of at most `size`."""
    return [list(range(i, min(i + size, n))) for i in range(0, n, size)]


def set_trainable(policy: PlannerPolicy, top_layers: int | None) -> list[str] | None:
    """Train the head and the top `top_layers` blocks (0: the head only; None: everything).

    Everything else is frozen. Returns the trained parameter-name prefixes, None when every
    parameter trains.
    """
    if top_layers is None:
        for p in policy.parameters():
            p.requires_grad_(True)
        return None
    prefixes = ["head."] if top_layers == 0 else policy.top_layer_prefixes(top_layers)
    for name, p in policy.named_parameters():
        p.requires_grad_(name.startswith(tuple(prefixes)))
    return prefixes


class FeatureCache:
    """Per-text output of the Planner's frozen part, installable as the policy's `encode`."""

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
    def compute(self, texts: list[str]) -> list[torch.Tensor]:
        """Run the frozen part on `texts` as one batch, without caching; one tensor per text."""
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
        for start in range(0, len(missing), CHUNK):
            chunk = missing[start : start + CHUNK]
            for text, value in zip(chunk, self.compute(chunk), strict=True):
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

    def pooled_on_disk(
        self, texts: Sequence[str], directory: Path, desc: str, progress: bool
    ) -> torch.Tensor:
        """Pooled vectors [N, H] of `texts` (whole encoder frozen), kept in `directory`.

        The file is keyed by the backbone, the Planner's input settings and the texts, so a
        changed model or data set computes afresh. Texts are encoded in their order, CHUNK at a
        time, not through the per-text store.
        """
        from safetensors.torch import load_file, save_file

        if self.top_layers != 0:
            raise ValueError("only pooled vectors (a wholly frozen encoder) are kept on disk")
        config = self.policy.config
        key = hashlib.sha256(
            json.dumps(
                [
                    self.policy.backbone_fingerprint(),
                    config.backbone,
                    config.max_length,
                    config.pooling,
                    list(texts),
                ]
            ).encode("utf-8")
        ).hexdigest()[:20]
        path = directory / f"pooled-{key}.safetensors"
        if path.is_file():
            return load_file(str(path))["pooled"]
        pooled = self.stacked(texts, desc, progress)
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file({"pooled": pooled.contiguous()}, str(path))
        return pooled

    def stacked(self, texts: Sequence[str], desc: str, progress: bool) -> torch.Tensor:
        """Pooled vectors [N, H] of `texts`, encoded in their order, CHUNK at a time."""
        self.policy.eval()
        rows = [
            row.cpu()
            for idx in tqdm(chunks(len(texts), CHUNK), desc=desc, disable=not progress, leave=False)
            for row in self.compute([texts[i] for i in idx])
        ]
        return torch.stack(rows)
