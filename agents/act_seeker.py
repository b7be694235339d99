"""The act-level simulated seeker: fast, LLM-free, reproducible given a seed.

It answers each recommender act (`agents.seeker_acts`) with a seeker act and a short templated
utterance, moved by the parameters its persona gives it (`agents.seeker_profile`) towards or away
from the movie under discussion, and reveals its goal (`agents.seeker_goal`) when asked.

Each support gain is multiplied by 0.5^k (k = times that effect already hit this movie:
diminishing returns, so no single strategy repeated forever persuades) and by a seeded
uniform(0.8, 1.2) noise. A facts turn tells the seeker the movie's genres ("fit known"); facts
and opinions are informative turns; encouragement, rapport, help, ack and nothing are not.

Reaction order for a turn that mentions movie m (first rule that applies):
1. no preference revealed yet -> not_interested (recommending blind), patience - 1;
2. m already rejected -> not_interested, patience - 1;
3. fit known, m does not fit the goal, enough informative turns -> reject (may reveal another
   preference in the same breath, probability 0.5);
4. fit known, m fits, enough informative turns, support >= T -> accept (episode done);
5. the act asked and a preference was left -> reveal_preference;
6. m matches nothing the seeker revealed -> not_interested;
7. support >= 0.4 T -> interested; else ask_about_movie (a neutral check).
Turns without a movie: asks -> reveal_preference (or "nothing more", patience - 1); generic
question -> reveal with probability p, else other (patience - 1). Help, ack and nothing on the
first turn are a greeting and cost no patience. Patience at 0 -> the seeker leaves (not_interested,
done). In item mode the seeker knows its target on sight (fit known at once) and needs T / 2.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Final

import numpy as np

from agents.seeker_acts import Effect, RecommenderAct, SeekerAct, effect_of
from agents.seeker_goal import Preference, SeekerGoal
from agents.seeker_profile import SeekerProfile
from prompts import seeker as templates
from rso.data.records import Movie, Persona
from rso.dialogue import OPENING

#: Probability that the first preference revealed is the goal itself (the target genre, or the
#: target movie's first genre).
GOAL_FIRST: Final = 0.5


@dataclass(frozen=True)
class SeekerState:
    """What the act-level seeker remembers between turns (immutable: `step` returns a new one)."""

    turn: int = 0
    pending: tuple[Preference, ...] = ()
    revealed: tuple[Preference, ...] = ()
    candidate: str | None = None
    support: float = 0.0
    info: int = 0
    fit_known: bool = False
    effect_hits: tuple[tuple[str, int], ...] = ()
    rejected: tuple[str, ...] = ()
    patience: int = 3
    done: bool = False


@dataclass(frozen=True)
class SeekerTurn:
    """The seeker's reaction to one recommender turn."""

    act: SeekerAct
    text: str
    done: bool = False
    #: The preference revealed this turn, if any.
    revealed: Preference | None = None
    #: Support for the current candidate after this turn (for logs and tests).
    support: float = 0.0


@dataclass
class ActSeeker:
    """A seeker with a persona and a goal; `start` then `step` per recommender turn."""

    goal: SeekerGoal
    persona: Persona | None
    movies: Mapping[str, Movie] | Callable[[str], Movie | None]
    seed: int = 0
    profile: SeekerProfile = field(init=False)

    def __post_init__(self) -> None:
        """Derive the profile once."""
        self.profile = SeekerProfile.from_persona(self.persona)

    def start(self) -> SeekerState:
        """Return the initial state; the order of preferences to reveal is drawn from the seed."""
        rng = np.random.default_rng([self.seed, 0, 0])
        first, *rest = self.goal.preferences()
        rest = [rest[i] for i in rng.permutation(len(rest))]
        # Asked what it wants, the seeker names its goal first half of the time; otherwise it
        # starts with another taste, and only more elicitation brings the goal out.
        goal_first = not rest or rng.random() < GOAL_FIRST
        rest.insert(0 if goal_first else int(rng.integers(1, len(rest) + 1)), first)
        return SeekerState(pending=tuple(rest), patience=self.profile.patience)

    def opening(self) -> str:
        """Return the seeker's first message."""
        return OPENING

    def _movie(self, kb_id: str) -> Movie | None:
        if callable(self.movies):
            return self.movies(kb_id)
        return self.movies.get(kb_id)

    def step(self, state: SeekerState, act: RecommenderAct) -> tuple[SeekerState, SeekerTurn]:
        """React to one recommender act; pure given (seed, state, act)."""
        if state.done:
            raise ValueError("the seeker already ended this episode")
        # One generator per (seed, turn): the same turn of the same episode always draws alike.
        rng = np.random.default_rng([self.seed, 1, state.turn])
        effect = effect_of(act)
        movie = self._movie(act.movie) if act.movie is not None else None
        if act.movie is not None and movie is None:
            raise KeyError(f"recommended movie {act.movie!r} is not in the knowledge base")
        if movie is None:
            new_state, turn = self._no_movie(state, effect, rng)
        else:
            new_state, turn = self._with_movie(state, effect, movie, rng)
        new_state = replace(new_state, turn=state.turn + 1)
        if new_state.patience <= 0 and not turn.done:
            turn = SeekerTurn(
                "not_interested",
                _pick(rng, templates.LEAVE),
                True,
                turn.revealed,
                new_state.support,
            )
        if turn.done:
            new_state = replace(new_state, done=True)
        return new_state, turn

    # --- reactions --------------------------------------------------------------------------------

    def _no_movie(
        self, state: SeekerState, effect: Effect, rng: np.random.Generator
    ) -> tuple[SeekerState, SeekerTurn]:
        if effect == "asks" or rng.random() < self.profile.p_generic_reveal:
            if state.pending:
                return self._reveal(state, rng)
            return _unproductive(state, rng, templates.NOTHING_MORE)
        if state.turn == 0 and effect in ("help", "ack", "nothing"):
            # A greeting on the first turn is expected; the generic question gets a vague answer.
            return state, SeekerTurn("other", _pick(rng, templates.VAGUE), support=state.support)
        return _unproductive(state, rng, templates.VAGUE)

    def _with_movie(
        self, state: SeekerState, effect: Effect, movie: Movie, rng: np.random.Generator
    ) -> tuple[SeekerState, SeekerTurn]:
        p = self.profile
        title = movie.title
        if not state.revealed:
            return _unproductive(state, rng, templates.TOO_EARLY, act="not_interested")
        if movie.kb_id in state.rejected:
            return _unproductive(state, rng, templates.ALREADY_REJECTED, act="not_interested")
        if movie.kb_id != state.candidate:
            is_target = self.goal.target is not None and self.goal.fits(movie)
            state = replace(
                state,
                candidate=movie.kb_id,
                support=0.0,
                info=0,
                fit_known=is_target,
                effect_hits=(),
            )
        hits = dict(state.effect_hits)
        k = hits.get(effect, 0)
        gain = {
            "facts": p.w_facts,
            "opinion": p.w_opinion,
            "encourage": p.w_encourage,
            "rapport": p.w_rapport,
        }.get(effect, 0.0)
        gain *= 0.5**k * rng.uniform(0.8, 1.2)
        hits[effect] = k + 1
        state = replace(
            state,
            support=state.support + gain,
            info=state.info + (1 if effect in ("facts", "opinion") else 0),
            fit_known=state.fit_known or effect == "facts",
            effect_hits=tuple(sorted(hits.items())),
        )
        fits = self.goal.fits(movie)
        threshold = p.threshold / 2 if self.goal.target is not None else p.threshold
        decided = state.fit_known and state.info >= p.info_needed
        if decided and not fits:
            state = replace(
                state,
                rejected=(*state.rejected, movie.kb_id),
                candidate=None,
                support=0.0,
                info=0,
                fit_known=False,
                effect_hits=(),
            )
            text = _pick(rng, templates.REJECT).format(title=title)
            revealed = None
            if state.pending and rng.random() < 0.5:
                revealed = state.pending[0]
                text += " " + _reveal_text(revealed, rng)
                state = replace(
                    state, pending=state.pending[1:], revealed=(*state.revealed, revealed)
                )
            return state, SeekerTurn("reject", text, revealed=revealed)
        if decided and fits and state.support >= threshold:
            text = _pick(rng, templates.ACCEPT).format(title=title)
            return state, SeekerTurn("accept", text, done=True, support=state.support)
        if effect == "asks" and state.pending:
            return self._reveal(state, rng)
        if not self._matches_revealed(state, movie):
            return _unproductive(state, rng, templates.OFF_TARGET, act="not_interested")
        if effect in ("help", "ack", "nothing") or (effect == "asks" and not state.pending):
            state = replace(state, patience=state.patience - 1)
        if state.support >= 0.4 * threshold:
            variants = (
                templates.INTERESTED_FACTS if p.fact_seeking else templates.INTERESTED_FEELINGS
            )
            act_name: SeekerAct = "interested"
        else:
            variants = templates.ASK_FACTS if p.fact_seeking else templates.ASK_FEELINGS
            act_name = "ask_about_movie"
        return state, SeekerTurn(
            act_name, _pick(rng, variants).format(title=title), support=state.support
        )

    def _reveal(
        self, state: SeekerState, rng: np.random.Generator
    ) -> tuple[SeekerState, SeekerTurn]:
        pref = state.pending[0]
        state = replace(state, pending=state.pending[1:], revealed=(*state.revealed, pref))
        return state, SeekerTurn(
            "reveal_preference", _reveal_text(pref, rng), revealed=pref, support=state.support
        )

    def _matches_revealed(self, state: SeekerState, movie: Movie) -> bool:
        genres = {g.lower() for g in movie.genres}
        people = set(movie.directors) | set(movie.cast)
        for pref in state.revealed:
            if (pref.kind == "genre" and pref.value in genres) or (
                pref.kind != "genre" and pref.value in people
            ):
                return True
        return False


def _pick(rng: np.random.Generator, variants: Sequence[str]) -> str:
    return variants[int(rng.integers(len(variants)))]


def _reveal_text(pref: Preference, rng: np.random.Generator) -> str:
    variants = {
        "genre": templates.REVEAL_GENRE,
        "director": templates.REVEAL_DIRECTOR,
        "actor": templates.REVEAL_ACTOR,
    }[pref.kind]
    return _pick(rng, variants).format(item=pref.value)


def _unproductive(
    state: SeekerState,
    rng: np.random.Generator,
    variants: Sequence[str],
    act: SeekerAct = "other",
) -> tuple[SeekerState, SeekerTurn]:
    """React to a turn that gave the seeker nothing: it costs one unit of patience."""
    state = replace(state, patience=state.patience - 1)
    return state, SeekerTurn(act, _pick(rng, variants), support=state.support)
