"""The crash-safe, append-only JSONL writer of a run's episodes.

A run's ``episodes.jsonl`` holds each episode once (its latest attempt); when a resume plays
failed episodes again, their failed records move to ``failed.jsonl`` beside it, in the same
format (`RolloutWriter.set_aside_failed`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection
from pathlib import Path

from rso.runs.records import EpisodeRecord, iter_episodes


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
