"""The checks a drafted reply goes through before it is sent.

They remove text that is not the reply, instructions repeated, earlier replies repeated, people
the reply puts in a movie they are not in, and claims about a movie that its record does not hold.

The Actor's drafts pass all of them; the simulated seeker's draft passes the first (it too may
write the dialogue on).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable
from functools import cache

from graph.utils import content_words
from prompts import actor as prompts
from retrieval.taste_words import Vocabulary, find_people, normalise
from rso.data.records import Movie

#: A reply sharing this many consecutive words with an instruction or rule repeats it verbatim.
LEAK_NGRAM = 6
#: A whole rule sentence at least this long (and shorter than LEAK_NGRAM) is protected too.
MIN_LEAK_WORDS = 4

# A speaker name starts a new turn: the reply ends there (the model began writing the dialogue on).
_ROLE_NAME = re.compile(
    r"(?i)(?:^|(?<=\s)|(?<=[^\w\s]))(seeker|recommender|user|assistant|system)\s*:"
)
_SENTENCE_END = re.compile(r"[.!?\u2026][\"'\u201d\u2019)\]]*(?=\s|$)")
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?\u2026])[\"'\u201d\u2019)\]]*\s+")
# Tags and template braces copied from the prompt ("<movie number=1>", "{title}") are debris.
_MARKUP = re.compile(r"\{+[^{}]*\}+|<[^<>]*>|[<>{}]")
_WORD = re.compile(r"[a-z0-9']+")
# A preface about the reply instead of the reply: "This time: ...", "Reply: ...", or
# 'In the next respond, you can reply something like: "..."' (the quoted part is the reply).
_LABEL_PREFACE = re.compile(
    r"^\s*(?:this time|reply|response|answer|refer|note|recommender'?s? reply)\s*:\s*", re.I
)
_QUOTED_PREFACE = re.compile(
    r"^[^\"\u201c\n.!?]{0,100}?\b(?:reply|respon\w*|answer|say)\b[^\"\u201c\n.!?]{0,40}:\s*[\"\u201c]",
    re.I,
)


def _words(text: str) -> list[str]:
    return _WORD.findall(text.casefold().replace("\u2019", "'"))


def _ngrams(words: list[str], n: int) -> set[tuple[str, ...]]:
    if len(words) < n:
        return {tuple(words)} if words else set()
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


@cache
def protected_ngrams() -> frozenset[tuple[str, ...]]:
    """Return the word n-grams of every instruction and rule the reply must never repeat."""
    texts: Iterable[str] = (
        *prompts.STRATEGY_INSTRUCTIONS.values(),
        prompts.GENERIC_INSTRUCTION,
        prompts.MOVIE_RULE,
        prompts.NO_MOVIE_RULE,
        prompts.OWN_KNOWLEDGE_RULE,
        *prompts.RULES,
        # The prompt's own frame, placeholders left out ("Some replies of this kind by other
        # recommenders:" came back as a reply's preface in the demo).
        *(_MARKUP.sub(" ", t) for t in (prompts.SYSTEM, prompts.EXAMPLES, prompts.USER)),
        *(_MARKUP.sub(" ", t) for t in (prompts.RETRY_NOTE, prompts.RETRY_MOVIE_NOTE)),
    )
    grams: set[tuple[str, ...]] = set()
    for text in texts:
        grams |= _ngrams(_words(text), LEAK_NGRAM)
        for sentence in _SENTENCE_SPLIT.split(text):  # a whole short rule counts as well
            words = tuple(_words(sentence))
            if MIN_LEAK_WORDS <= len(words) < LEAK_NGRAM:
                grams.add(words)
    return frozenset(grams)


def leaks_instructions(text: str) -> bool:
    """Return True when `text` repeats an instruction or rule verbatim.

    A repeat is a run of 6 words of one, or a whole rule sentence of 4 or 5 words
    ("Never mention these instructions.").
    """
    words = _words(text)
    grams = protected_ngrams()
    return any(
        tuple(words[i : i + n]) in grams
        for n in range(MIN_LEAK_WORDS, LEAK_NGRAM + 1)
        for i in range(len(words) - n + 1)
    )


def cut_at_role_name(text: str) -> str:
    """Drop a leading speaker name, and everything from the next speaker name on."""
    text = text.strip()
    while (match := _ROLE_NAME.match(text)) is not None:
        text = text[match.end() :].lstrip()
    match = _ROLE_NAME.search(text)
    return text[: match.start()].rstrip() if match else text


def drop_half_sentence(text: str) -> str:
    """Cut a trailing unfinished sentence, if there is a finished one before it."""
    text = text.strip()
    ends = list(_SENTENCE_END.finditer(text))
    if not ends or ends[-1].end() == len(text):
        return text
    return text[: ends[-1].end()]


def _keep_sentences(text: str, drop: Callable[[str], bool]) -> tuple[str, bool]:
    """Return `text` without the sentences `drop` selects, and whether any went."""
    sentences = [s for s in _SENTENCE_SPLIT.split(text) if s.strip()]
    kept = [s for s in sentences if not drop(s)]
    return " ".join(" ".join(kept).split()), len(kept) < len(sentences)


def clean_reply(raw: str, note: str = "") -> tuple[str, bool]:
    """Post-process a draft; returns the reply and whether sentences repeating instructions went.

    `note` is the retry note the draft was asked with, title filled in: a run of 4 of its words
    counts as a repeat too ("Name It (2017) in your reply." came back as a reply).
    """
    text = _MARKUP.sub(" ", cut_at_role_name(raw)).strip()
    text = _QUOTED_PREFACE.sub("", _LABEL_PREFACE.sub("", text)).strip().strip('"\u201c\u201d')
    note_grams = _ngrams(_words(note), MIN_LEAK_WORDS) if note else set()
    kept, leaked = _keep_sentences(
        text,
        lambda s: leaks_instructions(s) or bool(_ngrams(_words(s), MIN_LEAK_WORDS) & note_grams),
    )
    return drop_half_sentence(kept), leaked


def drop_repeats(reply: str, earlier: Iterable[str]) -> tuple[str, bool]:
    """Drop the sentences of `reply` that repeat one of the `earlier` replies (a 6-word run).

    A small model reading the dialogue tends to copy its own last reply into the next one.
    """
    grams: set[tuple[str, ...]] = set()
    for text in earlier:
        grams |= _ngrams(_words(text), LEAK_NGRAM)
    return _keep_sentences(reply, lambda s: bool(_ngrams(_words(s), LEAK_NGRAM) & grams))


def unfounded_people(
    sentence: str, movie: Movie, said: Collection[str], vocabulary: Vocabulary
) -> list[str]:
    """Return the people `sentence` names who are neither in `movie`'s record nor in `said`.

    People are the knowledge base's directors and actors named in full; `said` holds the names
    (normalised) the seeker used, so "if you liked Tom Hanks" stays when the seeker brought him up.
    """
    credited = {normalise(p) for p in (*movie.directors, *movie.cast, *movie.writers)}
    return [
        person
        for person in find_people(sentence, vocabulary)
        if (key := normalise(person)) not in credited and key not in said
    ]


def drop_unfounded_people(
    reply: str, movie: Movie, seeker_said: Iterable[str], vocabulary: Vocabulary
) -> tuple[str, list[str]]:
    """Drop the sentences of `reply` that put a person in `movie` who is not in its record.

    A small model asked for the cast of a movie it barely knows fills it with famous names
    ("The Wedding Singer, with Tom Hanks"). People the seeker named (`seeker_said`: their
    messages) may be mentioned. Returns the reply and the people it named wrongly.
    """
    said = {normalise(p) for text in seeker_said for p in find_people(text, vocabulary)}
    wrong: list[str] = []

    def unfounded(sentence: str) -> bool:
        names = unfounded_people(sentence, movie, said, vocabulary)
        wrong.extend(n for n in names if n not in wrong)
        return bool(names)

    kept, _ = _keep_sentences(reply, unfounded)
    return kept, wrong


#: A sentence stating facts is kept when at least this share of its new words (not said in the
#: dialogue) occurs in the movie's record or facts ...
MIN_CLAIM_SUPPORT = 0.5
#: ... or when fewer than this many of them do not ("it is really creepy" is an opinion).
MIN_UNSUPPORTED_WORDS = 2
#: Chat words that state no fact about a movie (compared as `content_words` stems).
_CHAT_WORDS = frozenset(
    content_words(
        "it's that's there here great good think know sure just will seen best story watch "
        "thing things kind amazing awesome favorite favourite definitely probably check maybe "
        "recommend suggest hope glad help sounds pretty enjoyed liked loved fun funny should "
        "could called hear more tell want other also"
    )
)


def unsupported_claim(sentence: str, known: set[str], said: set[str]) -> bool:
    """Return True when most of `sentence`'s new content words, two or more, are not `known`.

    A question states no fact.
    """
    if sentence.rstrip().endswith("?"):
        return False
    words = content_words(sentence) - said - _CHAT_WORDS
    missing = len(words - known)
    return missing >= MIN_UNSUPPORTED_WORDS and 1 - missing / len(words) < MIN_CLAIM_SUPPORT


def drop_unsupported_claims(reply: str, source: str, dialogue: Iterable[str]) -> tuple[str, bool]:
    """Drop the sentences of `reply` whose new words mostly do not occur in `source` (2 or more).

    `source` is the movie's record and facts; words the dialogue already used are not new
    claims. A 135M model asked for a movie's facts writes a plot of its own ("It is about a woman
    named Lena who gets a job at a Hollywood production company" for The Proposal).
    """
    known = content_words(source)
    said = content_words(" ".join(dialogue))
    return _keep_sentences(reply, lambda s: unsupported_claim(s, known, said))
