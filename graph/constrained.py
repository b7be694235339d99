"""Constrained decoding: replies that can only be one of a few options, where the server allows it.

The embedded llama.cpp server decodes under a GBNF grammar sent in the request's body; other
servers get the settings unchanged and the caller parses the answer tolerantly.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Final

from graph.models import LLMSettings


def choice_grammar(options: Sequence[str]) -> str:
    """Return a GBNF grammar whose only sentences are `options` (llama.cpp decodes under it)."""
    if not options:
        raise ValueError("choice_grammar needs at least one option")
    return "root ::= " + " | ".join(json.dumps(option) for option in options)


def constrained_to(settings: LLMSettings, options: Sequence[str]) -> LLMSettings:
    """Return `settings` whose replies can only be one of `options`, where the server enforces it.

    The embedded llama.cpp server (``base_url`` None) decodes under a grammar of the options, so
    every answer parses; other servers get the settings unchanged and the caller parses the
    answer tolerantly (OpenAI has no such field, vLLM spells it differently across versions).
    """
    if settings.base_url is not None:
        return settings
    return settings.with_changes(
        extra_body={**settings.extra_body, "grammar": choice_grammar(options)}
    )


def schema_bounds(
    *, max_chars: int | None = None, max_items: int | None = None, item_chars: int | None = None
) -> dict[str, Any]:
    """Return JSON-schema length bounds for a field (``json_schema_extra``).

    A server that decodes under the schema (llama.cpp's grammar, vLLM's json_schema) then ends
    the string or list in time, so a reply cannot run past the role's token budget and arrive
    cut, as invalid JSON. The bounds live in the schema only: a server that ignores them may
    answer longer, and the reply is still accepted.
    """
    bounds: dict[str, Any] = {}
    if max_chars is not None:
        bounds["maxLength"] = max_chars
    if max_items is not None:
        bounds["maxItems"] = max_items
    if item_chars is not None:
        bounds["items"] = {"type": "string", "maxLength": item_chars}
    return bounds


#: Fewest characters a token of a bounded answer carries, for `answer_token_bound`: English text
#: runs at about four characters a token, odd strings (names, digits, punctuation) nearer two.
CHARS_PER_TOKEN_FLOOR: Final = 2
#: Tokens of a JSON answer's punctuation per field or list item (quotes, colon, comma, brackets).
_TOKENS_PER_PART: Final = 4


def answer_token_bound(schema: dict[str, Any]) -> int | None:
    """Return the most tokens a JSON answer under `schema` takes, or None if it is unbounded.

    Counts each string at its ``maxLength`` (or its longest ``enum`` value), each list at its
    ``maxItems``, integers as one token, at `CHARS_PER_TOKEN_FLOOR` characters a token. A role's
    token budget at least this large lets a schema-decoded answer always end in time.
    """
    if "enum" in schema:
        longest = max(len(json.dumps(value)) for value in schema["enum"])
        return -(-longest // CHARS_PER_TOKEN_FLOOR) + _TOKENS_PER_PART
    kind = schema.get("type")
    if kind == "object":
        total = 2
        for name, field_schema in schema.get("properties", {}).items():
            tokens = answer_token_bound(field_schema)
            if tokens is None:
                return None
            total += tokens + -(-len(name) // CHARS_PER_TOKEN_FLOOR) + _TOKENS_PER_PART
        return total
    if kind == "array":
        items = answer_token_bound(schema.get("items", {}))
        if items is None or "maxItems" not in schema:
            return None
        return 2 + schema["maxItems"] * items
    if kind == "string":
        if "maxLength" not in schema:
            return None
        return -(-schema["maxLength"] // CHARS_PER_TOKEN_FLOOR) + _TOKENS_PER_PART
    if kind in ("integer", "boolean"):
        return _TOKENS_PER_PART
    return None
