"""Subcommands of the `rso` CLI, one module per concern, each exposing `register(app)`.

The helpers below are shared by the command modules: one wording for a refused option value and
one way to fail with a message.
"""

from __future__ import annotations

from collections.abc import Iterable

import typer


def check_choice(option: str, value: str, allowed: Iterable[str]) -> None:
    """Refuse `value` for ``--option`` unless it is one of `allowed` (a usage error, exit 2)."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise typer.BadParameter(f"--{option} must be one of {', '.join(allowed)}, got {value!r}")


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``error: message`` on stderr and return the Exit to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)
