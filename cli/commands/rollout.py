"""``rso rollout``: play a batch of simulated episodes into a resumable run directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.commands import (
    EXIT_CODES_HELP,
    EXIT_NOTHING_FINISHED,
    EXIT_SOME_FAILED,
    EXIT_USAGE,
    check_choice,
)

if TYPE_CHECKING:
    from rollouts.summary import RolloutSummary
    from rso.modes import GoalMode

CASE_SETS_HELP = "inspired-test (99), redial-test (198) or inspired-train (801)."


def rollout(
    out: Annotated[
        Path, typer.Option("--out", help="Run directory, e.g. runs/NAME/ (created if missing).")
    ],
    cases: Annotated[str, typer.Option(help=CASE_SETS_HELP)] = "inspired-test",
    goal: Annotated[
        str,
        typer.Option(
            help="The seeker's goal: genre (the case's first target genre) or item (a hidden "
            "target movie, the one the case's human recommender recommended last; cases without "
            "one in the knowledge base are left out)."
        ),
    ] = "genre",
    seeker: Annotated[
        str, typer.Option(help="Simulated seeker: act (fast, LLM-free) or llm.")
    ] = "act",
    experts: Annotated[
        str, typer.Option(help="Recommender experts: rule (fast, LLM-free) or llm.")
    ] = "rule",
    planner: Annotated[
        str,
        typer.Option(
            help="sft (the committed warm-up Planner), uniform, majority, none, or a Planner "
            "checkpoint path."
        ),
    ] = "sft",
    planner_mode: Annotated[
        str | None, typer.Option(help="sample (draw the strategy) or greedy (argmax).")
    ] = None,
    episodes: Annotated[
        int | None,
        typer.Option(min=1, help="Episodes to play (default: one per case; more cycles)."),
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, help="Episodes in flight at once.")] = 4,
    seed: Annotated[int, typer.Option(help="Run seed (per-episode seeds derive from it).")] = 0,
    resume: Annotated[
        bool,
        typer.Option("--resume", help="Continue the run in --out, skipping finished episodes."),
    ] = False,
    retry_failed: Annotated[
        bool,
        typer.Option(
            "--retry-failed/--no-retry-failed",
            help="With --resume, play failed episodes again (their failed records move to "
            "failed.jsonl); --no-retry-failed keeps them as finished.",
        ),
    ] = True,
    force: Annotated[
        bool, typer.Option("--force", help="Resume even if the run's settings differ.")
    ] = False,
    max_turns: Annotated[int, typer.Option(min=1, help="Most recommender turns per episode.")] = 10,
    rewarder_samples: Annotated[
        int, typer.Option(min=1, help="Rewarder samples per turn (LLM seeker).")
    ] = 10,
    end_on: Annotated[
        str | None,
        typer.Option(
            help="End an episode at the first reward > 0.7 ('reward', the paper) or only on "
            "explicit acceptance ('accept'); default: accept for --seeker act, else reward."
        ),
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option(help="OpenAI-compatible /v1 URL for every LLM role (default: embedded)."),
    ] = None,
    model: Annotated[str | None, typer.Option(help="Model name for every LLM role.")] = None,
    engine: Annotated[
        str | None,
        typer.Option(
            help="Where episodes run: graph (threads of this process, each episode through the "
            "compiled LangGraph graphs), direct (threads, through the step engine: the same "
            "nodes and episodes without LangGraph's per-step bookkeeping) or ray (a pool of "
            "--workers Ray actors, each running --concurrency episodes). Default: threads, "
            "direct for the LLM-free fast mode and graph otherwise."
        ),
    ] = None,
    nodes: Annotated[
        str | None,
        typer.Option(
            help="With --engine ray, how each episode's nodes run on the actors: graph or "
            "direct (default: direct in the fast mode, graph otherwise)."
        ),
    ] = None,
    workers: Annotated[
        int, typer.Option(min=1, help="Ray actors playing episodes (--engine ray).")
    ] = 2,
    ray_address: Annotated[
        str | None,
        typer.Option(
            help="Ray cluster to join with --engine ray: auto or HOST:PORT (default: a local "
            "Ray instance that starts and stops with the command)."
        ),
    ] = None,
    base_urls: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated OpenAI-compatible /v1 URLs of a fleet of servers: each "
            "episode sticks to one, new ones go to the least busy, a dead one is dropped and its "
            "episodes retried on the others (default: RSO_BASE_URLS)."
        ),
    ] = None,
    shuffle_cases: Annotated[
        bool, typer.Option("--shuffle-cases", help="Shuffle the case order with the seed.")
    ] = False,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Any other Context setting as FIELD=VALUE (repeatable), e.g. --set top_k=20.",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Play simulated episodes (recommender -> seeker -> Rewarder) and log them to --out."""
    from graph.context import ContextError
    from policy.planners import PlannerSpecError
    from rollouts.config import RUNNER_ENGINES, RolloutConfig
    from rollouts.fleet import parse_base_urls
    from rollouts.runner import run_rollouts
    from rso.runs.directory import RunDirectoryError

    if engine is not None:
        check_choice("engine", engine, RUNNER_ENGINES)
    try:
        fleet = parse_base_urls(base_urls)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--base-urls") from None

    try:
        overrides = _parse_settings(set_ or [])
    except ContextError as exc:
        raise typer.BadParameter(str(exc), param_hint="--set") from None
    for name, value in (("base_url", base_url), ("model", model), ("planner_mode", planner_mode)):
        if value is not None:
            overrides[name] = value
    try:
        config = RolloutConfig(
            out=out,
            cases=cases,  # type: ignore[arg-type]  # validated by RolloutContext
            goal=goal,  # type: ignore[arg-type]  # validated by RolloutContext
            seeker=seeker,  # type: ignore[arg-type]
            experts=experts,  # type: ignore[arg-type]
            planner=planner,
            episodes=episodes,
            concurrency=concurrency,
            seed=seed,
            resume=resume,
            retry_failed=retry_failed,
            force=force,
            max_turns=max_turns,
            end_on=end_on,  # type: ignore[arg-type]  # validated by RolloutContext
            rewarder_samples=rewarder_samples,
            engine=engine,  # type: ignore[arg-type]  # checked above
            nodes=nodes,  # type: ignore[arg-type]  # checked by RolloutConfig
            workers=workers,
            ray_address=ray_address,
            base_urls=fleet,
            shuffle_cases=shuffle_cases,
            context=overrides,
        )
        config.rollout_context()  # validate every setting before touching the run directory
        summary = run_rollouts(config, progress=not quiet)
    except (ContextError, PlannerSpecError, RunDirectoryError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    figures = summary.as_dict()
    if as_json:
        typer.echo(json.dumps(figures, indent=2))
    else:
        _print_summary(summary, config.goal)
    _exit_on_failures(summary)


def _print_summary(summary: RolloutSummary, goal: GoalMode) -> None:
    from rollouts.plan import excluded_reason

    retried = f", {summary.retried} failed before and retried" if summary.retried else ""
    typer.echo(
        f"{summary.ran} episodes played ({summary.already_done} already done{retried}, "
        f"{summary.failed} failed) in {summary.elapsed_s:.1f} s with the {summary.engine} engine: "
        f"success {summary.success_rate:.3f}, strict {summary.strict_success_rate:.3f}, "
        f"{summary.episodes_per_s:.2f} episodes/s, {summary.turns_per_s:.1f} turns/s"
    )
    if summary.excluded_cases:
        typer.echo(
            f"note: {len(summary.excluded_cases)} case(s) with {excluded_reason(goal)} were left "
            "out (listed in manifest.json)"
        )
    typer.echo(f"episodes: {summary.episodes_path}\nmanifest: {summary.manifest_path}")


def _exit_on_failures(summary: RolloutSummary) -> None:
    """Exit non-zero when episodes failed, naming the first cause and where the others are."""
    failures = [e for e in summary.episodes if e.status == "failed"]
    if not failures:
        return
    first = failures[0]
    cause = (first.error or "unknown error").splitlines()[0][:500]
    scope = "every episode" if len(failures) == summary.ran else f"{len(failures)} of {summary.ran}"
    typer.echo(
        f"error: {scope} failed; first ({first.episode_id}): {cause}\n"
        f'every failure\'s error is in {summary.episodes_path} (status "failed"); '
        "rerun with --resume to retry them",
        err=True,
    )
    raise typer.Exit(EXIT_NOTHING_FINISHED if len(failures) == summary.ran else EXIT_SOME_FAILED)


def _parse_settings(items: list[str]) -> dict[str, Any]:
    """Parse repeated FIELD=VALUE options into typed Context overrides."""
    from graph.context import ENV_PREFIX, Context, ContextError

    known = set(Context.field_docs())
    raw: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip().lower()
        if not sep or not name:
            raise ContextError(f"expected FIELD=VALUE, got {item!r}")
        if name not in known:
            raise ContextError(f"unknown Context field {name!r} in {item!r}", name)
        raw[ENV_PREFIX + name.upper()] = value
    # The environment-variable parser already types and validates every field by name.
    context = Context.from_env(raw)
    names = [var.removeprefix(ENV_PREFIX).lower() for var in raw]
    return {name: getattr(context, name) for name in names}


def register(app: typer.Typer) -> None:
    """Add ``rso rollout`` to the CLI."""
    app.command("rollout", epilog=EXIT_CODES_HELP)(rollout)
