"""A dialogue as the movie ranker reads it: who said what, and which movies each side named.

It also reads the genres and people a dialogue names in words (`said_attributes`).

The ranker takes utterances oldest first with their speakers. The offline protocol's turns give
only texts, alternating and ending with the seeker's: `from_context` assigns the speakers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np

from rso.data.records import Speaker

#: One utterance: (speaker, text).
DialogueTurn = tuple[Speaker, str]
#: Finds the kb ids of the movies named in a text, in order of appearance.
TitleFinder = Callable[[str], list[str]]
#: ``find(text, seeker)``: attribute tokens ("g:horror", "c:Tom Hanks") of what a text names
#: (`retrieval.attributes.word_finder`).
WordFinder = Callable[[str, bool], Sequence[str]]

#: Weight of an exchange in the dense query, per exchange of age (the newest weighs most).
EXCHANGE_DECAY: Final = 0.7
#: Exchanges read into the dense query, newest first (older ones would weigh under 12%).
QUERY_EXCHANGES: Final = 6


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


@dataclass(frozen=True)
class SaidAttribute:
    """A genre or person the dialogue names in words, as an attribute token, and how long ago."""

    token: str
    #: 0 for the newest utterance.
    age: int


def said_attributes(turns: Sequence[DialogueTurn], find: WordFinder) -> list[SaidAttribute]:
    """Return every attribute token named in the dialogue's words, newest utterance first."""
    return [
        SaidAttribute(token, age)
        for age, (speaker, text) in enumerate(reversed(turns))
        for token in find(text, speaker == "SEEKER")
    ]


def query_exchanges(turns: Sequence[DialogueTurn], limit: int = QUERY_EXCHANGES) -> list[str]:
    """Return the texts the dense query is built from: the last `limit` exchanges, oldest first.

    An exchange is a seeker utterance joined to the recommender utterances just before it; a
    dialogue that ends with the recommender ends with that utterance alone. A live chat adds
    one exchange a turn, so only that one is new to the embedding cache.
    """
    exchanges: list[str] = []
    pending: list[str] = []
    for speaker, text in turns:
        pending.append(text)
        if speaker == "SEEKER":
            exchanges.append(" ".join(pending))
            pending = []
    if pending:
        exchanges.append(" ".join(pending))
    return exchanges[-limit:] if limit > 0 else []


def dialogue_vector(
    vectors: np.ndarray, texts: Sequence[str], decay: float = EXCHANGE_DECAY
) -> np.ndarray:
    """Return the dense query: the unit weighted sum of the exchanges' vectors (oldest first).

    Each exchange weighs ``decay ** age * sqrt(characters)``: recent ones most, and a long
    exchange more than "Hi!" (as in one embedding of the whole text, where words count, not
    utterances). Measured against other weightings in docs/recommendation.md.
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.shape[0] == 0:
        return np.zeros(vectors.shape[1], dtype=np.float32)
    ages = np.arange(vectors.shape[0] - 1, -1, -1, dtype=np.float32)
    sizes = np.sqrt(np.asarray([max(len(text), 1) for text in texts], dtype=np.float32))
    vector = (decay**ages * sizes) @ vectors
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def last_two_text(turns: Sequence[DialogueTurn]) -> str:
    """Return today's retrieval query (the baseline): the last two utterances."""
    return " ".join(text for _, text in turns[-2:])
