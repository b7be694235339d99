"""The ``rso`` console command: one Typer app, with each concern's subcommands in `cli.commands`."""

from __future__ import annotations

import importlib
import os
import pkgutil

import typer

import cli.commands

app = typer.Typer(
    name="rso",
    help="Reinforced Strategy Optimization: a strategy-planned conversational movie recommender.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


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
    app()


def _warn_unknown_settings() -> None:
    # A mistyped variable would otherwise be ignored without a word.
    from graph.context import unknown_setting_warnings

    for warning in unknown_setting_warnings():
        typer.echo(f"warning: {warning}", err=True)


if __name__ == "__main__":
    main()
