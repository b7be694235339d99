"""``rso export trl``: logged rollouts as TRL rows (Actor prompt/completion, Planner returns)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.commands import check_choice

export_app = typer.Typer(
    help="Export logged rollouts for training with other tools.", no_args_is_help=True
)

_CHOICES = {
    "rows": ("actor", "planner", "pairs"),
    "format": ("jsonl", "datasets"),
    "prompt-format": ("messages", "text"),
}


@export_app.command("trl")
def trl(
    run: Annotated[Path, typer.Argument(help="Rollout run directory (holding episodes.jsonl).")],
    out: Annotated[
        Path, typer.Option(help="Output .jsonl file, or a directory with --format datasets.")
    ],
    rows: Annotated[
        str,
        typer.Option(
            help="actor: prompt/completion rows of the replies (SFTTrainer); planner: "
            "state/strategy/return; pairs: prompt/chosen/rejected (DPOTrainer)."
        ),
    ] = "actor",
    fmt: Annotated[
        str,
        typer.Option("--format", help="jsonl, or datasets (needs the `datasets` package)."),
    ] = "jsonl",
    prompt_format: Annotated[
        str, typer.Option(help="Actor prompts as chat messages, or as dialogue text.")
    ] = "messages",
    gamma: Annotated[float, typer.Option(help="Discount of the Planner rows' returns.")] = 0.999,
) -> None:
    """Write one run's episodes as TRL rows (failed episodes are left out and counted)."""
    from rl.export import MissingDatasetsError, export_trl

    for option, value in (("rows", rows), ("format", fmt), ("prompt-format", prompt_format)):
        check_choice(option, value, _CHOICES[option])
    try:
        result = export_trl(
            run,
            out,
            kind=rows,  # type: ignore[arg-type]
            fmt=fmt,  # type: ignore[arg-type]
            prompt_format=prompt_format,  # type: ignore[arg-type]
            gamma=gamma,
        )
    except (FileNotFoundError, MissingDatasetsError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    notes = []
    if result.skipped_failed:
        notes.append(f"{result.skipped_failed} failed episode(s) left out")
    if result.skipped_ungrounded:
        notes.append(
            f"{result.skipped_ungrounded} turn(s) whose reply names a movie missing from the "
            "prompt left out"
        )
    note = f" ({'; '.join(notes)})" if notes else ""
    typer.echo(f"{result.rows} {rows} rows from {result.episodes} episodes -> {result.path}{note}")


def register(app: typer.Typer) -> None:
    """Add the ``export`` group to the ``rso`` app."""
    app.add_typer(export_app, name="export")
