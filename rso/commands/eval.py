"""``rso eval``: metrics, plots and a report for rollout runs, and a side-by-side comparison."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, cast, get_args

import typer

if TYPE_CHECKING:
    from evaluation.metrics import RunMetrics
    from graph.models import LLMSettings
    from rl.records import EpisodeRecord

JudgesMode = Literal["auto", "on", "off"]
JUDGES_FILE = "judges.jsonl"


def evaluate(
    runs: Annotated[list[Path], typer.Argument(help="Run directories (runs/NAME/), one or more.")],
    out: Annotated[
        Path | None,
        typer.Option(
            help="Comparison table file when several runs are given "
            "(default: comparison.md beside the first run)."
        ),
    ] = None,
    judges: Annotated[
        str,
        typer.Option(
            help="LLM judges (persuasiveness, credibility): auto = only for runs with the LLM "
            "seeker, on, or off."
        ),
    ] = "auto",
    base_url: Annotated[
        str | None, typer.Option(help="OpenAI-compatible /v1 URL of the judge model.")
    ] = None,
    model: Annotated[str | None, typer.Option(help="Judge model name.")] = None,
    max_turns: Annotated[
        int | None,
        typer.Option(min=1, help="Turn limit for SR and AvgT (default: the run's own)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap intervals.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
) -> None:
    """Write report.md, metrics.json and plots into each run; compare several runs."""
    from graph.context import Context, ContextError
    from rso import jsonio

    if judges not in get_args(JudgesMode):
        raise typer.BadParameter("expected auto, on or off", param_hint="--judges")
    mode = cast(JudgesMode, judges)
    overrides: dict[str, Any] = {"base_url": base_url, "model": model}
    try:
        judge_settings = Context.from_env(
            None, **{k: v for k, v in overrides.items() if v is not None}
        ).llm("judge")
    except ContextError as exc:
        raise typer.BadParameter(str(exc)) from None
    names = _run_names(runs)
    results: dict[str, RunMetrics] = {}
    for name, run in zip(names, runs, strict=True):
        try:
            results[name] = evaluate_one(
                run,
                name,
                mode,
                judge_settings,
                max_turns=max_turns,
                seed=seed,
            )
        except (FileNotFoundError, ValueError, RuntimeError) as exc:
            typer.echo(f"error: {run}: {exc}", err=True)
            raise typer.Exit(2) from None
    if as_json:
        typer.echo(jsonio.dumps({n: m.to_json() for n, m in results.items()}, indent=2))
    if len(results) > 1:
        table = write_comparison(results, out or runs[0].resolve().parent / "comparison.md")
        if not as_json:
            typer.echo(table)


def evaluate_one(
    run: Path,
    name: str,
    judges: JudgesMode,
    judge_settings: LLMSettings,
    *,
    max_turns: int | None = None,
    seed: int = 0,
) -> RunMetrics:
    """Compute one run's metrics (with the judges if asked) and write its report into it."""
    from evaluation.metrics import MAX_TURNS, compute_metrics, genres_lookup
    from evaluation.report import load_run, write_report
    from rso.data.movies import movies_by_id

    if not run.is_dir():
        raise FileNotFoundError(f"{run} is not a run directory")
    episodes = load_run(run)
    manifest = _manifest(run)
    settings = manifest.get("settings", {})
    seeker = settings.get("seeker")
    turns = max_turns or int(settings.get("max_turns") or MAX_TURNS)
    use_judges = judges == "on" or (judges == "auto" and seeker == "llm")
    persuasion = credibility = None
    if use_judges:
        persuasion, credibility = run_judges(episodes, judge_settings, run / JUDGES_FILE)
    elif judges == "auto":
        typer.echo(
            f"note: {name}: LLM judges (persuasiveness, credibility) skipped for a run with the "
            f"{seeker or 'unknown'} seeker; pass --judges on to run them",
            err=True,
        )
    metrics = compute_metrics(
        episodes,
        genres_lookup(movies_by_id()),
        max_turns=turns,
        persuasion=persuasion,
        credibility=credibility,
        seed=seed,
    )
    metrics.extra.update(
        {
            "run": str(run),
            "max_turns": turns,
            "judges": "run" if use_judges else "skipped",
            "settings_digest": manifest.get("settings_digest"),
        }
    )
    paths = write_report(name, metrics, run)
    if metrics.n_failed:
        typer.echo(
            f"warning: {name}: {metrics.n_failed} failed episode(s) are left out of the metrics "
            "(their errors are in episodes.jsonl)",
            err=True,
        )
    typer.echo(
        f"{name}: {metrics.n_episodes} episodes ({metrics.n_failed} failed): SR {metrics.sr}, "
        f"strict SR {metrics.strict_sr}, AvgT {metrics.avg_turns} -> {paths['report']}",
        # Status goes to stderr, so that stdout holds only the table or, with --json, the JSON.
        err=True,
    )
    return metrics


def run_judges(
    episodes: Sequence[EpisodeRecord], settings: LLMSettings, log_path: Path
) -> tuple[list[tuple[int | None, int | None, int | None]], list[list[int | None]]]:
    """Rate every finished episode: persuasiveness of its last recommendation, credibility."""
    from agents import judges
    from agents.seeker import goal_from_case
    from graph import models
    from rso.data.movies import movies_by_id
    from rso.data.personas import load_personas

    movies, personas = movies_by_id(), load_personas()
    model = models.load_chat_model(settings)
    persuasion: list[tuple[int | None, int | None, int | None]] = []
    credibility: list[list[int | None]] = []
    with log_path.open("w", encoding="utf-8") as log:
        for episode in (e for e in episodes if e.status == "ok"):
            dialogue = _dialogue(episode)
            last = next((t for t in reversed(episode.turns) if t.recommended), None)
            ratings: tuple[int | None, int | None, int | None] = (None, None, None)
            if last is not None and last.recommended[0] in movies:
                scored = judges.persuasiveness(
                    dialogue,
                    movies[last.recommended[0]],
                    personas.get(episode.persona_id),
                    goal_from_case(episode.case),
                    settings,
                    model=model,
                )
                ratings = scored.values()
            mentions = [
                (t.reply, movies[t.recommended[0]])
                for t in episode.turns
                if t.recommended and t.recommended[0] in movies
            ]
            scores = [s.value for s in judges.credibility(mentions, settings, model=model)]
            persuasion.append(ratings)
            credibility.append(scores)
            line = {"episode_id": episode.episode_id, "persuasion": ratings, "credibility": scores}
            log.write(json.dumps(line) + "\n")
    return persuasion, credibility


def write_comparison(results: dict[str, RunMetrics], out: Path) -> str:
    """Write the side-by-side table (and an SR@t plot of every run); return the table."""
    from evaluation.plots import plot_sr_at_t
    from evaluation.report import metrics_table

    table = "# Comparison\n\n" + metrics_table(results)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(table, encoding="utf-8")
    plot_sr_at_t({n: m.sr_at_t for n, m in results.items()}, out.with_suffix(".sr_at_t.png"))
    return table


def _dialogue(episode: EpisodeRecord) -> list[tuple[str, str]]:
    from graph.rollout import OPENING

    turns = [("Seeker", OPENING)]
    for turn in episode.turns:
        turns += [("Recommender", turn.reply), ("Seeker", turn.seeker_reply)]
    return turns


def _manifest(run: Path) -> dict[str, Any]:
    from rl.rollout import MANIFEST_FILE, read_manifest

    path = run / MANIFEST_FILE
    return read_manifest(path) if path.exists() else {}


def _run_names(runs: Sequence[Path]) -> list[str]:
    """Short names for the runs: their directory names, or their paths where those repeat."""
    names = [run.resolve().name for run in runs]
    if len(set(names)) < len(names):
        return [str(run) for run in runs]
    return names


def register(app: typer.Typer) -> None:
    """Add ``rso eval`` to the CLI."""
    app.command("eval")(evaluate)
