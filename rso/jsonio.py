"""Strict JSON for the files and output the project writes: no NaN or Infinity.

Python's `json` writes ``NaN``, ``Infinity`` and ``-Infinity`` for non-finite floats, which is not
JSON: strict readers (JavaScript's ``JSON.parse``, jq, most other languages) refuse the whole
file. A metric with no data behind it (a run whose every episode failed, persuasiveness with no
scorable dialogue) is such a float, so every writer goes through `dumps`, which writes it as
``null``: "no value", as the report's "n/a".
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def finite_or_null(value: Any) -> Any:
    """Return `value` with every non-finite float, however deeply nested, replaced by None.

    Mappings and lists are copied (tuples become lists, as JSON writes them); anything else is
    returned as is.
    """
    if isinstance(value, float):  # numpy's float64 included
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {key: finite_or_null(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite_or_null(item) for item in value]
    return value


def dumps(value: Any, **kwargs: Any) -> str:
    """`json.dumps` writing non-finite floats as null; the result is strict JSON.

    ``allow_nan=False`` makes any non-finite float the cleaning missed (one inside an object
    `json` converts through ``default``) an error instead of invalid output.
    """
    return json.dumps(finite_or_null(value), allow_nan=False, **kwargs)


def write_json(path: Path, value: Any, **kwargs: Any) -> None:
    """Write `value` to `path` as strict JSON (`dumps`) plus a newline, atomically.

    The text goes to a temporary file that is then renamed over `path`, so a crash never leaves
    a half-written file behind.
    """
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(dumps(value, **kwargs) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_json_object(path: Path) -> dict[str, Any]:
    """Read a JSON object from `path`; raise ValueError saying why it cannot be read."""
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{Path(path).name} is unreadable ({exc})") from None
    if not isinstance(value, dict):
        raise ValueError(f"{Path(path).name} does not hold a JSON object")
    return value


def invalid_key(obj: Mapping[str, Any], required: Mapping[str, type]) -> str | None:
    """Return the first key of `required` that `obj` lacks or holds with another type."""
    return next((key for key, kind in required.items() if not isinstance(obj.get(key), kind)), None)
