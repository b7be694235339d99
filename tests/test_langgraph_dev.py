"""`langgraph dev` serves the recommender graph named in langgraph.json; a turn over its HTTP API.

The server runs the real graph on the real embedded SmolLM2 model (started here, shared through
RSO_BASE_URL so that this test owns its lifetime), with the real FAISS index and title matcher.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from graph.llm_server import EmbeddedServer, free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(420)]

ROOT = Path(__file__).resolve().parents[1]


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the server's whole process group (uvicorn may have a reloader child)."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from graph import resources

    resources.movie_index()  # build (or validate) the cached index before the server needs it
    logs = tmp_path_factory.mktemp("langgraph-dev")
    with EmbeddedServer(log_path=logs / "llama.log") as llm:
        port = free_port()
        env = os.environ | {
            "RSO_BASE_URL": llm.base_url,
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "LANGSMITH_TRACING": "false",
            "LANGGRAPH_CLI_NO_ANALYTICS": "1",
        }
        command = [
            str(Path(sys.executable).with_name("langgraph")),
            "dev",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-browser",
            "--no-reload",
        ]
        with open(logs / "server.log", "wb") as log:
            process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                url = f"http://127.0.0.1:{port}"
                deadline = time.monotonic() + 120
                while True:
                    if process.poll() is not None:
                        pytest.fail(
                            "langgraph dev exited:\n" + (logs / "server.log").read_text()[-3000:]
                        )
                    try:
                        if httpx.get(f"{url}/ok", timeout=2).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    if time.monotonic() > deadline:
                        pytest.fail(
                            "langgraph dev did not answer within 120 s:\n"
                            + (logs / "server.log").read_text()[-3000:]
                        )
                    time.sleep(1)
                yield url
            finally:
                _stop(process)


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
