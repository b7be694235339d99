"""``rso eval``: metrics, plots and a report for rollout runs, and a side-by-side comparison."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast, get_args

import typer
from typer.core import TyperGroup

from cli.commands import EXIT_CODES_HELP, EXIT_NOTHING_FINISHED, EXIT_USAGE

if TYPE_CHECKING:
    from evaluation.metrics import RunMetrics


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
    from rollouts.evaluate import JudgesMode, evaluate_with_judges, write_comparison
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
            results[name] = evaluate_with_judges(
                run,
                name,
                mode,
                judge_settings,
                max_turns=max_turns,
                seed=seed,
                # Status goes to stderr, so that stdout holds only the table or, with --json,
                # the JSON.
                notify=lambda line: typer.echo(line, err=True),
            )
        except (FileNotFoundError, ValueError, RuntimeError) as exc:
            typer.echo(f"error: {run}: {exc}", err=True)
            raise typer.Exit(EXIT_USAGE) from None
    if as_json:
        typer.echo(jsonio.dumps({n: m.to_json() for n, m in results.items()}, indent=2))
    if len(results) > 1:
        table = write_comparison(results, out or runs[0].resolve().parent / "comparison.md")
        if not as_json:
            typer.echo(table)
    empty = [name for name, metrics in results.items() if metrics.n_episodes == 0]
    if empty:
        typer.echo(
            f"error: no finished episode to measure in {', '.join(empty)} "
            "(every episode failed, or episodes.jsonl is empty)",
            err=True,
        )
        raise typer.Exit(EXIT_NOTHING_FINISHED)


def roles(
    out: Annotated[
        Path, typer.Option(help="Output directory (records, report); resumable.")
    ] = Path("runs/roles"),
    contexts: Annotated[
        int, typer.Option(min=1, help="INSPIRED-test contexts, drawn by seed.")
    ] = 200,
    seed: Annotated[int, typer.Option(help="Seed of the context draw and of the LLM calls.")] = 0,
    rewarder_samples: Annotated[
        int, typer.Option(min=1, help="Rewarder samples per exchange.")
    ] = 3,
    end_to_end: Annotated[
        bool,
        typer.Option(
            help="Also roll out --seeker act with --experts llm and rule; SR side by side."
        ),
    ] = False,
    cases: Annotated[
        int | None, typer.Option(min=1, help="Cases of the end-to-end runs (default: all).")
    ] = None,
    base_url: Annotated[
        str | None, typer.Option(help="OpenAI-compatible /v1 URL (default: the embedded model).")
    ] = None,
    model: Annotated[str | None, typer.Option(help="Model name at --base-url.")] = None,
    actor_adapter: Annotated[
        str | None,
        typer.Option(
            help="The Actor's LoRA adapter: 'auto' (the shipped one on the embedded model), "
            "'default', a GGUF path, or 'none' (untuned). Default: RSO_ACTOR_ADAPTER, else 'auto'."
        ),
    ] = None,
    roles: Annotated[
        str,
        typer.Option(
            help="Roles asked, comma-separated: reasoner, retriever, actor, seeker, rewarder "
            "(the Rewarder and the judge)."
        ),
    ] = "reasoner,retriever,actor,seeker,rewarder",
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Measure every LLM role on fixed INSPIRED-test contexts (guards, validity, adherence)."""
    from evaluation.role_metrics import format_table
    from evaluation.strategy_tagger import TaggerError
    from graph.context import ContextError
    from rollouts.roles import REPORT_FILE, RolesConfig, evaluate_roles
    from rso import jsonio

    given = {"base_url": base_url, "model": model, "actor_adapter": actor_adapter}
    overrides = {k: v for k, v in given.items() if v is not None}
    try:
        config = RolesConfig(
            out=out,
            contexts=contexts,
            seed=seed,
            rewarder_samples=rewarder_samples,
            end_to_end=end_to_end,
            cases=cases,
            context=overrides,
            roles=tuple(r.strip() for r in roles.split(",") if r.strip()),  # type: ignore[misc]
        )
        report = evaluate_roles(config, notify=lambda line: typer.echo(line, err=True))
    except (ContextError, TaggerError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    typer.echo(jsonio.dumps(report, indent=2) if as_json else format_table(report))
    typer.echo(f"report: {out / REPORT_FILE}", err=True)


def _run_names(runs: Sequence[Path]) -> list[str]:
    """Short names for the runs: their directory names, or their paths where those repeat."""
    names = [run.resolve().name for run in runs]
    if len(set(names)) < len(names):
        return [str(run) for run in runs]
    return names


class _RunsByDefault(TyperGroup):
    """``rso eval RUN...`` keeps working: anything that is not a subcommand goes to ``runs``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """Route arguments that name no subcommand to the default ``runs`` command."""
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["runs", *args]
        return super().parse_args(ctx, args)


eval_app = typer.Typer(
    cls=_RunsByDefault,
    help="Evaluate rollout runs (rso eval RUN...), the movie ranker (rso eval recommend) or the "
    "LLM roles (rso eval roles).",
    epilog=EXIT_CODES_HELP,
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add ``rso eval`` to the CLI."""
    eval_app.command("runs", epilog=EXIT_CODES_HELP)(evaluate)
    eval_app.command("roles", epilog=EXIT_CODES_HELP)(roles)
    app.add_typer(eval_app, name="eval")
