"""Role quality on fixed inputs: the INSPIRED-test contexts, one record per context, the summary.

A context is the dialogue before a labelled human recommender utterance that answers a seeker
turn. `rollouts.roles` runs every LLM role on it and writes one `RoleRecord`; `summarise` turns
the records into the shares ``rso eval roles`` reports. Each share names its denominator
(``n``): a role that was not asked (no movie to name, no preference to act on) does not count.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Final, Literal, get_args

import numpy as np
from pydantic import BaseModel, Field

from rso.data.inspired import load_inspired
from rso.data.records import InspiredDialog
from rso.dialogue import RECOMMENDER, SEEKER
from rso.strategies import Strategy

#: Version of `RoleRecord`; a report refuses records of another version.
ROLE_RECORD_VERSION: Final = 1

#: The roles an evaluation can ask ("rewarder": the Rewarder and the intention judge).
Role = Literal["reasoner", "retriever", "actor", "seeker", "rewarder"]
ROLES: Final[tuple[Role, ...]] = get_args(Role)


class RoleContext(BaseModel):
    """One fixed input: the dialogue so far and what the human recommender said next."""

    context_id: str
    dialog_id: str
    #: Position of the human's next utterance in its dialog.
    index: int
    #: (speaker, text) turns before it, "Seeker" / "Recommender", oldest first.
    turns: list[tuple[str, str]]
    #: The strategy the human used next: the strategy the Actor is asked for.
    gold_strategy: Strategy
    human_reply: str
    target_genres: list[str]
    user_id: str


class CallStats(BaseModel):
    """One role's calls on one context: the expert function, and the structured LLM calls in it."""

    #: Calls of the role's expert function, and their wall time.
    calls: int = 0
    seconds: float = 0.0
    #: Structured LLM calls made inside them.
    structured: int = 0
    #: Of those, calls answered validly at the first request, and with retries.
    structured_first_ok: int = 0
    structured_ok: int = 0


class RoleRecord(BaseModel):
    """What every role did on one context (None: the role was not asked there)."""

    version: int = ROLE_RECORD_VERSION
    context_id: str
    calls: dict[str, CallStats] = Field(default_factory=dict)
    # Preference Reasoner
    reasoner_accepted: bool | None = None
    reasoner_summary: str | None = None
    #: The summary names a genre, person or title the seeker said (None: the seeker named none).
    reasoner_grounded: bool | None = None
    #: Accepted with no preference known yet: small talk only, or the model listed none (None:
    #: not accepted).
    reasoner_none_known: bool | None = None
    # Fact Retriever
    retriever_valid_choice: bool | None = None
    retriever_declined: bool | None = None
    retriever_facts_accepted: bool | None = None
    # Actor
    gold_strategy: str | None = None
    actor_reply: str | None = None
    actor_label: str | None = None
    human_label: str | None = None
    actor_echo: bool | None = None
    actor_draft_echo: bool | None = None
    actor_fallback: bool | None = None
    actor_names_movie: bool | None = None
    #: The first draft puts a person in the chosen movie who is not in its record, nor named by
    #: the seeker (None: no movie chosen, or no draft).
    actor_draft_invents_people: bool | None = None
    actor_words: int | None = None
    # Seeker and Rewarder
    seeker_parsed: bool | None = None
    rewarder_samples: int | None = None
    rewarder_parsed: int | None = None
    rewarder_act: str | None = None
    #: Samples whose label scores what the act judge scores for the seeker's act.
    rewarder_agreeing: int | None = None
    rewarder_majority_agrees: bool | None = None
    judge_structured: bool | None = None


def dialog_contexts(dialog: InspiredDialog) -> list[RoleContext]:
    """Every context of a dialog: a labelled recommender utterance right after a seeker turn."""
    contexts: list[RoleContext] = []
    turns = [(SEEKER if u.speaker == "SEEKER" else RECOMMENDER, u.text) for u in dialog.utterances]
    for index, utterance in enumerate(dialog.utterances):
        if (
            index == 0
            or utterance.speaker != "RECOMMENDER"
            or utterance.strategy is None
            or dialog.utterances[index - 1].speaker != "SEEKER"
        ):
            continue
        contexts.append(
            RoleContext(
                context_id=f"{dialog.dialog_id}:{index}",
                dialog_id=dialog.dialog_id,
                index=index,
                turns=turns[:index],
                gold_strategy=utterance.strategy,
                human_reply=utterance.text,
                target_genres=dialog.target_genres,
                user_id=dialog.user_id,
            )
        )
    return contexts


def role_contexts(
    n: int, seed: int = 0, dialogs: Sequence[InspiredDialog] | None = None
) -> list[RoleContext]:
    """Return `n` contexts of INSPIRED test in a seeded random order (all of them if fewer).

    The order is one permutation per seed, so the first `n` are the same whatever `n`: a larger
    evaluation extends a smaller one, and an interrupted one reports on the contexts it finished.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    source = load_inspired("test") if dialogs is None else dialogs
    every = [c for d in source for c in dialog_contexts(d)]
    order = np.random.default_rng(seed).permutation(len(every))
    return [every[i] for i in order[:n].tolist()]


def _share(flags: Iterable[bool | None]) -> dict[str, float | int | None]:
    values = [f for f in flags if f is not None]
    return {"share": float(np.mean(values)) if values else None, "n": len(values)}


def _mean(values: Iterable[float | int | None]) -> dict[str, float | int | None]:
    kept = [float(v) for v in values if v is not None]
    return {"mean": float(np.mean(kept)) if kept else None, "n": len(kept)}


def summarise(records: Sequence[RoleRecord]) -> dict[str, Any]:
    """Return the role metrics of a set of records (shares with their denominators)."""
    rewarded = [r for r in records if r.rewarder_samples]
    samples = sum(r.rewarder_samples or 0 for r in rewarded)
    parsed = sum(r.rewarder_parsed or 0 for r in rewarded)
    agreeing = sum(r.rewarder_agreeing or 0 for r in rewarded)
    asked = [r for r in records if r.actor_label is not None]
    calls: dict[str, dict[str, Any]] = {}
    for role in sorted({role for r in records for role in r.calls}):
        stats = [r.calls[role] for r in records if role in r.calls]
        total, structured = sum(s.calls for s in stats), sum(s.structured for s in stats)
        calls[role] = {
            "calls": total,
            "seconds_per_call": sum(s.seconds for s in stats) / total if total else None,
            "structured_calls": structured,
            "structured_valid_first_attempt": (
                sum(s.structured_first_ok for s in stats) / structured if structured else None
            ),
            "structured_valid": (
                sum(s.structured_ok for s in stats) / structured if structured else None
            ),
        }
    structured = sum(c["structured_calls"] for c in calls.values())
    return {
        "contexts": len(records),
        "reasoner": {
            "accepted": _share(r.reasoner_accepted for r in records),
            "names_what_the_seeker_said": _share(r.reasoner_grounded for r in records),
            "none_known": _share(r.reasoner_none_known for r in records),
        },
        "retriever": {
            "valid_choice": _share(r.retriever_valid_choice for r in records),
            "declined": _share(r.retriever_declined for r in records),
            "facts_accepted": _share(r.retriever_facts_accepted for r in records),
        },
        "actor": {
            "echo": _share(r.actor_echo for r in records),
            "draft_echo": _share(r.actor_draft_echo for r in records),
            "fallback": _share(r.actor_fallback for r in records),
            "names_chosen_movie": _share(r.actor_names_movie for r in records),
            "draft_invents_people": _share(r.actor_draft_invents_people for r in records),
            "words": _mean(r.actor_words for r in records),
            "strategy_adherence": _share(r.actor_label == r.gold_strategy for r in asked),
            "human_agreement": _share(r.human_label == r.gold_strategy for r in asked),
        },
        "seeker": {"parsed": _share(r.seeker_parsed for r in records)},
        "rewarder": {
            "parsed_samples": {"share": parsed / samples if samples else None, "n": samples},
            "agreement_with_act_judge": {
                "share": agreeing / samples if samples else None,
                "n": samples,
            },
            "majority_agrees": _share(r.rewarder_majority_agrees for r in rewarded),
        },
        "judge": {"structured": _share(r.judge_structured for r in records)},
        "structured_calls": {
            "valid_first_attempt": _ratio(records, "structured_first_ok", structured),
            "valid": _ratio(records, "structured_ok", structured),
            "n": structured,
        },
        "calls": calls,
    }


def _ratio(records: Sequence[RoleRecord], key: str, total: int) -> float | None:
    count = sum(getattr(stats, key) for r in records for stats in r.calls.values())
    return count / total if total else None


#: Rows of the printed table: (label, path into the summary).
_TABLE_ROWS: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    ("Preference Reasoner: summary accepted by its guard", ("reasoner", "accepted")),
    ("Preference Reasoner: names what the seeker said", ("reasoner", "names_what_the_seeker_said")),
    ("Preference Reasoner: accepted, no preference known yet", ("reasoner", "none_known")),
    ("Fact Retriever: valid choice (candidate or decline)", ("retriever", "valid_choice")),
    ("Fact Retriever: declined", ("retriever", "declined")),
    ("Fact Retriever: facts pass the grounding check", ("retriever", "facts_accepted")),
    ("Actor: reply echoes instructions", ("actor", "echo")),
    ("Actor: first draft echoes instructions", ("actor", "draft_echo")),
    ("Actor: template fallback sent", ("actor", "fallback")),
    ("Actor: names the chosen movie", ("actor", "names_chosen_movie")),
    ("Actor: first draft puts people in the movie wrongly", ("actor", "draft_invents_people")),
    ("Actor: strategy adherence (tagger = gold)", ("actor", "strategy_adherence")),
    ("Humans: agreement with their gold labels", ("actor", "human_agreement")),
    ("Seeker: parseable reply", ("seeker", "parsed")),
    ("Rewarder: parseable samples", ("rewarder", "parsed_samples")),
    ("Rewarder: samples agreeing with the act judge", ("rewarder", "agreement_with_act_judge")),
    ("Judge: structured rating", ("judge", "structured")),
)


def format_table(summary: dict[str, Any]) -> str:
    """Return the summary as an aligned text table (shares with their denominators)."""

    def cell(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    lines = [f"{'role metric':<58}{'value':>8}{'n':>6}"]
    for label, (role, key) in _TABLE_ROWS:
        entry = summary[role][key]
        lines.append(f"{label:<58}{cell(entry['share']):>8}{entry['n']:>6}")
    words = summary["actor"]["words"]
    lines.append(f"{'Actor: mean reply length (words)':<58}{cell(words['mean']):>8}{words['n']:>6}")
    calls = summary["structured_calls"]
    lines.append(
        f"{'Structured calls: valid at the first attempt':<58}"
        f"{cell(calls['valid_first_attempt']):>8}{calls['n']:>6}"
    )
    lines.append(
        f"{'Structured calls: valid after retries':<58}{cell(calls['valid']):>8}{calls['n']:>6}"
    )
    lines.append("")
    lines.append(f"{'role':<12}{'calls':>7}{'s/call':>9}{'structured valid':>18}")
    for role, stats in summary["calls"].items():
        valid = stats["structured_valid"]
        lines.append(
            f"{role:<12}{stats['calls']:>7}{cell(stats['seconds_per_call']):>9}"
            f"{cell(valid) if valid is not None else '-':>18}"
        )
    e2e = summary.get("end_to_end")
    if e2e:
        lines.append("")
        lines.append(f"{'end to end (act seeker)':<24}{'episodes':>9}{'SR':>8}{'strict SR':>11}")
        for experts in ("llm", "rule"):
            row = e2e[experts]
            lines.append(
                f"{'--experts ' + experts:<24}{row['episodes']:>9}{cell(row['sr']):>8}"
                f"{cell(row['strict_sr']):>11}"
            )
    return "\n".join(lines)
