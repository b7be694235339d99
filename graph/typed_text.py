"""A setting's value read from text by its type hint (the ``RSO_*`` variables).

The types: bool, int, float, a Literal's choices, str, each optionally None.

`graph.context` turns the errors into `ContextError` naming the variable or the field.
"""

from __future__ import annotations

import types
from typing import Any, Literal, Union, get_args, get_origin

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
#: Texts that read as None where the type allows it.
NONE_TEXTS = {"", "none", "null"}


def unwrap_optional(tp: Any) -> tuple[Any, bool]:
    """Return (the type inside ``X | None``, whether None is allowed)."""
    if get_origin(tp) in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return tp, False


def value_problem(value: Any, tp: Any) -> str | None:
    """Return what is wrong with `value` for type `tp` (None and Literal choices), else None."""
    inner, optional = unwrap_optional(tp)
    if value is None:
        return None if optional else "must not be None"
    if get_origin(inner) is Literal and value not in get_args(inner):
        return f"must be one of {', '.join(map(str, get_args(inner)))}, got {value!r}"
    return None


def parse_typed(raw: str, tp: Any) -> Any:
    """Return `raw` read as type `tp`; ValueError says what was expected."""
    inner, optional = unwrap_optional(tp)
    text = raw.strip()
    if optional and text.lower() in NONE_TEXTS:
        return None
    if inner is bool:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ValueError("expected one of 1/0, true/false, yes/no, on/off")
    if inner is int:
        try:
            return int(text)
        except ValueError:
            raise ValueError("expected an integer") from None
    if inner is float:
        try:
            return float(text)
        except ValueError:
            raise ValueError("expected a number") from None
    if get_origin(inner) is Literal and text not in get_args(inner):
        raise ValueError(f"expected one of {', '.join(get_args(inner))}")
    return text
