"""Typed, schema-versioned records of logged rollouts, and a crash-safe JSONL writer for them.

One JSONL line is one `EpisodeRecord` (a whole simulated dialogue with every turn's Planner
decision, reply, retrieval list, seeker reaction and reward). Training (off-policy RL with the
logged behaviour probabilities) and evaluation (metrics, plots) read these files back.

Schema versions and migration: every record carries ``schema_version``. `read_episodes` passes
each raw object through `migrate_episode`, which upgrades older versions step by step with the
functions registered in `MIGRATIONS` (``MIGRATIONS[v]`` turns a version-``v`` dict into a
version ``v + 1`` dict). To change the schema: bump `SCHEMA_VERSION`, and register the function
that upgrades the previous version (fill new fields with honest defaults, rename moved ones).
A record newer than this code is refused with a clear error rather than guessed at.

A run's ``episodes.jsonl`` holds each episode once (its latest attempt); when a resume plays
failed episodes again, their failed records move to ``failed.jsonl`` beside it, in this same
format (`RolloutWriter.set_aside_failed`).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Collection, Iterable, Iterator
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from rso.data.jsonl import DataFormatError, iter_json_lines
from rso.data.records import EvalCase
from rso.strategies import STRATEGIES, Strategy

#: Version written by this code; bump it (and register a migration) whenever the schema changes.
SCHEMA_VERSION: Final = 1

EpisodeStatus = Literal["ok", "failed"]

#: ``MIGRATIONS[v]`` upgrades a raw version-``v`` episode dict to version ``v + 1``; empty while
#: only version 1 exists.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


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


def _cut_torn_line(path: Path) -> None:
    """Cut a file back to its last complete line (a write interrupted mid-line)."""
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with open(path, "r+b") as fh:
            fh.truncate(data.rfind(b"\n") + 1)
            fh.flush()
            os.fsync(fh.fileno())


def _fsync_dir(directory: Path) -> None:
    """Make a rename or a new file in `directory` durable (a no-op where unsupported)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _failed_lines(lines: list[bytes]) -> list[tuple[int, str]]:
    """Return (line index, episode id) of every failed record among raw JSONL lines."""
    found: list[tuple[int, str]] = []
    for index, line in enumerate(lines):
        if line.strip():
            obj = json.loads(line)
            if obj.get("status") == "failed":
                found.append((index, str(obj.get("episode_id"))))
    return found


class RolloutWriter:
    """Append-only JSONL writer of episodes: one whole line per episode, flushed and fsynced.

    A crash can at worst leave a torn last line; opening the writer again (resume) truncates it
    and reports the episode ids already finished, so a runner skips them. `set_aside_failed`
    moves failed episodes out of the file so that a resume plays them again.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.finished: set[str] = self._recover()
        self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()

    @property
    def _journal(self) -> Path:
        """Present only while `set_aside_failed` runs: what to undo after a crash."""
        return self.path.with_name(self.path.name + ".set-aside")

    def _recover(self) -> set[str]:
        """Drop a torn last line, finish an interrupted set-aside, return the finished ids."""
        if self.path.exists():
            _cut_torn_line(self.path)
        if self._journal.exists():
            self._recover_set_aside()
        if not self.path.exists():
            return set()
        return {ep.episode_id for ep in iter_episodes(self.path)}

    def _recover_set_aside(self) -> None:
        """Undo the copy of a set-aside the crash stopped before it rewrote the episodes file."""
        journal = json.loads(self._journal.read_text(encoding="utf-8"))
        failed_path = self.path.with_name(journal["failed_file"])
        still_here = set(journal["episode_ids"]) & {e for _, e in _failed_lines(self._lines())}
        if still_here and failed_path.exists() and failed_path.stat().st_size > journal["size"]:
            # The records were (maybe partly) copied but not removed here: drop the copies, so
            # the next set-aside copies them exactly once.
            with open(failed_path, "r+b") as fh:
                fh.truncate(journal["size"])
                fh.flush()
                os.fsync(fh.fileno())
        self._journal.unlink()
        _fsync_dir(self.path.parent)

    def _lines(self) -> list[bytes]:
        return self.path.read_bytes().splitlines(keepends=True) if self.path.exists() else []

    def set_aside_failed(self, episode_ids: Collection[str], failed_path: Path | str) -> list[str]:
        """Move the failed records of `episode_ids` to `failed_path`; return the ids moved.

        The records are appended to `failed_path` byte for byte (an episodes file itself, one
        record per failed attempt, oldest first), then this file is rewritten without them
        (temporary file, fsync, atomic rename), so each episode is here at most once and a
        runner plays the moved ones again. A journal beside the file makes the two steps safe
        against a crash between them: opening the writer again undoes a half-done move.
        """
        failed_path = Path(failed_path)
        wanted = set(episode_ids)
        lines = self._lines()
        chosen = [(i, e) for i, e in _failed_lines(lines) if e in wanted]
        if not chosen:
            return []
        moving = {i for i, _ in chosen}
        moved_ids = [e for _, e in chosen]
        if failed_path.exists():
            _cut_torn_line(failed_path)
        size = failed_path.stat().st_size if failed_path.exists() else 0
        journal = {"failed_file": failed_path.name, "size": size, "episode_ids": moved_ids}
        journal_tmp = self._journal.with_name(self._journal.name + ".tmp")
        with open(journal_tmp, "w", encoding="utf-8") as fh:
            json.dump(journal, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(journal_tmp, self._journal)
        _fsync_dir(self.path.parent)

        with open(failed_path, "ab") as fh:
            fh.write(b"".join(lines[i] for i in sorted(moving)))
            fh.flush()
            os.fsync(fh.fileno())
        self._fh.close()
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "wb") as fh:
            fh.write(b"".join(line for i, line in enumerate(lines) if i not in moving))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        _fsync_dir(self.path.parent)
        self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self._journal.unlink()
        _fsync_dir(self.path.parent)
        self.finished -= set(moved_ids)
        return moved_ids

    def write(self, episode: EpisodeRecord) -> None:
        """Append one episode as a single line and make it durable before returning."""
        line = episode.model_dump_json() + "\n"
        # One write call of the whole line: readers never see a partial record from this process.
        self._fh.write(line)
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self.finished.add(episode.episode_id)

    def close(self) -> None:
        """Close the file."""
        self._fh.close()

    def __enter__(self) -> RolloutWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
