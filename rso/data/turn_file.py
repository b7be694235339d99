"""Turn files of the offline recommendation protocol: one JSON object a line, read lazily.

A line holds ``context`` (utterance strings, oldest first, alternating speakers, the last one
the seeker's; empty strings allowed), optional ``dialog_id`` and ``turn_id``, optional
``summary`` (the Preference Reasoner's) and ``exclude`` (kb ids the seeker rejected), and, for
evaluation, ``rec``: the movies the recommender suggested, written "Title (Year)".
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rso.data.jsonl import DataFormatError, open_text


@dataclass(frozen=True)
class TurnLine:
    """One turn of a turn file."""

    context: list[str]
    targets: list[str] = field(default_factory=list)
    dialog_id: str | None = None
    turn_id: int | str | None = None
    summary: str | None = None
    exclude: list[str] = field(default_factory=list)
    line: int = 0


def _strings(obj: dict[str, object], key: str, path: Path, line: int) -> list[str]:
    value = obj.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DataFormatError(path, line, f"field {key!r} should be a list of strings")
    return list(value)


def parse_turn(obj: object, path: Path, line: int, *, need_targets: bool = False) -> TurnLine:
    """Validate one decoded line; raise `DataFormatError` naming the line and the field."""
    if not isinstance(obj, dict):
        raise DataFormatError(path, line, f"expected a JSON object, got {type(obj).__name__}")
    if "context" not in obj:
        raise DataFormatError(path, line, "missing field 'context'")
    context = _strings(obj, "context", path, line)
    if not any(text.strip() for text in context):
        raise DataFormatError(path, line, "field 'context' has no non-empty utterance")
    targets = _strings(obj, "rec", path, line)
    if need_targets and not targets:
        raise DataFormatError(path, line, "missing or empty field 'rec' (the suggested movies)")
    dialog_id = obj.get("dialog_id")
    if dialog_id is not None and not isinstance(dialog_id, str | int):
        raise DataFormatError(path, line, "field 'dialog_id' should be a string")
    turn_id = obj.get("turn_id")
    if turn_id is not None and (isinstance(turn_id, bool) or not isinstance(turn_id, str | int)):
        raise DataFormatError(path, line, "field 'turn_id' should be an integer or a string")
    summary = obj.get("summary")
    if summary is not None and not isinstance(summary, str):
        raise DataFormatError(path, line, "field 'summary' should be a string")
    return TurnLine(
        context=context,
        targets=targets,
        dialog_id=None if dialog_id is None else str(dialog_id),
        turn_id=turn_id,
        summary=summary,
        exclude=_strings(obj, "exclude", path, line),
        line=line,
    )


def iter_turns(path: Path, *, need_targets: bool = False) -> Iterator[TurnLine]:
    """Yield the turns of a file one by one (``.gz`` allowed); stop at the first bad line."""
    with open_text(path) as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise DataFormatError(path, number, f"invalid JSON ({exc.msg})") from None
            yield parse_turn(obj, path, number, need_targets=need_targets)
