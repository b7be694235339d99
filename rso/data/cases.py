"""Cases of simulated episodes: lookup by id across the case sets, persona, and episode seeds."""

from __future__ import annotations

import hashlib
from functools import cache

from rso.data.eval_cases import CASE_SETS, CaseSet, load_eval_cases
from rso.data.personas import load_personas
from rso.data.records import EvalCase, Persona


class UnknownCaseError(LookupError):
    """No case set holds a case with this id."""


@cache
def _cases_by_id(name: CaseSet) -> dict[str, EvalCase]:
    return {case.case_id: case for case in load_eval_cases(name)}


def find_case(case_id: str, preferred: CaseSet = "inspired-test") -> EvalCase:
    """Return the case with this id, searching `preferred` first, then the other case sets."""
    for name in (preferred, *(s for s in CASE_SETS if s != preferred)):
        case = _cases_by_id(name).get(case_id)
        if case is not None:
            return case
    raise UnknownCaseError(f"unknown case id {case_id!r} (searched {', '.join(CASE_SETS)})")


@cache
def _personas() -> dict[str, Persona]:
    return load_personas()


def persona_of(case: EvalCase) -> Persona | None:
    """Return the survey persona of a case's seeker (None if the survey has no row for it)."""
    return _personas().get(case.user_id)


def has_goal(case: EvalCase) -> bool:
    """Return True when a seeker can be given a goal for this case (a target genre)."""
    return any(g.strip() for g in case.target_genres)


def episode_seed(seed: int, case_id: str, index: int) -> int:
    """Seed of one episode from the run's seed, the case and the index (not the run order)."""
    digest = hashlib.sha256(f"{seed}\x1f{case_id}\x1f{index}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF
