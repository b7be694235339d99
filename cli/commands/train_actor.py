"""``rso train actor``: LoRA-tune the embedded model as the Actor and export the adapter GGUF."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cli.commands import fail


def actor(
    per_strategy: Annotated[
        int, typer.Option(min=1, help="INSPIRED train utterances drawn per strategy (14).")
    ] = 800,
    max_steps: Annotated[int, typer.Option(min=1, help="Optimizer steps of the run.")] = 496,
    epochs: Annotated[
        float | None, typer.Option(min=0.01, help="Passes over the rows (sets --max-steps).")
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1)] = 64,
    max_length: Annotated[int, typer.Option(min=32, help="Tokens per row (longer are cut).")] = 256,
    warmup_steps: Annotated[int, typer.Option(min=0, help="Linear warm-up steps.")] = 10,
    rank: Annotated[int, typer.Option(min=1, help="LoRA rank.")] = 16,
    alpha: Annotated[int, typer.Option(min=1, help="LoRA alpha (scale alpha/rank).")] = 32,
    lr: Annotated[float, typer.Option(help="Peak learning rate (linear decay).")] = 3e-4,
    save_steps: Annotated[int, typer.Option(min=1, help="Checkpoint every N steps.")] = 50,
    threads: Annotated[int, typer.Option(min=1, help="torch CPU threads.")] = 2,
    device: Annotated[str, typer.Option(help="cpu, or cuda (a GPU, with bf16 autocast).")] = "cpu",
    seed: Annotated[int, typer.Option(help="Seed of the data draw and of training.")] = 0,
    work_dir: Annotated[
        Path | None,
        typer.Option(help="Rows, checkpoints, curve (default .cache/actor-tune)."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(help="Adapter GGUF and card directory (default models/actor-lora)."),
    ] = None,
    resume: Annotated[
        bool, typer.Option(help="Continue from the latest checkpoint in --work-dir.")
    ] = False,
    export_only: Annotated[
        bool,
        typer.Option(
            help="Only convert the finished adapter (else the latest checkpoint) in --work-dir."
        ),
    ] = False,
    rows_only: Annotated[
        bool,
        typer.Option(
            help="Only write the rows to --work-dir/rows.jsonl (to train elsewhere with "
            "python -m rl.actor_tune_rows)."
        ),
    ] = False,
) -> None:
    """Fine-tune the embedded model as the Actor with LoRA on INSPIRED train (tune extra)."""
    from rl.actor_run import ActorRunPaths, export_latest, run_actor_tuning, write_rows
    from rl.actor_tune import ActorTuneConfig

    if device not in ("cpu", "cuda"):
        raise fail(f"--device must be cpu or cuda, not {device!r}")
    paths = ActorRunPaths.default(work_dir, output)
    config = ActorTuneConfig(
        rank=rank,
        alpha=alpha,
        learning_rate=lr,
        batch_size=batch_size,
        max_length=max_length,
        max_steps=max_steps,
        warmup_steps=warmup_steps,
        save_steps=save_steps,
        threads=threads,
        seed=seed,
        device="cuda" if device == "cuda" else "cpu",
    )
    try:
        if rows_only:
            rows = write_rows(paths, per_strategy, seed)
            typer.echo(f"{len(rows)} rows in {paths.rows}")
            return
        if export_only:
            card = export_latest(paths, config, per_strategy)
        else:
            card = run_actor_tuning(paths, config, per_strategy, resume=resume, epochs=epochs)
    except (ImportError, FileNotFoundError, ValueError) as exc:
        raise fail(str(exc)) from None
    typer.echo(json.dumps(card, indent=2))


def register(app: typer.Typer) -> None:
    """Add ``actor`` to the ``train`` group."""
    from cli.commands.train import train_app

    if not any(c.name == "actor" for c in train_app.registered_commands):
        train_app.command("actor")(actor)
