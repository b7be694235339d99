"""``rso chat``: talk with the recommender in the terminal, or answer one turn as JSON."""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.commands import fail
from rso.dialogue import clean_text, invalid_utf8_position

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig

    from graph.builder import SessionGraph
    from graph.context import Context

_QUIT = {"quit", "exit", ":q", "bye!"}


def _movie(kb_id: str | None) -> dict[str, str] | None:
    from graph import resources

    if kb_id is None:
        return None
    movie = resources.movies().get(kb_id)
    return {"kb_id": kb_id, "title": movie.display_title if movie else kb_id}


def turn_payload(
    out: dict[str, Any], thread_id: str, planner_mode: str | None = None
) -> dict[str, Any]:
    """Return the JSON-ready summary of one turn's output (`planner_mode`: how it was chosen)."""
    strategy = out.get("strategy")
    probs = out.get("strategy_probs") or {}
    return {
        "thread_id": thread_id,
        "turn": out["turn"],
        "reply": out["reply"],
        "strategy": strategy,
        "planner_mode": planner_mode if strategy else None,
        "strategy_probability": probs.get(strategy) if strategy else None,
        "strategy_logprob": out.get("strategy_logprob"),
        "strategy_probs": probs,
        "preferences": out.get("preferences", ""),
        "chosen_movie": _movie(out.get("chosen_movie")),
        "movie_facts": out.get("movie_facts", ""),
        "recommended": [_movie(kb_id) for kb_id in out.get("recommended", [])],
        "retrieved": [[kb_id, round(score, 4)] for kb_id, score in out.get("retrieved", [])],
        "fallbacks": out.get("fallbacks", []),
    }


def _summary_line(payload: dict[str, Any]) -> str:
    if payload["strategy"] is None:
        strategy = "none (generic prompt)"
    else:
        mode = payload.get("planner_mode")
        how = f"{mode}, " if mode else ""
        strategy = f"{payload['strategy']} ({how}p={payload['strategy_probability']:.2f})"
    recommended = ", ".join(m["title"] for m in payload["recommended"]) or "-"
    line = f"  [strategy: {strategy} | recommended: {recommended}"
    if payload["fallbacks"]:
        line += f" | fallbacks: {len(payload['fallbacks'])}"
    return line + "]"


def chat_context(**overrides: Any) -> Context:
    """Return the Context of a person's chat: as `Context.from_env`, but greedy by default.

    A person meets the Planner's most likely strategy unless a flag or ``RSO_PLANNER_MODE`` asks
    for sampling (rollouts and training keep sampling, the Context default).
    """
    import os

    from graph.context import Context
    from rso.modes import CHAT_PLANNER_MODE

    if overrides.get("planner_mode") is None and "RSO_PLANNER_MODE" not in os.environ:
        overrides["planner_mode"] = CHAT_PLANNER_MODE
    return Context.from_env(**overrides)


def planner_line(context: Context) -> str:
    """Say which Planner chooses the strategy and how (greedy or sampled)."""
    if not context.use_planner:
        return "No Planner (ablation): every reply uses the generic prompt."
    if context.planner_checkpoint in (None, "uniform"):
        return "No Planner checkpoint: strategies are drawn uniformly."
    how = (
        "the most likely strategy each turn"
        if context.planner_mode == "greedy"
        else "a strategy drawn from its distribution each turn"
    )
    return f"Planner {context.planner_checkpoint} ({context.planner_mode}: {how})."


def actor_line(context: Context) -> str:
    """Say whether the Actor runs tuned (which adapter) or on the untuned prompt."""
    adapter = context.actor_adapter_in_use
    if adapter is None:
        return "Actor: the untuned prompt (few-shot examples per strategy)."
    return (
        f"Actor: the tuned LoRA adapter ({adapter}); --actor-adapter none for the untuned prompt."
    )


def _run_turn(session: SessionGraph, thread_id: str, text: str, context: Context) -> dict[str, Any]:
    from langchain_core.messages import HumanMessage

    from graph.builder import SessionBusyError
    from graph.llm_errors import LLMError
    from graph.llm_server import EmbeddedServerError
    from graph.nodes import InvalidTurnError
    from graph.state import InputState

    config: RunnableConfig = {"configurable": {"thread_id": thread_id}}
    try:
        out = session.invoke(InputState(messages=[HumanMessage(text)]), config, context=context)
    except (InvalidTurnError, LLMError, EmbeddedServerError, SessionBusyError) as exc:
        raise fail(str(exc)) from None
    return turn_payload(out, thread_id, context.planner_mode)


def chat_command(
    message: Annotated[
        str | None,
        typer.Option("--message", "-m", help="Answer this one seeker message and exit."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the turn as JSON (with --message).")
    ] = False,
    thread: Annotated[
        str | None,
        typer.Option("--thread", help="Continue this saved session (default: a new one)."),
    ] = None,
    db: Annotated[
        Path | None,
        typer.Option("--db", help="Session database (default: <cache dir>/sessions.sqlite)."),
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option(help="OpenAI-compatible /v1 URL (default: $RSO_BASE_URL, else embedded)."),
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="Model name for every LLM role (default: $RSO_MODEL).")
    ] = None,
    structured_method: Annotated[
        str | None,
        typer.Option(help="json_schema, json_mode or function_calling (default: per backend)."),
    ] = None,
    planner_checkpoint: Annotated[
        Path | None,
        typer.Option(
            help="Planner checkpoint (default: $RSO_PLANNER_CHECKPOINT, else the committed "
            "warm-up Planner, models/planner-sft)."
        ),
    ] = None,
    planner_mode: Annotated[
        str | None,
        typer.Option(
            help="greedy (the most likely strategy) or sample (draw it, as rollouts do); "
            "default: $RSO_PLANNER_MODE, else greedy."
        ),
    ] = None,
    no_planner: Annotated[
        bool, typer.Option("--no-planner", help="Ablation: generic prompt, no strategy.")
    ] = False,
    no_reasoner: Annotated[
        bool, typer.Option("--no-reasoner", help="Ablation: skip the Preference Reasoner.")
    ] = False,
    no_retriever: Annotated[
        bool, typer.Option("--no-retriever", help="Ablation: skip the Fact Retriever.")
    ] = False,
    experts: Annotated[
        str | None, typer.Option(help="Expert implementation: llm or rule (default: llm).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the Planner's draws.")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress.")] = False,
) -> None:
    """Chat with the recommender; each turn shows the strategy chosen and the movie recommended."""
    from graph.builder import open_session_graph
    from graph.context import ContextError

    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    overrides: dict[str, Any] = {
        "base_url": base_url,
        "model": model,
        "structured_method": structured_method,
        "planner_checkpoint": str(planner_checkpoint) if planner_checkpoint else None,
        "planner_mode": planner_mode,
        "experts": experts,
        "seed": seed,
    }
    overrides = {k: v for k, v in overrides.items() if v is not None}
    for flag, field in (
        (no_planner, "use_planner"),
        (no_reasoner, "use_reasoner"),
        (no_retriever, "use_retriever"),
    ):
        if flag:
            overrides[field] = False
    try:
        context = chat_context(**overrides)
    except ContextError as exc:
        raise fail(str(exc), 2) from None
    if planner_checkpoint is not None and not planner_checkpoint.exists():
        raise fail(f"planner checkpoint not found: {planner_checkpoint}", 2)
    if message is not None:
        message = _checked_text(message, "--message")
    if message is not None and not message.strip():
        raise fail("--message is empty: give the seeker's message", 2)
    if as_json and message is None:
        raise fail("--json needs --message (one turn)", 2)
    thread_id = thread or uuid.uuid4().hex[:12]
    with open_session_graph(db) as session:
        if message is not None:
            payload = _run_turn(session, thread_id, message, context)
            if as_json:
                typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
            else:
                typer.echo(f"Recommender: {payload['reply']}\n{_summary_line(payload)}")
            return
        _interactive(session, thread_id, context, continuing=thread is not None)


def _checked_text(text: str, option: str) -> str:
    """Refuse text that is not valid UTF-8 (exit 2); drop control characters."""
    position = invalid_utf8_position(text)
    if position is not None:
        raise fail(
            f"{option} is not valid UTF-8 text (an undecodable byte at character {position}); "
            "pass it in UTF-8",
            2,
        )
    return clean_text(text)[0]


def _interactive(session: SessionGraph, thread_id: str, context: Context, continuing: bool) -> None:
    state = session.get_state({"configurable": {"thread_id": thread_id}})
    history = list(state.values.get("messages", [])) if state.values else []
    if continuing and history:
        typer.echo(f"Continuing session {thread_id} ({len(history)} messages so far).")
    else:
        typer.echo(f"New session {thread_id} (continue it later with --thread {thread_id}).")
    typer.echo(planner_line(context))
    typer.echo(actor_line(context))
    typer.echo("Type your message; 'quit' or Ctrl-D leaves.\n")
    while True:
        try:
            text = input("You: ")
        except (EOFError, KeyboardInterrupt):
            typer.echo("")
            break
        except UnicodeDecodeError:
            typer.echo("  (that line is not valid UTF-8 text; type it again)")
            continue
        position = invalid_utf8_position(text)
        if position is not None:
            typer.echo(f"  (that line is not valid UTF-8 at character {position}; type it again)")
            continue
        text, _ = clean_text(text)
        if text.strip().lower() in _QUIT:
            break
        if not text.strip():
            typer.echo("  (type a message, or 'quit')")
            continue
        payload = _run_turn(session, thread_id, text, context)
        typer.echo(f"Recommender: {payload['reply']}\n{_summary_line(payload)}\n")
    typer.echo(f"Session saved as {thread_id}.")


def register(app: typer.Typer) -> None:
    """Add ``rso chat`` to the CLI."""
    app.command("chat")(chat_command)
