"""The tiny offline world of the recommender graph tests: five movies, a fake index, helpers.

The `world` fixture (tests/conftest.py) patches the graph's resources with these.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langgraph.runtime import Runtime

from graph.context import Context
from graph.state import State
from retrieval.titles import TitleMatcher
from rso.data.records import Movie

MOVIES = [
    Movie(
        kb_id="m1",
        title="Alien",
        year=1979,
        genres=["Horror", "Sci-Fi"],
        directors=["Ridley Scott"],
        cast=["Sigourney Weaver", "Tom Skerritt"],
        plot="The crew of a space freighter is hunted by a deadly alien creature.",
        doc="Alien (1979) horror sci-fi space freighter crew hunted by a deadly alien creature",
    ),
    Movie(
        kb_id="m2",
        title="The Conjuring",
        year=2013,
        genres=["Horror", "Mystery"],
        directors=["James Wan"],
        cast=["Vera Farmiga", "Patrick Wilson"],
        plot="Paranormal investigators help a family terrorized by a dark presence.",
        doc="The Conjuring (2013) horror mystery paranormal investigators haunted farmhouse",
    ),
    Movie(
        kb_id="m3",
        title="Paddington",
        year=2014,
        genres=["Comedy", "Family"],
        directors=["Paul King"],
        cast=["Ben Whishaw", "Hugh Bonneville"],
        plot="A young Peruvian bear travels to London in search of a home.",
        doc="Paddington (2014) comedy family bear london home",
    ),
    Movie(
        kb_id="m4",
        title="Heat",
        year=1995,
        genres=["Crime", "Thriller"],
        directors=["Michael Mann"],
        cast=["Al Pacino", "Robert De Niro"],
        plot="A detective hunts a professional thief planning one last heist in Los Angeles.",
        doc="Heat (1995) crime thriller detective thief heist los angeles",
    ),
    Movie(
        kb_id="m5",
        title="Hereditary",
        year=2018,
        genres=["Horror", "Drama"],
        directors=["Ari Aster"],
        cast=["Toni Collette"],
        plot="After the family matriarch dies, a grieving family uncovers terrifying secrets.",
        doc="Hereditary (2018) horror drama grieving family terrifying secrets",
    ),
]
BY_ID = {m.kb_id: m for m in MOVIES}


@dataclass(frozen=True)
class Hit:
    """Same fields as retrieval.index.SearchHit."""

    kb_id: str
    title: str
    score: float
    rank: int


class FakeIndex:
    """Ranks the fixture movies by word overlap with the query (deterministic, instant)."""

    def __init__(self) -> None:
        self.queries: list[str] = []

    def search(self, text: str, k: int = 50) -> list[Hit]:
        self.queries.append(text)
        words = set(re.findall(r"[a-z]+", text.lower()))
        scored = [
            (len(words & set(m.doc.lower().split())) / 10, i, m) for i, m in enumerate(MOVIES)
        ]
        scored.sort(key=lambda t: (-t[0], t[1]))
        return [Hit(m.kb_id, m.title, s, r) for r, (s, _, m) in enumerate(scored[:k], start=1)]


class FakeRecommender:
    """The ranker's interface over `FakeIndex`: the last two utterances, named movies left out."""

    def __init__(self, index: FakeIndex, matcher: TitleMatcher) -> None:
        self.index = index
        self.matcher = matcher

    def recommend(
        self,
        dialogue: list[tuple[str, str]],
        summary: str | None = None,
        *,
        k: int = 50,
        exclude: tuple[str, ...] = (),
    ) -> list[Hit]:
        named = {kb_id for _, text in dialogue for kb_id in self.matcher.find_in_text(text)}
        text = " ".join(text for _, text in dialogue[-2:])
        hits = [h for h in self.index.search(text, k=len(MOVIES)) if h.kb_id not in named]
        return [h for h in hits if h.kb_id not in exclude][:k]


def runtime(**changes: Any) -> Runtime[Context]:
    """A node runtime with a test context: no retries, uniform Planner, untuned Actor."""
    defaults = {"llm_max_retries": 0, "planner_checkpoint": None, "actor_adapter": None}
    return Runtime(context=Context(**(defaults | changes)))


def state(*texts: str, **fields: Any) -> State:
    """A state whose messages alternate seeker/recommender, starting with the seeker."""
    messages = [HumanMessage(t) if i % 2 == 0 else AIMessage(t) for i, t in enumerate(texts)]
    turn = sum(isinstance(m, AIMessage) for m in messages)
    return State(messages=messages, turn=turn, seeker_text=texts[-1] if texts else "", **fields)


def answer(messages):
    """One fake model for all roles, answering by the role's system prompt."""
    system = messages[0].content if isinstance(messages[0], SystemMessage) else ""
    seeker = " ".join(m.text for m in messages if isinstance(m, HumanMessage)).lower()
    if "list their movie preferences" in system:
        if "horror" in messages[-1].text.lower():
            return {"likes": ["horror movies"], "dislikes": []}
        return {"likes": [], "dislikes": []}
    if "help a movie recommender choose" in system:
        return {
            "reasoning": "fits",
            "choice": "The Conjuring",
            "facts": "A 2013 horror mystery by James Wan.",
        }
    if "<movie>\nnone\n</movie>" in seeker:
        return "What kind of movies do you enjoy?"
    return "You might like The Conjuring, it is a creepy haunting story."
