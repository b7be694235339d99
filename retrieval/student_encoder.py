"""The ranker's query encoder: three of MiniLM's layers, distilled to reproduce its vectors.

A ranker turn embeds one or two short exchanges, and MiniLM's six layers were most of a turn's
time. The student keeps MiniLM's token embeddings (frozen, so they are read from the installed
model and never shipped) and three transformer layers that started as MiniLM's layers 1, 3 and 5
and were trained (1 - cosine) to give MiniLM's sentence vectors on the training dialogues' text
(`retrieval/student_distill.py`, ``rso recommend distill``). Its vectors live in MiniLM's space:
they are compared with the movie documents' MiniLM vectors unchanged.

On disk (``models/query-encoder/``, no pickle): ``layers.safetensors`` (the layers in float16,
about 10 MB) and ``student.json`` (which layers, the teacher it was distilled from, how it was
trained and what it reached). `StudentWeights.load` checks both; a student applies only to the
teacher it was distilled from (`StudentWeights.fits`), because it reuses that model's embeddings.

Example:
    >>> from retrieval.student_encoder import StudentWeights  # doctest: +SKIP
    >>> student = StudentWeights.load()  # doctest: +SKIP
    >>> student.layers, student.teacher  # doctest: +SKIP
    ((1, 3, 5), 'all-MiniLM-L6-v2@sha256:3c28bf45824d009a')

"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from retrieval.embedding import EmbeddingError
from rso.paths import DEFAULT_QUERY_ENCODER_DIR

if TYPE_CHECKING:
    from retrieval.embedding import SentenceEmbedder

#: Version of the on-disk format (the card's ``format``).
STUDENT_FORMAT: Final = 1
WEIGHTS_FILE: Final = "layers.safetensors"
CARD_FILE: Final = "student.json"
#: Prefix of the transformer's layer parameters (BERT's names): the only ones a student ships.
LAYER_PREFIX: Final = "encoder.layer."


def _digest(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


@dataclass(frozen=True)
class StudentWeights:
    """A distilled student on disk: its layers' file, which teacher layers it began as, its card."""

    directory: Path
    #: The teacher's layers the student's layers were initialised from, in order.
    layers: tuple[int, ...]
    #: `SentenceEmbedder.weights_id` of the teacher (whose embeddings the student reuses).
    teacher: str
    #: SHA-256 of the layers' file.
    digest: str
    #: The card as written (training settings and figures), for reports.
    card: Mapping[str, Any]

    @property
    def weights_path(self) -> Path:
        """The float16 safetensors file of the layers."""
        return self.directory / WEIGHTS_FILE

    @property
    def student_id(self) -> str:
        """``student@sha256:<digest prefix>``: changes whenever the layers do."""
        return f"student@sha256:{self.digest[:16]}"

    @classmethod
    def load(cls, directory: Path | str | None = None) -> StudentWeights:
        """Read and check a student directory (default: the committed ``models/query-encoder``)."""
        directory = Path(directory or DEFAULT_QUERY_ENCODER_DIR).expanduser()
        card_path, weights = directory / CARD_FILE, directory / WEIGHTS_FILE
        if not card_path.is_file() or not weights.is_file():
            raise EmbeddingError(
                f"no student query encoder in {directory} (it needs {CARD_FILE} and "
                f"{WEIGHTS_FILE}; `rso recommend distill --output DIR` writes them)"
            )
        try:
            card = json.loads(card_path.read_text(encoding="utf-8"))
            layers = tuple(int(i) for i in card["layers"])
            teacher = str(card["teacher"])
            recorded = str(card["sha256"])
            version = card["format"]
        except (ValueError, KeyError, TypeError) as exc:
            raise EmbeddingError(f"{card_path} is not a student card ({exc!r})") from None
        if version != STUDENT_FORMAT:
            raise EmbeddingError(f"{card_path}: format {version!r}, expected {STUDENT_FORMAT}")
        if not layers or any(i < 0 for i in layers):
            raise EmbeddingError(f"{card_path}: bad layer list {card['layers']!r}")
        digest = _digest(weights)
        if digest != recorded:
            raise EmbeddingError(
                f"{weights} does not match its card (sha256 {digest[:16]}..., the card says "
                f"{recorded[:16]}...): the file is corrupt or was replaced"
            )
        return cls(directory, layers, teacher, digest, card)

    def fits(self, base: SentenceEmbedder) -> bool:
        """Whether `base` is the teacher (the student needs its embeddings and tokenizer)."""
        return base.weights_id == self.teacher

    def check_fits(self, base: SentenceEmbedder) -> None:
        """Raise `EmbeddingError` unless `base` is the teacher."""
        if not self.fits(base):
            raise EmbeddingError(
                f"the student in {self.directory} was distilled from {self.teacher}, "
                f"not from {base.weights_id}"
            )

    def transformer(self, base: SentenceEmbedder) -> Any:
        """Return a float32 torch copy of `base`'s transformer with the student's layers."""
        import torch
        from safetensors.torch import load_file

        self.check_fits(base)
        model: Any = copy.deepcopy(base._load()[0].auto_model).float()
        if max(self.layers) >= len(model.encoder.layer):
            raise EmbeddingError(f"{self.directory}: layers {self.layers} exceed the teacher's")
        keep_layers(model, self.layers)
        state = {k: v.float() for k, v in load_file(str(self.weights_path)).items()}
        expected = {k for k in model.state_dict() if k.startswith(LAYER_PREFIX)}
        if set(state) != expected:
            missing, extra = sorted(expected - set(state)), sorted(set(state) - expected)
            raise EmbeddingError(
                f"{self.weights_path} does not fit {len(self.layers)} layers of "
                f"{self.teacher} (missing {missing[:3]}, unexpected {extra[:3]})"
            )
        with torch.no_grad():
            model.load_state_dict(state, strict=False)
        return model.eval()


def keep_layers(model: Any, layers: tuple[int, ...] | list[int]) -> None:
    """Cut a BERT `model` in place down to `layers` of its encoder, in that order."""
    import torch

    model.encoder.layer = torch.nn.ModuleList([model.encoder.layer[i] for i in layers])
    model.config.num_hidden_layers = len(layers)


def save_student(
    directory: Path, model: Any, layers: tuple[int, ...], teacher: str, training: Mapping[str, Any]
) -> StudentWeights:
    """Write `model`'s layers in float16 and the card (each file atomically); return them loaded."""
    from safetensors.torch import save_file

    directory.mkdir(parents=True, exist_ok=True)
    state = {
        k: v.detach().to("cpu").half().contiguous()
        for k, v in model.state_dict().items()
        if k.startswith(LAYER_PREFIX)
    }
    partial = directory / f"{WEIGHTS_FILE}.{os.getpid()}.partial"
    save_file(state, str(partial), metadata={"teacher": teacher})
    os.replace(partial, directory / WEIGHTS_FILE)
    card = {
        "format": STUDENT_FORMAT,
        "teacher": teacher,
        "layers": list(layers),
        "sha256": _digest(directory / WEIGHTS_FILE),
        "training": dict(training),
    }
    partial = directory / f"{CARD_FILE}.{os.getpid()}.partial"
    partial.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    os.replace(partial, directory / CARD_FILE)
    return StudentWeights.load(directory)
