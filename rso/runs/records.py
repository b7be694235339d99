"""Typed, schema-versioned records of logged rollouts, and their reader.

One JSONL line is one `EpisodeRecord` (a whole simulated dialogue with every turn's Planner
decision, reply, retrieval list, seeker reaction and reward). Training (off-policy RL with the
logged behaviour probabilities) and evaluation (metrics, plots) read these files back.

Schema versions and migration: every record carries ``schema_version``. `read_episodes` passes
each raw object through `migrate_episode`, which upgrades older versions step by step with the
functions registered in `MIGRATIONS` (``MIGRATIONS[v]`` turns a version-``v`` dict into a
version ``v + 1`` dict). To change the schema: bump `SCHEMA_VERSION`, and register the function
that upgrades the previous version (fill new fields with honest defaults, rename moved ones).
A record newer than this code is refused with a clear error rather than guessed at.

The files of a run directory are named in `rso.runs.directory`; the crash-safe writer is
`rso.runs.writer.RolloutWriter`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from rso.data.jsonl import DataFormatError, iter_json_lines
from rso.data.records import EvalCase
from rso.dialogue import OPENING, RECOMMENDER, SEEKER
from rso.strategies import STRATEGIES, Strategy

#: Version written by this code; bump it (and register a migration) whenever the schema changes.
SCHEMA_VERSION: Final = 3

EpisodeStatus = Literal["ok", "failed"]


def _v1_to_v2(raw: dict[str, Any]) -> dict[str, Any]:
    # Version 2 logs what the Actor read (preferences, chosen movie, facts); version-1 turns did
    # not, and keep the defaults that say so ("", None, "").
    return {**raw, "schema_version": 2}


def _v2_to_v3(raw: dict[str, Any]) -> dict[str, Any]:
    # Version 3 may name the version of an in-memory Planner under training that played the
    # episode; earlier records were played by a named Planner, or did not say (None).
    return {**raw, "schema_version": 3}


#: ``MIGRATIONS[v]`` upgrades a raw version-``v`` episode dict to version ``v + 1``.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2, 2: _v2_to_v3}


class _Record(BaseModel):
    # Unknown keys are refused: a typo in a writer must not silently lose data.
    model_config = ConfigDict(extra="forbid")


class TurnRecord(_Record):
    """One recommender turn of a logged episode, with the seeker's reaction and the reward."""

    #: 0-based index of the recommender turn.
    turn: int = Field(ge=0)
    #: The dialogue text exactly as the Planner read it.
    planner_input: str = ""
    #: Strategy chosen; None when the Planner is ablated.
    strategy: Strategy | None = None
    #: The Planner's distribution in `STRATEGIES` order (14 floats), [] when ablated.
    probs: list[float] = Field(default_factory=list)
    #: log pi(strategy | dialogue) under the behaviour policy, None when ablated.
    logprob: float | None = None
    #: The Preference Reasoner's summary the Actor read ("" when none, or not logged: version 1).
    preferences: str = ""
    #: kb_id of the movie the Fact Retriever chose for the Actor (None when none, or version 1).
    chosen_movie: str | None = None
    #: The facts about that movie the Actor read.
    movie_facts: str = ""
    #: The recommender's reply.
    reply: str = ""
    #: kb_ids of the movies the reply recommends.
    recommended: list[str] = Field(default_factory=list)
    #: Ranked retrieval list (kb_id, score), best first (the list used for Recall@k).
    top: list[tuple[str, float]] = Field(default_factory=list)
    #: The seeker's answer to the reply.
    seeker_reply: str = ""
    #: The act-level seeker's act name; None with the LLM seeker.
    seeker_act: str | None = None
    #: The Rewarder's per-sample scores (10 for the LLM Rewarder, 1 for the act judge).
    reward_samples: list[float] = Field(default_factory=list)
    #: Mean of ``reward_samples``: the turn reward r_t.
    reward: float = 0.0
    #: True when the episode ended after this turn.
    done: bool = False
    #: What failed during the turn and what was done instead (node, failure, action).
    fallbacks: list[dict[str, Any]] = Field(default_factory=list)

    @field_validator("probs")
    @classmethod
    def _check_probs(cls, value: list[float]) -> list[float]:
        if value and len(value) != len(STRATEGIES):
            raise ValueError(f"probs must have {len(STRATEGIES)} entries, got {len(value)}")
        return value


class EpisodeRecord(_Record):
    """One simulated dialogue: the case, the settings digest and every turn."""

    schema_version: int = SCHEMA_VERSION
    #: Deterministic id from case id, seed and episode index (`episode_id`).
    episode_id: str
    case: EvalCase
    persona_id: str
    #: What the seeker wants: "genre:action" or "movie:<kb_id>".
    goal: str
    #: Digest of the run settings (`settings_digest`), so runs with different settings never mix.
    settings_digest: str = ""
    seed: int = 0
    turns: list[TurnRecord] = Field(default_factory=list)
    #: Some turn reward exceeded the success threshold (0.7).
    success: bool = False
    #: The seeker explicitly accepted (majority of Rewarder samples "accepted").
    strict_success: bool = False
    #: Recommender turns played (until success or the turn limit).
    n_turns: int = 0
    status: EpisodeStatus = "ok"
    #: Why the episode failed (status "failed"), else None.
    error: str | None = None
    #: Version (update count) of the Planner under training that played it; None for a named
    #: Planner (sft, uniform, a checkpoint) and in records before schema version 3.
    policy_version: int | None = None

    def dialogue(self, before_turn: int | None = None) -> list[tuple[str, str]]:
        """Return the (speaker, text) turns, from the opening to just before `before_turn`."""
        turns: list[tuple[str, str]] = [(SEEKER, OPENING)]
        for turn in self.turns[:before_turn]:
            turns += [(RECOMMENDER, turn.reply), (SEEKER, turn.seeker_reply)]
        return turns


def episode_id(case_id: str, seed: int, index: int) -> str:
    """Deterministic episode id: the same case, seed and index always give the same id."""
    digest = hashlib.sha1(f"{case_id}|{seed}|{index}".encode()).hexdigest()[:12]
    return f"{case_id}-s{seed}-e{index}-{digest}"


def settings_digest(settings: dict[str, Any]) -> str:
    """Short stable digest of a JSON-serialisable settings mapping (key order does not matter)."""
    text = json.dumps(settings, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def migrate_episode(obj: dict[str, Any]) -> dict[str, Any]:
    """Upgrade a raw episode dict to `SCHEMA_VERSION` through the registered migrations."""
    version = obj.get("schema_version", 1)  # records predating the field are version 1
    if not isinstance(version, int) or version < 1:
        raise ValueError(f"invalid schema_version {version!r}")
    if version > SCHEMA_VERSION:
        raise ValueError(
            f"schema_version {version} is newer than this code reads ({SCHEMA_VERSION}); "
            "upgrade the project"
        )
    while version < SCHEMA_VERSION:
        if version not in MIGRATIONS:
            raise ValueError(f"no migration registered from schema_version {version}")
        obj = MIGRATIONS[version](obj)
        version = obj["schema_version"]
    return obj


def iter_episodes(path: Path | str) -> Iterator[EpisodeRecord]:
    """Yield a rollout file's episodes, migrating old versions; bad lines raise with file:line."""
    for number, obj in iter_json_lines(path):
        try:
            yield EpisodeRecord.model_validate(migrate_episode(obj))
        except ValidationError as exc:
            reason = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '<record>'}: {e['msg']}"
                for e in exc.errors()
            )
            raise DataFormatError(path, number, reason) from None
        except ValueError as exc:
            raise DataFormatError(path, number, str(exc)) from None


def in_id_order(episodes: Iterable[EpisodeRecord]) -> list[EpisodeRecord]:
    """Return `episodes` sorted by episode id.

    A rollout file holds its episodes in the order they finished, which varies with thread
    timing; whatever is computed from a run (batches, reports, exports) reads them in this order.
    """
    return sorted(episodes, key=lambda e: e.episode_id)


def read_episodes(path: Path | str) -> list[EpisodeRecord]:
    """All episodes of a rollout file (any schema version this code can migrate)."""
    return list(iter_episodes(path))
