"""Start `langgraph dev` on a free loopback port for a test, and stop its whole process group."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

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
