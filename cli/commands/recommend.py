"""``rso recommend`` (batch ranking), ``rso recommend build`` and ``rso eval recommend``."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO, TypeVar

import typer

from cli.commands import fail

if TYPE_CHECKING:
    from evaluation.recommendation import RecommendationReport
    from retrieval.recommender import MovieRecommender

T = TypeVar("T")

recommend_app = typer.Typer(
    help="Rank movies for dialogues with the learned ranker (built from data/ on first use).",
)

InputOption = Annotated[
    Path,
    typer.Option(
        "--input",
        exists=True,
        dir_okay=False,
        help="Turn file (JSONL, .gz allowed): context, optional dialog_id and turn_id.",
    ),
]


@recommend_app.callback(invoke_without_command=True)
def recommend_command(
    ctx: typer.Context,
    input_path: Annotated[
        Path | None,
        typer.Option("--input", dir_okay=False, help="Turn file (JSONL): context, dialog_id..."),
    ] = None,
    k: Annotated[int, typer.Option("--k", "-k", min=1, help="Movies per turn.")] = 50,
    output: Annotated[
        Path | None,
        typer.Option("--output", dir_okay=False, help="Ranking file (JSONL); default stdout."),
    ] = None,
) -> None:
    """Rank the knowledge base for every turn of --input; one output line per input line."""
    if ctx.invoked_subcommand is not None:
        return
    if input_path is None:
        typer.echo(ctx.get_help())
        raise typer.Exit(2)
    if not input_path.is_file():
        raise fail(f"{input_path}: no such file")
    from retrieval.dialogue import from_context
    from rso.data.jsonl import DataFormatError
    from rso.data.turn_file import iter_turns

    recommender = _recommender()
    sink: TextIO = sys.stdout if output is None else open(output, "w", encoding="utf-8")  # noqa: SIM115
    written = 0
    try:
        for turn in iter_turns(input_path):
            picks = recommender.recommend(
                from_context(turn.context), turn.summary, k=k, exclude=turn.exclude
            )
            row: dict[str, object] = {}
            if turn.dialog_id is not None:
                row["dialog_id"] = turn.dialog_id
            if turn.turn_id is not None:
                row["turn_id"] = turn.turn_id
            row["ranking"] = [p.kb_id for p in picks]
            row["titles"] = [p.title for p in picks]
            sink.write(json.dumps(row, ensure_ascii=False) + "\n")
            sink.flush()
            written += 1
    except DataFormatError as exc:
        raise fail(f"{exc} ({written} turn(s) written before it)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"{input_path}: {exc}") from None
    finally:
        if sink is not sys.stdout:
            sink.close()
    if output is not None:
        typer.echo(f"ranked {written} turn(s) into {output}", err=True)


@recommend_app.command("build")
def build_command(
    force: Annotated[
        bool, typer.Option("--force", help="Rebuild even if the cached artefacts are current.")
    ] = False,
) -> None:
    """Build the ranker's artefacts from data/ (counts and fusion), unless they are current."""
    from retrieval.recommender_default import load_default
    from retrieval.recommender_store import default_recommender_dir

    started = time.perf_counter()
    recommender, report = _guarded(lambda: load_default(force=force))
    directory = default_recommender_dir()
    if report is None:
        typer.echo(f"ranker up to date: {len(recommender):,} movies, {directory}")
        return
    typer.echo(
        f"built the ranker in {time.perf_counter() - started:.1f} s "
        f"({report.training_turns:,} training turns, {len(report.training_dialogs):,} training "
        f"dialogs): {directory}"
    )


@recommend_app.command("distill")
def distill_command(
    output: Annotated[
        Path | None,
        typer.Option(help="Student directory to write (default models/query-encoder)."),
    ] = None,
    steps: Annotated[int, typer.Option(min=1, help="Optimizer steps (batches of 32).")] = 1503,
    layers: Annotated[
        str, typer.Option(help="MiniLM layers the student starts from, comma-separated.")
    ] = "1,3,5",
    seed: Annotated[int, typer.Option(help="Seed of the text order and of training.")] = 0,
    work_dir: Annotated[
        Path | None,
        typer.Option(help="Teacher vectors, kept to resume (default .cache/distill)."),
    ] = None,
) -> None:
    """Distil the ranker's query encoder from the training dialogues (about 45 min on 2 cores).

    Reproduces the committed student (models/query-encoder); the ranker rebuilds over it on next
    use. Another --output is used by setting RSO_QUERY_ENCODER to it.
    """
    from retrieval.embedding import EmbeddingError, get_embedder
    from retrieval.recommender_default import training_data
    from retrieval.student_distill import DistillSettings, distill
    from retrieval.student_texts import distill_texts
    from rso.data.inspired import load_inspired
    from rso.data.rec_turns import load_redial_rec_turns
    from rso.paths import DEFAULT_QUERY_ENCODER_DIR, cache_dir

    try:
        chosen = tuple(int(i) for i in layers.split(","))
    except ValueError:
        raise fail(f"--layers {layers!r}: give layer numbers such as 1,3,5") from None
    if not chosen or any(not 0 <= i < 6 for i in chosen):
        raise fail(f"--layers {layers!r}: MiniLM has layers 0 to 5")
    settings = DistillSettings(layers=chosen, steps=steps, seed=seed)
    texts = _guarded(
        lambda: distill_texts(
            training_data(), load_inspired("train"), load_redial_rec_turns(), seed=seed
        )
    )
    typer.echo(f"{len(texts.train):,} training texts, {len(texts.valid):,} validation exchanges")
    target = output or DEFAULT_QUERY_ENCODER_DIR
    try:
        student = distill(
            get_embedder(),
            texts,
            target,
            work_dir or cache_dir() / "distill",
            settings,
            progress=lambda line: typer.echo(line, err=True),
        )
    except EmbeddingError as exc:
        raise fail(str(exc)) from None
    curve = student.card["training"]["curve"]
    typer.echo(
        f"wrote {student.weights_path} ({student.student_id}): validation cosine to MiniLM "
        f"{curve[0]['valid_cosine']} -> {curve[-1]['valid_cosine']}"
    )


def eval_recommend_command(
    input_path: InputOption,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap intervals.")] = 0,
) -> None:
    """Score the ranker and the baselines on a turn file (rec = targets): Recall@k, MRR, NDCG."""
    from evaluation.recommendation import baselines, evaluate
    from retrieval.fusion import Fusion
    from retrieval.recommender import QueryMode
    from retrieval.titles import get_title_matcher
    from rso import jsonio
    from rso.data.jsonl import DataFormatError
    from rso.data.turn_file import iter_turns

    recommender = _recommender()
    try:
        turns = list(iter_turns(input_path, need_targets=True))
    except DataFormatError as exc:
        raise fail(str(exc)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"{input_path}: {exc}") from None
    systems: dict[str, tuple[Fusion | None, QueryMode]] = {
        "ranker": (None, "dialogue"),
        **baselines(),
    }
    report = evaluate(recommender, turns, get_title_matcher().match, systems, seed=seed)
    if as_json:
        typer.echo(jsonio.dumps(report.to_json(), indent=2))
    else:
        typer.echo(format_report(report))
    if report.n_training_excluded:
        typer.echo(
            f"note: {report.n_training_excluded} turn(s) of dialogs the ranker trained on were "
            "left out",
            err=True,
        )


def format_report(report: RecommendationReport) -> str:
    """Render the report as a Markdown table plus the counts."""
    lines = [
        f"turns: {report.n_turns:,} evaluated, {report.n_training_excluded:,} left out (training "
        f"dialogs); targets: {report.n_targets:,}, unmatched to the knowledge base "
        f"{report.n_unmatched:,}, already named in the context {report.n_in_context:,}, "
        f"evaluated {report.n_evaluated:,}",
        "",
        "| system | Recall@1 | Recall@10 | Recall@50 | MRR@50 | NDCG@10 |",
        "|---|---|---|---|---|---|",
    ]
    for system in report.systems:
        m = system.metrics
        cells = [*(str(m.recall[f"recall@{k}"]) for k in (1, 10, 50)), str(m.mrr), str(m.ndcg_10)]
        lines.append(f"| {system.name} | " + " | ".join(cells) + " |")
    if report.unmatched_examples:
        lines += ["", "unmatched targets (first 10): " + "; ".join(report.unmatched_examples)]
    return "\n".join(lines)


def _recommender() -> MovieRecommender:
    from retrieval.recommender_default import get_recommender

    return _guarded(get_recommender)


def _guarded(load: Callable[[], T]) -> T:
    from retrieval.embedding import EmbeddingError
    from rso.data.jsonl import DataFormatError

    try:
        return load()
    except (EmbeddingError, DataFormatError, FileNotFoundError) as exc:
        raise fail(str(exc)) from None


def register(app: typer.Typer) -> None:
    """Add ``recommend`` (and ``eval recommend``) to the `rso` app."""
    from cli.commands.eval import eval_app

    app.add_typer(recommend_app, name="recommend")
    eval_app.command("recommend")(eval_recommend_command)
