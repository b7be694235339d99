"""The tuned Actor's input format, shared by its training data (`rl.actor_data`) and inference.

A system line naming the strategy and its one-line meaning; a user block with the seeker's
preferences, the movie (title and record facts) or "no movie yet", and the last few turns. The
LoRA adapter was trained on exactly this text, so inference must build it the same way.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from functools import cache

from agents.rule_replies import fact_sentence
from graph.utils import clip_text
from prompts import actor as prompts
from rso.data.records import Movie
from rso.dialogue import format_dialogue
from rso.strategies import Strategy

#: Few-shot examples are short human replies that name nobody: only the first word (and "I")
#: may be capitalised, so no title or person can be copied into an unrelated reply.
_EXAMPLE_WORDS = (4, 14)
_INNER_CAPITAL = re.compile(r"(?<=\s)(?!I\b|I')[A-Z]")


def merge_turns(turns: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """Join consecutive turns of one speaker (INSPIRED splits a reply into several utterances)."""
    merged: list[tuple[str, str]] = []
    for speaker, text in turns:
        text = " ".join(text.split())
        if not text:
            continue
        if merged and merged[-1][0] == speaker:
            merged[-1] = (speaker, f"{merged[-1][1]} {text}")
        else:
            merged.append((speaker, text))
    return merged


def movie_line(movie: Movie | None) -> str:
    """Return the ``Movie:`` line's value: title and the record's short facts (no plot)."""
    if movie is None:
        return prompts.TUNED_NO_MOVIE
    return f"{movie.display_title}. {fact_sentence(movie, with_plot=False)}"


def tuned_prompt(
    strategy: Strategy | None,
    turns: Sequence[tuple[str, str]],
    preferences: str,
    movie: Movie | None,
) -> tuple[str, str]:
    """Return the tuned format's system and user texts for (speaker, text) `turns`, oldest first."""
    if strategy is None:
        name, meaning = prompts.TUNED_NO_STRATEGY, prompts.GENERIC_INSTRUCTION
    else:
        name, meaning = strategy, prompts.STRATEGY_INSTRUCTIONS[strategy]
    shown = merge_turns(turns)[-prompts.TUNED_TURNS :]
    dialogue = format_dialogue([(s, clip_text(t, prompts.TUNED_TURN_CHARS)) for s, t in shown])
    user = prompts.TUNED_USER.format(
        preferences=" ".join(preferences.split()) or prompts.TUNED_UNKNOWN_PREFERENCES,
        movie=movie_line(movie),
        dialogue=dialogue,
    )
    return prompts.TUNED_SYSTEM.format(strategy=name, meaning=meaning), user


@cache
def strategy_examples(strategy: Strategy) -> tuple[str, ...]:
    """Return the few-shot examples of `strategy`: short INSPIRED train replies, fixed choice.

    The choice is by a hash of the text, so it does not depend on data order or on any seed.
    """
    from rso.data.inspired import load_inspired  # lazy: the untuned prompt reads data once

    low, high = _EXAMPLE_WORDS
    pool = {
        " ".join(u.text.split())
        for dialog in load_inspired("train")
        for u in dialog.utterances
        if u.strategy == strategy
        and low <= len(u.text.split()) <= high
        and _INNER_CAPITAL.search(u.text) is None
        and '"' not in u.text
    }
    ranked = sorted(pool, key=lambda text: hashlib.sha256(text.encode()).hexdigest())
    return tuple(ranked[: prompts.EXAMPLES_PER_STRATEGY])
