"""What the dialogue so far holds, read by rule: each message, the movie under discussion, tastes.

Shared by the rule experts and the LLM Fact Retriever (which keeps the movie under discussion as
a candidate on a follow-up question). Which movie an earlier reply recommended comes from the
state's ``recommended_history``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache

from langchain_core.messages import AIMessage, AnyMessage

from agents.rule_preferences import DialogueTurn, Preferences, extract_preferences
from graph.utils import dialogue_turns, speaker_of
from retrieval.taste_words import default_vocabulary
from rso.data.movies import movies_by_id


def dialogue_of(
    messages: Sequence[AnyMessage], recommended_history: Sequence[Sequence[str]]
) -> list[DialogueTurn | None]:
    """Each message as a `DialogueTurn` (None for messages that are no dialogue).

    A recommender reply carries what it recommended: the history's lists belong to the last
    ``len(recommended_history)`` replies (earlier replies, sent without a history, recommended
    nothing as far as the rule experts know).
    """
    replies = sum(isinstance(m, AIMessage) for m in messages)
    unknown = replies - len(recommended_history)
    read: list[DialogueTurn | None] = []
    reply_index = 0
    for message in messages:
        if speaker_of(message) is None:
            read.append(None)
            continue
        ((speaker, text),) = dialogue_turns([message])
        recommended: Sequence[str] = ()
        if isinstance(message, AIMessage):
            if reply_index >= unknown:
                recommended = tuple(recommended_history[reply_index - unknown])
            reply_index += 1
        read.append((speaker, text, recommended))
    return read


def current_movie(dialogue: Sequence[DialogueTurn | None]) -> str | None:
    """Return the movie under discussion: the first one the latest recommending reply named."""
    for turn in reversed(dialogue):
        if turn is not None and turn[2]:
            return turn[2][0]
    return None


def _title_finder() -> Callable[[str], list[str]] | None:
    """Titles in seeker text via the project's title matcher (None when it is unavailable)."""
    try:
        from retrieval import titles
    except ImportError:
        return None
    matcher = titles.get_title_matcher()
    return lambda text: matcher.find_in_text(text)


@lru_cache(maxsize=4096)
def _preferences(turns: tuple[DialogueTurn, ...]) -> Preferences:
    # The three rule experts of a turn read the same dialogue, and simulated dialogues repeat
    # across episodes: extraction runs once per distinct dialogue.
    return extract_preferences(turns, default_vocabulary(), movies_by_id(), _title_finder())


def preferences_of(dialogue: Sequence[DialogueTurn | None]) -> Preferences:
    """Return the preferences stated in these messages (None entries are skipped)."""
    turns = tuple((s, t, tuple(r)) for s, t, r in (d for d in dialogue if d is not None))
    return _preferences(turns)
