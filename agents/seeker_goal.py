"""What a simulated seeker wants: a genre, or a hidden target movie, and what it may reveal."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rso.data.records import Movie

PreferenceKind = Literal["genre", "director", "actor"]


@dataclass(frozen=True)
class Preference:
    """One preference the seeker can reveal."""

    kind: PreferenceKind
    value: str


@dataclass(frozen=True)
class SeekerGoal:
    """What the seeker wants: a genre (genre-level mode) or a hidden target movie (item mode)."""

    genre: str | None = None
    target: Movie | None = None
    #: Other target genres of the case: preferences it may also reveal (genre mode).
    other_genres: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        """Exactly one of genre and target."""
        if (self.genre is None) == (self.target is None):
            raise ValueError("SeekerGoal needs exactly one of genre and target")

    @property
    def label(self) -> str:
        """Return the goal as logged in rollout records: "genre:action" or "movie:<kb_id>"."""
        return f"genre:{self.genre}" if self.target is None else f"movie:{self.target.kb_id}"

    def fits(self, movie: Movie) -> bool:
        """Return True when `movie` satisfies the goal."""
        if self.target is not None:
            return movie.kb_id == self.target.kb_id
        return self.genre in {g.lower() for g in movie.genres}

    def preferences(self) -> list[Preference]:
        """Everything the seeker may reveal, before ordering."""
        if self.target is not None:
            prefs = [Preference("genre", g.lower()) for g in self.target.genres]
            prefs += [Preference("director", d) for d in self.target.directors[:1]]
            prefs += [Preference("actor", a) for a in self.target.cast[:1]]
            return prefs
        assert self.genre is not None
        return [Preference("genre", g) for g in (self.genre, *self.other_genres)]
