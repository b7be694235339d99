"""`langgraph dev` serves the recommender graph named in langgraph.json; a turn over its HTTP API.

The server runs the real graph on the real embedded SmolLM2 model (started here, shared through
RSO_BASE_URL so that this test owns its lifetime), with the real FAISS index and title matcher.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from graph.llm_server import EmbeddedServer
from tests.servers import langgraph_dev

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(420)]


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from graph import resources

    resources.movie_index()  # build (or validate) the cached index before the server needs it
    logs = tmp_path_factory.mktemp("langgraph-dev")
    with (
        EmbeddedServer(log_path=logs / "llama.log") as llm,
        langgraph_dev({"RSO_BASE_URL": llm.base_url}, logs / "server.log") as url,
    ):
        yield url


def test_a_turn_through_the_http_api(server_url: str) -> None:
    from langgraph_sdk import get_sync_client

    client = get_sync_client(url=server_url)
    assistants = client.assistants.search(graph_id="recommender")
    assert assistants, "the recommender graph is not served"
    drawn = client.assistants.get_graph(assistants[0]["assistant_id"])
    node_ids = {node["id"] for node in drawn["nodes"]}
    assert {"plan_strategy", "actor_generic", "actor_opinion_inquiry"} <= node_ids

    thread = client.threads.create()
    first = client.runs.wait(
        thread["thread_id"],
        "recommender",
        input={"messages": [{"role": "user", "content": "Hello."}]},
    )
    assert isinstance(first, dict) and first["reply"].strip(), first
    assert first["turn"] == 0 and len(first["strategy_probs"]) == 14
    second = client.runs.wait(
        thread["thread_id"],
        "recommender",
        input={"messages": [{"role": "user", "content": "I love scary horror movies."}]},
        context={"planner_mode": "greedy"},
    )
    assert second["turn"] == 1 and second["reply"].strip()
    assert len(second["retrieved"]) == 50
    assert [m["type"] for m in second["messages"]] == ["human", "ai", "human", "ai"]


GRAPHS = ("recommender", "rollout")


def _run_input(graph_id: str) -> tuple[dict[str, object], dict[str, object]]:
    """A short, LLM-free run of each graph: its input and its context."""
    if graph_id == "recommender":
        message = {"role": "user", "content": "I love scary horror movies."}
        return {"messages": [message]}, {"experts": "rule", "use_retriever": False}
    from rso.data.eval_cases import load_eval_cases

    case = next(c for c in load_eval_cases("inspired-test") if c.target_genres)
    return {"case_id": case.case_id}, {"seeker": "act", "max_turns": 1, "rewarder_samples": 1}


@pytest.mark.parametrize("graph_id", GRAPHS)
def test_every_studio_endpoint_answers_for_both_graphs(server_url: str, graph_id: str) -> None:
    from langgraph_sdk import get_sync_client

    client = get_sync_client(url=server_url)  # every call raises on a non-2xx answer
    found = client.assistants.search(graph_id=graph_id)
    assert found, f"{graph_id} is not served"
    assistant = found[0]["assistant_id"]
    assert client.assistants.get(assistant)["graph_id"] == graph_id
    assert client.assistants.get_graph(assistant)["nodes"]
    assert client.assistants.get_graph(assistant, xray=True)["nodes"]
    schemas = client.assistants.get_schemas(assistant)
    for key in ("input_schema", "output_schema", "state_schema", "context_schema"):
        assert schemas[key], key
    assert "properties" in schemas["context_schema"]
    assert isinstance(client.assistants.get_subgraphs(assistant), dict)
    assert isinstance(client.assistants.get_subgraphs(assistant, recurse=True), dict)

    thread = client.threads.create()
    thread_id = thread["thread_id"]
    assert client.threads.get(thread_id)["thread_id"] == thread_id
    run_input, context = _run_input(graph_id)
    chunks = list(
        client.runs.stream(
            thread_id, assistant, input=run_input, context=context, stream_mode="updates"
        )
    )
    assert not [c for c in chunks if c.event == "error"], chunks
    assert any(c.event == "updates" for c in chunks)
    runs = client.runs.list(thread_id)
    assert runs and client.runs.get(thread_id, runs[0]["run_id"])["status"] == "success"
    assert client.threads.get_state(thread_id)["values"]
    assert client.threads.get_history(thread_id, limit=3)
    assert client.threads.search(limit=5)


@pytest.mark.parametrize("graph_id", GRAPHS)
def test_an_unknown_context_key_is_a_422_naming_it(server_url: str, graph_id: str) -> None:
    from langgraph_sdk import get_sync_client

    client = get_sync_client(url=server_url)
    thread = client.threads.create()
    run_input, context = _run_input(graph_id)
    with pytest.raises(httpx.HTTPStatusError) as caught:
        client.runs.wait(
            thread["thread_id"], graph_id, input=run_input, context=context | {"top_kk": 3}
        )
    assert caught.value.response.status_code == 422
    assert "unknown context key(s)" in caught.value.response.text
    assert "top_kk" in caught.value.response.text
    assert client.assistants.search(graph_id=graph_id)  # the connection is still good


def test_two_runs_on_one_thread_lose_no_turn(server_url: str) -> None:
    from langgraph_sdk import get_sync_client

    client = get_sync_client(url=server_url)
    thread_id = client.threads.create()["thread_id"]
    run_input, context = _run_input("recommender")
    # The server's default multitask strategy is "reject": a second run while the first is in
    # flight is refused with a 409, never interleaved.
    first = client.runs.create(thread_id, "recommender", input=run_input, context=context)
    try:
        second = client.runs.create(thread_id, "recommender", input=run_input, context=context)
    except httpx.HTTPStatusError as exc:
        assert exc.response.status_code == 409
        second = None
    client.runs.join(thread_id, first["run_id"])
    if second is not None:  # the first had already finished: both are turns
        client.runs.join(thread_id, second["run_id"])
    turns = 1 if second is None else 2
    messages = client.threads.get_state(thread_id)["values"]["messages"]
    assert [m["type"] for m in messages] == ["human", "ai"] * turns
    # "enqueue" queues the second run behind the first: both turns land.
    enqueued = client.threads.create()["thread_id"]
    runs = [
        client.runs.create(
            enqueued, "recommender", input=run_input, context=context, multitask_strategy="enqueue"
        )
        for _ in range(2)
    ]
    for run in runs:
        client.runs.join(enqueued, run["run_id"])
    messages = client.threads.get_state(enqueued)["values"]["messages"]
    assert [m["type"] for m in messages] == ["human", "ai"] * 2
