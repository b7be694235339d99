"""A dialogue as the movie ranker reads it: who said what, and which movies each side named.

The ranker takes utterances oldest first with their speakers. The offline protocol's turns give
only texts, alternating and ending with the seeker's: `from_context` assigns the speakers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from rso.data.records import Speaker

#: One utterance: (speaker, text).
DialogueTurn = tuple[Speaker, str]
#: Finds the kb ids of the movies named in a text, in order of appearance.
TitleFinder = Callable[[str], list[str]]

#: Characters of the dialogue embedded as the dense query, newest utterance first.
QUERY_CHARS: Final = 600


def from_context(context: Sequence[str]) -> list[DialogueTurn]:
    """Give speakers to an offline-protocol context: alternating, the last utterance the seeker's.

    Empty strings (placeholders for a missing utterance) keep their place in the alternation and
    are then dropped.
    """
    if isinstance(context, str):
        raise TypeError("context must be a list of utterances, not a single string")
    last = len(context) - 1
    turns: list[DialogueTurn] = []
    for index, text in enumerate(context):
        if not isinstance(text, str):
            raise TypeError(f"utterance {index} is {type(text).__name__}, not str")
        if text.strip():
            speaker: Speaker = "SEEKER" if (last - index) % 2 == 0 else "RECOMMENDER"
            turns.append((speaker, text.strip()))
    return turns


@dataclass(frozen=True)
class MentionedMovie:
    """A movie named in the dialogue: by whom first, and how many utterances ago last."""

    kb_id: str
    first_speaker: Speaker
    #: 0 for the newest utterance.
    age: int
    seeker_named: bool


def mentioned_movies(turns: Sequence[DialogueTurn], find: TitleFinder) -> list[MentionedMovie]:
    """Return the movies named anywhere in the dialogue, in order of first mention."""
    first: dict[str, tuple[Speaker, int]] = {}
    last_seen: dict[str, int] = {}
    by_seeker: set[str] = set()
    for index, (speaker, text) in enumerate(turns):
        for kb_id in find(text):
            first.setdefault(kb_id, (speaker, index))
            last_seen[kb_id] = index
            if speaker == "SEEKER":
                by_seeker.add(kb_id)
    newest = len(turns) - 1
    return [
        MentionedMovie(kb_id, speaker, newest - last_seen[kb_id], kb_id in by_seeker)
        for kb_id, (speaker, _) in first.items()
    ]


def query_text(turns: Sequence[DialogueTurn], max_chars: int = QUERY_CHARS) -> str:
    """Return the dense query: utterances newest first, cut at `max_chars` (recent ones weigh most).

    The embedding model truncates long inputs from the end, so putting the newest utterance
    first keeps it whole while the oldest ones fall off.
    """
    parts: list[str] = []
    used = 0
    for _, text in reversed(turns):
        if used >= max_chars:
            break
        parts.append(text[: max_chars - used])
        used += len(parts[-1]) + 1
    return " ".join(parts)


def last_two_text(turns: Sequence[DialogueTurn]) -> str:
    """Return today's retrieval query (the baseline): the last two utterances."""
    return " ".join(text for _, text in turns[-2:])
