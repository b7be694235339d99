"""The ranker's learned artefacts on disk: ``.npy`` arrays and JSON, fingerprinted, never pickled.

A directory (default ``cache_dir()/recommender``) holds one ``.npy`` file per array (counts,
sparse matrices as CSR parts, the attribute matrix and its tokens, years), ``fusion.json`` and
``meta.json``: the fingerprint of the inputs (format version, the code that computes features,
the processed data files, the movie index's fingerprint, which covers the knowledge base and the
embedding model, and the query encoder), the training dialog ids and a checksum per file.
Loading checks all of it: a stale or corrupt directory is rebuilt (or refused), never silently
used.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
from scipy import sparse

from retrieval.attributes import Attributes
from retrieval.fusion import Fusion
from retrieval.item_stats import ItemStats
from retrieval.rank_features import ItemData
from retrieval.turn_memory import TurnMemory
from rso.jsonio import invalid_key, read_json_object
from rso.paths import cache_dir

logger = logging.getLogger(__name__)

#: Bumped when the layout changes; the feature code's own digest covers what it computes.
FORMAT_VERSION: Final = 2
META_FILE: Final = "meta.json"
FUSION_FILE: Final = "fusion.json"
#: Modules whose source decides what the artefacts contain.
_CODE_MODULES: Final = (
    "attributes.py",
    "dialogue.py",
    "fusion.py",
    "item_stats.py",
    "rank_features.py",
    "recommender_build.py",
    "sparse_rows.py",
    "taste_words.py",
    "turn_memory.py",
)

LoadFailure = Literal["missing", "stale", "corrupt"]


class RecommenderLoadError(RuntimeError):
    """Saved artefacts cannot be used; ``kind`` says why (missing, stale or corrupt)."""

    def __init__(self, directory: Path, reason: str, *, kind: LoadFailure) -> None:
        super().__init__(f"ranker artefacts at {directory} are {kind}: {reason}")
        self.directory = directory
        self.kind: LoadFailure = kind


def default_recommender_dir() -> Path:
    """Where the default artefacts are cached: ``cache_dir()/recommender``."""
    return cache_dir() / "recommender"


def _sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def code_digest() -> str:
    """SHA-256 over the source of the modules that compute the artefacts."""
    digest = hashlib.sha256()
    here = Path(__file__).resolve().parent
    for name in _CODE_MODULES:
        digest.update(name.encode() + b"\0" + (here / name).read_bytes())
    return digest.hexdigest()


def input_fingerprint(
    data_files: Sequence[Path], index_fingerprint: str, query_encoder: str, seed: int = 0
) -> str:
    """Stamp the inputs: format, feature code, data files (by content), index, query encoder, seed.

    `query_encoder` is the query encoder's ``weights_id`` (MiniLM's, or its student's): the turn
    memory holds its vectors, so another encoder means rebuilt artefacts.
    """
    stamp = {
        "format": FORMAT_VERSION,
        "code": code_digest(),
        "data": {path.name: _sha256(path) for path in data_files},
        "index": index_fingerprint,
        "query_encoder": query_encoder,
        "seed": seed,
    }
    return hashlib.sha256(json.dumps(stamp, sort_keys=True).encode()).hexdigest()


def _arrays(items: ItemData) -> dict[str, np.ndarray]:
    out = {f"stats.{k}": v for k, v in items.stats.arrays().items()}
    out |= {f"attributes.{k}": v for k, v in items.attributes.arrays().items()}
    out |= {
        "years": items.years.astype(np.float32),
        "memory.vectors": items.memory.vectors.astype(np.float32),
        "memory.dialogs": items.memory.dialogs.astype(np.int64),
        "memory.targets.indices": items.memory.targets.indices.astype(np.int32),
        "memory.targets.indptr": items.memory.targets.indptr.astype(np.int64),
    }
    return out


def save(
    directory: Path,
    items: ItemData,
    fusion: Fusion,
    *,
    fingerprint: str,
    training_dialogs: Sequence[str],
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write the artefacts into `directory` (meta.json last, so a crash leaves it unreadable)."""
    directory.mkdir(parents=True, exist_ok=True)
    checksums: dict[str, str] = {}
    for name, array in _arrays(items).items():
        path = directory / f"{name}.npy"
        np.save(path, array, allow_pickle=False)
        checksums[path.name] = _sha256(path)
    fusion_path = directory / FUSION_FILE
    fusion_path.write_text(json.dumps(fusion.to_json(), indent=1), encoding="utf-8")
    checksums[FUSION_FILE] = _sha256(fusion_path)
    meta = {
        "format_version": FORMAT_VERSION,
        "fingerprint": fingerprint,
        "kb_ids": list(items.kb_ids),
        "training_dialogs": sorted(training_dialogs),
        "files": checksums,
        "build": extra or {},
    }
    tmp = directory / (META_FILE + ".tmp")
    tmp.write_text(json.dumps(meta), encoding="utf-8")
    os.replace(tmp, directory / META_FILE)
    return directory


def read(
    directory: Path, fingerprint: str, kb_ids: Sequence[str], vectors: np.ndarray
) -> tuple[ItemData, Fusion, dict[str, Any]]:
    """Read saved artefacts; raise `RecommenderLoadError` if missing, stale or corrupt."""
    meta_path = directory / META_FILE
    if not meta_path.is_file():
        raise RecommenderLoadError(directory, "nothing saved", kind="missing")
    try:
        meta = read_json_object(meta_path)
    except ValueError as exc:
        raise RecommenderLoadError(directory, str(exc), kind="corrupt") from None
    if invalid_key(meta, {"files": dict}) is not None:
        raise RecommenderLoadError(directory, f"{META_FILE} is malformed", kind="corrupt")
    if meta.get("format_version") != FORMAT_VERSION or meta.get("fingerprint") != fingerprint:
        raise RecommenderLoadError(
            directory, "its inputs (code, data, index or model) changed", kind="stale"
        )
    if meta.get("kb_ids") != list(kb_ids):
        raise RecommenderLoadError(directory, "knowledge-base rows differ", kind="stale")
    arrays: dict[str, np.ndarray] = {}
    for name, checksum in meta["files"].items():
        path = directory / name
        if not path.is_file() or _sha256(path) != checksum:
            raise RecommenderLoadError(directory, f"{name} is missing or altered", kind="corrupt")
        if name.endswith(".npy"):
            arrays[name[: -len(".npy")]] = np.load(path, allow_pickle=False)
    try:
        fusion = Fusion.from_json(json.loads((directory / FUSION_FILE).read_text("utf-8")))
        stats = ItemStats.from_arrays(
            {k[len("stats.") :]: v for k, v in arrays.items() if k.startswith("stats.")}
        )
        attributes = Attributes.from_arrays(
            {k[len("attributes.") :]: v for k, v in arrays.items() if k.startswith("attributes.")}
        )
        memory_targets = sparse.csr_matrix(
            (
                np.ones(arrays["memory.targets.indices"].shape[0], np.float32),
                arrays["memory.targets.indices"],
                arrays["memory.targets.indptr"],
            ),
            shape=(arrays["memory.vectors"].shape[0], len(kb_ids)),
        )
        memory = TurnMemory(arrays["memory.vectors"], memory_targets, arrays["memory.dialogs"])
        items = ItemData(tuple(kb_ids), vectors, attributes, arrays["years"], stats, memory)
    except (KeyError, ValueError, TypeError) as exc:
        reason = f"unreadable arrays ({exc})"
        raise RecommenderLoadError(directory, reason, kind="corrupt") from None
    return items, fusion, meta
