"""Servers for tests on loopback: `langgraph dev` (whole process group stopped), a stub model."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from graph.llm_server import free_port

ROOT = Path(__file__).resolve().parents[1]


def stop_process_group(process: subprocess.Popen[bytes]) -> None:
    """Stop a server's whole process group (uvicorn may have a reloader child)."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@contextmanager
def langgraph_dev(env: Mapping[str, str], log_path: Path, timeout_s: float = 120) -> Iterator[str]:
    """Run ``langgraph dev`` from the repository root on 127.0.0.1; yield its base URL."""
    port = free_port()
    environ = (
        dict(os.environ)
        | {
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "LANGSMITH_TRACING": "false",
            "LANGGRAPH_CLI_NO_ANALYTICS": "1",
        }
        | dict(env)
    )
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
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=environ,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + timeout_s
            while True:
                if process.poll() is not None:
                    pytest.fail("langgraph dev exited:\n" + log_path.read_text()[-3000:])
                try:
                    if httpx.get(f"{url}/ok", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"langgraph dev did not answer within {timeout_s:.0f} s:\n"
                        + log_path.read_text()[-3000:]
                    )
                time.sleep(1)
            yield url
        finally:
            stop_process_group(process)


class _ChatStub(BaseHTTPRequestHandler):
    """A tiny OpenAI-compatible server: ``GET /v1/models`` and a fixed chat completion."""

    content = "(E) That sounds great, I will watch it."
    requests = 0

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        self._send({"object": "list", "data": [{"id": "stub", "object": "model"}]})

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests += 1
        choices = [
            {
                "index": i,
                "message": {"role": "assistant", "content": type(self).content},
                "finish_reason": "stop",
            }
            for i in range(int(body.get("n") or 1))
        ]
        usage = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
        self._send(
            {"id": "c", "object": "chat.completion", "created": 0, "model": "stub"}
            | {"choices": choices, "usage": usage}
        )

    def _send(self, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass


@contextmanager
def chat_stub() -> Iterator[tuple[str, type[_ChatStub]]]:
    """Serve a fake OpenAI-compatible model on loopback; yield its /v1 URL and request counter."""
    handler: type[_ChatStub] = type("Stub", (_ChatStub,), {"requests": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def closed_url() -> str:
    """A /v1 URL on a loopback port where nothing listens (a server that is down)."""
    return f"http://127.0.0.1:{free_port()}/v1"
