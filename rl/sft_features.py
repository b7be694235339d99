"""How each SFT training path turns a batch of sample indices into logits.

"frozen" trains the head on pooled vectors kept on disk, "partial" runs the top blocks on the
frozen bottom's hidden states held in memory, "full" runs the whole network on the texts. The
frozen part's output comes from the one feature cache of training (`rl.features`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from tqdm.auto import tqdm

from policy.network import PlannerPolicy
from rl.features import CHUNK, FeatureCache, chunks
from rl.sft_config import SFTConfig
from rso.paths import cache_dir


class TrainingFeatures:
    """The inputs of one split under one training path, and the logits of any batch of them."""

    def __init__(
        self, policy: PlannerPolicy, config: SFTConfig, texts: Sequence[str], name: str
    ) -> None:
        self.policy, self.config, self.texts = policy, config, list(texts)
        self.pooled: torch.Tensor | None = None
        self.hidden: torch.Tensor | None = None
        self.mask: torch.Tensor | None = None
        if config.mode == "frozen":
            cache = FeatureCache(policy, 0, max_entries=0)
            desc = f"embed {name}"
            if config.cache_embeddings:
                directory = cache_dir() / "planner-sft"
                self.pooled = cache.pooled_on_disk(self.texts, directory, desc, config.progress)
            else:
                self.pooled = cache.stacked(self.texts, desc, config.progress)
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


def _lower_states(
    policy: PlannerPolicy, config: SFTConfig, texts: list[str], name: str
) -> tuple[torch.Tensor, torch.Tensor]:
    # The frozen bottom's output is kept in memory in fp16 (about 0.8 GB for INSPIRED train at 64
    # tokens); it is exact to recompute, so it is not worth a disk cache of that size.
    policy.eval()
    cache = FeatureCache(policy, config.top_layers, max_entries=0)
    n = len(texts)
    hidden_size = int(policy.encoder.config.hidden_size)
    hidden = torch.zeros(n, config.max_length, hidden_size, dtype=torch.float16)
    mask = torch.zeros(n, config.max_length, dtype=torch.bool)
    for idx in tqdm(
        chunks(n, CHUNK), desc=f"encode {name}", disable=not config.progress, leave=False
    ):
        for i, states in zip(idx, cache.compute([texts[i] for i in idx]), strict=True):
            hidden[i, : states.shape[0]] = states.cpu().to(torch.float16)
            mask[i, : states.shape[0]] = True
    return hidden, mask
