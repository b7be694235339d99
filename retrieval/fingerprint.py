"""Fingerprints: of a knowledge base, of an index built over it, and of a file."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from retrieval.embedding import TextEmbedder
from rso.data.records import Movie

#: Bumped whenever the on-disk index layout or what is embedded changes; old caches then rebuild.
FORMAT_VERSION: Final = 2


def kb_fingerprint(movies: Sequence[Movie]) -> str:
    """SHA-256 over what the index stores per row, in row order: kb id, title and embedded doc."""
    parts: list[bytes] = []
    for movie in movies:
        # Length-prefixed fields so that no two different knowledge bases hash alike.
        for value in (movie.kb_id, movie.title, movie.doc):
            data = value.encode("utf-8")
            parts.append(len(data).to_bytes(8, "little"))
            parts.append(data)
    return hashlib.sha256(b"".join(parts)).hexdigest()


def index_fingerprint(movies: Sequence[Movie], embedder: TextEmbedder) -> str:
    """Stamp an index: format version, knowledge base, embedding model and dimension."""
    return index_stamp(kb_fingerprint(movies), embedder)


def index_stamp(kb_digest: str, embedder: TextEmbedder) -> str:
    """`index_fingerprint` from an already computed knowledge-base digest."""
    fields = {
        "format": FORMAT_VERSION,
        "kb": kb_digest,
        "model": embedder.model_id,
        "dimension": embedder.dimension,
    }
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, as hex."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()
