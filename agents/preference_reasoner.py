"""The Preference Reasoner: one sentence on the seeker's movie preferences, or none known yet."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field

from graph import models
from graph.context import Context, context_from
from graph.routing import REASON_PREFERENCES
from graph.state import FallbackRecord, State
from graph.utils import dialogue_turns, fallback, overlap
from prompts import preference_reasoner as prompts
from rso.dialogue import SEEKER, format_dialogue

#: A summary longer than this is not "one sentence"; it is clipped (and the clip logged).
MAX_SUMMARY_CHARS = 400


class PreferenceSummary(BaseModel):
    """What the Preference Reasoner answers."""

    reasoning: str = Field(description="What the seeker revealed, in one or two short sentences.")
    summary: str = Field(
        description=f'The preferences in one sentence, or "{prompts.NO_PREFERENCES}".'
    )


def is_no_preference(summary: str) -> bool:
    """Return True for an empty summary or one saying that no preference is known."""
    text = summary.strip().strip(".").casefold()
    return not text or text.startswith(("none", "no preference", "unknown", "n/a"))


def reason_preferences(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Update the one-sentence preference summary; keep the previous one if the LLM fails."""
    context = context_from(runtime)
    settings = context.llm("reasoner")
    history = state.messages[:-1][-context.history_messages :]
    user = prompts.USER.format(
        earlier_summary=state.preferences or prompts.NO_PREFERENCES,
        dialogue=format_dialogue(dialogue_turns(history, context.max_message_chars)) or "(start)",
        seeker_message=state.seeker_text,
    )
    messages = [
        SystemMessage(prompts.SYSTEM.format(none=prompts.NO_PREFERENCES)),
        HumanMessage(user),
    ]
    result = models.structured_call(
        models.load_chat_model(settings),
        PreferenceSummary,
        messages,
        settings.structured_method,
        retries=context.llm_max_retries,
    )
    if result.value is None:
        return {
            "fallbacks": [
                fallback(
                    state.turn,
                    REASON_PREFERENCES,
                    f"malformed output after {result.attempts} attempts: {result.error}",
                    "kept the previous preference summary",
                )
            ]
        }
    summary = " ".join(result.value.summary.split())
    fallbacks: list[FallbackRecord] = []
    if is_no_preference(summary):
        if state.preferences:
            # Preferences once stated do not vanish; a tiny model sometimes forgets them.
            fallbacks.append(
                fallback(
                    state.turn,
                    REASON_PREFERENCES,
                    "the model reported no preferences although some were known",
                    "kept the previous preference summary",
                )
            )
            return {"fallbacks": fallbacks}
        return {"preferences": ""}
    said = " ".join(text for speaker, text in dialogue_turns(state.messages) if speaker == SEEKER)
    if overlap(summary, said) == 0.0:
        # Not one word of the summary comes from the seeker: a small model describing its
        # instructions or inventing tastes. Invented preferences would steer every later turn.
        fallbacks.append(
            fallback(
                state.turn,
                REASON_PREFERENCES,
                f"summary {summary[:80]!r} shares no word with the seeker's messages",
                "kept the previous preference summary",
            )
        )
        return {"fallbacks": fallbacks}
    if len(summary) > MAX_SUMMARY_CHARS:
        fallbacks.append(
            fallback(
                state.turn,
                REASON_PREFERENCES,
                f"summary of {len(summary)} characters is not one sentence",
                f"clipped it to {MAX_SUMMARY_CHARS} characters",
            )
        )
        summary = summary[: MAX_SUMMARY_CHARS - 3].rstrip() + "..."
    update: dict[str, Any] = {"preferences": summary}
    if fallbacks:
        update["fallbacks"] = fallbacks
    return update
