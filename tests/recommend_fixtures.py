"""A tiny hand-made knowledge base and training dialogues for the movie ranker's tests."""

from __future__ import annotations

from collections.abc import Sequence

from retrieval.attributes import word_finder
from retrieval.fusion import Fusion
from retrieval.recommender import MovieRecommender
from retrieval.recommender_build import TrainingData, build
from retrieval.taste_words import Vocabulary
from retrieval.titles import TitleMatcher
from rso.data.rec_turns import dialog_fold
from rso.data.records import Movie, RecTurn, RedialDialog, RedialMessage, Speaker
from tests.test_retrieval import HashingEmbedder


def movie(
    number: int,
    title: str,
    year: int,
    genres: list[str],
    plot: str,
    directors: Sequence[str] = (),
    cast: Sequence[str] = (),
) -> Movie:
    """A ReDial-style movie record (kb id ``redial:<number>``)."""
    return Movie(
        kb_id=f"redial:{number}",
        title=title,
        year=year,
        genres=genres,
        directors=list(directors),
        cast=list(cast),
        plot=plot,
        redial_movie_id=str(number),
        in_redial=True,
        doc=f"{title} ({year}). Genres: {', '.join(genres)}. {plot}",
    )


MOVIES: list[Movie] = [
    movie(1, "The Shining", 1980, ["horror"], "A haunted hotel drives a writer mad.",
          ["Stanley Kubrick"], ["Jack Nicholson"]),
    movie(2, "The Exorcist", 1973, ["horror"], "A priest fights a demon possessing a girl.",
          ["William Friedkin"]),
    movie(3, "It", 2017, ["horror"], "A clown haunts children in a small town.",
          cast=["Bill Skarsgard"]),
    movie(4, "Toy Story", 1995, ["animation", "comedy"], "Toys come alive when the owner leaves.",
          cast=["Tom Hanks"]),
    movie(5, "Finding Nemo", 2003, ["animation", "family"], "A clownfish searches the ocean.",
          cast=["Albert Brooks"]),
    movie(6, "Full Metal Jacket", 1987, ["war", "drama"], "Marines train and fight in Vietnam.",
          ["Stanley Kubrick"]),
    movie(7, "Heat", 1995, ["crime"], "A detective hunts a crew of bank robbers.",
          cast=["Al Pacino", "Robert De Niro"]),
    movie(8, "Casino", 1995, ["crime"], "A gambler runs a casino for the mob.",
          cast=["Robert De Niro"]),
]  # fmt: skip


def training_ids(count: int, fold_is_valid: bool = False) -> list[str]:
    """Dialog ids outside (or inside) the pinned validation fold."""
    out, number = [], 100
    while len(out) < count:
        number += 1
        if (dialog_fold(str(number)) == 0) == fold_is_valid:
            out.append(str(number))
    return out


def dialog(dialog_id: str, mentions: Sequence[tuple[Speaker, int]]) -> RedialDialog:
    """A ReDial dialog naming movies in order: (speaker, movie number) per message."""
    titles = {str(n): next(m.display_title for m in MOVIES if m.kb_id == f"redial:{n}")
              for _, n in mentions}  # fmt: skip
    messages = [
        RedialMessage(speaker=speaker, text=f"about {titles[str(n)]}", movie_ids=[str(n)])
        for speaker, n in mentions
    ]
    return RedialDialog(dialog_id=dialog_id, messages=messages, movie_mentions=titles)


def training_data() -> TrainingData:
    """Horror fans get The Exorcist after The Shining; crime fans get Casino after Heat."""
    ids = training_ids(6)
    patterns: list[list[tuple[Speaker, int]]] = [
        [("SEEKER", 1), ("RECOMMENDER", 2)],
        [("SEEKER", 1), ("RECOMMENDER", 2), ("RECOMMENDER", 3)],
        [("SEEKER", 7), ("RECOMMENDER", 8)],
        [("SEEKER", 7), ("RECOMMENDER", 8)],
        [("SEEKER", 4), ("RECOMMENDER", 5)],
        [("SEEKER", 2), ("RECOMMENDER", 3)],
    ]
    dialogs = [dialog(i, p) for i, p in zip(ids, patterns, strict=True)]
    turns = [
        RecTurn(
            dataset="redial",
            dialog_id=d.dialog_id,
            turn_id=2,
            context=["", "Hi, what do you like?", d.messages[0].text],
            targets=[d.movie_mentions[d.messages[1].movie_ids[0]]],
        )
        for d in dialogs
    ]
    return TrainingData(dialogs, turns)


def make_recommender(fusion: Fusion | None = None) -> MovieRecommender:
    """Build the ranker over the fixture (hashing embedder, real title matcher)."""
    embedder = HashingEmbedder()
    matcher = TitleMatcher(MOVIES)
    vectors = embedder.embed([m.doc for m in MOVIES])
    find_words = word_finder(Vocabulary.build(MOVIES))
    items, fitted, report = build(
        MOVIES, vectors, training_data(), embedder, matcher.find_in_text, find_words, matcher.match
    )
    return MovieRecommender(
        items,
        [m.display_title for m in MOVIES],
        fusion or fitted,
        embedder,
        matcher.find_in_text,
        find_words,
        training_dialogs=report.training_dialogs,
    )
