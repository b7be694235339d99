"""``rso train rl`` (RL of the Planner) and ``rso experiment`` (RL evidence, ablations)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from cli.commands import check_choice, check_settings, fail, removed_on_early_failure
from rso.data.eval_cases import CASE_SETS
from rso.jsonio import dumps
from rso.modes import ENTROPY_SCALES

NumberT = TypeVar("NumberT", int, float)

experiment_app = typer.Typer(
    help="Experiments: RL evidence (SFT vs SFT+RL) and ablations/comparisons.",
    no_args_is_help=True,
)

END_ON_CHOICES = ("reward", "accept", "default")
END_ON_HELP = (
    "When an episode ends early: reward (the paper: first turn reward > 0.7), accept (explicit "
    "acceptance or the seeker leaving) or default (the seeker's own default)."
)

ENTROPY_SCALE_HELP = (
    "How the entropy bonus is summed: mean (the paper: beta times the per-step mean entropy) or "
    "decision (counted at every decision, like the policy term; about T times stronger)."
)


def rl(
    init: Annotated[
        Path | None,
        typer.Option(help="Starting checkpoint (default: the SFT Planner, models/planner-sft)."),
    ] = None,
    fresh: Annotated[
        bool, typer.Option(help="Start from an untrained head instead of a checkpoint.")
    ] = False,
    cases: Annotated[str, typer.Option(help="Training cases for the rollouts.")] = "inspired-train",
    updates: Annotated[int, typer.Option(min=1)] = 10,
    episodes_per_update: Annotated[int, typer.Option(min=1)] = 100,
    beta: Annotated[float, typer.Option(min=0.0, help="Entropy bonus.")] = 0.01,
    entropy_scale: Annotated[str, typer.Option(help=ENTROPY_SCALE_HELP)] = "mean",
    gamma: Annotated[float, typer.Option(min=0.0, max=1.0, help="Discount.")] = 0.999,
    lr: Annotated[
        float | None,
        typer.Option(help="Adam learning rate (default 1e-2; 3e-3 with --from-runs)."),
    ] = None,
    baseline: Annotated[
        bool, typer.Option(help="Subtract the batch's mean turn reward before discounting.")
    ] = True,
    normalisation: Annotated[
        str, typer.Option(help="Return standardisation: episode (paper), batch or none.")
    ] = "batch",
    importance_clip: Annotated[float, typer.Option(help="Upper clip of pi/mu.")] = 2.0,
    train: Annotated[str, typer.Option(help="head (frozen cached encoder) or top.")] = "head",
    top_layers: Annotated[int, typer.Option(min=1, help="Trained blocks with --train top.")] = 1,
    steps_per_update: Annotated[int, typer.Option(min=1)] = 1,
    from_runs: Annotated[
        list[Path] | None,
        typer.Option("--from-runs", help="Learn from these logged runs instead of rolling out."),
    ] = None,
    resume: Annotated[bool, typer.Option(help="Continue the run in --out.")] = False,
    seed: Annotated[int, typer.Option()] = 0,
    out: Annotated[Path, typer.Option(help="Run directory.")] = Path("runs/rl"),
    eval_cases: Annotated[
        str, typer.Option(help="Held-out cases for the greedy evaluation, or 'none'.")
    ] = "inspired-test",
    eval_episodes: Annotated[int | None, typer.Option(help="Default: every case once.")] = None,
    eval_every: Annotated[int, typer.Option(min=0, help="Also evaluate every N updates.")] = 0,
    seeker: Annotated[str, typer.Option(help="act (fast) or llm.")] = "act",
    experts: Annotated[str, typer.Option(help="rule (fast) or llm.")] = "rule",
    max_turns: Annotated[int, typer.Option(min=1)] = 10,
    end_on: Annotated[str, typer.Option(help=END_ON_HELP)] = "reward",
    concurrency: Annotated[int, typer.Option(min=1)] = 8,
    engine: Annotated[
        str,
        typer.Option(
            help="Where each update's rollouts run: graph (threads of this process; the fast "
            "mode's episodes go through the step engine) or ray (a pool of --workers Ray "
            "actors; the new weights reach them once per update)."
        ),
    ] = "graph",
    workers: Annotated[int, typer.Option(min=1, help="Ray actors (--engine ray).")] = 2,
    ray_address: Annotated[
        str | None, typer.Option(help="Ray cluster to join: auto or HOST:PORT (default: local).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    quiet: Annotated[bool, typer.Option(help="No per-update lines.")] = False,
) -> None:
    """Entropy-regularised REINFORCE of the Planner on simulated dialogues (or logged runs)."""
    from rl.reinforce import train_rl
    from rl.reinforce_config import RLConfig
    from rl.training_state import LATEST_FILE

    check_choice("cases", cases, CASE_SETS)
    check_choice("eval-cases", eval_cases, (*CASE_SETS, "none"))
    check_choice("normalisation", normalisation, ("episode", "batch", "none"))
    check_choice("entropy-scale", entropy_scale, ENTROPY_SCALES)
    check_choice("train", train, ("head", "top"))
    check_choice("seeker", seeker, ("act", "llm"))
    check_choice("experts", experts, ("rule", "llm"))
    check_choice("end-on", end_on, END_ON_CHOICES)
    check_choice("engine", engine, ("graph", "ray"))
    config = RLConfig(
        cases=cases,  # type: ignore[arg-type]
        updates=updates,
        episodes_per_update=episodes_per_update,
        gamma=gamma,
        beta=beta,
        entropy_scale=entropy_scale,  # type: ignore[arg-type]
        lr=lr,
        baseline=baseline,
        normalisation=normalisation,  # type: ignore[arg-type]
        importance_clip=importance_clip,
        train=train,  # type: ignore[arg-type]
        top_layers=top_layers,
        steps_per_update=steps_per_update,
        seed=seed,
        out=out,
        from_runs=tuple(from_runs or ()),
        eval_cases=None if eval_cases == "none" else eval_cases,  # type: ignore[arg-type]
        eval_episodes=eval_episodes,
        eval_every=eval_every,
        seeker=seeker,  # type: ignore[arg-type]
        experts=experts,  # type: ignore[arg-type]
        max_turns=max_turns,
        end_on=None if end_on == "default" else end_on,  # type: ignore[arg-type]
        concurrency=concurrency,
        engine=engine,
        workers=workers,
        ray_address=ray_address,
        resume=resume,
        progress=not quiet and not as_json,
    )
    if fresh:
        config.init = None
    elif init is not None:
        config.init = init
    if config.init is not None and not (Path(config.init) / "planner.json").is_file():
        raise fail(
            f"no Planner checkpoint at {config.init}; run `rso train sft` first, pass --init, "
            "or --fresh"
        )
    check_settings()
    try:
        with removed_on_early_failure(Path(config.out), lambda out: (out / LATEST_FILE).exists()):
            summary = train_rl(config)
    except (FileExistsError, FileNotFoundError, ValueError) as exc:
        raise fail(str(exc)) from None
    if as_json:
        typer.echo(dumps(summary.to_json(), indent=2))
        return
    for tag, result in (("before", summary.eval_before), ("after", summary.eval_after)):
        if result is not None:
            typer.echo(
                f"held-out {tag}: SR {result['success_rate']:.3f} strict "
                f"{result['strict_success_rate']:.3f} turns {result['mean_turns']:.2f} "
                f"effective strategies {result['effective_strategies']:.2f}"
            )
    typer.echo(f"checkpoint: {summary.checkpoint}; curves: {out / 'curves.png'}")


@experiment_app.command("rl-evidence")
def rl_evidence(
    init: Annotated[
        Path | None, typer.Option(help="SFT checkpoint (default models/planner-sft).")
    ] = None,
    seeds: Annotated[str, typer.Option(help="Comma-separated seeds.")] = "0,1,2",
    betas: Annotated[str, typer.Option(help="Comma-separated entropy bonuses.")] = "0.01,0",
    entropy_scale: Annotated[str, typer.Option(help=ENTROPY_SCALE_HELP)] = "mean",
    controlled: Annotated[
        bool,
        typer.Option(
            help="Also train every beta on the same logged rollouts of the SFT Planner, which "
            "isolates the entropy bonus from run-to-run noise."
        ),
    ] = True,
    controlled_betas: Annotated[
        str,
        typer.Option(help="Comma-separated betas of the controlled arms (a dose-response)."),
    ] = "0.1,0.01,0.001,0",
    updates: Annotated[int, typer.Option(min=1)] = 10,
    episodes_per_update: Annotated[int, typer.Option(min=1)] = 100,
    lr: Annotated[
        float, typer.Option(help="Adam learning rate of every arm, controlled ones included.")
    ] = 1e-2,
    normalisation: Annotated[str, typer.Option(help="episode, batch or none.")] = "batch",
    baseline: Annotated[bool, typer.Option(help="Mean turn-reward baseline.")] = True,
    train: Annotated[str, typer.Option(help="head (frozen cached encoder) or top.")] = "head",
    end_on: Annotated[str, typer.Option(help=END_ON_HELP + " Training rollouts.")] = "reward",
    eval_end_on: Annotated[
        str,
        typer.Option(help="Comma-separated ending rules of the evaluations (first = primary)."),
    ] = "reward,accept",
    redial: Annotated[bool, typer.Option(help="Also evaluate on redial-test.")] = False,
    eval_episodes: Annotated[int | None, typer.Option(help="Default: every case once.")] = None,
    concurrency: Annotated[int, typer.Option(min=1)] = 8,
    out: Annotated[Path, typer.Option()] = Path("runs/rl-evidence"),
    resume: Annotated[
        bool, typer.Option(help="Continue an interrupted experiment in --out (same settings).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """SFT vs SFT+RL on held-out cases over seeds, for each beta (fast simulation)."""
    from rl.evidence import run_rl_evidence
    from rl.evidence_config import EvidenceConfig
    from rl.reinforce_config import RLConfig

    check_choice("normalisation", normalisation, ("episode", "batch", "none"))
    check_choice("entropy-scale", entropy_scale, ENTROPY_SCALES)
    check_choice("train", train, ("head", "top"))
    check_choice("end-on", end_on, END_ON_CHOICES)
    eval_rules = tuple(r.strip() for r in eval_end_on.split(",") if r.strip())
    for rule in eval_rules:
        check_choice("eval-end-on", rule, ("reward", "accept"))
    rl_config = RLConfig(
        updates=updates,
        train=train,  # type: ignore[arg-type]
        end_on=None if end_on == "default" else end_on,  # type: ignore[arg-type]
        episodes_per_update=episodes_per_update,
        lr=lr,
        entropy_scale=entropy_scale,  # type: ignore[arg-type]
        normalisation=normalisation,  # type: ignore[arg-type]
        baseline=baseline,
        eval_episodes=eval_episodes,
        concurrency=concurrency,
        progress=not as_json,
    )
    if init is not None:
        rl_config.init = init
    if rl_config.init is None or not (Path(rl_config.init) / "planner.json").is_file():
        raise fail(f"no SFT checkpoint at {rl_config.init}; run `rso train sft` or pass --init")
    config = EvidenceConfig(
        rl=rl_config,
        seeds=_ints(seeds, "seeds"),
        betas=_floats(betas, "betas"),
        eval_sets=("inspired-test", "redial-test") if redial else ("inspired-test",),
        eval_end_on=eval_rules or None,  # type: ignore[arg-type]
        controlled=controlled,
        controlled_betas=_floats(controlled_betas, "controlled-betas"),
        out=out,
        resume=resume,
    )
    check_settings()
    try:
        report = run_rl_evidence(config)
    except (FileExistsError, FileNotFoundError, ValueError) as exc:
        raise fail(str(exc)) from None
    if as_json:
        typer.echo(dumps({k: v for k, v in report.items() if k != "train_curves"}, indent=2))
        return
    typer.echo((out / "evidence.md").read_text(encoding="utf-8"))


@experiment_app.command("ablations")
def ablations(
    sft: Annotated[
        Path | None, typer.Option(help="SFT checkpoint (default models/planner-sft).")
    ] = None,
    rl_checkpoint: Annotated[
        Path | None, typer.Option("--rl", help="SFT+RL checkpoint (e.g. runs/rl/planner).")
    ] = None,
    arms: Annotated[str | None, typer.Option(help="Comma-separated arms (default: all).")] = None,
    cases: Annotated[str, typer.Option()] = "inspired-test",
    episodes: Annotated[int | None, typer.Option(help="Default: every case once.")] = None,
    seeds: Annotated[str, typer.Option(help="Comma-separated seeds.")] = "0,1,2",
    seeker: Annotated[str, typer.Option(help="act (fast) or llm.")] = "act",
    experts: Annotated[str, typer.Option(help="rule (fast) or llm.")] = "rule",
    max_turns: Annotated[int, typer.Option(min=1)] = 10,
    end_on: Annotated[str, typer.Option(help=END_ON_HELP)] = "reward",
    concurrency: Annotated[int, typer.Option(min=1)] = 4,
    base_url: Annotated[str | None, typer.Option(help="OpenAI-compatible /v1 URL.")] = None,
    model: Annotated[str | None, typer.Option(help="Model name for every LLM role.")] = None,
    out: Annotated[Path, typer.Option()] = Path("runs/ablations"),
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Full system, no Planner/Reasoner/Retriever, SFT vs SFT+RL, random and majority planners."""
    from rl.ablations import ALL_ARMS, AblationConfig, run_ablations
    from rso.paths import DEFAULT_PLANNER_DIR

    check_choice("cases", cases, CASE_SETS)
    check_choice("seeker", seeker, ("act", "llm"))
    check_choice("experts", experts, ("rule", "llm"))
    check_choice("end-on", end_on, END_ON_CHOICES)
    chosen = tuple(a.strip() for a in arms.split(",")) if arms else ALL_ARMS
    for arm in chosen:
        check_choice("arms", arm, ALL_ARMS)
    if rl_checkpoint is None and arms is None:
        chosen = tuple(a for a in chosen if a != "sft+rl")
    context: dict[str, Any] = {}
    if base_url is not None:
        context["base_url"] = base_url
    if model is not None:
        context["model"] = model
    config = AblationConfig(
        sft=sft or DEFAULT_PLANNER_DIR,
        rl=rl_checkpoint,
        arms=chosen,  # type: ignore[arg-type]
        cases=cases,
        episodes=episodes,
        seeds=_ints(seeds, "seeds"),
        seeker=seeker,  # type: ignore[arg-type]
        experts=experts,  # type: ignore[arg-type]
        max_turns=max_turns,
        end_on=None if end_on == "default" else end_on,  # type: ignore[arg-type]
        concurrency=concurrency,
        out=out,
        context=context,
    )
    check_settings()
    try:
        report = run_ablations(config)
    except (FileNotFoundError, ValueError) as exc:
        raise fail(str(exc)) from None
    if as_json:
        typer.echo(dumps(report, indent=2))
        return
    typer.echo((out / "ablations.md").read_text(encoding="utf-8"))


def _ints(text: str, option: str) -> tuple[int, ...]:
    return _comma_separated(text, option, int, "integers")


def _floats(text: str, option: str) -> tuple[float, ...]:
    return _comma_separated(text, option, float, "numbers")


def _comma_separated(
    text: str, option: str, parse: Callable[[str], NumberT], kind: str
) -> tuple[NumberT, ...]:
    try:
        values = tuple(parse(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise typer.BadParameter(
            f"--{option} must be comma-separated {kind}, got {text!r}"
        ) from None
    if not values:
        raise typer.BadParameter(f"--{option} is empty")
    return values


def register(app: typer.Typer) -> None:
    """Add ``experiment`` to the app and ``rl`` to the ``train`` group."""
    from cli.commands.train import train_app

    # The train group invites later stages to attach themselves; registering here keeps the RL
    # command beside the experiments that use it.
    if not any(c.name == "rl" for c in train_app.registered_commands):
        train_app.command("rl")(rl)
    app.add_typer(experiment_app, name="experiment")
