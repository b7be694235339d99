"""A dialogue as the movie ranker reads it: who said what, and which movies each side named.

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

#: Weight of an utterance in the dense query, per utterance of age (the newest weighs 1).
UTTERANCE_DECAY: Final = 0.7
#: Utterances read into the dense query, newest first (older ones would weigh under 2%).
QUERY_UTTERANCES: Final = 12


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


def query_utterances(turns: Sequence[DialogueTurn], limit: int = QUERY_UTTERANCES) -> list[str]:
    """Return the texts the dense query is built from: the last `limit` utterances, oldest first."""
    return [text for _, text in turns[-limit:]] if limit > 0 else []


def dialogue_vector(vectors: np.ndarray, decay: float = UTTERANCE_DECAY) -> np.ndarray:
    """Return the dense query: the unit mean of utterance vectors (oldest first), recency-weighted.

    Each utterance is embedded on its own, so a live dialogue embeds only its new utterances
    (`retrieval.utterance_cache`); the newest weighs 1 and each older one `decay` times less.
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.shape[0] == 0:
        return np.zeros(vectors.shape[1], dtype=np.float32)
    weights = decay ** np.arange(vectors.shape[0] - 1, -1, -1, dtype=np.float32)
    vector = weights @ vectors
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def last_two_text(turns: Sequence[DialogueTurn]) -> str:
    """Return today's retrieval query (the baseline): the last two utterances."""
    return " ".join(text for _, text in turns[-2:])
