"""Subcommands of the `rso` CLI, one module per concern, each exposing `register(app)`.

The helpers below are shared by the command modules: one wording for a refused option value,
one way to fail with a message, and the exit codes every command uses.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

#: Exit codes a script can test: the same meaning in every command.
EXIT_OK = 0
#: The command could not do its work (a runtime failure: a dead server, an unreadable file).
EXIT_ERROR = 1
#: Bad usage or settings (a flag, an ``RSO_*`` value, a missing input); nothing was done.
EXIT_USAGE = 2
#: The work ran but some episodes failed (``rso rollout``).
EXIT_SOME_FAILED = 3
#: Nothing finished: every episode of the batch failed (``rso rollout``), or a run has no
#: finished episode to measure (``rso eval``).
EXIT_NOTHING_FINISHED = 4
EXIT_CODES_HELP = (
    "Exit codes: 0 done; 1 runtime error; 2 bad usage or settings; 3 some episodes failed; "
    "4 no episode finished."
)


def check_choice(option: str, value: str, allowed: Iterable[str]) -> None:
    """Refuse `value` for ``--option`` unless it is one of `allowed` (a usage error, exit 2)."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise typer.BadParameter(f"--{option} must be one of {', '.join(allowed)}, got {value!r}")


def fail(message: str, code: int = EXIT_ERROR) -> typer.Exit:
    """Print ``error: message`` on stderr and return the Exit to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def check_settings() -> None:
    """Refuse bad ``RSO_*`` values (exit 2) before a command does any work."""
    from graph.context import Context, ContextError

    try:
        Context.from_env()
    except ContextError as exc:
        raise fail(str(exc), EXIT_USAGE) from None


@contextmanager
def removed_on_early_failure(out: Path, work_done: Callable[[Path], bool]) -> Iterator[None]:
    """Remove `out` if the block fails, `out` did not exist before, and holds no finished work."""
    existed = out.exists()
    try:
        yield
    except BaseException:
        if not existed and out.is_dir() and not work_done(out):
            shutil.rmtree(out, ignore_errors=True)
        raise
