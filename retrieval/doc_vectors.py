"""Movie document vectors shipped in the repository, so a fresh clone indexes without embedding.

``data/embeddings/movies.npy`` holds every movie doc's unit vector, in knowledge-base order,
embedded in float32 and stored as float16; ``movies.json`` beside it records the knowledge-base
fingerprint, the model (weights digest), the precision the vectors were computed in, the stored
dtype, the shape and a checksum of the array file. They are used only when the knowledge base and
the model weights match; otherwise every doc is embedded again. Read with
``np.load(allow_pickle=False)``: never pickled.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, get_args

import numpy as np

from retrieval.embedding import TextEmbedder, l2_normalize
from retrieval.fingerprint import file_sha256, kb_fingerprint
from rso.data.records import Movie
from rso.jsonio import invalid_key, read_json_object
from rso.paths import processed_data_dir

VECTORS_FILE: Final = "movies.npy"
SIDECAR_FILE: Final = "movies.json"
#: Bumped whenever the layout of the two files changes.
SHIPPED_FORMAT: Final = 1
#: The vectors are computed in full precision and stored in half: about 5 MB for 6,991 movies.
EXPORT_PRECISION: Final = "float32"
STORED_DTYPE: Final = "float16"

Origin = Literal["embedded", "shipped"]


@dataclass(frozen=True)
class DocumentVectors:
    """Where an index's document vectors came from, the precision computed in, the dtype kept."""

    origin: Origin
    precision: str
    dtype: str = "float32"

    def describe(self) -> str:
        """Say it in words: "shipped vectors (float32, stored as float16)"."""
        stored = f", stored as {self.dtype}" if self.dtype != "float32" else ""
        return f"{self.origin} vectors ({self.precision}{stored})"

    def to_json(self) -> dict[str, str]:
        """Return the record kept in an index's sidecar."""
        return {"origin": self.origin, "precision": self.precision, "dtype": self.dtype}

    @classmethod
    def from_json(cls, entry: dict[str, object]) -> DocumentVectors | None:
        """Read `to_json`'s record back; None if it is not well formed."""
        origin, precision, dtype = entry.get("origin"), entry.get("precision"), entry.get("dtype")
        if origin not in get_args(Origin):
            return None
        if not isinstance(precision, str) or not isinstance(dtype, str):
            return None
        return cls(origin, precision, dtype)  # type: ignore[arg-type]


#: What the shipped files provide.
SHIPPED: Final = DocumentVectors("shipped", EXPORT_PRECISION, STORED_DTYPE)


class ShippedVectorsUnusable(RuntimeError):
    """The shipped vectors cannot stand for this knowledge base and model; says why."""

    def __init__(self, directory: Path, reason: str, *, missing: bool = False) -> None:
        super().__init__(f"shipped document vectors in {directory}: {reason}")
        self.missing = missing


def default_vectors_dir() -> Path:
    """Where the shipped vectors live: ``processed_data_dir()/embeddings``."""
    return processed_data_dir() / "embeddings"


def read_shipped_vectors(
    directory: Path, movies: Sequence[Movie], embedder: TextEmbedder
) -> np.ndarray:
    """Return the shipped unit vectors (float32, row i = ``movies[i]``), or raise saying why not."""
    vectors_path, sidecar_path = directory / VECTORS_FILE, directory / SIDECAR_FILE
    if not vectors_path.is_file() or not sidecar_path.is_file():
        raise ShippedVectorsUnusable(directory, "none here", missing=True)

    def unusable(reason: str) -> ShippedVectorsUnusable:
        return ShippedVectorsUnusable(directory, reason)

    try:
        meta = read_json_object(sidecar_path)
    except ValueError as exc:
        raise unusable(str(exc)) from None
    required = {
        "format": int,
        "kb_fingerprint": str,
        "weights_id": str,
        "precision": str,
        "dtype": str,
        "count": int,
        "dimension": int,
        "sha256": str,
    }
    if invalid_key(meta, required) is not None:
        raise unusable(f"{SIDECAR_FILE} lacks one of {sorted(required)}")
    if meta["format"] != SHIPPED_FORMAT:
        raise unusable(f"format {meta['format']} != {SHIPPED_FORMAT}")
    if meta["kb_fingerprint"] != kb_fingerprint(movies):
        raise unusable("the knowledge base changed since they were exported")
    if meta["weights_id"] != embedder.weights_id:
        raise unusable(f"exported with {meta['weights_id']}, now using {embedder.weights_id}")
    expected = (len(movies), embedder.dimension)
    if (meta["count"], meta["dimension"]) != expected:
        raise unusable(f"shape {meta['count']}x{meta['dimension']} != {expected[0]}x{expected[1]}")
    if meta["precision"] != EXPORT_PRECISION or meta["dtype"] != STORED_DTYPE:
        raise unusable(f"computed in {meta['precision']} as {meta['dtype']}, not as exported here")
    if file_sha256(vectors_path) != meta["sha256"]:
        raise unusable(f"{VECTORS_FILE} does not match its recorded checksum")
    try:
        stored = np.load(vectors_path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise unusable(f"{VECTORS_FILE} is unreadable ({exc})") from None
    if stored.dtype != np.dtype(STORED_DTYPE) or stored.shape != expected:
        raise unusable(f"{VECTORS_FILE} holds {stored.dtype} {stored.shape}, expected {expected}")
    if not np.isfinite(stored).all():
        raise unusable(f"{VECTORS_FILE} contains NaN or infinity")
    # Renormalise in float32: half precision leaves norms about 1e-3 off unit length.
    return l2_normalize(stored.astype(np.float32))


def write_shipped_vectors(
    directory: Path, movies: Sequence[Movie], embedder: TextEmbedder, vectors: np.ndarray
) -> Path:
    """Write float32-embedded doc vectors (row i = ``movies[i]``) as float16 plus their sidecar."""
    if vectors.shape != (len(movies), embedder.dimension):
        raise ValueError(f"vectors of shape {vectors.shape} for {len(movies)} movies")
    directory.mkdir(parents=True, exist_ok=True)
    vectors_tmp = directory / (VECTORS_FILE + ".tmp")
    with open(vectors_tmp, "wb") as fh:
        np.save(fh, np.ascontiguousarray(vectors, dtype=STORED_DTYPE), allow_pickle=False)
    meta = {
        "format": SHIPPED_FORMAT,
        "kb_fingerprint": kb_fingerprint(movies),
        "weights_id": embedder.weights_id,
        "model_id": embedder.model_id,
        "precision": EXPORT_PRECISION,
        "dtype": STORED_DTYPE,
        "count": len(movies),
        "dimension": embedder.dimension,
        "sha256": file_sha256(vectors_tmp),
    }
    sidecar_tmp = directory / (SIDECAR_FILE + ".tmp")
    sidecar_tmp.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    os.replace(vectors_tmp, directory / VECTORS_FILE)
    os.replace(sidecar_tmp, directory / SIDECAR_FILE)
    return directory
