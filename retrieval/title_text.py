"""Titles as normalised word sequences, and when words in running text read as a title.

Case, accents and punctuation are ignored, "&" reads "and", a leading article ("The", "A", "An";
also the "Matrix, The" form) is optional, and Roman numerals after the first word read as numbers
("Part II" = "Part 2").
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Final

ARTICLES: Final = frozenset({"the", "a", "an"})
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*|&")
_YEAR_SUFFIX = re.compile(r"^(?P<title>.*?)\s*[(\[]\s*(?P<year>\d{4})\s*[)\]]\s*$", re.DOTALL)
YEAR_AFTER = re.compile(r"\s*[(\[]\s*(\d{4})\s*[)\]]")
BARE_YEAR = re.compile(r"(18[89]\d|19\d\d|20[0-3]\d)")
_TRAILING_ARTICLE = re.compile(r"^(?P<body>.+),\s*(?P<article>the|a|an)$", re.IGNORECASE)
_ROMAN: Final = {
    "ii": "2", "iii": "3", "iv": "4", "v": "5", "vi": "6", "vii": "7", "viii": "8", "ix": "9",
    "x": "10", "xi": "11", "xii": "12",
}  # fmt: skip
_OPENING_QUOTES: Final = "\"'“‘*_«"
_CLOSING_QUOTES: Final = "\"'”’*_»"
_SENTENCE_END: Final = ".!?\n:;"
#: Single-word titles this short are ordinary words too often ("It", "Up", "Her", "Go", "9").
WEAK_LENGTH: Final = 3
Key = tuple[str, ...]


def _fold(word: str) -> str:
    """Lower-case, strip accents and apostrophes; "&" reads "and"."""
    if word == "&":
        return "and"
    decomposed = unicodedata.normalize("NFKD", word)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return plain.casefold().replace("'", "").replace("’", "")


def split_year(mention: str) -> tuple[str, int | None]:
    """Split ``"Heat (1995)"`` into ``("Heat", 1995)``; no year in parentheses gives None."""
    found = _YEAR_SUFFIX.match(mention.strip())
    if found and found.group("title").strip():
        return found.group("title").strip(), int(found.group("year"))
    return mention.strip(), None


def _title_words(title: str) -> list[str]:
    text = title.strip()
    moved = _TRAILING_ARTICLE.match(text)
    if moved:
        text = f"{moved.group('article')} {moved.group('body')}"
    words = [w for w in (_fold(w) for w in _WORD.findall(text)) if w]
    # Numerals only after the first word, where they are ordinals ("V for Vendetta" keeps its V).
    return [words[0], *(_ROMAN.get(w, w) for w in words[1:])] if words else []


def has_article(title: str) -> bool:
    """Whether a title of more than one word starts with an article."""
    words = _title_words(title)
    return len(words) > 1 and words[0] in ARTICLES


def title_key(title: str) -> Key:
    """Normalised word sequence of a title, without a leading (or trailing ", The") article."""
    words = _title_words(title)
    return tuple(words[1:] if len(words) > 1 and words[0] in ARTICLES else words)


def title_digits(key: Key) -> frozenset[str]:
    """Return the numbers in a title key ("toy story 2" -> {"2"}); fuzzy matching keeps them."""
    return frozenset(w for w in key if w.isdigit())


@dataclass(frozen=True)
class Pattern:
    """A word sequence that names some movies when it appears in text."""

    words: Key
    kb_ids: tuple[str, ...]
    #: Each word must be capitalised as a title would be in running text.
    title_case: bool
    #: An ordinary word: needs a year, quotes, or (among candidates) a mid-sentence capital.
    weak: bool
    #: Every title behind it starts with an article, which a one-word remainder must keep
    #: ("The Help", not "Help me").
    needs_article: bool


@dataclass(frozen=True)
class Token:
    """A word of running text: its folded form, its span, and the word as written."""

    word: str
    start: int
    end: int
    raw: str


def text_tokens(text: str) -> list[Token]:
    """Split running text into folded words with their positions."""
    out = []
    for found in _WORD.finditer(text):
        word = _fold(found.group())
        if word:
            out.append(Token(word, found.start(), found.end(), found.group()))
    return out


def reads_as_title(
    pattern: Pattern,
    text: str,
    window: list[Token],
    previous: Token | None,
    year: int | None,
    lenient: bool,
) -> bool:
    """Whether a word-level hit reads as a title here rather than as ordinary words."""
    if year is not None:
        return True
    before = text[: window[0].start].rstrip()
    after = text[window[-1].end :].lstrip()
    if before and after and before[-1] in _OPENING_QUOTES and after[0] in _CLOSING_QUOTES:
        return True
    capitalised = all(t.raw[0].isupper() or not t.raw[0].isalpha() for t in window)
    with_article = (
        pattern.needs_article
        and previous is not None
        and previous.word in ARTICLES
        and previous.end == len(before)
    )
    several_words = len(pattern.words) > 1 or with_article
    if pattern.title_case and not capitalised and not (lenient and several_words):
        # Among the candidates a reply may name, a title of several words counts in any case
        # ("The proposal is about..."): small models often lower-case what they copy.
        return False
    if len(pattern.words) > 1:
        return True
    if pattern.needs_article:
        # "The Thing", "The Help": the article before the capital word marks the title.
        return with_article
    sentence_start = not before or before[-1] in _SENTENCE_END
    if pattern.weak:
        # "It was great" vs "I loved It": only a mid-sentence capital counts, among candidates.
        return lenient and not sentence_start
    # Any sentence starts with a capital; in the whole catalogue that is no evidence of a title.
    return lenient or not sentence_start
