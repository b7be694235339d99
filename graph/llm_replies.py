"""Reading a chat reply: its text, and its JSON payload (fenced, in chatter, or in tool calls)."""

from __future__ import annotations

import json
import re
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage

_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)


def extract_json_object(text: str) -> Any:
    """Return the first JSON object in `text` (code fences and chatter around it allowed)."""
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    decoder = json.JSONDecoder()
    for candidate in candidates:
        for match in re.finditer(r"\{", candidate):
            try:
                value, _ = decoder.raw_decode(candidate, match.start())
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict):
                return value
    raise ValueError("no JSON object found in the reply")


def payload_from_message(message: Any, parsed: Any) -> Any:
    """Return the JSON payload of a reply: parsed dict, tool-call arguments or JSON in text."""
    if isinstance(parsed, dict):
        return parsed
    if isinstance(message, AIMessage):
        for call in message.tool_calls:
            return call["args"]
        for invalid in message.invalid_tool_calls:
            if invalid.get("args"):
                return extract_json_object(str(invalid["args"]))
    text = message_text(message)
    if not text.strip():
        raise ValueError("the reply is empty")
    return extract_json_object(text)


def raw_text(message: Any) -> str | None:
    """Text of a reply for logs and for the correction turn (tool-call arguments included)."""
    if message is None:
        return None
    text = message_text(message)
    if isinstance(message, AIMessage):
        if message.tool_calls:
            text = text or json.dumps(message.tool_calls[0]["args"])
        elif message.invalid_tool_calls:
            text = text or str(message.invalid_tool_calls[0].get("args") or "")
    return text


def raw_from_exception(exc: BaseException) -> str | None:
    """Return the reply text carried by a parse-time exception, when there is one."""
    completion = getattr(exc, "completion", None)  # openai.LengthFinishReasonError
    if completion is not None and getattr(completion, "choices", None):
        content = completion.choices[0].message.content
        return content if isinstance(content, str) else None
    llm_output = getattr(exc, "llm_output", None)  # OutputParserException
    return llm_output if isinstance(llm_output, str) else None


def message_text(message: Any) -> str:
    """Plain text of a message (content blocks joined); '' for anything else."""
    if isinstance(message, BaseMessage):
        return str(message.text)
    return ""
