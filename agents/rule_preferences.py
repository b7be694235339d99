"""What the seeker likes, read by rule: preference extraction over the knowledge base's words.

Genres, people (`retrieval.taste_words`: the knowledge base's vocabulary) and titles the seeker
mentions, split into likes and dislikes by negation cues in the same sentence; rejected movies
from rejection cues right after a recommendation. The rule experts (`agents.rule_experts`) build
on these plain functions.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from retrieval.taste_words import (
    NEGATION,
    SENTENCES,
    Vocabulary,
    find_genres,
    find_people,
)
from rso.data.records import Movie
from rso.dialogue import SEEKER

#: One message of the dialogue as the rule experts read it: the speaker ("Seeker" or
#: "Recommender"), its text, and the kb_ids of the movies it recommended.
DialogueTurn = tuple[str, str, Sequence[str]]

# Cues that the seeker turns down the movie just recommended.
_REJECTION = re.compile(
    r"(?:not for me|not what i'?m (?:looking for|after)|something else|anything else|"
    r"not interested|no thanks|already suggested|doesn'?t sound like|not really what|"
    r"not my (?:kind|type|thing)|pass on)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Preferences:
    """What the seeker has said it likes and dislikes, in order of first mention."""

    genres: tuple[str, ...] = ()
    people: tuple[str, ...] = ()
    #: kb_ids of movies the seeker mentioned liking (treated as seen: never recommended).
    titles: tuple[str, ...] = ()
    disliked_genres: tuple[str, ...] = ()
    disliked_people: tuple[str, ...] = ()
    #: kb_ids of recommended movies the seeker turned down.
    rejected: tuple[str, ...] = ()

    @property
    def known(self) -> bool:
        """True once anything positive is known (the retriever only recommends then)."""
        return bool(self.genres or self.people or self.titles)


def extract_preferences(
    turns: Sequence[DialogueTurn],
    vocabulary: Vocabulary,
    movies: Mapping[str, Movie] | None = None,
    find_titles: Callable[[str], list[str]] | None = None,
) -> Preferences:
    """Preferences from the dialogue: (speaker, text, movies recommended in it) per message.

    Speakers are "Seeker" or "Recommender"; ``find_titles(text) -> list[kb_id]`` optionally finds
    movie titles in seeker text. A seeker sentence with a rejection cue right after a
    recommendation rejects the movies recommended there. Titles of recommended movies (looked up
    in `movies`) are cut from seeker sentences first, so "Scary Movie" is not a taste for horror.
    """
    genres: list[str] = []
    people: list[str] = []
    titles: list[str] = []
    bad_genres: list[str] = []
    bad_people: list[str] = []
    rejected: list[str] = []
    last_recommended: Sequence[str] = ()
    mentioned: list[str] = []
    for speaker, text, recommended in turns:
        if speaker != SEEKER:
            last_recommended = recommended
            _extend(mentioned, [movies[k].title for k in recommended if movies and k in movies])
            continue
        for title in sorted(mentioned, key=len, reverse=True):
            text = re.sub(re.escape(title), " ", text, flags=re.IGNORECASE)
        for sentence in SENTENCES.split(text):
            negative = NEGATION.search(sentence) is not None
            if last_recommended and _REJECTION.search(sentence):
                _extend(rejected, last_recommended)
                last_recommended = ()
            _extend(bad_genres if negative else genres, find_genres(sentence, vocabulary))
            _extend(bad_people if negative else people, find_people(sentence, vocabulary))
            if find_titles is not None and not negative:
                _extend(titles, [t for t in find_titles(sentence) if t not in rejected])
    return Preferences(
        genres=tuple(g for g in genres if g not in bad_genres),
        people=tuple(p for p in people if p not in bad_people),
        titles=tuple(titles),
        disliked_genres=tuple(bad_genres),
        disliked_people=tuple(bad_people),
        rejected=tuple(rejected),
    )


def _extend(target: list[str], items: Iterable[str]) -> None:
    for item in items:
        if item not in target:
            target.append(item)
