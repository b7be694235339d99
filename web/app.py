"""The page's HTTP routes, mounted into the LangGraph API server through ``http.app``.

``langgraph dev`` serves the graphs, the thread API and these routes on one loopback port: the
page at ``/web/``, its static files, and small read-only JSON endpoints over the runs root
(``RSO_WEB_RUNS``, default ``runs/``). The chat view talks to the recommender through the
server's own thread API from the browser; nothing here runs the graph.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from graph.api_app import ContextCheck
from rso import jsonio
from rso.data.jsonl import DataFormatError
from rso.dialogue import OPENING
from rso.env import WEB_RUNS
from rso.runs.directory import RunDirectoryError
from rso.strategies import STRATEGIES
from web.rundirs import RunNameError, RunNotFoundError, RunRoot

STATIC: Final = Path(__file__).resolve().parent / "static"
#: Episodes per page of a run's episode list (the page asks for no more than this).
MAX_PAGE: Final = 200
#: Movies whose titles one request may ask for.
MAX_TITLES: Final = 100


class _JSON(JSONResponse):
    def render(self, content: Any) -> bytes:
        # NaN metrics (nothing to average) become null, as in metrics.json.
        return jsonio.dumps(content).encode("utf-8")


Handler = Callable[[RunRoot, Request], Any]


def _same_origin(request: Request) -> bool:
    """Return False for a request another site's page sent (its Origin names another server)."""
    # The API server allows every origin (CORS, for Studio); the runs should stay this page's.
    origin = request.headers.get("origin")
    return origin is None or origin == f"{request.url.scheme}://{request.url.netloc}"


def _errors(root: RunRoot, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Run a blocking handler in the thread pool; map refusals and misses to 400 and 404."""

    async def endpoint(request: Request) -> Response:
        if not _same_origin(request):
            return _JSON({"error": "cross-origin requests are refused"}, status_code=403)
        try:
            return _JSON(await run_in_threadpool(handler, root, request))
        except RunNameError as exc:
            return _JSON({"error": str(exc)}, status_code=400)
        except (RunNotFoundError, FileNotFoundError) as exc:
            return _JSON({"error": f"not found: {exc}"}, status_code=404)
        except (DataFormatError, RunDirectoryError) as exc:
            return _JSON({"error": str(exc)}, status_code=422)

    return endpoint


def _int(request: Request, key: str, default: int, low: int, high: int) -> int:
    try:
        value = int(request.query_params.get(key, default))
    except ValueError:
        value = default
    return max(low, min(high, value))


def list_runs(root: RunRoot, request: Request) -> dict[str, Any]:
    """Return every run under the root."""
    return {"root": str(root.root), "runs": root.list_runs()}


def run_summary(root: RunRoot, request: Request) -> dict[str, Any]:
    """Return one run's manifest and its episode counts by outcome."""
    name = request.query_params.get("name", "")
    outcomes: dict[str, int] = {}
    for row in root.index(name).rows:
        outcomes[row["outcome"]] = outcomes.get(row["outcome"], 0) + 1
    return {"name": name, "manifest": root.manifest(name), "outcomes": outcomes}


def run_metrics(root: RunRoot, request: Request) -> dict[str, Any]:
    """Return one run's metrics with intervals and strategy shares over progress."""
    return root.metrics(request.query_params.get("name", "")) | {"strategies": list(STRATEGIES)}


def list_episodes(root: RunRoot, request: Request) -> dict[str, Any]:
    """Return one page of a run's episodes (id order), optionally of one outcome only."""
    rows = root.index(request.query_params.get("name", "")).rows
    outcome = request.query_params.get("outcome", "")
    if outcome:
        rows = [row for row in rows if row["outcome"] == outcome]
    offset = _int(request, "offset", 0, 0, max(len(rows), 0))
    limit = _int(request, "limit", 50, 1, MAX_PAGE)
    return {"total": len(rows), "offset": offset, "rows": rows[offset : offset + limit]}


def episode(root: RunRoot, request: Request) -> dict[str, Any]:
    """Return one episode: per turn strategy, distribution, reply, seeker reaction, reward."""
    record = root.episode(request.query_params.get("name", ""), request.query_params.get("id", ""))
    return record.model_dump(mode="json") | {"strategies": list(STRATEGIES), "opening": OPENING}


def movie_titles(root: RunRoot, request: Request) -> dict[str, Any]:
    """Return titles and years of the movies a page shows (kb_id -> {title, year})."""
    from rso.data.movies import movies_by_id

    movies = movies_by_id()
    ids = [i for i in request.query_params.get("ids", "").split(",") if i][:MAX_TITLES]
    return {
        kb_id: {"title": movies[kb_id].title, "year": movies[kb_id].year}
        for kb_id in ids
        if kb_id in movies
    }


def strategies(root: RunRoot, request: Request) -> dict[str, Any]:
    """Return the 14 strategies in the Planner's order."""
    return {"strategies": list(STRATEGIES)}


async def index(request: Request) -> Response:
    """Serve the page itself."""
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


async def to_index(request: Request) -> Response:
    """Redirect ``/web`` to ``/web/``, so that relative links resolve."""
    return RedirectResponse("/web/")


def create_app(runs: Path | str | None = None) -> Starlette:
    """Return the page's app over the runs root `runs` (default ``RSO_WEB_RUNS``, else runs/)."""
    root = RunRoot(runs if runs is not None else (WEB_RUNS.get() or WEB_RUNS.default))
    api: dict[str, Handler] = {
        "strategies": strategies,
        "runs": list_runs,
        "run": run_summary,
        "metrics": run_metrics,
        "episodes": list_episodes,
        "episode": episode,
        "movies": movie_titles,
    }
    return Starlette(
        routes=[
            Route("/web", to_index),
            Route("/web/", index),
            *(Route(f"/web/api/{path}", _errors(root, handler)) for path, handler in api.items()),
            Mount("/web/static", StaticFiles(directory=STATIC), name="static"),
        ],
        # The API server applies this app's middleware to its own routes too: a run whose
        # context the graph cannot take is refused with a 422 before it is created.
        middleware=[Middleware(ContextCheck)],
    )


#: What ``http.app`` in langgraph.json mounts.
app = create_app()
