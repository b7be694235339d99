"""The dialogue as text: speaker names and the one "Seeker: ..." / "Recommender: ..." formatting.

The Planner reads this text, and every prompt that shows the conversation uses the same lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

#: Speaker names of the dialogue as the Planner and the prompts read it.
SEEKER: Final = "Seeker"
RECOMMENDER: Final = "Recommender"

#: The seeker's first message in every simulated episode.
OPENING: Final = "Hello."

_SPEAKERS: Final = {"seeker": SEEKER, "recommender": RECOMMENDER}


def format_dialogue(turns: Sequence[tuple[str, str]]) -> str:
    """Write (speaker, text) turns as "Seeker: ..." / "Recommender: ..." lines, oldest first."""
    lines = []
    for number, (speaker, text) in enumerate(turns):
        role = _SPEAKERS.get(speaker.strip().lower())
        if role is None:
            raise ValueError(
                f"turn {number}: unknown speaker {speaker!r}; expected Seeker or Recommender"
            )
        # Newlines inside an utterance would read as a new turn to the model.
        lines.append(f"{role}: {' '.join(text.split())}")
    return "\n".join(lines)


#: Line breaks and tabs are kept; every other control character is dropped.
_KEPT_CONTROLS: Final = frozenset("\n\t")


def clean_text(text: str) -> tuple[str, list[str]]:
    """Drop what no prompt or saved session should hold; return the text and what was dropped.

    Dropped: undecodable bytes (lone surrogates, which is how Python hands over invalid UTF-8
    from the command line) and control characters other than newline and tab (CRLF becomes
    LF). Valid text comes back unchanged with an empty list.
    """
    text = text.replace("\r\n", "\n")
    kept: list[str] = []
    invalid = controls = 0
    for char in text:
        code = ord(char)
        if 0xD800 <= code <= 0xDFFF:
            invalid += 1
        elif char not in _KEPT_CONTROLS and (code < 0x20 or 0x7F <= code < 0xA0):
            controls += 1
        else:
            kept.append(char)
    dropped = []
    if invalid:
        dropped.append(f"{invalid} invalid UTF-8 byte(s)")
    if controls:
        dropped.append(f"{controls} control character(s)")
    return "".join(kept), dropped


def invalid_utf8_position(text: str) -> int | None:
    """Return the index of the first undecodable byte (a lone surrogate) in `text`, else None."""
    for index, char in enumerate(text):
        if 0xD800 <= ord(char) <= 0xDFFF:
            return index
    return None
