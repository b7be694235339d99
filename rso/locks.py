"""Per-key file locks that hold across threads and processes, with a timeout.

A chat session's turns must run one at a time: two turns on one thread read the same last
checkpoint and the one saved last silently drops the other. ``flock`` on one small file per key
serialises them between processes on one machine, and between threads of one process (each
holder opens the file itself, and flock locks belong to the open file).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class LockTimeoutError(TimeoutError):
    """The lock stayed held by another holder for longer than the timeout."""


def lock_path(directory: Path, key: str) -> Path:
    """Return the lock file of `key` in `directory` (a hash, so any key makes a safe name)."""
    return directory / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.lock"


@contextmanager
def key_lock(
    directory: Path, key: str, *, timeout_s: float, poll_s: float = 0.01
) -> Iterator[None]:
    """Hold the exclusive lock of `key` for the block; wait up to `timeout_s`, then raise."""
    directory.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(lock_path(directory, key), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockTimeoutError(
                        f"{key!r} stayed locked by another holder for {timeout_s:g} s"
                    ) from None
                time.sleep(poll_s)
        yield
    finally:
        os.close(descriptor)  # closing the file releases the lock
