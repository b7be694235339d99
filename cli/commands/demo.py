"""``rso demo``: the main job on the embedded defaults, end to end, in a few minutes on a CPU.

1. checks the processed datasets; 2. loads (or builds) the movie index and runs a sample search;
3. holds a scripted 3-turn conversation with the recommender (embedded SmolLM2 with the tuned
Actor's adapter, SFT Planner), printing each turn's strategy and recommendation; 4. runs a small
batch of simulated episodes (act-level seeker, embedded LLM experts) and prints the evaluation
table.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from graph.context import Context

#: What the scripted seeker says, turn by turn.
SCRIPT: tuple[str, ...] = (
    "Hello. I'd like to watch a movie tonight.",
    "I love funny movies, especially comedies with a bit of romance.",
    "That sounds nice. Who is in it, and what is it about?",
)


def _step(title: str) -> float:
    typer.secho(f"\n== {title}", bold=True)
    return time.perf_counter()


def _done(started: float) -> None:
    typer.echo(f"   ({time.perf_counter() - started:.1f} s)")


def taste_verdict(recommended: list[str], seed: int) -> str:
    """Say whether a recommended movie shares a genre the scripted seeker asked for."""
    from graph import resources
    from retrieval.taste_words import default_vocabulary, find_genres

    vocabulary = default_vocabulary()
    wanted = {genre for text in SCRIPT for genre in find_genres(text, vocabulary)}
    movies = resources.movies()
    fitting = [
        movies[kb_id].display_title
        for kb_id in dict.fromkeys(recommended)
        if wanted & {genre.casefold() for genre in movies[kb_id].genres}
    ]
    taste = ", ".join(sorted(wanted))
    if fitting:
        return f"seed {seed}: recommended {', '.join(fitting)}, which fits the taste ({taste})"
    return f"seed {seed}: no movie fitting the taste ({taste}) was recommended in these turns"


def with_demo_adapter(context: Context, choice: str | None) -> Context:
    """Return `context` with the Actor adapter `choice` (None: the run's own setting)."""
    return context if choice is None else replace(context, actor_adapter=choice)


def demo_command(
    episodes: Annotated[
        int, typer.Option(help="Simulated episodes in the batch (0 skips it).")
    ] = 5,
    max_turns: Annotated[int, typer.Option(help="Most recommender turns per episode.")] = 4,
    out: Annotated[
        Path, typer.Option(help="Run directory of the batch (replaced on every demo).")
    ] = Path("runs/demo"),
    seed: Annotated[int, typer.Option(help="Seed of the Planner and the simulation.")] = 0,
    actor_adapter: Annotated[
        str | None,
        typer.Option(
            help="The Actor's LoRA adapter: 'auto' (the shipped tuned Actor on the embedded "
            "model), 'default', a GGUF path, or 'none' (the untuned prompt). Default: "
            "RSO_ACTOR_ADAPTER, else 'auto'."
        ),
    ] = None,
) -> None:
    """Run the main job on the embedded defaults: data, index, a 3-turn chat, a small batch."""
    import shutil

    from cli.commands.chat import _run_turn, _summary_line, actor_line, chat_context, planner_line
    from cli.commands.data import _print_report
    from graph.builder import open_session_graph
    from rollouts.config import RolloutConfig
    from rollouts.runner import run_rollouts
    from rso.data.check import check

    started = _step("1/4 datasets (processed files in data/)")
    report = check()
    if not report.ok:
        _print_report(report)
        raise typer.Exit(1)
    counts = {(r.dataset, r.measure): r.processed for r in report.rows}
    typer.echo(
        f"   {len(report.rows)} checks passed: INSPIRED dialogs "
        f"{counts.get(('inspired-train', 'dialogs'))}/{counts.get(('inspired-valid', 'dialogs'))}/"
        f"{counts.get(('inspired-test', 'dialogs'))}, movies {counts.get(('movies', 'movies'))}"
    )
    _done(started)

    started = _step("2/4 movie knowledge index (built once, then loaded from the cache)")
    from retrieval.index import get_movie_index

    index = get_movie_index()
    query = "a heist thriller with a detective chasing a professional thief in Los Angeles"
    typer.echo(f"   {len(index)} movies indexed; search {query!r}:")
    for hit in index.search(query, k=3):
        typer.echo(f"   {hit.rank}. {hit.title}  ({hit.score:.3f})")
    _done(started)

    started = _step("3/4 a scripted conversation with the recommender (embedded SmolLM2-135M)")
    context = with_demo_adapter(chat_context(seed=seed), actor_adapter)
    typer.echo(f"   {planner_line(context)}")
    typer.echo(f"   {actor_line(context)}")
    thread_id = f"demo-{uuid.uuid4().hex[:8]}"
    recommended: list[str] = []
    with open_session_graph(None) as session:
        for text in SCRIPT:
            typer.echo(f"   Seeker: {text}")
            payload = _run_turn(session, thread_id, text, context)
            typer.echo(f"   Recommender: {payload['reply']}")
            typer.echo(f" {_summary_line(payload)}")
            recommended += [movie["kb_id"] for movie in payload["recommended"]]
    typer.echo(f"   {taste_verdict(recommended, seed)}")
    _done(started)

    if episodes <= 0:
        return
    started = _step(
        f"4/4 a batch of {episodes} simulated episodes "
        "(act-level seeker, embedded LLM experts, SFT Planner)"
    )
    from evaluation.report import evaluate_run, metrics_table

    shutil.rmtree(out, ignore_errors=True)
    config = RolloutConfig(
        out=out,
        cases="inspired-test",
        seeker="act",
        experts="llm",
        planner=str(context.planner_checkpoint or "uniform"),
        episodes=episodes,
        concurrency=1,
        seed=seed,
        max_turns=max_turns,
        context={"actor_adapter": context.actor_adapter},
    )
    summary = run_rollouts(config, progress=True)
    metrics = evaluate_run(out, out, name="demo", max_turns=max_turns)
    typer.echo(metrics_table({"demo": metrics}))
    typer.echo(f"   episodes, report.md and plots in {out}/ ({summary.elapsed_s:.0f} s)")
    _done(started)


def register(app: typer.Typer) -> None:
    """Add ``rso demo`` to the CLI."""
    app.command("demo")(demo_command)
