"""The movie the human recommender recommended last in an INSPIRED case's original dialogue.

Item-mode episodes give the simulated seeker a hidden target movie. For a case it is the movie
its human recommender recommended last: of the movies the recommender named, the last one that
the recommender brought up (a movie the seeker named first, "I loved Deadpool", is the seeker's
taste, not a recommendation). The movie mentions come from the UniCRS release, whose dialogues
carry no id; a case's dialogue is found there by its text (lower-cased, letters and digits
only), which is identical in both releases for all but one INSPIRED train dialogue.

ReDial test cases get no target: the RSO release gives their utterances without speakers, so a
recommendation cannot be told from a movie the seeker named. The title stays as the source
writes it ("Title (Year)"); linking it to the knowledge base is the title matcher's job, in a
layer that may use it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from rso.data.rec_turns import inspired_dialogs
from rso.data.records import Speaker, Split

#: A dialogue's utterances as (speaker, text, movie titles named in it).
MentionedUtterance = tuple[Speaker, str, Sequence[str]]

_NOT_ALNUM = re.compile(r"[\W_]+")
_QUOTE_TOKEN = "quotation_mark"


def dialogue_key(texts: Iterable[str]) -> str:
    """Return the key a dialogue is found by: its text lower-cased, letters and digits only."""
    joined = "".join(texts).lower().replace(_QUOTE_TOKEN, "")
    return _NOT_ALNUM.sub("", joined)


def last_recommended(utterances: Iterable[MentionedUtterance]) -> str | None:
    """Return the title the recommender named last among the movies it brought up, or None."""
    first_named_by: dict[str, Speaker] = {}
    last: str | None = None
    for speaker, _, movies in utterances:
        for title in movies:
            first_named_by.setdefault(title, speaker)
            if speaker == "RECOMMENDER" and first_named_by[title] == "RECOMMENDER":
                last = title
    return last


def recommended_by_dialogue(split: Split, raw_dir: Path | None = None) -> dict[str, str | None]:
    """Return each INSPIRED dialogue of `split` (by `dialogue_key`) -> its last recommendation."""
    dialogs, _ = inspired_dialogs(split, raw_dir)
    targets: dict[str, str | None] = {}
    for _, utterances in dialogs:
        targets[dialogue_key(text for _, text, _ in utterances)] = last_recommended(utterances)
    return targets
