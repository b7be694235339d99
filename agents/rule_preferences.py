"""What the seeker likes, read by rule: knowledge-base vocabulary and preference extraction.

Genres (the knowledge base's own names plus a few everyday synonyms, with plurals), people
(directors and cast, matched as whole names) and titles the seeker mentions, split into likes and
dislikes by negation cues in the same sentence; rejected movies from rejection cues right after a
recommendation. The rule experts (`agents.rule_experts`) build on these plain functions.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from rso.data.records import Movie
from rso.dialogue import SEEKER

#: One message of the dialogue as the rule experts read it: the speaker ("Seeker" or
#: "Recommender"), its text, and the kb_ids of the movies it recommended.
DialogueTurn = tuple[str, str, Sequence[str]]

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

# Cues that turn the genres and people of a sentence into dislikes.
_NEGATION = re.compile(
    r"\b(?:don'?t|do not|doesn'?t|not a (?:big )?fan|not into|not really into|hate|dislike|"
    r"can'?t stand|cannot stand|no more|tired of|avoid|rather not)\b",
    re.IGNORECASE,
)
# Cues that the seeker turns down the movie just recommended.
_REJECTION = re.compile(
    r"(?:not for me|not what i'?m (?:looking for|after)|something else|anything else|"
    r"not interested|no thanks|already suggested|doesn'?t sound like|not really what|"
    r"not my (?:kind|type|thing)|pass on)",
    re.IGNORECASE,
)
_SENTENCES = re.compile(r"(?<=[.!?;])\s+")
_TOKEN = re.compile(r"[a-z0-9][a-z0-9'\-\.]*")


def _norm(text: str) -> str:
    return " ".join(_TOKEN.findall(text.casefold().replace("\u2019", "'")))


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
                key = _norm(name)
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
    tokens = _norm(text).split()
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
        for sentence in _SENTENCES.split(text):
            negative = _NEGATION.search(sentence) is not None
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


def is_negated(phrase: str, text: str) -> bool:
    """Return True when a sentence of `text` that contains `phrase` carries a negation cue."""
    needle = _norm(phrase)
    return any(
        needle in _norm(sentence) and _NEGATION.search(sentence) is not None
        for sentence in _SENTENCES.split(text)
    )


def _extend(target: list[str], items: Iterable[str]) -> None:
    for item in items:
        if item not in target:
            target.append(item)
