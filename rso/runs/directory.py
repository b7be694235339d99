"""A run directory: its file names, and the one reader of its episodes and manifest.

A run directory holds ``episodes.jsonl`` (each episode once, its latest attempt),
``failed.jsonl`` (earlier failed attempts set aside by a resume) and ``manifest.json`` (settings,
models, versions). Rollouts write it; evaluation, export and training read it through here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from rso.runs.records import EpisodeRecord, in_id_order, read_episodes

#: The episodes of a run, one JSON line each.
EPISODES_FILE: Final = "episodes.jsonl"
#: Failed attempts that a resume set aside before playing their episodes again.
FAILED_FILE: Final = "failed.jsonl"
#: The run's settings, models and package versions.
MANIFEST_FILE: Final = "manifest.json"


class RunDirectoryError(RuntimeError):
    """A run directory that cannot be used as asked (another run's files, a bad manifest)."""


def episodes_file(run: Path | str) -> Path:
    """Return the episodes file of a run directory (or the file itself if given); must exist."""
    path = Path(run)
    file = path / EPISODES_FILE if path.is_dir() else path
    if not file.is_file():
        raise FileNotFoundError(f"{run}: no {EPISODES_FILE} (expected a rollout run directory)")
    return file


def load_run(paths: Path | str | Sequence[Path | str]) -> list[EpisodeRecord]:
    """Read the episodes of one or more run directories (or episode files), pooled, by id.

    In id order (`in_id_order`), so that whatever is computed from a run (batches, bootstrap
    intervals, exports) depends on the episodes alone, not on the order they finished in.
    """
    items = [paths] if isinstance(paths, Path | str) else list(paths)
    episodes: list[EpisodeRecord] = []
    for item in items:
        episodes.extend(read_episodes(episodes_file(item)))
    return in_id_order(episodes)


def read_manifest(path: Path | str) -> dict[str, Any]:
    """Read a run's manifest (the file, or the directory holding it), with a clear error."""
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise RunDirectoryError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise RunDirectoryError(f"{path}: expected a JSON object")
    return data
