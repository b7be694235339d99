"""Link movie mentions ("Police Academy (1984)", "the dark knight") and titles in text to kb ids.

Titles are compared as normalised word sequences (`retrieval.title_text`). A year in parentheses
picks between remakes. Exact matches win over fuzzy ones; fuzzy matching never crosses a
different number ("Toy Story 2" is not "Toy Story 3").

When several movies share a title and no year says which, the most prominent one wins: mentions
in the processed ReDial training dialogs when available, then MovieLens tag coverage, INSPIRED
presence, plot, and cast.
"""

from __future__ import annotations

import bisect
import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Final

from rapidfuzz import fuzz, process

from retrieval.title_text import (
    BARE_YEAR,
    WEAK_LENGTH,
    YEAR_AFTER,
    Key,
    Pattern,
    Token,
    has_article,
    reads_as_title,
    split_year,
    text_tokens,
    title_digits,
    title_key,
)
from rso.data.records import Movie, RedialDialog

logger = logging.getLogger(__name__)

#: Fuzzy matching is only tried for titles at least this long (normalised characters).
_FUZZY_MIN_CHARS: Final = 5


class TitleMatcher:
    """Resolves movie mentions and finds titles in text, over a given list of movies."""

    def __init__(
        self,
        movies: Iterable[Movie],
        popularity: Mapping[str, float] | None = None,
        *,
        fuzzy_cutoff: float = 88.0,
    ) -> None:
        """Index ``movies``; ``popularity`` (kb_id -> weight) breaks ties between equal titles."""
        self.fuzzy_cutoff = fuzzy_cutoff
        self._movies: dict[str, Movie] = {}
        popularity = popularity or {}
        for movie in movies:
            if movie.kb_id in self._movies:
                raise ValueError(f"duplicate kb_id {movie.kb_id!r} given to TitleMatcher")
            self._movies[movie.kb_id] = movie
        order = {kb_id: n for n, kb_id in enumerate(self._movies)}

        def prominence(kb_id: str) -> tuple[float, int, bool, bool, int, int]:
            m = self._movies[kb_id]
            weight = float(popularity.get(kb_id, 0.0))
            return (
                -weight,
                -len(m.tags),
                not m.in_inspired,
                not m.plot,
                -len(m.cast),
                order[kb_id],
            )

        exact: dict[Key, list[str]] = defaultdict(list)
        compact: dict[str, list[str]] = defaultdict(list)
        main: dict[Key, list[str]] = defaultdict(list)
        self._keys: dict[str, Key] = {}
        self._main_keys: dict[str, Key] = {}
        # Whether the title (or its main part before a colon) starts with an article.
        self._articled: dict[tuple[str, Key], bool] = {}
        untitled = 0
        for kb_id, movie in self._movies.items():
            key = title_key(movie.title)
            if not key:
                untitled += 1
                continue
            self._keys[kb_id] = key
            self._articled[kb_id, key] = has_article(movie.title)
            exact[key].append(kb_id)
            compact["".join(key)].append(kb_id)
            if ":" in movie.title:
                head = title_key(movie.title.split(":", 1)[0])
                if head and head != key:
                    main[head].append(kb_id)
                    self._main_keys[kb_id] = head
                    self._articled[kb_id, head] = has_article(movie.title.split(":", 1)[0])
        if untitled:
            # Not an input error: a few KB records have no title, so only retrieval can find them.
            logger.info("%d movies have no title and cannot be matched by name", untitled)
        self._exact = {k: sorted(v, key=prominence) for k, v in exact.items()}
        self._compact = {k: sorted(v, key=prominence) for k, v in compact.items()}
        self._main = {k: sorted(v, key=prominence) for k, v in main.items()}
        self._rank = {kb_id: n for n, kb_id in enumerate(sorted(self._movies, key=prominence))}
        self._choices: list[str] = [" ".join(k) for k in self._exact]
        self._choice_keys: list[Key] = list(self._exact)
        self._patterns = self._build_patterns(self._exact.items())

    def __len__(self) -> int:
        """Return the number of movies known to the matcher."""
        return len(self._movies)

    # --- single mentions ------------------------------------------------------------------------

    def match(self, mention: str, candidates: Sequence[str] | None = None) -> str | None:
        """Return the kb_id a mention names ("Police Academy (1984)", "dark knight"), or None.

        With ``candidates`` only those movies are considered (in that order of preference) and a
        year that fits none of them is not held against an exact title match.
        """
        title, year = split_year(mention)
        key = title_key(title)
        if not key:
            return None
        allowed = self._check_candidates(candidates)
        readings = [(key, year)]
        if year is None and len(key) > 1 and BARE_YEAR.fullmatch(key[-1]):
            # "Police Academy 1984": a trailing year without parentheses, unless the title has it.
            readings.append((key[:-1], int(key[-1])))
        for reading, reading_year in readings:
            for tier in (
                self._exact.get(reading, []),
                self._compact.get("".join(reading), []),
                self._main.get(reading, []),
            ):
                picked = self._pick(tier, reading_year, allowed)
                if picked:
                    return picked
        return self._fuzzy(key, year, allowed)

    def _check_candidates(self, candidates: Sequence[str] | None) -> dict[str, int] | None:
        if candidates is None:
            return None
        if isinstance(candidates, str):
            raise TypeError("candidates must be a list of kb ids, not a single string")
        unknown = [c for c in candidates if c not in self._movies]
        if unknown:
            raise ValueError(f"unknown candidate kb ids: {unknown[:5]}")
        positions: dict[str, int] = {}
        for n, kb_id in enumerate(candidates):
            positions.setdefault(kb_id, n)
        return positions

    def _pick(
        self, kb_ids: Sequence[str], year: int | None, allowed: Mapping[str, int] | None
    ) -> str | None:
        """Choose among movies sharing a title: by year if given, else the most prominent."""
        if allowed is not None:
            kb_ids = sorted((i for i in kb_ids if i in allowed), key=allowed.__getitem__)
        if not kb_ids:
            return None
        if year is None:
            return kb_ids[0]
        years = [(kb_id, self._movies[kb_id].year) for kb_id in kb_ids]
        for fits in (
            lambda y: y == year,
            lambda y: y is not None and abs(y - year) <= 1,  # release years differ by country
            lambda y: y is None,
        ):
            for kb_id, movie_year in years:
                if fits(movie_year):
                    return kb_id
        # Among candidates the title itself already singles the movie out.
        return kb_ids[0] if allowed is not None else None

    def _fuzzy(self, key: Key, year: int | None, allowed: Mapping[str, int] | None) -> str | None:
        query = " ".join(key)
        if len(query.replace(" ", "")) < _FUZZY_MIN_CHARS:
            return None
        if allowed is None:
            choices, choice_keys = self._choices, self._choice_keys
        else:
            choice_keys = sorted({self._keys[i] for i in allowed if i in self._keys})
            choices = [" ".join(k) for k in choice_keys]
        results = process.extract(
            query, choices, scorer=fuzz.ratio, score_cutoff=self.fuzzy_cutoff, limit=10
        )
        # Best score first; equal scores keep the more prominent title first.
        ranked = sorted(
            results, key=lambda r: (-r[1], self._rank[self._exact[choice_keys[r[2]]][0]])
        )
        for _, _, position in ranked:
            candidate_key = choice_keys[position]
            if title_digits(candidate_key) != title_digits(key):
                continue
            picked = self._pick(self._exact[candidate_key], year, allowed)
            if picked:
                return picked
        return None

    # --- titles in free text ---------------------------------------------------------------------

    def find_in_text(self, text: str, candidates: Sequence[str] | None = None) -> list[str]:
        """kb_ids of movies whose titles appear in ``text``, in order of first appearance.

        Without ``candidates`` the whole catalogue is searched, conservatively: short titles
        need Title Case, and titles that are ordinary words need a year or quotes. With
        ``candidates`` (e.g. the movies a reply may recommend) only those are searched, more
        leniently: main titles before a colon count, and long titles may be slightly misspelt.
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be str, got {type(text).__name__}")
        allowed = self._check_candidates(candidates)
        tokens = text_tokens(text)
        if allowed is None:
            patterns = self._patterns
        else:
            groups: dict[Key, list[str]] = defaultdict(list)
            for kb_id in allowed:
                for key in (self._keys.get(kb_id), self._main_keys.get(kb_id)):
                    if key and kb_id not in groups[key]:
                        groups[key].append(kb_id)
            patterns = self._build_patterns(groups.items())
        found: list[tuple[int, str]] = []
        position = 0
        while position < len(tokens):
            step = 1
            for pattern in patterns.get(tokens[position].word, ()):
                size = len(pattern.words)
                window = tokens[position : position + size]
                if tuple(t.word for t in window) != pattern.words:
                    continue
                year_match = YEAR_AFTER.match(text, window[-1].end)
                year = int(year_match.group(1)) if year_match else None
                previous = tokens[position - 1] if position else None
                if not reads_as_title(pattern, text, window, previous, year, allowed is not None):
                    continue
                picked = self._pick(pattern.kb_ids, year, allowed)
                if picked is None:
                    continue
                found.append((window[0].start, picked))
                step = size
                break
            position += step
        if allowed is not None:
            seen = {kb_id for _, kb_id in found}
            found.extend(self._fuzzy_in_text(tokens, [c for c in allowed if c not in seen]))
        ordered: list[str] = []
        for _, kb_id in sorted(found, key=lambda item: item[0]):
            if kb_id not in ordered:
                ordered.append(kb_id)
        return ordered

    def _build_patterns(
        self, groups: Iterable[tuple[Key, Sequence[str]]]
    ) -> dict[str, list[Pattern]]:
        by_first: dict[str, list[Pattern]] = defaultdict(list)
        for key, kb_ids in groups:
            single = len(key) == 1
            by_first[key[0]].append(
                Pattern(
                    words=key,
                    kb_ids=tuple(kb_ids),
                    title_case=len(key) <= 2,
                    weak=single and (len(key[0]) <= WEAK_LENGTH or key[0].isdigit()),
                    needs_article=single
                    and all(self._articled.get((kb_id, key), False) for kb_id in kb_ids),
                )
            )
        for options in by_first.values():
            options.sort(key=lambda p: -len(p.words))  # longest title first at each position
        return dict(by_first)

    def _fuzzy_in_text(
        self, tokens: list[Token], candidates: Sequence[str]
    ) -> list[tuple[int, str]]:
        """Candidates whose long titles appear slightly misspelt ("Sorcerers Stone")."""
        if not tokens or not candidates:
            return []
        words = [t.word for t in tokens]
        offsets, joined, cursor = [], [], 0
        for word in words:
            offsets.append(cursor)
            joined.append(word)
            cursor += len(word) + 1
        normalised = " ".join(joined)
        present = set(words)
        out = []
        for kb_id in candidates:
            key = self._keys.get(kb_id)
            if not key or len(key) < 3 or not title_digits(key) <= present:
                continue
            query = " ".join(key)
            alignment = fuzz.partial_ratio_alignment(
                query, normalised, score_cutoff=max(self.fuzzy_cutoff, 90.0)
            )
            if alignment is None:
                continue
            token_index = max(0, bisect.bisect_right(offsets, alignment.dest_start) - 1)
            out.append((tokens[token_index].start, kb_id))
        return out


def redial_prominence(movies: Iterable[Movie], dialogs: Iterable[RedialDialog]) -> dict[str, float]:
    """kb_id -> number of the given ReDial dialogs that mention the movie (linked movies only)."""
    mentioned = Counter(movie_id for dialog in dialogs for movie_id in dialog.movie_mentions)
    return {
        m.kb_id: float(mentioned[m.redial_movie_id])
        for m in movies
        if m.redial_movie_id and mentioned[m.redial_movie_id]
    }


@lru_cache(maxsize=1)
def get_title_matcher() -> TitleMatcher:
    """Return the shared matcher over the default knowledge base, from processed data only.

    Ties between equal titles break on mentions in the processed ReDial dialogs (iEvaLM's
    held-out training dialogs): never the mention counts of all ReDial, which include its test
    split.
    """
    from rso.data.movies import load_movies
    from rso.data.redial import load_redial_dialogs

    movies = load_movies(source="processed")
    return TitleMatcher(movies, redial_prominence(movies, load_redial_dialogs(source="processed")))
