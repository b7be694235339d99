"""The rule Fact Retriever's ranking: movies of the knowledge base scored against the preferences.

`rank_movies` is the one scoring function: the rule Fact Retriever reaches it only through
`default_ranking` (its cache over the default knowledge base), so a new ranker replaces it alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache

import numpy as np

from agents.rule_preferences import Preferences
from retrieval.taste_words import Vocabulary, default_vocabulary
from rso.data.records import Movie


def rank_movies(
    prefs: Preferences,
    movies: Mapping[str, Movie],
    vocabulary: Vocabulary,
    k: int = 50,
    prior: Callable[[str], float] | None = None,
) -> list[tuple[str, float]]:
    """Top-k (kb_id, score) for the preferences, best first; empty when nothing is known.

    Score: 2 per liked genre the movie has, 3 per liked person in it, 1 per genre shared with a
    liked title, -3 per disliked genre or person, -0.1 per genre the seeker did not ask for (a
    precise match beats a sprawling one). Ties (hundreds of movies fit a genre equally): the
    higher `prior` first (the ranker's score for the stated taste, in `default_ranking`), then
    movies with a plot, then by kb_id. Rejected and liked (already seen) movies are excluded.
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
    scored: list[tuple[float, float, int, str]] = []
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
        order = prior(kb_id) if prior is not None else 0.0
        scored.append((score, order, 0 if movie.plot else 1, kb_id))
    scored.sort(key=lambda item: (-item[0], -item[1], item[2], item[3]))
    return [(kb_id, round(score, 4)) for score, _, _, kb_id in scored[:k]]


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


@lru_cache(maxsize=8192)
def default_ranking(prefs: Preferences, k: int) -> tuple[tuple[str, float], ...]:
    """`rank_movies` over the default knowledge base, equal fits ordered by the movie ranker.

    The ranker scores the stated taste (`MovieRecommender.taste_evidence`: the liked titles,
    genres and people; nothing embedded), so among the movies that fit equally the ones people
    suggest for such a taste come first. Cached by preferences: ranking scans every movie of
    the liked genres (milliseconds a call), and rollouts reach the same few preference sets
    over and over, so the fast simulation mode would spend most of its time here without it.
    """
    from graph.resources import recommender
    from rso.data.movies import movies_by_id

    if not prefs.known:
        return ()
    ranker = recommender()
    scores = ranker.scores(ranker.taste_evidence(prefs.genres, prefs.people, prefs.titles))
    rows = ranker.items.rows

    def prior(kb_id: str) -> float:
        return float(scores[rows[kb_id]]) if kb_id in rows else -np.inf

    return tuple(rank_movies(prefs, movies_by_id(), default_vocabulary(), k=k, prior=prior))
