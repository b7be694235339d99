"""The rule Actor's words: reply templates filled with a movie's facts and the seeker's likes.

Also the rule Preference Reasoner's one sentence, which puts the same likes into words.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from agents.rule_preferences import Preferences
from prompts import rule_templates as t
from rso.data.records import Movie
from rso.strategies import STRATEGY_GROUP, Strategy


def summarize_preferences(prefs: Preferences, movies: Mapping[str, Movie]) -> str:
    """Return the Preference Reasoner's one sentence; "" while nothing positive is known."""
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
    parts = [t.GENRE_PHRASE.format(genre=g) for g in prefs.genres]
    parts += [t.PERSON_PHRASE.format(person=p) for p in prefs.people]
    parts += [t.TITLE_PHRASE.format(title=movies[k].title) for k in prefs.titles if k in movies]
    return t.PHRASE_JOINER.join(parts) if parts else "good movies"


def fact_sentence(movie: Movie, with_plot: bool = True) -> str:
    """Facts from the record: genres, year, director, cast, and the plot's first sentence."""
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
    plot = first_sentence(movie.plot) if with_plot else ""
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
