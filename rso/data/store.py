"""Choosing between the committed processed files and the raw datasets, shared by every loader."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel

from rso.data.jsonl import read_models
from rso.paths import processed_data_dir, raw_data_dir

M = TypeVar("M", bound=BaseModel)

#: Where a public loader reads from: the processed file when present ("auto"), or one of them.
Source = Literal["auto", "raw", "processed"]


@dataclass
class Parsed(Generic[M]):
    """Records parsed from a raw source, with counts of everything handled on purpose."""

    records: list[M]
    #: What the parser did deliberately (rows merged, values realigned, ...), by description.
    notes: dict[str, int] = field(default_factory=dict)


def raw_file(relative: Path | str, raw_dir: Path | None = None) -> Path:
    """Path of a raw dataset file, raising a clear error when the raw directory lacks it."""
    path = (raw_dir or raw_data_dir()) / relative
    if not path.is_file():
        raise FileNotFoundError(f"raw data file not found: {path} (set RSO_RAW_DATA)")
    return path


def load_records(
    name: str,
    model: type[M],
    parse_raw: Callable[[], list[M]],
    source: Source = "auto",
    data_dir: Path | None = None,
) -> list[M]:
    """Read processed file `name` when present (or when asked), else parse the raw source."""
    path = (data_dir or processed_data_dir()) / name
    if source == "raw" or (source == "auto" and not path.is_file()):
        return parse_raw()
    if not path.is_file():
        raise FileNotFoundError(f"processed data file not found: {path} (run `rso data prepare`)")
    return read_models(path, model)
