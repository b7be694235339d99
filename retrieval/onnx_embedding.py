"""The ranker's query encoder through ONNX Runtime: MiniLM's vectors, or its distilled student's.

The ranker embeds one or two short exchanges per turn, where torch's per-call overhead is most of
the cost. `OnnxEmbedder` exports the encoder (transformer and mean pooling) once to an ONNX file
in the cache, keyed by the weights' digest, and then runs it with ONNX Runtime on up to two
threads (spinning off: a waiting thread sleeps rather than burn a busy core), tokenising with
the model's own ``tokenizer.json``; torch is needed only for that export. Over MiniLM itself its
vectors equal the torch float32 path's (cosine >= 0.99999, checked by a test), so it keeps the
torch embedder's identity and every index and ranker artefact built with either stays valid.
Given a `StudentWeights` it runs the three-layer student instead (`retrieval/student_encoder.py`),
about twice as fast, under the student's own identity.

`query_embedder` picks the encoder: ``RSO_QUERY_ENCODER`` (auto: the committed student where it
fits the embedding model; full: MiniLM; or a student directory) and ``RSO_EMBEDDING_RUNTIME``
(auto: ONNX Runtime where it can serve; torch keeps torch and MiniLM; onnx insists on ONNX
Runtime).
"""

from __future__ import annotations

import json
import os
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Final, Literal, get_args

import numpy as np

from retrieval.embedding import EmbeddingError, SentenceEmbedder, check_texts, l2_normalize
from retrieval.student_encoder import StudentWeights
from rso import env
from rso.paths import cache_dir

Runtime = Literal["auto", "torch", "onnx"]
#: ``RSO_QUERY_ENCODER`` values besides a student directory.
ENCODER_CHOICES: Final = ("auto", "full")
#: ONNX opset of the export (what ONNX Runtime 1.17+ runs with every optimisation).
OPSET: Final = 17
#: Tokens per text when the model directory does not say (sentence-transformers' own default).
DEFAULT_MAX_TOKENS: Final = 256
#: Most threads one encoder call uses (a query is a few dozen tokens: more would mostly wait).
MAX_THREADS: Final = 2


def default_threads() -> int:
    """Threads per encoder call: this machine's cores, at most `MAX_THREADS`."""
    return max(1, min(MAX_THREADS, os.cpu_count() or 1))


def export_onnx(embedder: SentenceEmbedder, path: Path, transformer: Any = None) -> None:
    """Export a transformer with mean pooling (needs torch and onnx); atomic write.

    `transformer` defaults to `embedder`'s own; a student's is exported with `embedder`'s tokenizer.
    """
    import torch

    model: Any = embedder._load()
    transformer = model[0].auto_model if transformer is None else transformer
    tokenizer: Any = model[0].tokenizer

    class MeanPooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, ids: Any, mask: Any, types: Any) -> Any:
            hidden = self.transformer(
                input_ids=ids, attention_mask=mask, token_type_ids=types
            ).last_hidden_state
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)

    sample = tokenizer(["a short example"], return_tensors="pt")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.partial")
    # The tracer's warnings (shape checks traced as constants) do not apply: padded batches
    # give the torch vectors, which a test checks.
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            MeanPooled().eval(),
            (sample["input_ids"], sample["attention_mask"], sample["token_type_ids"]),
            str(partial),
            input_names=["ids", "mask", "types"],
            output_names=["embedding"],
            dynamic_axes={
                "ids": {0: "batch", 1: "tokens"},
                "mask": {0: "batch", 1: "tokens"},
                "types": {0: "batch", 1: "tokens"},
                "embedding": {0: "batch"},
            },
            opset_version=OPSET,
            dynamo=False,
        )
    os.replace(partial, path)


def _max_tokens(model_dir: Path) -> int:
    config = model_dir / "sentence_bert_config.json"
    if config.is_file():
        value = json.loads(config.read_text(encoding="utf-8")).get("max_seq_length")
        if isinstance(value, int) and value > 0:
            return value
    return DEFAULT_MAX_TOKENS


@dataclass
class OnnxEmbedder:
    """`base`'s encoder run by ONNX Runtime (same identity and vectors), or `student` over it."""

    base: SentenceEmbedder
    #: Intra-op threads of a call (measured in docs/recommendation.md, Speed).
    threads: int = field(default_factory=default_threads)
    #: A distilled student of `base` to run instead of `base`'s own layers.
    student: StudentWeights | None = None
    _session: Any = field(default=None, init=False, repr=False)
    _tokenizer: Any = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.student is not None:
            self.student.check_fits(self.base)

    @property
    def model_id(self) -> str:
        """MiniLM: the torch float32 embedder's id (the same vectors); else the student's."""
        return f"{self.weights_id}/float32"

    @property
    def weights_id(self) -> str:
        """The weights' id (precision left out): the base's, and the student's if there is one."""
        if self.student is None:
            return self.base.weights_id
        return f"{self.base.weights_id}+{self.student.student_id}"

    @property
    def precision(self) -> str:
        """Always float32."""
        return "float32"

    @property
    def dimension(self) -> int:
        """The base model's output size."""
        return self.base.dimension

    @property
    def onnx_path(self) -> Path:
        """Where the exported encoder lives (one file per weights digest)."""
        name = f"{self.base.model_name}-{self.base.weights_digest[:16]}"
        if self.student is not None:
            name += f"-student-{self.student.digest[:16]}"
        return cache_dir() / "onnx" / f"{name}.onnx"

    def _load(self) -> tuple[Any, Any]:
        with self._lock:
            if self._session is None:
                import onnxruntime as ort
                from tokenizers import Tokenizer

                if not self.onnx_path.is_file():
                    student = self.student
                    transformer = None if student is None else student.transformer(self.base)
                    export_onnx(self.base, self.onnx_path, transformer)
                options = ort.SessionOptions()
                options.intra_op_num_threads = self.threads
                options.inter_op_num_threads = 1
                # Idle pool threads sleep: spinning burns the core the other thread needs.
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                try:
                    session = ort.InferenceSession(
                        str(self.onnx_path), options, providers=["CPUExecutionProvider"]
                    )
                except Exception as exc:  # noqa: BLE001 - ORT raises its own untyped errors
                    raise EmbeddingError(
                        f"cannot load {self.onnx_path} ({exc}); delete it to export it again"
                    ) from exc
                tokenizer = Tokenizer.from_file(str(self.base.model_path / "tokenizer.json"))
                tokenizer.enable_truncation(_max_tokens(self.base.model_path))
                tokenizer.enable_padding()
                self._session, self._tokenizer = session, tokenizer
            return self._session, self._tokenizer

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts as an ``(n, dimension)`` float32 array of unit-length rows."""
        checked = check_texts(texts)
        if not checked:
            return np.zeros((0, self.dimension), dtype=np.float32)
        session, tokenizer = self._load()
        # Batches of texts of similar length pad little (a build embeds thousands of exchanges).
        order = sorted(range(len(checked)), key=lambda i: len(checked[i]))
        out = np.empty((len(checked), self.dimension), dtype=np.float32)
        size = self.base.settings.batch_size
        for start in range(0, len(order), size):
            rows = order[start : start + size]
            encoded = tokenizer.encode_batch([checked[i] for i in rows])
            inputs = {
                "ids": np.array([e.ids for e in encoded], dtype=np.int64),
                "mask": np.array([e.attention_mask for e in encoded], dtype=np.int64),
                "types": np.array([e.type_ids for e in encoded], dtype=np.int64),
            }
            out[rows] = session.run(None, inputs)[0]
        return l2_normalize(out)

    def embed_one(self, text: str) -> np.ndarray:
        """Embed a single text as a ``(dimension,)`` unit vector."""
        return self.embed([text])[0]


def runtime_setting() -> Runtime:
    """``RSO_EMBEDDING_RUNTIME`` (auto when unset); a bad value is a clear error."""
    value = env.EMBEDDING_RUNTIME.get() or "auto"
    if value not in get_args(Runtime):
        raise EmbeddingError(
            f"{env.EMBEDDING_RUNTIME.name}={value!r}: use one of {', '.join(get_args(Runtime))}"
        )
    return value  # type: ignore[return-value]


def encoder_setting() -> str:
    """``RSO_QUERY_ENCODER``: auto when unset, full, or a student directory (checked later)."""
    return env.QUERY_ENCODER.get() or "auto"


def _student(embedder: SentenceEmbedder, encoder: str) -> StudentWeights | None:
    """Return the student `encoder` names if it fits `embedder`; None for auto when it does not."""
    if encoder == "auto":
        try:
            student = StudentWeights.load()
        except EmbeddingError:
            return None
        return student if student.fits(embedder) else None
    student = StudentWeights.load(encoder)
    student.check_fits(embedder)
    return student


def query_embedder(
    embedder: Any, runtime: Runtime | None = None, encoder: str | None = None
) -> Any:
    """Return the ranker's query encoder over `embedder`, the index's sentence encoder.

    `encoder` (``RSO_QUERY_ENCODER``): "auto" runs the committed student on ONNX Runtime when it
    fits `embedder` and ONNX Runtime is installed (and `runtime` is not "torch"), else MiniLM;
    "full" runs MiniLM; a directory names a student, which must be usable (else an error).
    MiniLM goes to ONNX Runtime when `embedder` is float32 on the CPU; anything else (another
    embedder, bfloat16 or GPU settings, ``runtime="torch"``, no onnxruntime) gets `embedder` back
    unchanged; ``runtime="onnx"`` that cannot be served is an error, not a silent fallback.
    """
    runtime = runtime or runtime_setting()
    encoder = encoder or encoder_setting()
    installed = find_spec("onnxruntime") is not None and find_spec("tokenizers") is not None
    if encoder != "full" and isinstance(embedder, SentenceEmbedder):
        student = _student(embedder, encoder)
        if student is not None and installed and runtime != "torch":
            return OnnxEmbedder(embedder, student=student)
        if encoder != "auto":
            why = "onnxruntime is not installed" if not installed else "it runs on ONNX Runtime"
            raise EmbeddingError(
                f"{env.QUERY_ENCODER.name}={encoder}: cannot use the student ({why}; "
                f"{env.EMBEDDING_RUNTIME.name}={runtime})"
            )
    elif encoder not in ENCODER_CHOICES:
        raise EmbeddingError(
            f"{env.QUERY_ENCODER.name}={encoder}: a student needs the sentence encoder it was "
            "distilled from"
        )
    if runtime == "torch":
        return embedder
    servable = (
        isinstance(embedder, SentenceEmbedder)
        and embedder.precision == "float32"
        and embedder.settings.device.split(":")[0] == "cpu"
    )
    if servable and installed:
        return OnnxEmbedder(embedder)
    if runtime == "onnx":
        why = "onnxruntime is not installed" if not installed else "it needs float32 on the CPU"
        raise EmbeddingError(f"{env.EMBEDDING_RUNTIME.name}=onnx: {why}")
    return embedder
