"""Field checks for raw JSON records: every failure names the file, the line and the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from rso.data.jsonl import DataFormatError

T = TypeVar("T")


def require(
    obj: dict[str, Any], key: str, kind: type[T], path: Path, line: int, where: str = ""
) -> T:
    """Return ``obj[key]`` if present and of type `kind`, else raise `DataFormatError`."""
    name = f"{where}.{key}" if where else key
    if key not in obj:
        raise DataFormatError(path, line, f"missing field {name!r}")
    value = obj[key]
    # bool is an int subclass; a JSON true where a number is expected is still malformed.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise DataFormatError(
            path, line, f"field {name!r} should be {kind.__name__}, got {type(value).__name__}"
        )
    return value


def string_list(obj: dict[str, Any], key: str, path: Path, line: int) -> list[str]:
    """Return ``obj[key]`` as a list of strings ([] when the key is absent)."""
    value = obj.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DataFormatError(path, line, f"field {key!r} should be a list of strings")
    return list(value)
