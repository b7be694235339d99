"""Line-oriented JSON reading and writing with errors that name the file and line."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class DataFormatError(ValueError):
    """A malformed record in an input file; the message names file and line."""

    def __init__(self, path: Path | str, line: int, reason: str) -> None:
        super().__init__(f"{path}:{line}: {reason}")
        self.path = Path(path)
        self.line = line
        self.reason = reason


def open_text(path: Path | str, mode: str = "rt") -> IO[str]:
    """Open a text file, transparently (de)compressing ``.gz``."""
    path = Path(path)
    if path.suffix == ".gz":
        return gzip.open(path, mode, encoding="utf-8")  # type: ignore[return-value]
    return open(path, mode, encoding="utf-8")  # noqa: SIM115


def iter_json_lines(path: Path | str) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, object)`` per non-blank line; raise `DataFormatError` on bad JSON."""
    with open_text(path) as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataFormatError(path, number, f"invalid JSON ({exc.msg})") from None
            if not isinstance(obj, dict):
                raise DataFormatError(
                    path, number, f"expected a JSON object, got {type(obj).__name__}"
                )
            yield number, obj


def read_models(path: Path | str, model: type[M]) -> list[M]:
    """Read a JSONL file of `model` records, naming file and line on any invalid record."""
    out: list[M] = []
    for number, obj in iter_json_lines(path):
        try:
            out.append(model.model_validate(obj))
        except ValidationError as exc:
            raise DataFormatError(path, number, _describe(exc)) from None
    return out


def write_models(path: Path | str, records: list[BaseModel]) -> None:
    """Write records as JSONL (gzip when the name ends in ``.gz``) atomically via a temp file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    if path.suffix == ".gz":
        # mtime=0 keeps the compressed bytes reproducible, so re-running prepare changes nothing.
        with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
            for rec in records:
                gz.write((rec.model_dump_json() + "\n").encode("utf-8"))
    else:
        with open(tmp, "w", encoding="utf-8") as fh:
            for rec in records:
                fh.write(rec.model_dump_json() + "\n")
    os.replace(tmp, path)


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "<record>"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)
