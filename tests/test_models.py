"""Offline tests of the LLM access layer: error policy, tolerant parsing, wire format, the fake."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, ValidationError

import graph.llm_server
import graph.models
from graph.llm_errors import LLMContextOverflowError, LLMRequestError, LLMUnavailableError
from graph.llm_replies import extract_json_object
from graph.models import (
    LLMSettings,
    load_chat_model,
    parse_structured_method,
    sample_texts,
    structured_call,
    text_call,
)
from tests.fakes import ScriptedChatModel, ScriptExhaustedError, patch_chat_model


class Preference(BaseModel):
    reasoning: str
    genre: str


MESSAGES = [SystemMessage("Extract the preference as JSON."), HumanMessage("I love horror.")]
VALID = '{"reasoning": "says so", "genre": "horror"}'


# --- structured_call ------------------------------------------------------------------------


def test_garbage_then_valid_json_is_retried_with_a_correction() -> None:
    fake = ScriptedChatModel(script=["I think horror, maybe?", VALID])
    result = structured_call(fake, Preference, MESSAGES, "json_mode")
    assert result.value == Preference(reasoning="says so", genre="horror")
    assert result.attempts == 2 and result.error is None and result.ok
    # The retry shows the model its bad answer and the schema, so it is not a replay.
    retry_prompt = fake.prompt_text(1)
    assert "I think horror, maybe?" in retry_prompt
    assert '"genre"' in retry_prompt and "could not be used" in retry_prompt
    assert fake.requests[0]["response_format"] == {"type": "json_object"}


def test_malformed_json_then_valid_json() -> None:
    fake = ScriptedChatModel(script=['{"reasoning": "cut off", "genre": ', VALID])
    result = structured_call(fake, Preference, MESSAGES, "json_mode")
    assert result.value is not None and result.value.genre == "horror"
    assert result.attempts == 2


def test_always_garbage_returns_fallback_without_raising() -> None:
    fake = ScriptedChatModel(script=["nope", "still nope", '{"genre": "horror"}'])
    result = structured_call(fake, Preference, MESSAGES, "json_mode", retries=2)
    assert result.value is None and not result.ok
    assert result.attempts == 3 and fake.remaining == 0
    # The last reply was JSON without "reasoning": the error says which field is missing.
    assert result.error is not None and "reasoning" in result.error
    assert result.raw == '{"genre": "horror"}'


def test_zero_retries_makes_one_request() -> None:
    fake = ScriptedChatModel(script=["garbage"])
    result = structured_call(fake, Preference, MESSAGES, "json_mode", retries=0)
    assert result.value is None and result.attempts == 1
    assert result.error and "JSON" in result.error


@pytest.mark.parametrize(
    "reply",
    [
        f"Sure! Here it is:\n```json\n{VALID}\n```\nHope that helps.",
        f"```\n{VALID}\n```",
        f"The answer is {VALID} as requested.",
    ],
)
def test_json_in_code_fences_or_chatter_is_parsed_first_time(reply: str) -> None:
    fake = ScriptedChatModel(script=[reply])
    result = structured_call(fake, Preference, MESSAGES, "json_mode")
    assert result.value == Preference(reasoning="says so", genre="horror")
    assert result.attempts == 1


def test_function_calling_sends_a_forced_tool_and_reads_its_arguments() -> None:
    fake = ScriptedChatModel(script=[{"reasoning": "r", "genre": "comedy"}])
    result = structured_call(fake, Preference, MESSAGES, "function_calling")
    assert result.value == Preference(reasoning="r", genre="comedy")
    request = fake.requests[0]
    assert request["tool_choice"] == {"type": "function", "function": {"name": "Preference"}}
    assert request["tools"][0]["function"]["name"] == "Preference"
    assert json.loads(result.raw or "") == {"reasoning": "r", "genre": "comedy"}


def test_function_calling_with_broken_arguments_is_retried() -> None:
    fake = ScriptedChatModel(
        script=['{"reasoning": "r", "genre"', '{"reasoning": "r", "genre": "x"}']
    )
    result = structured_call(fake, Preference, MESSAGES, "function_calling")
    assert result.value == Preference(reasoning="r", genre="x")
    assert result.attempts == 2


def test_json_schema_parse_errors_raised_by_the_client_count_as_malformed() -> None:
    # The OpenAI SDK validates json_schema replies itself and raises before LangChain parses.
    try:
        Preference.model_validate_json("{}")
    except ValidationError as exc:
        sdk_error = exc
    fake = ScriptedChatModel(script=[sdk_error, VALID])
    result = structured_call(fake, Preference, MESSAGES, "json_schema")
    assert result.value is not None and result.attempts == 2
    assert fake.requests[0]["response_format"]["type"] == "json_schema"


def test_unknown_method_is_rejected_by_name() -> None:
    with pytest.raises(ValueError, match="json_mode"):
        structured_call(ScriptedChatModel(), Preference, MESSAGES, "xml")  # type: ignore[arg-type]


# --- text_call and sample_texts -------------------------------------------------------------


def test_text_call_retries_an_empty_reply() -> None:
    fake = ScriptedChatModel(script=["   ", "Hi there!"])
    assert text_call(fake, MESSAGES) == "Hi there!"
    assert len(fake.prompts) == 2


def test_text_call_returns_empty_string_after_retries() -> None:
    fake = ScriptedChatModel(script=["", "", ""])
    assert text_call(fake, MESSAGES, retries=2) == ""
    assert fake.remaining == 0


def test_sample_texts_tops_up_with_distinct_seeds_when_n_is_ignored() -> None:
    fake = ScriptedChatModel(script=["a", "b", "c"])
    assert sample_texts(fake, MESSAGES, 3, seed=10) == ["a", "b", "c"]
    assert fake.requests[0]["n"] == 3 and fake.requests[0]["seed"] == 10
    assert [r["seed"] for r in fake.requests[1:]] == [11, 12]


# --- settings --------------------------------------------------------------------------------


def test_settings_validate_and_strip_provider_prefix() -> None:
    settings = LLMSettings(model="openai:Qwen/Qwen2.5-7B-Instruct", structured_method="json-schema")  # type: ignore[arg-type]
    assert settings.model_name == "Qwen/Qwen2.5-7B-Instruct"
    assert settings.structured_method == "json_schema"
    with pytest.raises(ValueError, match="function_calling"):
        LLMSettings(structured_method="xml")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_tokens"):
        LLMSettings(max_tokens=0)
    with pytest.raises(ValueError, match="base_url"):
        LLMSettings(base_url="localhost:8000/v1")
    assert parse_structured_method(" JSON_MODE ") == "json_mode"


def test_extract_json_object_handles_braces_inside_strings() -> None:
    assert extract_json_object('x {"a": "b}{", "c": {"d": 1}} y') == {"a": "b}{", "c": {"d": 1}}
    assert extract_json_object('[1, 2] then {"k": 2}') == {"k": 2}
    with pytest.raises(ValueError, match="no JSON object"):
        extract_json_object("no json here [1, 2]")


def test_load_chat_model_without_base_url_uses_the_embedded_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        graph.llm_server, "ensure_embedded_server", lambda lora_path: "http://127.0.0.1:1/v1"
    )
    model = load_chat_model(LLMSettings(max_tokens=17))
    assert getattr(model, "openai_api_base", None) == "http://127.0.0.1:1/v1"
    assert getattr(model, "extra_body", None) == {"max_tokens": 17}


def test_a_lora_adapter_gets_its_own_embedded_server(monkeypatch: pytest.MonkeyPatch) -> None:
    servers = {None: "http://127.0.0.1:1/v1", "a.gguf": "http://127.0.0.1:2/v1"}
    monkeypatch.setattr(
        graph.llm_server, "ensure_embedded_server", lambda lora_path: servers[lora_path]
    )
    model = load_chat_model(LLMSettings(lora_path="a.gguf"))
    assert getattr(model, "openai_api_base", None) == "http://127.0.0.1:2/v1"


def test_a_lora_adapter_needs_the_embedded_server() -> None:
    with pytest.raises(ValueError, match="lora_path needs the embedded server"):
        LLMSettings(lora_path="a.gguf", base_url="http://127.0.0.1:1/v1")


# --- the wire, against a local stand-in server -----------------------------------------------


class _Recorder(BaseHTTPRequestHandler):
    bodies: list[dict[str, Any]] = []
    url = ""
    status = 200
    reply: dict[str, Any] = {}

    def do_POST(self) -> None:  # noqa: N802 (http.server naming)
        length = int(self.headers["Content-Length"])
        type(self).bodies.append(json.loads(self.rfile.read(length)))
        payload = json.dumps(type(self).reply).encode()
        self.send_response(type(self).status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass


def _completion(content: str) -> dict[str, Any]:
    return {
        "id": "c1",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


@pytest.fixture()
def stand_in() -> Iterator[type[_Recorder]]:
    # A fresh subclass per test, so that class-level recordings do not leak between tests.
    handler: type[_Recorder] = type(
        "Handler", (_Recorder,), {"bodies": [], "status": 200, "reply": _completion(VALID)}
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    handler.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_request_body_carries_max_tokens_for_llama_cpp(stand_in: type[_Recorder]) -> None:
    settings = LLMSettings(
        model="smollm2-135m",
        base_url=stand_in.url,
        max_tokens=42,
        seed=7,
        temperature=0.3,
        max_retries=0,
    )
    result = structured_call(load_chat_model(settings), Preference, MESSAGES, "json_mode")
    assert result.value == Preference(reasoning="says so", genre="horror")
    body = stand_in.bodies[0]
    assert body["max_tokens"] == 42  # what llama.cpp reads
    assert body["max_completion_tokens"] == 42  # what the OpenAI API reads
    assert body["seed"] == 7 and body["temperature"] == 0.3 and body["model"] == "smollm2-135m"
    assert body["response_format"] == {"type": "json_object"}


@pytest.mark.parametrize(
    ("status", "message", "error_type"),
    [
        (400, "This model's maximum context length is 4096 tokens.", LLMContextOverflowError),
        (422, "response_format json_schema not supported", LLMRequestError),
        (500, "1 validation error: response_format.type", LLMRequestError),
        (503, "overloaded", LLMUnavailableError),
    ],
)
def test_http_errors_map_to_clear_exceptions(
    stand_in: type[_Recorder], status: int, message: str, error_type: type[Exception]
) -> None:
    stand_in.status = status
    stand_in.reply = {"error": {"message": message, "code": status}}
    settings = LLMSettings(base_url=stand_in.url, max_retries=0)
    with pytest.raises(error_type) as info:
        text_call(load_chat_model(settings), MESSAGES)
    assert stand_in.url in str(info.value)
    assert len(stand_in.bodies) == 1  # max_retries=0: no retry
    if status == 422:
        assert "RSO_STRUCTURED_METHOD" in str(info.value)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_server_raises_unavailable_naming_the_url_quickly() -> None:
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    model = load_chat_model(LLMSettings(base_url=url, timeout_s=2, max_retries=1))
    start = time.monotonic()
    with pytest.raises(LLMUnavailableError) as info:
        structured_call(model, Preference, MESSAGES, "json_mode")
    assert time.monotonic() - start < 10
    assert url in str(info.value) and "RSO_BASE_URL" in str(info.value)
    with pytest.raises(LLMUnavailableError, match="RSO_BASE_URL"):
        text_call(model, MESSAGES)


# --- the fake itself ---------------------------------------------------------------------------


def test_fake_raises_scripted_exceptions_and_reports_exhaustion() -> None:
    fake = ScriptedChatModel(script=[RuntimeError("boom"), lambda msgs: f"echo {len(msgs)}"])
    with pytest.raises(RuntimeError, match="boom"):
        fake.invoke(MESSAGES)
    assert fake.invoke(MESSAGES).text == "echo 2"
    with pytest.raises(ScriptExhaustedError, match="only 2 answers"):
        fake.invoke(MESSAGES)
    assert ScriptedChatModel(default="fine").invoke("hi").text == "fine"


def test_fake_structured_output_for_all_methods() -> None:
    for method in ("json_mode", "json_schema", "function_calling"):
        fake = ScriptedChatModel(script=[{"reasoning": "r", "genre": method}])
        value = fake.with_structured_output(Preference, method=method).invoke(MESSAGES)
        assert value == Preference(reasoning="r", genre=method)
    raw = ScriptedChatModel(script=["garbage"]).with_structured_output(
        Preference, method="json_mode", include_raw=True
    )
    out = raw.invoke(MESSAGES)
    assert out["parsed"] is None and out["parsing_error"] is not None
    assert out["raw"].text == "garbage"


def test_patch_chat_model_reaches_module_level_copies(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    copy = types.ModuleType("agents._fake_consumer")
    copy.load_chat_model = graph.models.load_chat_model  # type: ignore[attr-defined]
    monkeypatch.setitem(__import__("sys").modules, "agents._fake_consumer", copy)
    fake = ScriptedChatModel(script=["ok"])
    patch_chat_model(monkeypatch, fake)
    assert graph.models.load_chat_model(LLMSettings()) is fake
    assert copy.load_chat_model(LLMSettings()) is fake
