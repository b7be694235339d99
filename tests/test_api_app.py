"""The API server's request check: a run context the graph cannot take is a 422 naming the key."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from graph.api_app import ContextCheck, context_problem


async def _echo(request: Request) -> JSONResponse:
    return JSONResponse(await request.json())


def _checked_client() -> TestClient:
    routes = [
        Route("/threads/{thread_id}/runs/wait", _echo, methods=["POST"]),
        Route("/runs/batch", _echo, methods=["POST"]),
        Route("/assistants/search", _echo, methods=["POST"]),
    ]
    app = Starlette(routes=routes)
    app.add_middleware(ContextCheck)
    return TestClient(app)


def test_an_unknown_key_is_named_for_its_graph() -> None:
    problem = context_problem("recommender", {"top_kk": 3})
    assert problem is not None and problem.startswith(
        "unknown context key(s) for graph 'recommender': top_kk; known keys:"
    )
    assert "seeker" in (context_problem("recommender", {"seeker": "act"}) or "")
    assert context_problem("rollout", {"seeker": "act", "max_turns": 1}) is None
    assert context_problem("recommender", {"top_k": 5, "experts": "rule"}) is None
    assert context_problem("recommender", None) is None


def test_a_bad_value_is_named_too() -> None:
    assert "top_k must be >= 1" in (context_problem("recommender", {"top_k": 0}) or "")
    assert "must be a JSON object" in (context_problem("recommender", ["top_k"]) or "")


def test_the_middleware_answers_422_and_passes_good_requests_through() -> None:
    client = _checked_client()
    bad = client.post(
        "/threads/t/runs/wait", json={"assistant_id": "recommender", "context": {"nope": 1}}
    )
    assert bad.status_code == 422 and "nope" in bad.json()["detail"]
    good = {"assistant_id": "recommender", "context": {"top_k": 5}, "input": {"messages": []}}
    assert client.post("/threads/t/runs/wait", json=good).json() == good
    batch = [{"assistant_id": "rollout", "context": {"seeker": "act", "oops": 2}}]
    assert client.post("/runs/batch", json=batch).status_code == 422
    search = {"graph_id": "recommender", "context": {"whatever": 1}}  # not a run: untouched
    assert client.post("/assistants/search", json=search).status_code == 200
