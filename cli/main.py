"""The ``rso`` console command: one Typer app, with each concern's subcommands in `cli.commands`."""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys

import typer

import cli.commands
from cli.commands import EXIT_CODES_HELP, EXIT_ERROR, EXIT_USAGE

app = typer.Typer(
    name="rso",
    help="Reinforced Strategy Optimization: a strategy-planned conversational movie recommender.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    epilog=EXIT_CODES_HELP,
)

#: Set by ``rso --debug``: a failure shows its traceback instead of one line.
_options = {"debug": False}


@app.callback()
def _global_options(
    debug: bool = typer.Option(
        False, "--debug", help="On a failure, show the full traceback instead of one line."
    ),
) -> None:
    _options["debug"] = debug


def _register_commands() -> None:
    # Each module in cli/commands owns one concern (data, index, chat, rollout, eval, train) and
    # exposes `register(app)`; importing them is cheap because heavy imports happen inside commands.
    for info in sorted(pkgutil.iter_modules(cli.commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"cli.commands.{info.name}")
        module.register(app)


def main() -> None:
    """Entry point of the ``rso`` console script."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    _warn_unknown_settings()
    _register_commands()
    try:
        app()
    except Exception as exc:  # every failure a command did not turn into a message itself
        if _options["debug"] or "--debug" in sys.argv[1:2]:
            raise
        from graph.context import ContextError

        typer.echo(f"error: {_one_line(exc)}", err=True)
        if not _is_expected(exc):
            typer.echo("(rerun as `rso --debug ...` to see the traceback)", err=True)
        raise SystemExit(EXIT_USAGE if isinstance(exc, ContextError) else EXIT_ERROR) from None


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if _is_expected(exc) else f"{type(exc).__name__}: {text}"


def _is_expected(exc: BaseException) -> bool:
    # Failures whose message already names the file and what is wrong: a damaged checkpoint, a
    # missing file, a refused setting. Anything else is a bug, shown with its type.
    from graph.context import ContextError
    from policy.network import IncompatibleCheckpointError

    expected = (ContextError, IncompatibleCheckpointError, FileNotFoundError, PermissionError)
    return isinstance(exc, expected)


def _warn_unknown_settings() -> None:
    # A mistyped variable would otherwise be ignored without a word.
    from graph.context import unknown_setting_warnings

    for warning in unknown_setting_warnings():
        typer.echo(f"warning: {warning}", err=True)


if __name__ == "__main__":
    main()
