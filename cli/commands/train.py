"""``rso train``: training the Planner (``sft`` here; the RL stage adds ``rl`` to this group)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cli.commands import check_choice, fail

#: The "train" group. Other training stages attach their commands to this object
#: (``@train_app.command("rl")``), so every Planner training step lives under ``rso train``.
train_app = typer.Typer(
    help="Train the Planner (sft, then rl), the tuned Actor's LoRA adapter (actor) and the "
    "strategy tagger of the role metrics (tagger).",
    no_args_is_help=True,
)


@train_app.command("sft")
def sft(
    backbone: Annotated[
        str | None,
        typer.Option(
            help="Encoder: all-MiniLM-L6-v2 (offline default), a local dir or a cached hub id."
        ),
    ] = None,
    mode: Annotated[
        str, typer.Option(help="frozen (head only, cached embeddings), partial (top blocks), full.")
    ] = "partial",
    top_layers: Annotated[int, typer.Option(help="Fine-tuned top blocks in partial mode.")] = 1,
    pooling: Annotated[str, typer.Option(help="mean or cls.")] = "mean",
    epochs: Annotated[int, typer.Option(min=1)] = 3,
    batch_size: Annotated[int, typer.Option(min=1)] = 32,
    max_length: Annotated[int, typer.Option(min=8, help="Tokens kept, newest first.")] = 64,
    lr: Annotated[float, typer.Option(help="Learning rate of the encoder blocks.")] = 2e-4,
    head_lr: Annotated[float, typer.Option(help="Learning rate of the linear head.")] = 2e-3,
    weight_decay: Annotated[float, typer.Option()] = 0.01,
    warmup_ratio: Annotated[float, typer.Option(help="Share of steps in linear warm-up.")] = 0.1,
    dropout: Annotated[float, typer.Option()] = 0.1,
    class_weight: Annotated[str, typer.Option(help="none, sqrt or balanced.")] = "sqrt",
    seed: Annotated[int, typer.Option()] = 0,
    limit_train: Annotated[
        int | None, typer.Option(help="Use only the first N training samples.")
    ] = None,
    limit_eval: Annotated[
        int | None, typer.Option(help="Use only the first N valid and test samples.")
    ] = None,
    output: Annotated[
        Path | None, typer.Option(help="Checkpoint directory (default models/planner-sft).")
    ] = None,
    force: Annotated[
        bool, typer.Option(help="Overwrite the committed Planner in models/planner-sft.")
    ] = False,
    storage_dtype: Annotated[str, typer.Option(help="float16 or float32 weights.")] = "float16",
    device: Annotated[str, typer.Option(help="torch device, e.g. cpu or cuda.")] = "cpu",
    baselines: Annotated[bool, typer.Option(help="Also train and score the two baselines.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    quiet: Annotated[bool, typer.Option(help="No progress bars (they go to stderr).")] = False,
) -> None:
    """Supervised warm-up of the Planner on INSPIRED, with test scores and baselines."""
    from policy.network import default_backbone
    from rl.sft import run_sft
    from rl.sft_config import TRAIN_MODES, SFTConfig
    from rso.paths import DEFAULT_PLANNER_DIR

    choices = {
        "mode": (mode, TRAIN_MODES),
        "pooling": (pooling, ("mean", "cls")),
        "class-weight": (class_weight, ("none", "sqrt", "balanced")),
        "storage-dtype": (storage_dtype, ("float16", "float32")),
    }
    for option, (value, allowed) in choices.items():
        check_choice(option, value, allowed)
    config = SFTConfig(
        backbone=backbone or default_backbone(),
        mode=mode,  # type: ignore[arg-type]
        top_layers=top_layers,
        pooling=pooling,  # type: ignore[arg-type]
        dropout=dropout,
        max_length=max_length,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        head_lr=head_lr,
        weight_decay=weight_decay,
        warmup_ratio=warmup_ratio,
        class_weight=class_weight,  # type: ignore[arg-type]
        seed=seed,
        limit_train=limit_train,
        limit_eval=limit_eval,
        output=output or DEFAULT_PLANNER_DIR,
        storage_dtype=storage_dtype,  # type: ignore[arg-type]
        device=device,
        baselines=baselines,
        progress=not quiet,
    )
    try:
        summary = run_sft(config, force=force)
    except FileExistsError as exc:
        raise fail(str(exc), code=2) from None
    if as_json:
        typer.echo(json.dumps(summary.model_dump(), indent=2))
        return
    typer.echo(f"checkpoint: {summary.checkpoint} ({summary.checkpoint_bytes / 1e6:.1f} MB)")
    typer.echo(f"best epoch {summary.best_epoch}: valid macro-F1 {summary.best_valid_macro_f1:.4f}")
    rows = [("planner", summary.test)] + list(summary.baselines.items())
    typer.echo(f"{'test':<16}{'accuracy':>10}{'macro-F1':>10}")
    for name, metrics in rows:
        typer.echo(f"{name:<16}{metrics.accuracy:>10.4f}{metrics.macro_f1:>10.4f}")
    typer.echo(f"confusion matrix: {summary.confusion_matrix_png}")


@train_app.command("tagger")
def tagger(
    output: Annotated[
        Path | None,
        typer.Option(help="Output directory (default models/strategy-tagger, the committed one)."),
    ] = None,
    c: Annotated[float, typer.Option(help="Inverse regularisation of the regression.")] = 4.0,
    min_df: Annotated[int, typer.Option(min=1, help="Utterances a 1-2-gram must occur in.")] = 2,
) -> None:
    """Train the strategy tagger (utterance -> strategy) on INSPIRED train; score it on test."""
    from evaluation.strategy_tagger import TaggerSettings, build_inspired_tagger

    fitted = build_inspired_tagger(output, TaggerSettings(c=c, min_df=min_df))
    test = fitted.info["test"]
    typer.echo(
        f"strategy tagger: {fitted.info['train_utterances']} training utterances "
        f"(fingerprint {fitted.info['train_fingerprint']}), {len(fitted.vocabulary)} terms"
    )
    typer.echo(
        f"INSPIRED test ({int(test['utterances'])} human utterances): accuracy "
        f"{test['accuracy']:.4f}, macro-F1 {test['macro_f1']:.4f}"
    )


def register(app: typer.Typer) -> None:
    """Add the ``train`` group to the ``rso`` app."""
    app.add_typer(train_app, name="train")
