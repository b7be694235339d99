"""What the Preference Reasoner keeps of its model's answer: items grounded in the seeker's words.

An item is grounded when its distinctive words all occur in what the seeker said. Small talk
("hi there", "sounds good", "I'm doing well") has no distinctive words: it grounds no item, and a
seeker who said nothing else has stated no preference yet, so the model is not asked. The genres,
people and titles the seeker named, as the seeker wrote them, are the answers the Reasoner allows
when its model listed nothing the seeker said.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Final

from graph import resources
from graph.utils import content_words
from retrieval.taste_words import default_vocabulary, find_people

#: Words of conversation that never make an item a preference (whole words, casefolded): a
#: seeker who said only these has stated no preference yet. Whole words, not stems, so that
#: "sounds" is small talk and "soundtrack" is not.
SMALL_TALK: Final = frozenset(
    (  # noqa: SIM905 (a word list reads better as text)
        "hey hiya howdy hello there good great fine well okay alright sure yeah nice cool awesome "
        "amazing thanks thank please welcome doing going i'm i've it's that's what's how's you're "
        "today tonight weekend weekends morning evening afternoon something anything thing things "
        "sometimes pretty maybe just sounds think thinking thought know look looks looking want "
        "wants wanted need help hope tell check accept accepted seen heard trailer trailers films "
        "flick flicks recommend recommends recommended recommending recommendation "
        "recommendations"
    ).split()
)

#: Three-letter words that are no taste ("war", "fun" and "spy" are).
SHORT_FILLER: Final = frozenset(
    (  # noqa: SIM905 (a word list reads better as text)
        "the and but for not you are any all was one who how why can now too yes its "
        "his her him she had has see saw get got out off our day let may way new old big"
    ).split()
)

#: Most phrases offered as the allowed answers (the latest named ones).
MAX_NAMED: Final = 12

_ITEM_WORD = re.compile(r"[a-z0-9][a-z0-9'-]*")


def item_words(text: str) -> set[str]:
    """Distinctive words of a preference item: as `content_words`, keeping "sci-fi" and "war"."""
    words = [
        word
        for word in _ITEM_WORD.findall(text.casefold().replace("\u2019", "'"))
        if word not in SMALL_TALK
    ]
    short = {w for w in words if ("-" in w or len(w) == 3) and w not in SHORT_FILLER}
    return content_words(" ".join(words)) | short


def grounded_items(items: Iterable[str], said: str) -> list[str]:
    """Keep the items whose distinctive words all occur in `said` (not small talk), deduplicated."""
    source = item_words(said)
    kept: list[str] = []
    seen: set[str] = set()
    for item in items:
        text = " ".join(str(item).split()).strip(" .,;:!?\"'")
        words = item_words(text)
        if words and words <= source and text.casefold() not in seen:
            kept.append(text)
            seen.add(text.casefold())
    return kept


def named_phrases(said: str, max_chars: int) -> list[str]:
    """Genres, people and titles named in `said`, as written there, each grounded in it.

    Genres come as the seeker wrote them ("comedies", "scifi"), people as the knowledge base
    spells their names, titles as the knowledge base's title (kept only when its distinctive
    words are the seeker's). Each is at most `max_chars` characters written as JSON; the latest
    `MAX_NAMED` are kept, in order of mention.
    """
    vocabulary = default_vocabulary()
    movies = resources.movies()
    found = [
        *(match.group(0) for match in vocabulary.genre_pattern.finditer(said)),
        *find_people(said, vocabulary),
        *(movies[k].title for k in resources.title_matcher().find_in_text(said) if k in movies),
    ]
    lowered = said.casefold()
    # Length as a schema's enum holds the phrase: JSON-escaped ("Am\\u00e9lie"), without quotes.
    phrases = [p for p in grounded_items(found, said) if len(json.dumps(p)) - 2 <= max_chars]
    phrases.sort(key=lambda phrase: lowered.rfind(phrase.casefold()))
    return phrases[-MAX_NAMED:]
