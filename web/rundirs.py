"""The run directories under one root, read-only: safe names, listing, and cached episode indexes.

A run is named by its path relative to the root, in POSIX form ("fast", "exp1/arm-a"). A name is
refused when it is empty, absolute, has a ``..`` or ``.`` part or a backslash, or resolves (through
symlinks) outside the root, so that a request can read nothing but the runs under the root.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Final

from pydantic import ValidationError

from rso.data.jsonl import DataFormatError, iter_json_lines, open_text
from rso.runs.directory import (
    EPISODES_FILE,
    MANIFEST_FILE,
    episodes_file,
    load_run,
    read_manifest,
)
from rso.runs.records import EpisodeRecord, migrate_episode

#: How deep under the root run directories are looked for (root/exp/arm/ is depth 2).
MAX_DEPTH: Final = 3

#: The fields of an episode that its row in the episode list shows.
ROW_FIELDS: Final = (
    "episode_id",
    "persona_id",
    "goal",
    "success",
    "strict_success",
    "n_turns",
    "status",
    "error",
)


class RunNameError(ValueError):
    """A run name that could point outside the root (refused, never resolved)."""


class RunNotFoundError(LookupError):
    """A well-formed run name with no run directory behind it."""


def _stamp(file: Path) -> tuple[int, int]:
    stat = file.stat()
    return stat.st_mtime_ns, stat.st_size


def outcome_of(row: dict[str, Any]) -> str:
    """Return an episode's outcome: "failed" (error), "strict", "success" or "no success"."""
    if row.get("status") == "failed":
        return "failed"
    if row.get("strict_success"):
        return "strict"
    return "success" if row.get("success") else "no success"


@dataclass(frozen=True)
class EpisodeIndex:
    """One run's episodes as light rows (id order), and where each record's line starts."""

    rows: list[dict[str, Any]]
    #: episode_id -> 1-based line number in the episodes file.
    lines: dict[str, int]


class RunRoot:
    """The runs under `root`; every lookup checks the name first, and caches by file stamp."""

    def __init__(self, root: Path | str) -> None:
        """Remember the root (it may not exist yet: the list is then empty)."""
        self.root = Path(root).expanduser()
        self._lock = threading.Lock()
        self._indexes: dict[Path, tuple[tuple[int, int], EpisodeIndex]] = {}
        self._metrics: dict[Path, tuple[tuple[int, int], dict[str, Any]]] = {}

    def resolve(self, name: str) -> Path:
        """Return the run directory of `name`; raise `RunNameError` for a name that may escape."""
        if not name or "\\" in name or "\x00" in name:
            raise RunNameError(f"invalid run name {name!r}")
        path = PurePosixPath(name)
        if path.is_absolute() or any(part in ("", ".", "..") for part in name.split("/")):
            raise RunNameError(f"invalid run name {name!r}")
        root = self.root.resolve()
        real = (root / path).resolve()
        # The run's files are checked too: a run folder inside the root may link them elsewhere.
        for target in (real, *((real / f).resolve() for f in (EPISODES_FILE, MANIFEST_FILE))):
            if not target.is_relative_to(root):
                raise RunNameError(f"run name {name!r} leads outside the runs root")
        if not (real / EPISODES_FILE).is_file():
            raise RunNotFoundError(f"no run named {name!r}")
        return real

    def list_runs(self) -> list[dict[str, Any]]:
        """Return every run under the root (name, episodes, modified time, main settings)."""
        root = self.root.resolve()
        if not root.is_dir():
            return []
        found: list[dict[str, Any]] = []
        for current, dirs, files in os.walk(root):  # symlinked directories are not followed
            here = Path(current)
            depth = len(here.relative_to(root).parts)
            if EPISODES_FILE in files and here != root:
                name = here.relative_to(root).as_posix()
                with contextlib.suppress(RunNameError, RunNotFoundError):
                    found.append(self._summary(self.resolve(name), name))
                dirs.clear()
            elif depth >= MAX_DEPTH:
                dirs.clear()
            dirs.sort()
        return sorted(found, key=lambda run: run["name"])

    def _summary(self, run: Path, name: str) -> dict[str, Any]:
        file = run / EPISODES_FILE
        with open(file, "rb") as handle:
            episodes = sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
        settings: dict[str, Any] = {}
        if (run / MANIFEST_FILE).is_file():
            try:
                settings = dict(read_manifest(run).get("settings") or {})
            except (OSError, ValueError):
                settings = {}
        shown = ("cases", "seeker", "experts", "planner", "seed")
        return {
            "name": name,
            "episodes": episodes,
            "modified": file.stat().st_mtime,
            "settings": {key: settings[key] for key in shown if key in settings},
        }

    def manifest(self, name: str) -> dict[str, Any]:
        """Return the run's manifest ({} when it has none)."""
        run = self.resolve(name)
        return read_manifest(run) if (run / MANIFEST_FILE).is_file() else {}

    def metrics(self, name: str) -> dict[str, Any]:
        """Return the run's metrics (`evaluation.metrics`), computed once per file version."""
        from evaluation.metrics import compute_metrics, genres_lookup
        from rso.data.movies import movies_by_id

        file = episodes_file(self.resolve(name))
        stamp = _stamp(file)
        with self._lock:
            cached = self._metrics.get(file)
            if cached is not None and cached[0] == stamp:
                return cached[1]
        metrics = compute_metrics(load_run(file), genres_lookup(movies_by_id())).to_json()
        with self._lock:
            self._metrics[file] = (stamp, metrics)
        return metrics

    def index(self, name: str) -> EpisodeIndex:
        """Return the run's episode rows, read once per version of its episodes file."""
        file = episodes_file(self.resolve(name))
        stamp = _stamp(file)
        with self._lock:
            cached = self._indexes.get(file)
            if cached is not None and cached[0] == stamp:
                return cached[1]
        rows: list[dict[str, Any]] = []
        lines: dict[str, int] = {}
        for number, obj in iter_json_lines(file):
            row = {key: obj.get(key) for key in ROW_FIELDS}
            row["outcome"] = outcome_of(row)
            rows.append(row)
            lines[str(row["episode_id"])] = number
        rows.sort(key=lambda row: str(row["episode_id"]))  # the id order every reader uses
        index = EpisodeIndex(rows, lines)
        with self._lock:
            self._indexes[file] = (stamp, index)
        return index

    def episode(self, name: str, episode_id: str) -> EpisodeRecord:
        """Return one episode of the run (migrated and validated)."""
        number = self.index(name).lines.get(episode_id)
        if number is None:
            raise RunNotFoundError(f"no episode {episode_id!r} in run {name!r}")
        file = episodes_file(self.resolve(name))
        with open_text(file) as handle:
            line = next(itertools.islice(handle, number - 1, None), "")
        try:
            return EpisodeRecord.model_validate(migrate_episode(json.loads(line)))
        except (ValueError, ValidationError) as exc:
            raise DataFormatError(file, number, str(exc)) from None
