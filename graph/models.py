"""Chat-model access: one client factory and the error policy every LLM call goes through.

Every LLM role (Preference Reasoner, Fact Retriever, Actor, simulated seeker, Rewarder, judges)
reaches its model through the OpenAI-compatible API with `ChatOpenAI`, built only by
`load_chat_model` (tests patch that one function). Calls go through `structured_call` (a Pydantic
reply), `text_call` (a plain reply) or `sample_texts` (several sampled replies), which share one
error policy:

* Transient transport failures (connection refused or reset, timeouts, HTTP 408/409/429 and 5xx)
  are retried by the OpenAI client itself, `LLMSettings.max_retries` times with exponential
  backoff. When they persist the call raises `LLMUnavailableError`, naming the URL and the fix:
  a run cannot do anything useful without its model, and a silent fallback would hide an outage.
* A request the server rejects (other HTTP 4xx) is not retried: the same request would fail the
  same way. It raises `LLMRequestError` (`LLMContextOverflowError` when the prompt is too long).
* Malformed output (not JSON, JSON that does not fit the schema, a truncated reply, an empty
  text) is retried `retries` times, each time showing the model its previous answer and what was
  wrong with it, and then returned as a fallback (`StructuredResult.value is None` with the
  error, or an empty string) that the caller records in state. Malformed output never raises.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Any, Generic, Literal, TypeVar, get_args

import openai
from langchain_core.exceptions import OutputParserException
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from pydantic import BaseModel, ValidationError

from graph.llm_errors import LLMUnavailableError, short_error, translate_transport_error
from graph.llm_replies import message_text, payload_from_message, raw_from_exception, raw_text
from prompts.corrections import STRUCTURED_CORRECTION, TEXT_CORRECTION

#: How a schema-shaped reply is requested from the server. "json_schema": the server constrains
#: decoding to the schema (vLLM, OpenAI; llama-cpp-python rejects it). "json_mode": the server
#: only guarantees some JSON object (`response_format={"type": "json_object"}`; works on
#: llama-cpp-python, vLLM and OpenAI; the prompt must describe the keys). "function_calling": the
#: schema is sent as a forced tool call (llama-cpp-python turns a named `tool_choice` into a
#: schema grammar, so it is the most reliable method there; vLLM needs tool-call flags).
StructuredMethod = Literal["json_schema", "json_mode", "function_calling"]
STRUCTURED_METHODS: tuple[StructuredMethod, ...] = get_args(StructuredMethod)

#: The model name the embedded SmolLM2 server answers to (it answers to any name, in fact).
EMBEDDED_MODEL_NAME = "smollm2-135m"


SchemaT = TypeVar("SchemaT", bound=BaseModel)


def parse_structured_method(value: str) -> StructuredMethod:
    """Return `value` as a `StructuredMethod`, or raise a ValueError listing the valid names."""
    normalized = value.strip().lower().replace("-", "_")
    for method in STRUCTURED_METHODS:
        if method == normalized:
            return method
    raise ValueError(
        f"unknown structured output method {value!r}; "
        f"expected one of {', '.join(STRUCTURED_METHODS)}"
    )


@dataclass(frozen=True)
class LLMSettings:
    """How to reach one chat model and how to sample from it."""

    #: Model name sent to the server: "smollm2-135m" for the embedded server (which answers to
    #: any name), or the served name, e.g. "Qwen/Qwen2.5-7B-Instruct" for vLLM. An optional
    #: "openai:" provider prefix is accepted and stripped; every backend speaks the OpenAI API.
    model: str = EMBEDDED_MODEL_NAME
    #: OpenAI-compatible base URL ending in /v1, e.g. "http://127.0.0.1:8000/v1". None starts (or
    #: reuses) the embedded llama.cpp server with SmolLM2-135M-Instruct.
    base_url: str | None = None
    #: llama.cpp LoRA adapter GGUF applied by an embedded server of its own (the tuned Actor);
    #: only with base_url None, since a served model's adapters are the server's business.
    lora_path: str | None = None
    #: Bearer token; local servers accept anything, "EMPTY" is the vLLM convention.
    api_key: str = "EMPTY"
    #: Sampling temperature; 0 is greedy (deterministic roles), the Rewarder samples at 1.1.
    temperature: float = 0.0
    #: Upper bound on generated tokens per reply.
    max_tokens: int = 256
    #: How `structured_call` asks for schema-shaped output; see `StructuredMethod`.
    structured_method: StructuredMethod = "json_mode"
    #: Seconds to wait for one HTTP request before it counts as a (retried) timeout.
    timeout_s: float = 120.0
    #: Transport-level retries of the OpenAI client (connection errors, timeouts, 429, 5xx).
    max_retries: int = 2
    #: Sampling seed sent with every request (None: the server's own randomness).
    seed: int | None = None
    #: Extra fields merged into every request body, e.g. {"top_k": 20} or vLLM's
    #: {"chat_template_kwargs": {...}}; max_tokens is always added (see `load_chat_model`).
    extra_body: dict[str, Any] = field(default_factory=dict, hash=False, compare=True)

    def __post_init__(self) -> None:
        """Reject settings no server would accept, naming the field."""
        if not self.model.strip():
            raise ValueError("LLMSettings.model must not be empty")
        if self.base_url is not None and not self.base_url.startswith(("http://", "https://")):
            raise ValueError(
                f"LLMSettings.base_url must start with http:// or https://, got {self.base_url!r}"
            )
        if self.lora_path is not None and self.base_url is not None:
            raise ValueError("LLMSettings.lora_path needs the embedded server (base_url None)")
        if self.temperature < 0:
            raise ValueError(f"LLMSettings.temperature must be >= 0, got {self.temperature}")
        if self.max_tokens < 1:
            raise ValueError(f"LLMSettings.max_tokens must be >= 1, got {self.max_tokens}")
        if self.timeout_s <= 0:
            raise ValueError(f"LLMSettings.timeout_s must be > 0, got {self.timeout_s}")
        if self.max_retries < 0:
            raise ValueError(f"LLMSettings.max_retries must be >= 0, got {self.max_retries}")
        # Goes through the parser so that a bad value from an environment variable is named.
        object.__setattr__(
            self, "structured_method", parse_structured_method(self.structured_method)
        )

    @property
    def model_name(self) -> str:
        """The model name as sent to the server (provider prefix removed)."""
        return self.model.removeprefix("openai:")

    def with_changes(self, **changes: Any) -> LLMSettings:
        """Return a copy with some fields replaced (validated again)."""
        return replace(self, **changes)


@dataclass(frozen=True)
class StructuredResult(Generic[SchemaT]):
    """Outcome of `structured_call`: a schema instance, or None with the reason."""

    #: The parsed reply, or None when every attempt was malformed.
    value: SchemaT | None
    #: Why the last attempt failed (None on success).
    error: str | None
    #: Requests made, 1 + retries used.
    attempts: int
    #: Text of the last reply (tool-call arguments for function calling), for logs.
    raw: str | None

    @property
    def ok(self) -> bool:
        """True when a value was parsed."""
        return self.value is not None


@dataclass(frozen=True)
class CallRecord:
    """What one `structured_call` or `text_call` returned, as the role metrics count it."""

    kind: Literal["structured", "text"]
    #: The schema's class name of a structured call; None for text.
    schema: str | None
    #: A schema instance was parsed (structured), or a non-empty text came back (text).
    ok: bool
    #: Requests made, 1 + retries used.
    attempts: int
    #: The last reply's text (the draft before any post-processing).
    raw: str


#: Who hears of each call in this context (`observe_calls`); None in ordinary runs.
_CALL_OBSERVER: ContextVar[Callable[[CallRecord], None] | None] = ContextVar(
    "rso_call_observer", default=None
)


@contextmanager
def observe_calls(observer: Callable[[CallRecord], None]) -> Iterator[None]:
    """Report every structured and text call made inside the block (role metrics, bench)."""
    token = _CALL_OBSERVER.set(observer)
    try:
        yield
    finally:
        _CALL_OBSERVER.reset(token)


def _report(record: CallRecord) -> None:
    observer = _CALL_OBSERVER.get()
    if observer is not None:
        observer(record)


def load_chat_model(settings: LLMSettings) -> BaseChatModel:
    """Build the chat client for `settings`: the only place in the project that constructs one."""
    from langchain_openai import ChatOpenAI
    from pydantic import SecretStr

    base_url = settings.base_url
    if base_url is None:
        from graph.llm_server import ensure_embedded_server

        base_url = ensure_embedded_server(lora_path=settings.lora_path)
    # langchain-openai sends max_completion_tokens, which llama.cpp's server ignores (it would
    # generate up to the context size): max_tokens goes in the body too, vLLM accepts both.
    extra_body = {**settings.extra_body, "max_tokens": settings.max_tokens}
    return ChatOpenAI(
        model=settings.model_name,
        base_url=base_url,
        api_key=SecretStr(settings.api_key),
        temperature=settings.temperature,
        max_completion_tokens=settings.max_tokens,
        timeout=settings.timeout_s,
        max_retries=settings.max_retries,
        seed=settings.seed,
        extra_body=extra_body,
    )


def structured_call(
    model: BaseChatModel,
    schema: type[SchemaT],
    messages: Sequence[BaseMessage],
    method: StructuredMethod,
    retries: int = 2,
) -> StructuredResult[SchemaT]:
    """Ask for a `schema` instance; retry malformed output, then return value=None + error."""
    if retries < 0:
        raise ValueError(f"retries must be >= 0, got {retries}")
    method = parse_structured_method(method)
    try:
        runnable: Any = model.with_structured_output(schema, method=method, include_raw=True)
    except NotImplementedError:
        # A model without structured output support still gets the tolerant text path below.
        runnable = None
    conversation = list(messages)
    schema_text = json.dumps(schema.model_json_schema(), separators=(",", ":"))
    error = "no attempt made"
    raw: str | None = None
    for attempt in range(1, retries + 2):
        value, raw, error = _structured_attempt(model, runnable, schema, conversation)
        if value is not None:
            _report(CallRecord("structured", schema.__name__, True, attempt, raw or ""))
            return StructuredResult(value=value, error=None, attempts=attempt, raw=raw)
        conversation = [
            *conversation,
            AIMessage(content=raw or ""),
            HumanMessage(content=STRUCTURED_CORRECTION.format(error=error, schema=schema_text)),
        ]
    _report(CallRecord("structured", schema.__name__, False, retries + 1, raw or ""))
    return StructuredResult(value=None, error=error, attempts=retries + 1, raw=raw)


def text_call(model: BaseChatModel, messages: Sequence[BaseMessage], retries: int = 2) -> str:
    """Return the model's plain-text reply; an empty reply is retried, then returned as ""."""
    if retries < 0:
        raise ValueError(f"retries must be >= 0, got {retries}")
    conversation = list(messages)
    for attempt in range(1, retries + 2):
        reply = _invoke(model, conversation)
        text = message_text(reply).strip()
        if text:
            _report(CallRecord("text", None, True, attempt, text))
            return text
        conversation = [
            *conversation,
            AIMessage(content=""),
            HumanMessage(content=TEXT_CORRECTION),
        ]
    _report(CallRecord("text", None, False, retries + 1, ""))
    return ""


def sample_texts(
    model: BaseChatModel,
    messages: Sequence[BaseMessage],
    n: int,
    *,
    seed: int | None = None,
    retries: int = 2,
) -> list[str]:
    """Draw `n` sampled replies: one request with `n` choices, topped up one at a time.

    vLLM honours `n` and answers all samples in one request; llama.cpp's server ignores `n` and
    returns one choice, so the rest are requested singly. With a `seed`, the top-up request i
    uses seed + i, because replaying one seed would return the same sample n times. Empty
    samples are kept as "" (after `retries` single retries each) so that callers see all n.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    conversation = list(messages)
    extra: dict[str, Any] = {} if seed is None else {"seed": seed}
    texts: list[str] = []
    if n > 1:
        try:
            result = model.generate([conversation], n=n, **extra)
        except Exception as exc:
            raise translate_transport_error(model, exc) from exc
        texts = [message_text(getattr(g, "message", None)).strip() for g in result.generations[0]]
        texts = texts[:n]
    while len(texts) < n:
        index = len(texts)
        kwargs = {} if seed is None else {"seed": seed + index}
        text = ""
        for _ in range(retries + 1):
            text = message_text(_invoke(model, conversation, **kwargs)).strip()
            if text:
                break
        texts.append(text)
    return texts


def server_supports_n(
    base_url: str, model: str = EMBEDDED_MODEL_NAME, timeout_s: float = 30.0
) -> bool:
    """Probe whether the server at `base_url` honours `n` > 1 (vLLM: yes; llama.cpp: no)."""
    import httpx

    url = base_url.rstrip("/") + "/chat/completions"
    body = {
        "model": model,
        "messages": [{"role": "user", "content": "Say hi."}],
        "n": 2,
        "max_tokens": 1,
        "temperature": 1.0,
    }
    try:
        response = httpx.post(url, json=body, timeout=timeout_s)
    except httpx.HTTPError as exc:
        raise LLMUnavailableError(base_url, f"{type(exc).__name__}: {exc}") from exc
    if response.status_code >= 400:
        # A server that validates `n` and refuses it does not support it either.
        return False
    return len(response.json().get("choices", [])) >= 2


# Exceptions that mean "the model answered, but not in the requested shape": the openai SDK's
# own parse step (json_schema) raises these before LangChain's parser sees the message.
_MALFORMED_ERRORS: tuple[type[BaseException], ...] = (
    OutputParserException,
    ValidationError,
    json.JSONDecodeError,
    openai.LengthFinishReasonError,
    openai.ContentFilterFinishReasonError,
)


def _structured_attempt(
    model: BaseChatModel,
    runnable: Any,
    schema: type[SchemaT],
    conversation: list[BaseMessage],
) -> tuple[SchemaT | None, str | None, str]:
    """One request: (value, raw text, error); transport and request errors raise."""
    try:
        if runnable is None:
            raw_message: Any = _invoke(model, conversation)
            parsed: Any = None
        else:
            out = runnable.invoke(conversation)
            # LangChain's own parsing_error is not kept: the tolerant path below reparses the
            # raw reply and states its own, shorter reason.
            raw_message, parsed = out.get("raw"), out.get("parsed")
    except _MALFORMED_ERRORS as exc:
        return None, raw_from_exception(exc), short_error(exc)
    except Exception as exc:
        raise translate_transport_error(model, exc) from exc
    raw = raw_text(raw_message)
    if isinstance(parsed, schema):
        return parsed, raw, ""
    # Tolerant path: the server's JSON may sit in code fences, in chatter, or in tool-call
    # arguments that LangChain's strict parsers refused.
    try:
        payload = payload_from_message(raw_message, parsed)
        return schema.model_validate(payload), raw, ""
    except ValidationError as exc:
        return None, raw, short_error(exc)
    except ValueError as exc:
        return None, raw, str(exc)


def _invoke(model: BaseChatModel, conversation: list[BaseMessage], **kwargs: Any) -> BaseMessage:
    """`model.invoke` with transport and request errors translated."""
    try:
        return model.invoke(conversation, **kwargs)
    except Exception as exc:
        raise translate_transport_error(model, exc) from exc
