"""Small helpers shared by the experts: message text, dialogue turns, clipping, fallback records."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, HumanMessage

from graph.state import FallbackRecord
from rso.dialogue import RECOMMENDER, SEEKER

logger = logging.getLogger("rso.graph")


def message_text(content: Any) -> tuple[str, list[str]]:
    """Plain text of a message's content, and the types of the non-text blocks it had to skip."""
    if isinstance(content, str):
        return content, []
    skipped: list[str] = []
    parts: list[str] = []
    for block in content if isinstance(content, list) else [content]:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, dict) and block.get("type") == "text":
            parts.append(str(block.get("text", "")))
        elif isinstance(block, dict):
            skipped.append(str(block.get("type", "unknown")))
        else:
            skipped.append(type(block).__name__)
    return "\n".join(p for p in parts if p), skipped


def speaker_of(message: BaseMessage) -> str | None:
    """Return "Seeker" for human messages, "Recommender" for AI messages, None otherwise."""
    if isinstance(message, HumanMessage):
        return SEEKER
    if isinstance(message, AIMessage):
        return RECOMMENDER
    return None


def dialogue_turns(
    messages: Sequence[AnyMessage], max_chars: int | None = None
) -> list[tuple[str, str]]:
    """(speaker, text) of the seeker and recommender messages, optionally clipped each."""
    turns: list[tuple[str, str]] = []
    for message in messages:
        speaker = speaker_of(message)
        if speaker is None:
            continue
        text = " ".join(message_text(message.content)[0].split())
        turns.append((speaker, clip_text(text, max_chars) if max_chars else text))
    return turns


_CONTENT_WORD = re.compile(r"[a-z0-9][a-z0-9']{3,}")


#: Words that say nothing about which movie or which taste (stems, see `content_words`).
_GENERIC = frozenset(
    word[:5]
    for word in [
        "movie",
        "film",
        "like",
        "love",
        "enjoy",
        "watch",
        "seeker",
        "recommender",
        "prefer",
        "preference",
        "really",
        "would",
        "about",
        "they",
        "their",
        "them",
        "with",
        "that",
        "this",
        "some",
        "what",
        "have",
        "been",
        "from",
        "into",
        "also",
        "very",
        "much",
    ]
)


def content_words(text: str) -> set[str]:
    """Return the distinctive words (4+ characters, casefolded, cut to a 5-letter stem)."""
    # A crude stem ("horrors" ~ "horror") is enough to tell text grounded in a source from text
    # about something else; it is not meant to be linguistics.
    stems = {word[:5] for word in _CONTENT_WORD.findall(text.casefold())}
    return stems - _GENERIC


def overlap(text: str, source: str) -> float:
    """Return the share of `text`'s content words that also occur in `source` (1.0 if none)."""
    words = content_words(text)
    return len(words & content_words(source)) / len(words) if words else 1.0


def clip_text(text: str, max_chars: int) -> str:
    """Keep the last ``max_chars`` characters (the end of a message matters most), marked "..."."""
    if len(text) <= max_chars:
        return text
    return "..." + text[len(text) - max_chars + 3 :]


def fallback(turn: int, node: str, failure: str, action: str) -> FallbackRecord:
    """Return a fallback record, and write it to the log."""
    logger.warning("turn %d, %s: %s -> %s", turn, node, failure, action)
    return FallbackRecord(turn=turn, node=node, failure=failure, action=action)
