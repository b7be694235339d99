"""Title matching: mentions and free text to kb ids (fixture catalogue, then the real one)."""

from __future__ import annotations

import pytest

from retrieval.title_text import split_year, title_key
from retrieval.titles import TitleMatcher, get_title_matcher, redial_prominence
from rso.data.records import Movie, RedialDialog, RedialMessage

CATALOGUE = [
    ("police", "Police Academy", 1984),
    ("mummy32", "The Mummy", 1932),
    ("mummy99", "The Mummy", 1999),
    ("mummy17", "The Mummy", 2017),
    ("it17", "It", 2017),
    ("it90", "It", 1990),
    ("up", "Up", 2009),
    ("heat", "Heat", 1995),
    ("tdk", "The Dark Knight", 2008),
    ("tdkr", "The Dark Knight Rises", 2012),
    ("spidey", "Spider-Man", 2002),
    ("toy2", "Toy Story 2", 1999),
    ("gf2", "The Godfather: Part II", 1974),
    ("sw4", "Star Wars: Episode IV - A New Hope", 1977),
    ("hp1", "Harry Potter and the Sorcerer's Stone", 2001),
    ("help", "The Help", 2011),
    ("amelie", "Amélie", 2001),
    ("getout", "Get Out", 2017),
    ("500", "(500) Days of Summer", 2009),
    ("untitled", "", 2015),
]
#: Tie-break weights, as ReDial mention counts would give them.
POPULARITY = {"mummy99": 26.0, "mummy17": 51.0, "mummy32": 1.0, "it17": 896.0, "it90": 191.0}


@pytest.fixture(scope="module")
def matcher() -> TitleMatcher:
    movies = [
        Movie(kb_id=kb_id, title=title, year=year, doc=f"{title} ({year})")
        for kb_id, title, year in CATALOGUE
    ]
    return TitleMatcher(movies, popularity=POPULARITY)


def test_split_year_and_title_key() -> None:
    assert split_year("Police Academy (1984)") == ("Police Academy", 1984)
    assert split_year("  Heat [1995] ") == ("Heat", 1995)
    assert split_year("Blade Runner 2049") == ("Blade Runner 2049", None)
    assert title_key("The Dark Knight") == title_key("dark knight") == ("dark", "knight")
    assert title_key("Dark Knight, The") == ("dark", "knight")
    assert title_key("The Godfather: Part II") == ("godfather", "part", "2")
    assert title_key("V for Vendetta") == ("v", "for", "vendetta")  # a first-word V stays a V
    assert title_key("Amélie") == ("amelie",)
    assert title_key("Fast & Furious") == ("fast", "and", "furious")
    assert title_key("A") == ("a",)  # an article alone is the title


@pytest.mark.parametrize(
    ("mention", "expected"),
    [
        ("Police Academy (1984)", "police"),
        ("police academy", "police"),
        ("POLICE ACADEMY!", "police"),
        ("Police Academy 1984", "police"),
        ("The Mummy (1932)", "mummy32"),
        ("Mummy (2017)", "mummy17"),
        ("The Mummy (2000)", "mummy99"),  # one year off: release years differ by country
        ("The Mummy", "mummy17"),  # no year: the most mentioned
        ("It", "it17"),
        ("It (1990)", "it90"),
        ("dark knight", "tdk"),
        ("The Dark Knight Rises", "tdkr"),
        ("Dark Knight, The (2008)", "tdk"),
        ("Spiderman", "spidey"),
        ("spider man (2002)", "spidey"),
        ("the godfather part 2", "gf2"),
        ("The Godfather: Part II (1974)", "gf2"),
        ("Star Wars", "sw4"),  # the main title before the colon
        ("Amelie", "amelie"),
        ("harry potter and the sorcerers stone", "hp1"),
        ("Harry Poter and the Sorcerer Stone", "hp1"),  # fuzzy
        ("500 Days of Summer", "500"),
    ],
)
def test_match_resolves_mentions(matcher: TitleMatcher, mention: str, expected: str) -> None:
    assert matcher.match(mention) == expected


@pytest.mark.parametrize(
    "mention",
    [
        "",
        "   ",
        "banana keyboard",
        "I like movies",
        "hello",
        "The Mummy (1950)",  # a year no version has
        "Toy Story 3",  # fuzzy never crosses a different number
        "Police Academy 2",
        "The",
    ],
)
def test_match_refuses_non_titles(matcher: TitleMatcher, mention: str) -> None:
    assert matcher.match(mention) is None


def test_match_within_candidates(matcher: TitleMatcher) -> None:
    assert matcher.match("The Mummy", candidates=["mummy32", "heat"]) == "mummy32"
    assert matcher.match("The Mummy", candidates=["mummy99", "mummy32"]) == "mummy99"
    # Among candidates a wrong year does not block an exact title.
    assert matcher.match("Heat (2010)", candidates=["heat"]) == "heat"
    assert matcher.match("Heat (2010)") is None
    assert matcher.match("Police Academy", candidates=["heat"]) is None
    with pytest.raises(ValueError, match="unknown candidate"):
        matcher.match("Heat", candidates=["nope"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Have you seen Police Academy (1984)? Or The Dark Knight Rises?", ["police", "tdkr"]),
        # Longer titles match in any case; two-word ones need Title Case in running text.
        ("I'd go with the dark knight rises, then police academy.", ["tdkr"]),
        ("I'd go with the dark knight rises, then Police Academy.", ["tdkr", "police"]),
        ("It was great, I loved it.", []),
        ("I loved It (1990) more than the film.", ["it90"]),
        ('My pick is "It".', ["it17"]),
        ("Pick it up, go out and get out of here.", []),
        ("I watched Up last night", []),  # too ordinary a word across the whole catalogue
        ("Help me find something. I cried at The Help.", ["help"]),
        ("I love Heat, and Get Out scared me.", ["getout", "heat"][::-1]),
        ("Heat is a classic.", []),  # any sentence starts with a capital
        ("The Mummy (1932) is older than The Mummy.", ["mummy32", "mummy17"]),
        ("I adored Amelie and Spider-Man", ["amelie", "spidey"]),
        ("Nothing to see here.", []),
    ],
)
def test_find_in_text(matcher: TitleMatcher, text: str, expected: list[str]) -> None:
    assert matcher.find_in_text(text) == expected


def test_find_in_text_with_candidates(matcher: TitleMatcher) -> None:
    reply = "You might enjoy Heat. If not, The Dark Knight is a safe bet."
    assert matcher.find_in_text(reply, candidates=["tdk", "heat"]) == ["heat", "tdk"]
    assert matcher.find_in_text(reply, candidates=["tdk"]) == ["tdk"]
    assert matcher.find_in_text(reply, candidates=[]) == []
    # Candidates are read more leniently: ordinary-word titles mid-sentence, main titles, typos.
    assert matcher.find_in_text("I think Up will make you cry.", candidates=["up"]) == ["up"]
    assert matcher.find_in_text("Up is a lovely film.", candidates=["up"]) == []
    assert matcher.find_in_text("Heat is a classic.", candidates=["heat"]) == ["heat"]
    assert matcher.find_in_text("Star Wars is a must.", candidates=["sw4"]) == ["sw4"]
    # ...and a two-word title in any case (small models lower-case what they copy).
    lowered = "The police academy is about recruits."
    assert matcher.find_in_text(lowered, candidates=["police"]) == ["police"]
    assert matcher.find_in_text(lowered) == []
    assert matcher.find_in_text("The help is a drama.", candidates=["help"]) == ["help"]
    assert matcher.find_in_text("I need help tonight.", candidates=["help"]) == []  # no article
    typo = "Try Harry Potter and the Sorceror's Stone tonight."
    assert matcher.find_in_text(typo, candidates=["hp1", "heat"]) == ["hp1"]
    assert matcher.find_in_text(typo) == []
    # Same title twice among candidates: the better-ranked (earlier) one.
    assert matcher.find_in_text("Watch The Mummy.", candidates=["mummy32", "mummy99"]) == [
        "mummy32"
    ]
    with pytest.raises(ValueError, match="unknown candidate"):
        matcher.find_in_text(reply, candidates=["nope"])
    with pytest.raises(TypeError):
        matcher.find_in_text(reply, candidates="heat")


def test_duplicate_kb_ids_are_rejected() -> None:
    movie = Movie(kb_id="x", title="X", doc="X")
    with pytest.raises(ValueError, match="duplicate kb_id 'x'"):
        TitleMatcher([movie, movie])


def test_prominence_counts_the_dialogs_that_mention_a_movie() -> None:
    movies = [
        Movie(kb_id="redial:1", title="Heat", doc="Heat", redial_movie_id="1"),
        Movie(kb_id="redial:2", title="It", doc="It", redial_movie_id="2"),
        Movie(kb_id="redial:3", title="Up", doc="Up", redial_movie_id="3"),
        Movie(kb_id="inspired:x", title="X", doc="X"),
    ]
    message = RedialMessage(speaker="SEEKER", text="hi")

    def dialog(dialog_id: str, *movie_ids: str) -> RedialDialog:
        mentions = {movie_id: f"movie {movie_id}" for movie_id in movie_ids}
        return RedialDialog(dialog_id=dialog_id, messages=[message], movie_mentions=mentions)

    dialogs = [dialog("a", "1", "2"), dialog("b", "2"), dialog("c", "2", "9")]
    # Unmentioned and unlinked movies get no weight; an unknown id (9) is ignored.
    assert redial_prominence(movies, dialogs) == {"redial:1": 1.0, "redial:2": 3.0}


# --- the real knowledge base ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def kb_matcher() -> TitleMatcher:
    return get_title_matcher()


@pytest.mark.parametrize(
    ("mention", "expected"),
    [
        ("Police Academy (1984)", "redial:151656"),
        ("It", "redial:187028"),
        ("It (1990)", "redial:204794"),
        # 1999 and 2017 tie at two mentions in the training dialogs; the earlier record wins.
        ("The Mummy", "redial:149348"),
        ("The Mummy (2017)", "redial:85662"),
        ("The Mummy (1999)", "redial:149348"),  # of two 1999 records, the more mentioned
        ("the mummy (1932)", "redial:191286"),
        ("Halloween (2018)", "inspired:Halloween (2018)"),
        ("Halloween (1978)", "redial:99244"),
    ],
)
def test_real_kb_mentions(kb_matcher: TitleMatcher, mention: str, expected: str) -> None:
    assert kb_matcher.match(mention) == expected


def test_every_kb_title_maps_back_to_an_equivalent_movie(kb_matcher: TitleMatcher) -> None:
    from rso.data.movies import load_movies

    movies = load_movies()
    by_id = {m.kb_id: m for m in movies}
    wrong, other_record = [], 0
    for movie in movies:
        if not movie.title:
            continue
        got = kb_matcher.match(movie.display_title)
        found = by_id.get(got) if got else None
        # The KB holds a few duplicates ("Love & Basketball" / "Love and Basketball", a copy
        # without a year): the more prominent record may answer, but it must be the same film.
        if (
            found is None
            or title_key(found.title) != title_key(movie.title)
            or (movie.year is not None and found.year != movie.year)
        ):
            wrong.append((movie.display_title, got))
        other_record += got != movie.kb_id
    assert wrong == []
    assert other_record < 0.05 * len(movies)


def test_real_kb_rejects_ordinary_phrases(kb_matcher: TitleMatcher) -> None:
    assert kb_matcher.match("purple monkey dishwasher") is None
    text = "Hello! I'm looking for something fun to watch tonight, maybe with my kids."
    assert kb_matcher.find_in_text(text) == []
