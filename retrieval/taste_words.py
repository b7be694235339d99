"""Genres and people a text names, in the knowledge base's own words.

The vocabulary is the knowledge base's: its genre names (with a few everyday synonyms and
plurals) and the full names of its directors and cast. The rule experts read a seeker's likes
and dislikes with it (`agents.rule_preferences`), and the movie ranker reads what kinds of movie
a dialogue talks about (`retrieval.rank_features`, the `attributes` signal).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from rso.data.records import Movie

#: Everyday words for knowledge-base genres (the KB's own genre names match too, with plurals).
GENRE_SYNONYMS: Final[Mapping[str, str]] = {
    "scary": "horror",
    "slasher": "horror",
    "funny": "comedy",
    "comedies": "comedy",
    "hilarious": "comedy",
    "romantic": "romance",
    "rom-com": "romance",
    "romcom": "romance",
    "science fiction": "sci-fi",
    "sci fi": "sci-fi",
    "scifi": "sci-fi",
    "animated": "animation",
    "cartoon": "animation",
    "cartoons": "animation",
    "documentaries": "documentary",
    "mysteries": "mystery",
    "biopic": "biography",
    "biopics": "biography",
    "superhero": "action",
    "action-packed": "action",
    "dramatic": "drama",
    "historical": "history",
    "sports": "sport",
    "noir": "film-noir",
    "suspense": "thriller",
    "suspenseful": "thriller",
    "kids": "family",
    "magic": "fantasy",
    "westerns": "western",
    "musicals": "musical",
}

#: Cues that turn the genres and people of a sentence into dislikes.
NEGATION = re.compile(
    r"\b(?:don'?t|do not|doesn'?t|not a (?:big )?fan|not into|not really into|hate|dislike|"
    r"can'?t stand|cannot stand|no more|tired of|avoid|rather not)\b",
    re.IGNORECASE,
)
#: Where one sentence ends and the next begins.
SENTENCES = re.compile(r"(?<=[.!?;])\s+")
_TOKEN = re.compile(r"[a-z0-9][a-z0-9'\-\.]*")


def normalise(text: str) -> str:
    """Lower-case words of `text`, apostrophes unified, joined by single spaces.

    A word's trailing periods go: "Sigourney Weaver." ends a sentence, and "Samuel L. Jackson"
    is also written "Samuel L Jackson".
    """
    words = (w.rstrip(".") for w in _TOKEN.findall(text.casefold().replace("\u2019", "'")))
    return " ".join(w for w in words if w)


@dataclass(frozen=True, eq=False)
class Vocabulary:
    """Genre and people vocabulary of the knowledge base, with inverted indexes for ranking."""

    genres: frozenset[str]
    #: Normalised full name -> name as written in the knowledge base.
    people: Mapping[str, str]
    by_genre: Mapping[str, tuple[str, ...]]
    by_person: Mapping[str, tuple[str, ...]]
    max_name_tokens: int
    #: Matches any genre or synonym, with plural endings, as a whole word.
    genre_pattern: re.Pattern[str]

    @classmethod
    def build(cls, movies: Iterable[Movie]) -> Vocabulary:
        """Collect genres and people (directors, cast) from the movie records."""
        genres: set[str] = set()
        people: dict[str, str] = {}
        by_genre: dict[str, list[str]] = defaultdict(list)
        by_person: dict[str, list[str]] = defaultdict(list)
        for movie in movies:
            for genre in {g.strip().lower() for g in movie.genres if g.strip()}:
                genres.add(genre)
                by_genre[genre].append(movie.kb_id)
            for name in {*movie.directors, *movie.cast}:
                key = normalise(name)
                # Single-word names ("Madonna") collide with ordinary words; whole names only.
                if len(key.split()) < 2:
                    continue
                people.setdefault(key, name)
                by_person[people[key]].append(movie.kb_id)
        longest = max((len(k.split()) for k in people), default=2)
        return cls(
            genres=frozenset(genres),
            people=people,
            by_genre={g: tuple(ids) for g, ids in by_genre.items()},
            by_person={p: tuple(ids) for p, ids in by_person.items()},
            max_name_tokens=min(longest, 4),
            genre_pattern=_genre_pattern(genres),
        )


@lru_cache(maxsize=1)
def default_vocabulary() -> Vocabulary:
    """Return the vocabulary of the default knowledge base, built once."""
    from rso.data.movies import movies_by_id

    return Vocabulary.build(movies_by_id().values())


def _genre_pattern(genres: Iterable[str]) -> re.Pattern[str]:
    words = sorted({*genres, *GENRE_SYNONYMS}, key=len, reverse=True)
    alternatives = "|".join(re.escape(w) + r"(?:s|es)?" for w in words if w)
    return re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])", re.IGNORECASE)


def find_genres(text: str, vocabulary: Vocabulary) -> list[str]:
    """Knowledge-base genres mentioned in `text` (synonyms and plurals mapped), in order."""
    found: list[str] = []
    for match in vocabulary.genre_pattern.finditer(text):
        word = match.group(0).lower()
        genre = _genre_of(word, vocabulary)
        if genre is not None and genre not in found:
            found.append(genre)
    return found


def _genre_of(word: str, vocabulary: Vocabulary) -> str | None:
    for candidate in (word, word.removesuffix("es"), word.removesuffix("s")):
        if candidate in vocabulary.genres:
            return candidate
        if candidate in GENRE_SYNONYMS:
            return GENRE_SYNONYMS[candidate]
    return None


def find_people(text: str, vocabulary: Vocabulary) -> list[str]:
    """Directors and actors named in full in `text`, longest match first, in order."""
    tokens = normalise(text).split()
    found: list[str] = []
    i = 0
    while i < len(tokens):
        for size in range(min(vocabulary.max_name_tokens, len(tokens) - i), 1, -1):
            name = vocabulary.people.get(" ".join(tokens[i : i + size]))
            if name is not None:
                if name not in found:
                    found.append(name)
                i += size
                break
        else:
            i += 1
    return found


def is_negated(phrase: str, text: str) -> bool:
    """Return True when a sentence of `text` that contains `phrase` carries a negation cue."""
    needle = normalise(phrase)
    return any(
        needle in normalise(sentence) and NEGATION.search(sentence) is not None
        for sentence in SENTENCES.split(text)
    )


def named_in(
    text: str, vocabulary: Vocabulary, *, skip_negated: bool = False
) -> tuple[list[str], list[str]]:
    """Genres and people `text` names, in order; with `skip_negated`, sentences with a cue out."""
    genres: list[str] = []
    people: list[str] = []
    for sentence in SENTENCES.split(text):
        if skip_negated and NEGATION.search(sentence) is not None:
            continue
        genres += [g for g in find_genres(sentence, vocabulary) if g not in genres]
        people += [p for p in find_people(sentence, vocabulary) if p not in people]
    return genres, people
