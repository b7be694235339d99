"""Child processes tied to this one: they never outlive it.

* On Linux the child asks the kernel for SIGKILL when its parent dies (``PR_SET_PDEATHSIG``),
  which covers SIGKILL, SIGTERM, a crash and a normal exit alike;
* a SIGTERM to the parent stops the children gracefully first, then the parent terminates as
  SIGTERM would have made it (same exit status), when the first child was started from the main
  thread and no other SIGTERM handler was installed (a handler someone else installed is left
  alone).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import ctypes
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from types import FrameType
from typing import IO, Any, Final

#: prctl option that arms a signal for the calling process when its parent dies (linux/prctl.h).
_PR_SET_PDEATHSIG: Final = 1
#: Seconds the SIGTERM cleanup gives each child to exit before killing it.
_SIGTERM_GRACE_S: Final = 5.0

#: Children started by `spawn_tied_child` and not yet stopped (the SIGTERM cleanup stops them).
_children: set[subprocess.Popen[bytes]] = set()
_sigterm_installed = False
_spawner_lock = threading.Lock()
_spawn_requests: queue.Queue[
    tuple[Callable[[], subprocess.Popen[bytes]], concurrent.futures.Future[Any]]
] = queue.Queue()
_spawner: threading.Thread | None = None


def _death_signal_preexec() -> Callable[[], None] | None:
    """Return a preexec_fn arming SIGKILL on parent death (Linux), or None where unsupported."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    parent = os.getpid()

    def arm() -> None:  # runs in the child between fork and exec: no locks, no imports
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL))
        if os.getppid() != parent:  # the parent died before the signal was armed
            os.kill(os.getpid(), signal.SIGKILL)

    return arm


def _spawner_loop() -> None:
    while True:
        start, result = _spawn_requests.get()
        if result.set_running_or_notify_cancel():
            try:
                result.set_result(start())
            except BaseException as exc:  # handed to the caller's thread
                result.set_exception(exc)


def _on_long_lived_thread(start: Callable[[], subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    """Run `start` on a thread that lives as long as the process.

    Linux sends the parent-death signal when the *thread* that forked the child exits, so a
    server started from a worker thread (a rollout pool) would die with that thread. The main
    thread lives until the process ends; other threads hand the fork to one daemon thread.
    """
    global _spawner
    if threading.current_thread() is threading.main_thread():
        return start()
    with _spawner_lock:
        if _spawner is None or not _spawner.is_alive():
            _spawner = threading.Thread(target=_spawner_loop, name="rso-child-spawner", daemon=True)
            _spawner.start()
    result: concurrent.futures.Future[subprocess.Popen[bytes]] = concurrent.futures.Future()
    _spawn_requests.put((start, result))
    return result.result()


def _stop_children_on_sigterm(signum: int, frame: FrameType | None) -> None:
    """SIGTERM handler: stop every tied child, then terminate as the default action would."""
    # No module lock here: the interrupted main thread may hold it (starting a server).
    children = tuple(_children)
    for child in children:
        with contextlib.suppress(OSError):
            child.terminate()
    deadline = time.monotonic() + _SIGTERM_GRACE_S
    for child in children:
        try:
            child.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(OSError):
                child.kill()
        _children.discard(child)
    # Chain to the default action, so the process ends with the status SIGTERM gives.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def install_sigterm_cleanup() -> bool:
    """Make SIGTERM stop the tied children before the process ends; True when installed.

    Installed only from the main thread (Python's rule) and only while SIGTERM has its default
    action: an application's own handler (uvicorn's, say) is left in place. Idempotent.
    """
    global _sigterm_installed
    if _sigterm_installed:
        return True
    if threading.current_thread() is not threading.main_thread():
        return False
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return False
    signal.signal(signal.SIGTERM, _stop_children_on_sigterm)
    _sigterm_installed = True
    return True


def spawn_tied_child(
    command: list[str],
    *,
    stdout: IO[bytes] | int | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start `command` as a child that goes away when this process dies (see the module doc).

    stdin is closed, stderr goes where stdout goes. Stop the child with `stop_tied_child`.
    """
    install_sigterm_cleanup()
    preexec = _death_signal_preexec()

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=subprocess.STDOUT,
            env=env,
            preexec_fn=preexec,  # only a prctl call and a getppid check
        )

    process = _on_long_lived_thread(start)
    _children.add(process)
    return process


def stop_tied_child(process: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
    """Terminate a child of `spawn_tied_child`; kill it if it does not exit within `timeout_s`."""
    try:
        if process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout_s)
    finally:
        _children.discard(process)
