"""The rule-based experts (``experts="rule"``): the three micro-level experts without an LLM.

Preference Reasoner, Fact Retriever and Actor for fast simulation:

- Preference Reasoner: genres (knowledge-base vocabulary plus a few everyday synonyms), people
  (directors and cast, matched as whole names) and titles the seeker mentions, split into likes
  and dislikes by negation cues in the same sentence; rejected movies from rejection cues after a
  recommendation.
- Fact Retriever: a genre- and people-filtered ranking of the knowledge base (no encoder), which
  keeps the current candidate while it still fits and never returns a rejected or already-seen
  movie; no known preference -> no movie.
- Actor: a per-strategy template filled with the movie's facts and the known preferences; with no
  movie, a question instead of a recommendation.

The pure functions take plain inputs; the node functions at the end adapt them to the graph's
state and are registered as `EXPERTS`.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Final

from graph.experts import ExpertSet
from rso.data.records import Movie
from rso.strategies import STRATEGY_GROUP, Strategy

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
    turns: Sequence[tuple[str, str, Sequence[str]]],
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
        if speaker != "Seeker":
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


def _extend(target: list[str], items: Iterable[str]) -> None:
    for item in items:
        if item not in target:
            target.append(item)


def summarize_preferences(prefs: Preferences, movies: Mapping[str, Movie]) -> str:
    """Return the Preference Reasoner's one sentence; "" while nothing positive is known."""
    from prompts import rule_templates as t

    if not prefs.known:
        return ""
    text = t.PREFERENCES_SUMMARY.format(liked=preference_phrase(prefs, movies))
    disliked = [t.GENRE_PHRASE.format(genre=g) for g in prefs.disliked_genres]
    disliked += [t.PERSON_PHRASE.format(person=p) for p in prefs.disliked_people]
    if disliked:
        text += t.PREFERENCES_DISLIKES.format(disliked=t.PHRASE_JOINER.join(disliked))
    return text


def preference_phrase(prefs: Preferences, movies: Mapping[str, Movie]) -> str:
    """Return the known likes in words: "action movies and movies with Tom Hanks"."""
    from prompts import rule_templates as t

    parts = [t.GENRE_PHRASE.format(genre=g) for g in prefs.genres]
    parts += [t.PERSON_PHRASE.format(person=p) for p in prefs.people]
    parts += [t.TITLE_PHRASE.format(title=movies[k].title) for k in prefs.titles if k in movies]
    return t.PHRASE_JOINER.join(parts) if parts else "good movies"


def rank_movies(
    prefs: Preferences,
    movies: Mapping[str, Movie],
    vocabulary: Vocabulary,
    k: int = 50,
) -> list[tuple[str, float]]:
    """Top-k (kb_id, score) for the preferences, best first; empty when nothing is known.

    Score: 2 per liked genre the movie has, 3 per liked person in it, 1 per genre shared with a
    liked title, -3 per disliked genre or person, -0.1 per genre the seeker did not ask for (a
    precise match beats a sprawling one). Ties: movies with a plot first, then by kb_id.
    Rejected and liked (already seen) movies are excluded.
    """
    if not prefs.known:
        return []
    pool: set[str] = set()
    for genre in prefs.genres:
        pool.update(vocabulary.by_genre.get(genre, ()))
    for person in prefs.people:
        pool.update(vocabulary.by_person.get(person, ()))
    title_genres: set[str] = set()
    for kb_id in prefs.titles:
        if kb_id in movies:
            title_genres.update(g.lower() for g in movies[kb_id].genres)
            for genre in movies[kb_id].genres:
                pool.update(vocabulary.by_genre.get(genre.lower(), ()))
    excluded = set(prefs.rejected) | set(prefs.titles)
    liked_genres, liked_people = set(prefs.genres), set(prefs.people)
    bad_genres, bad_people = set(prefs.disliked_genres), set(prefs.disliked_people)
    scored: list[tuple[float, int, str]] = []
    for kb_id in pool - excluded:
        movie = movies.get(kb_id)
        if movie is None:
            continue
        genres = {g.lower() for g in movie.genres}
        people = {*movie.directors, *movie.cast}
        score = 2.0 * len(genres & liked_genres) + 3.0 * len(people & liked_people)
        score += 1.0 * len(genres & title_genres)
        score -= 3.0 * (len(genres & bad_genres) + len(people & bad_people))
        score -= 0.1 * len(genres - liked_genres - title_genres)
        scored.append((score, 0 if movie.plot else 1, kb_id))
    scored.sort(key=lambda item: (-item[0], item[1], item[2]))
    return [(kb_id, round(score, 4)) for score, _, kb_id in scored[:k]]


def choose_movie(
    ranking: Sequence[tuple[str, float]],
    prefs: Preferences,
    current: str | None,
) -> str | None:
    """Return the movie to talk about: the current candidate while it ranks, else the best.

    Keeping the candidate lets support for one movie build up over several turns.
    """
    if not ranking:
        return None
    ranked = {kb_id for kb_id, _ in ranking}
    best_score = ranking[0][1]
    if current is not None and current in ranked and current not in prefs.rejected:
        score = dict(ranking)[current]
        # Switch only when something clearly better came up (new preferences revealed).
        if score >= best_score - 1.0:
            return current
    return ranking[0][0]


def fact_sentence(movie: Movie) -> str:
    """Facts from the record: genres, year, director, cast, and the plot's first sentence."""
    from prompts import rule_templates as t

    genres = ", ".join(g.lower() for g in movie.genres[:3])
    article = "an" if genres[:1] in ("a", "e", "i", "o", "u") else "a"
    text = t.FACT_HEAD.format(article=article, genres=genres) if genres else t.FACT_HEAD_NO_GENRE
    if movie.year:
        text += t.FACT_YEAR.format(year=movie.year)
    if movie.directors:
        text += t.FACT_DIRECTOR.format(director=" and ".join(movie.directors[:2]))
    if movie.cast:
        text += t.FACT_CAST.format(cast=", ".join(movie.cast[:2]))
    text += "."
    plot = first_sentence(movie.plot)
    return f"{text} {plot}" if plot else text


def first_sentence(text: str) -> str:
    """Return the first sentence of a text (the whole text when it has one sentence)."""
    text = " ".join(text.split())
    if not text:
        return ""
    match = re.search(r"(?<=[.!?])\s+(?=[A-Z\"'])", text)
    return text[: match.start()] if match else text


def compose_reply(
    strategy: Strategy | None,
    movie: Movie | None,
    prefs: Preferences,
    movies: Mapping[str, Movie],
) -> str:
    """Write the reply from the strategy's template, the movie's facts and the preferences."""
    from prompts import rule_templates as t

    phrase = preference_phrase(prefs, movies)
    if movie is not None:
        template = t.GENERIC_WITH_MOVIE if strategy is None else t.WITH_MOVIE[strategy]
        return template.format(
            title=movie.display_title, facts=fact_sentence(movie), preference=phrase
        )
    if strategy is not None and STRATEGY_GROUP[strategy] == "elicitation":
        questions = t.QUESTION_MORE if prefs.known else t.QUESTION_FIRST
        return questions[strategy].format(preference=phrase)
    opener = t.GENERIC_OPENER if strategy is None else t.OPENER[strategy]
    question = t.GENERIC_QUESTION_MORE if prefs.known else t.GENERIC_QUESTION_FIRST
    return f"{opener} {question.format(preference=phrase)}"


# --- graph nodes ---------------------------------------------------------------------------------

#: Key of an AI message's ``additional_kwargs`` holding the kb_ids its reply recommended, so the
#: rule experts can tell later which movie a seeker's "not for me" refers to.
RECOMMENDED_KEY: Final = "rso_recommended"


@dataclass
class _Dialogue:
    turns: list[tuple[str, str, Sequence[str]]] = field(default_factory=list)
    current: str | None = None


def _read_dialogue(messages: Sequence[Any]) -> _Dialogue:
    from langchain_core.messages import AIMessage

    from graph.utils import dialogue_turns

    dialogue = _Dialogue()
    for message in messages:
        texts = dialogue_turns([message])
        if not texts:
            continue
        speaker, text = texts[0]
        recommended: Sequence[str] = ()
        if isinstance(message, AIMessage):
            recommended = list(message.additional_kwargs.get(RECOMMENDED_KEY, []))
            if recommended:
                dialogue.current = recommended[0]
        dialogue.turns.append((speaker, text, recommended))
    return dialogue


def _preferences_of(messages: Sequence[Any]) -> tuple[Preferences, _Dialogue]:
    from rso.data.movies import movies_by_id

    dialogue = _read_dialogue(messages)
    movies = movies_by_id()
    prefs = extract_preferences(dialogue.turns, default_vocabulary(), movies, _title_finder())
    return prefs, dialogue


#: Without the Preference Reasoner (the ablation), the other rule experts know only the
#: preferences stated in the last two utterances, the retrieval query of method.md, instead of
#: those tracked over the whole dialogue (likes, dislikes, rejected movies).
NO_REASONER_WINDOW: Final = 2


def _known_preferences(messages: Sequence[Any], runtime: Any) -> tuple[Preferences, _Dialogue]:
    """Preferences the Retriever and Actor may use, and the dialogue (for the current movie).

    The rule Retriever and Actor read the dialogue themselves; the Reasoner's contribution is
    that they may read all of it. Without it they see only `NO_REASONER_WINDOW` messages, so
    the ablation removes what the Reasoner provides rather than nothing.
    """
    from graph.context import context_from

    if context_from(runtime).use_reasoner:
        return _preferences_of(messages)
    prefs, _ = _preferences_of(messages[-NO_REASONER_WINDOW:])
    return prefs, _read_dialogue(messages)


def _title_finder() -> Callable[[str], list[str]] | None:
    """Titles in seeker text via the project's title matcher (None when it is unavailable)."""
    try:
        from retrieval import titles
    except ImportError:
        return None
    matcher = titles.get_title_matcher()
    return lambda text: matcher.find_in_text(text)


def reason_preferences_node(state: Any, runtime: Any) -> dict[str, Any]:
    """Rule Preference Reasoner node: the preference sentence from the whole dialogue."""
    from rso.data.movies import movies_by_id

    prefs, _ = _preferences_of(state.messages)
    return {"preferences": summarize_preferences(prefs, movies_by_id())}


@lru_cache(maxsize=8192)
def default_ranking(prefs: Preferences, k: int) -> tuple[tuple[str, float], ...]:
    """`rank_movies` over the default knowledge base, cached by preferences.

    Ranking scans every movie of the liked genres (milliseconds a call), and rollouts reach the
    same few preference sets over and over, so the fast simulation mode would spend most of its
    time here without the cache.
    """
    from rso.data.movies import movies_by_id

    return tuple(rank_movies(prefs, movies_by_id(), default_vocabulary(), k=k))


def retrieve_facts_node(state: Any, runtime: Any) -> dict[str, Any]:
    """Rule Fact Retriever node: ranked list, the chosen movie and its facts from the record."""
    from agents.fact_retriever import record_facts
    from graph.context import context_from
    from rso.data.movies import movies_by_id

    context = context_from(runtime)
    movies = movies_by_id()
    prefs, dialogue = _known_preferences(state.messages, runtime)
    ranking = list(default_ranking(prefs, context.top_k))
    chosen = choose_movie(ranking, prefs, dialogue.current)
    candidates = [kb_id for kb_id, _ in ranking[: context.n_candidates]]
    if chosen is not None and chosen not in candidates:
        candidates = [chosen, *candidates[: context.n_candidates - 1]]
    return {
        "retrieved": ranking,
        "candidates": candidates,
        "chosen_movie": chosen,
        "movie_facts": record_facts(movies[chosen]) if chosen else "",
    }


def write_reply_node(state: Any, runtime: Any, strategy: Strategy | None) -> dict[str, Any]:
    """Rule Actor node: the strategy's template; the reply recommends the chosen movie."""
    from langchain_core.messages import AIMessage

    from rso.data.movies import movies_by_id

    movies = movies_by_id()
    prefs, _ = _known_preferences(state.messages, runtime)
    movie = movies.get(state.chosen_movie) if state.chosen_movie else None
    reply = compose_reply(strategy, movie, prefs, movies)
    recommended = [movie.kb_id] if movie is not None else []
    message = AIMessage(reply, name="recommender", additional_kwargs={RECOMMENDED_KEY: recommended})
    return {"reply": reply, "messages": [message], "recommended": recommended}


EXPERTS = ExpertSet(
    reason_preferences=reason_preferences_node,
    retrieve_facts=retrieve_facts_node,
    write_reply=write_reply_node,
)
