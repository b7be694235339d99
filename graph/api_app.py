"""Request checks for the LangGraph API server (middleware of ``web.app``, its ``http.app``).

The server would hand a run's ``context`` to the graph's context dataclass as keyword arguments:
an unknown key or a bad value then fails inside the run as a raw ``TypeError`` or, once the
server filters keys by the JSON schema, is dropped without a word. This middleware answers such a
request with a 422 that names the key and the graph, before a run is created.
"""

from __future__ import annotations

import json
import re
from dataclasses import fields, is_dataclass
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from graph.context import Context, ContextError

#: The endpoints whose JSON body may carry a run context (runs, their stream/wait/batch forms,
#: crons, and assistants, which store a default context).
_RUN_PATHS = re.compile(r"(/runs(/stream|/wait|/batch|/crons)?|/assistants)/?$")


def _context_classes() -> dict[str, type[Any]]:
    # Imported when the first request comes: the server has loaded the graphs by then.
    from graph.episode import rollout_graph
    from graph.graph import graph

    return {g.name: g.context_schema for g in (graph, rollout_graph) if g.context_schema}


def context_problem(assistant_id: str | None, context: Any) -> str | None:
    """Return why `context` cannot run on the assistant's graph (None if it can, or if unknown)."""
    if context is None:
        return None
    if not isinstance(context, dict):
        return f"context must be a JSON object, got {type(context).__name__}"
    classes = _context_classes()
    name = assistant_id or ""
    schema = classes.get(name)
    # An assistant id that is no graph name (a UUID) is checked against every graph's keys.
    graphs = [name] if schema is not None else sorted(classes)
    known = set().union(*(_field_names(classes[name]) for name in graphs))
    unknown = sorted(set(context) - known)
    if unknown:
        where = f"graph {graphs[0]!r}" if len(graphs) == 1 else "any graph"
        return (
            f"unknown context key(s) for {where}: {', '.join(unknown)}; known keys: "
            f"{', '.join(sorted(known))}"
        )
    if schema is Context:
        try:
            Context(**context)
        except (ContextError, TypeError) as exc:
            return f"bad context for graph {name!r}: {exc}"
    return None


def _field_names(cls: type[Any]) -> set[str]:
    return {f.name for f in fields(cls)} if is_dataclass(cls) else set()


def _problems(payload: Any) -> list[str]:
    items = payload if isinstance(payload, list) else [payload]
    found = []
    for item in items:
        if isinstance(item, dict):
            problem = context_problem(
                item.get("assistant_id") or item.get("graph_id"), item.get("context")
            )
            if problem:
                found.append(problem)
    return found


class ContextCheck:
    """ASGI middleware: refuse a run whose context the graph cannot take, with a 422."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check POST bodies of the run endpoints; pass every other request through."""
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not _RUN_PATHS.search(scope["path"])
        ):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        body = b""
        while True:
            message = await receive()
            messages.append(message)
            body += message.get("body", b"")
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
        try:
            problems = _problems(json.loads(body)) if body else []
        except (json.JSONDecodeError, UnicodeDecodeError):
            problems = []  # the server answers malformed JSON itself
        if problems:
            await JSONResponse({"detail": "; ".join(problems)}, status_code=422)(
                scope, receive, send
            )
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)
