"""A scripted fake chat model for offline, deterministic tests of every LLM-backed node.

`ScriptedChatModel` answers from a script, one item per request, in order. An item is:

* a `str`: the reply text (for structured calls it is what the server would send, so
  "json_mode" parses JSON out of it, code fences included, and "function_calling" and
  "json_schema" parse it as the JSON arguments);
* a `dict`: a structured reply; a tool call when the request carries tools ("function_calling"),
  else the dict serialised as JSON text;
* an `AIMessage`: returned as is;
* an exception instance or class: raised, e.g. a `ValidationError` or a connection error;
* a callable taking the received messages and returning any of the above, to answer by content
  (use it when graph branches may run in parallel and the order of requests is not fixed).

When the script runs out, `default` answers (if given), else `ScriptExhaustedError` says how many
requests came and shows the last prompt. Every request is recorded: `prompts` holds the messages,
`requests` the keyword arguments (tools, response_format, seed, n...).

Typical use in a node test::

    from tests.fakes import ScriptedChatModel, patch_chat_model

    def test_reasoner(monkeypatch):
        fake = ScriptedChatModel(script=['{"reasoning": "...", "preferences": "likes horror"}'])
        patch_chat_model(monkeypatch, fake)
        update = reason_preferences(state, runtime)
        assert "horror" in update["preferences"]
        assert "Seeker:" in fake.prompt_text(0)

`patch_chat_model` replaces `graph.models.load_chat_model` (and any module-level copy made by
`from graph.models import load_chat_model`) with a function returning the fake, or with your own
factory `LLMSettings -> BaseChatModel` to give different roles different fakes.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.output_parsers import PydanticOutputParser
from langchain_core.output_parsers.openai_tools import PydanticToolsParser
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable, RunnableLambda, RunnableMap, RunnablePassthrough
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel, Field, PrivateAttr

ScriptItem = (
    str
    | dict[str, Any]
    | AIMessage
    | BaseException
    | type[BaseException]
    | Callable[[list[BaseMessage]], Any]
)


class ScriptExhaustedError(AssertionError):
    """The code under test made more requests than the script has answers for."""


class ScriptedChatModel(BaseChatModel):
    """A chat model that replays a script and records what it was asked (see module docstring)."""

    script: list[Any] = Field(default_factory=list)
    default: Any = None
    prompts: list[list[BaseMessage]] = Field(default_factory=list)
    requests: list[dict[str, Any]] = Field(default_factory=list)
    _position: int = PrivateAttr(default=0)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "scripted-fake"

    @property
    def remaining(self) -> int:
        """Script items not consumed yet."""
        return len(self.script) - self._position

    def prompt_text(self, index: int = -1) -> str:
        """All message texts of request `index` joined by newlines, for substring assertions."""
        return "\n".join(str(message.text) for message in self.prompts[index])

    def _next_item(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> Any:
        with self._lock:
            self.prompts.append(list(messages))
            self.requests.append(dict(kwargs))
            if self._position < len(self.script):
                item = self.script[self._position]
                self._position += 1
                return item
        if self.default is not None:
            return self.default
        last = "\n".join(f"{m.type}: {m.text}" for m in messages)
        raise ScriptExhaustedError(
            f"ScriptedChatModel got request {len(self.prompts)} but the script has only "
            f"{len(self.script)} answers; last prompt:\n{last}"
        )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        item = self._next_item(messages, kwargs)
        message = self._to_message(item, messages, kwargs)
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _to_message(
        self, item: Any, messages: list[BaseMessage], kwargs: dict[str, Any]
    ) -> AIMessage:
        if isinstance(item, BaseException):
            raise item
        if isinstance(item, type) and issubclass(item, BaseException):
            raise item()
        if isinstance(item, AIMessage):
            return item
        if isinstance(item, str):
            tool_name = _forced_tool_name(kwargs)
            if tool_name is not None:
                # A server answering a forced tool call puts the generated text in the
                # arguments; LangChain files unparsable arguments under invalid_tool_calls.
                return AIMessage(
                    content="",
                    additional_kwargs={
                        "tool_calls": [
                            {
                                "id": f"call_{len(self.prompts)}",
                                "type": "function",
                                "function": {"name": tool_name, "arguments": item},
                            }
                        ]
                    },
                )
            return AIMessage(content=item)
        if isinstance(item, dict):
            tool_name = _forced_tool_name(kwargs)
            if tool_name is not None:
                return AIMessage(
                    content="",
                    tool_calls=[
                        {"name": tool_name, "args": item, "id": f"call_{len(self.prompts)}"}
                    ],
                )
            return AIMessage(content=json.dumps(item))
        if callable(item):
            return self._to_message(item(list(messages)), messages, kwargs)
        raise TypeError(f"unsupported script item {item!r}")

    def bind_tools(
        self,
        tools: Sequence[Any],
        *,
        tool_choice: str | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind OpenAI-format tools, as ChatOpenAI does, so requests record them."""
        formatted = [convert_to_openai_tool(tool) for tool in tools]
        if isinstance(tool_choice, str) and tool_choice not in ("auto", "none", "required", "any"):
            tool_choice = {"type": "function", "function": {"name": tool_choice}}
        return self.bind(tools=formatted, tool_choice=tool_choice, **kwargs)

    def with_structured_output(  # type: ignore[override]
        self,
        schema: type[BaseModel],
        *,
        method: str = "function_calling",
        include_raw: bool = False,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, Any]:
        """Mirror ChatOpenAI: same request shapes and parsers for all three methods."""
        parser: Runnable[Any, Any]
        if method == "function_calling":
            name = convert_to_openai_tool(schema)["function"]["name"]
            llm = self.bind_tools([schema], tool_choice=name, parallel_tool_calls=False)
            parser = PydanticToolsParser(tools=[schema], first_tool_only=True)
        elif method == "json_mode":
            llm = self.bind(response_format={"type": "json_object"})
            parser = PydanticOutputParser(pydantic_object=schema)
        elif method == "json_schema":
            response_format = {
                "type": "json_schema",
                "json_schema": {"name": schema.__name__, "schema": schema.model_json_schema()},
            }
            llm = self.bind(response_format=response_format)
            # Like the OpenAI SDK's parse step: the whole content must be the JSON object.
            parser = RunnableLambda(lambda message: schema.model_validate_json(message.text))
        else:
            raise ValueError(f"unknown structured output method {method!r}")
        if not include_raw:
            return llm | parser
        parse = RunnablePassthrough.assign(
            parsed=(lambda x: x["raw"]) | parser, parsing_error=lambda _: None
        )
        fallback = RunnablePassthrough.assign(parsed=lambda _: None)
        return RunnableMap(raw=llm) | parse.with_fallbacks(
            [fallback], exception_key="parsing_error"
        )


def _forced_tool_name(kwargs: dict[str, Any]) -> str | None:
    """Name of the tool a request forces (or its only tool), None for plain requests."""
    tools = kwargs.get("tools") or []
    if not tools:
        return None
    choice = kwargs.get("tool_choice")
    if isinstance(choice, dict):
        return str(choice["function"]["name"])
    return str(tools[0]["function"]["name"])


def patch_chat_model(
    monkeypatch: pytest.MonkeyPatch,
    model: BaseChatModel | Callable[[Any], BaseChatModel],
) -> None:
    """Make every `load_chat_model(settings)` return `model` (or `model(settings)` if callable)."""
    import graph.models

    factory: Callable[[Any], BaseChatModel] = (
        (lambda settings: model) if isinstance(model, BaseChatModel) else model
    )
    original = graph.models.load_chat_model
    for module in list(_project_modules()):
        if getattr(module, "load_chat_model", None) is original:
            monkeypatch.setattr(module, "load_chat_model", factory)


def _project_modules() -> Iterator[Any]:
    """Imported project modules that may hold a reference to `load_chat_model`."""
    prefixes = ("graph", "agents", "rl", "rso", "retrieval", "prompts")
    for name, module in list(sys.modules.items()):
        if module is not None and name.split(".")[0] in prefixes:
            yield module
