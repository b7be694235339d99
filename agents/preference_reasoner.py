"""The Preference Reasoner: one sentence on the seeker's movie preferences, or none known yet.

The LLM lists what the seeker likes and dislikes, in the seeker's own words (a task a small model
does far better than writing a free summary). Every item must be grounded: its distinctive words
occur in what the seeker said, so an item the model invented or copied from the prompt's examples
is dropped (`agents.preference_grounding`). A seeker who said only small talk has stated no
preference yet: the model is not asked, and no preference is known. When not one listed item is
the seeker's, the model is asked once more, its answers limited to the genres, people and titles
the seeker named (in the schema, which a constraining server enforces, and in the prompt). A
liked item the seeker negated ("I do not really like musicals") becomes a dislike. The lists are
merged with the earlier summary's, since preferences once stated do not vanish when a small model
forgets them, and written as one sentence: "Likes comedies, Tom Hanks; dislikes gore."
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from typing import Any, Final

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field, JsonValue, create_model
from pydantic.config import JsonDict

from agents.preference_grounding import grounded_items, item_words, named_phrases
from graph import models
from graph.constrained import schema_bounds
from graph.context import Context, context_from
from graph.routing import REASON_PREFERENCES
from graph.state import FallbackRecord, State
from graph.utils import clip_text, dialogue_turns, fallback
from prompts import preference_reasoner as prompts
from retrieval.taste_words import is_negated
from rso.dialogue import SEEKER

logger = logging.getLogger("rso.agents.preference_reasoner")

#: A summary longer than this is not "one sentence"; it is clipped (and the clip logged).
MAX_SUMMARY_CHARS = 400
#: Most items kept per list (the most recent ones).
MAX_ITEMS = 8
#: Characters of the seeker's words shown to the model (the end of the dialogue matters most).
MAX_SEEKER_CHARS = 800
#: Bounds of each list in the answer's schema: within the Reasoner's token budget.
MAX_ANSWER_ITEMS: Final = 6
MAX_ITEM_CHARS: Final = 40
#: Longest phrase the second ask allows (as JSON): with its quotes, within an item's bound.
MAX_NAMED_CHARS: Final = MAX_ITEM_CHARS - 2


class PreferenceLists(BaseModel):
    """What the Preference Reasoner's LLM answers."""

    likes: list[str] = Field(
        default_factory=list,
        description="Genres, people, movies and moods the seeker likes, in their own words.",
        json_schema_extra=schema_bounds(max_items=MAX_ANSWER_ITEMS, item_chars=MAX_ITEM_CHARS),
    )
    dislikes: list[str] = Field(
        default_factory=list,
        description="What the seeker dislikes, in their own words.",
        json_schema_extra=schema_bounds(max_items=MAX_ANSWER_ITEMS, item_chars=MAX_ITEM_CHARS),
    )


def preference_messages(
    seeker_words: str, examples: bool = True, named: Sequence[str] = ()
) -> list[BaseMessage]:
    """Return the prompt: instruction, the worked examples as earlier turns, the seeker's words.

    With `named`, the seeker's words are followed by the phrases the answer may list.
    """
    messages: list[BaseMessage] = [SystemMessage(prompts.SYSTEM)]
    for words, answer in prompts.EXAMPLES if examples else ():
        messages += [
            HumanMessage(prompts.USER.format(seeker_words=words)),
            AIMessage(json.dumps(answer)),
        ]
    user = prompts.USER.format(seeker_words=seeker_words)
    if named:
        user += "\n" + prompts.NAMED.format(phrases="; ".join(named))
    messages.append(HumanMessage(user))
    return messages


def named_lists(named: Sequence[str]) -> type[PreferenceLists]:
    """Return `PreferenceLists` whose items can only be the `named` phrases (or none).

    A server that decodes under the schema (llama.cpp's function calling, vLLM's json_schema)
    can then only list what the seeker named; the items are still checked on return.
    """
    options: list[JsonValue] = list(named)
    bounds: JsonDict = {"maxItems": MAX_ANSWER_ITEMS, "items": {"type": "string", "enum": options}}
    fields: dict[str, Any] = {}
    for name, field in PreferenceLists.model_fields.items():
        allowed: list[str] = Field(
            default_factory=list, description=field.description, json_schema_extra=bounds
        )
        fields[name] = (list[str], allowed)
    return create_model(
        "PreferenceLists", __base__=PreferenceLists, __doc__=PreferenceLists.__doc__, **fields
    )


def summary_sentence(likes: list[str], dislikes: list[str]) -> str:
    """Write the lists as one sentence ("" when both are empty)."""
    parts = []
    if likes:
        parts.append(prompts.LIKES.format(items=", ".join(likes)))
    if dislikes:
        parts.append(prompts.DISLIKES.format(items=", ".join(dislikes)))
    if not parts:
        return ""
    sentence = "; ".join(parts)
    return sentence[0].upper() + sentence[1:] + "."


_SUMMARY = re.compile(r"^(?:Likes (?P<likes>.*?))?(?:;? ?[Dd]islikes (?P<dislikes>.*?))?\.$")


def summary_lists(summary: str) -> tuple[list[str], list[str]]:
    """Read a `summary_sentence` back into (likes, dislikes); other text gives empty lists."""
    match = _SUMMARY.match(summary.strip())
    if not summary.strip() or match is None:
        return [], []
    return _split(match.group("likes")), _split(match.group("dislikes"))


def _split(items: str | None) -> list[str]:
    return [item.strip() for item in (items or "").split(",") if item.strip()]


def _merge(earlier: list[str], new: list[str], drop: list[str]) -> list[str]:
    dropped = {item.casefold() for item in drop}
    merged: dict[str, str] = {}
    for item in [*earlier, *new]:
        if item.casefold() not in dropped:
            merged.pop(item.casefold(), None)  # a repeated item moves to the most recent end
            merged[item.casefold()] = item
    return list(merged.values())[-MAX_ITEMS:]


def reason_preferences(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Update the one-sentence preference summary; keep the previous one if the LLM fails."""
    context = context_from(runtime)
    settings = context.llm("reasoner")
    said = " ".join(text for speaker, text in dialogue_turns(state.messages) if speaker == SEEKER)
    if not item_words(said):
        # Small talk only ("hi there", "sounds good"): no preference stated yet, and no item
        # could pass `grounded_items`, so the model is not asked (a small one invents some).
        return {"preferences": state.preferences}
    model = models.load_chat_model(settings)
    words = clip_text(said, MAX_SEEKER_CHARS)
    # A small model often copies a worked example instead of reading the seeker: when not one
    # item it lists comes from the seeker, it is asked again, its answers now limited to the
    # genres, people and titles the seeker named (without the examples when it named none).
    asks: list[tuple[type[PreferenceLists], list[BaseMessage]]] = [
        (PreferenceLists, preference_messages(words))
    ]
    for schema, messages in asks:
        result = models.structured_call(
            model, schema, messages, settings.structured_method, retries=context.llm_max_retries
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
        answer = result.value
        likes = grounded_items(answer.likes, said)
        dislikes = grounded_items(answer.dislikes, said)
        given = [*answer.likes, *answer.dislikes]
        if likes or dislikes or not given or len(asks) > 1:
            break
        logger.info("turn %d: no listed preference of %r is the seeker's", state.turn, given)
        named = named_phrases(said, MAX_NAMED_CHARS)
        asks.append(
            (named_lists(named), preference_messages(words, named=named))
            if named
            else (PreferenceLists, preference_messages(words, examples=False))
        )
    dislikes += [item for item in likes if is_negated(item, said) and item not in dislikes]
    likes = [item for item in likes if item not in dislikes]
    fallbacks: list[FallbackRecord] = []
    if given and not likes and not dislikes:
        # Not one item comes from the seeker, asked twice: invented preferences would steer
        # every later turn.
        fallbacks.append(
            fallback(
                state.turn,
                REASON_PREFERENCES,
                f"no listed preference {given[:3]!r} comes from the seeker's messages",
                "kept the previous preference summary",
            )
        )
        return {"fallbacks": fallbacks}
    if len(likes) + len(dislikes) < len(given):
        logger.info("turn %d: dropped ungrounded preference items of %r", state.turn, given)
    earlier_likes, earlier_dislikes = summary_lists(state.preferences)
    summary = summary_sentence(
        _merge(earlier_likes, likes, dislikes), _merge(earlier_dislikes, dislikes, likes)
    )
    if not summary:
        return {"preferences": state.preferences}
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
