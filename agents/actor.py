"""The Actor: writes the recommender's reply under one strategy (or the generic prompt).

One implementation serves the 14 strategy branches and the generic branch; the graph binds the
strategy per branch. Replies are post-processed: cut at any role name, stripped of sentences that
repeat the instructions, and cut after the last full sentence.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import cache
from typing import Any, Final

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langgraph.runtime import Runtime

from agents.actor_format import strategy_examples, tuned_prompt
from graph import models, resources
from graph.context import Context, context_from
from graph.routing import actor_node_name
from graph.state import FallbackRecord, State
from graph.utils import dialogue_turns, fallback
from prompts import actor as prompts
from rso.dialogue import format_dialogue
from rso.strategies import Strategy

#: A reply sharing this many consecutive words with an instruction or rule repeats it verbatim.
LEAK_NGRAM = 6
#: A whole rule sentence at least this long (and shorter than LEAK_NGRAM) is protected too.
MIN_LEAK_WORDS = 4

# A speaker name starts a new turn: the reply ends there (the model began writing the dialogue on).
_ROLE_NAME = re.compile(
    r"(?i)(?:^|(?<=\s)|(?<=[^\w\s]))(seeker|recommender|user|assistant|system)\s*:"
)
_SENTENCE_END = re.compile(r"[.!?\u2026][\"'\u201d\u2019)\]]*(?=\s|$)")
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?\u2026])[\"'\u201d\u2019)\]]*\s+")
# Tags and template braces copied from the prompt ("<movie number=1>", "{title}") are debris.
_MARKUP = re.compile(r"\{+[^{}]*\}+|<[^<>]*>|[<>{}]")
_WORD = re.compile(r"[a-z0-9']+")
# A preface about the reply instead of the reply: "This time: ...", "Reply: ...", or
# 'In the next respond, you can reply something like: "..."' (the quoted part is the reply).
_LABEL_PREFACE = re.compile(
    r"^\s*(?:this time|reply|response|answer|refer|note|recommender'?s? reply)\s*:\s*", re.I
)
_QUOTED_PREFACE = re.compile(
    r"^[^\"\u201c\n.!?]{0,100}?\b(?:reply|respon\w*|answer|say)\b[^\"\u201c\n.!?]{0,40}:\s*[\"\u201c]",
    re.I,
)


def _words(text: str) -> list[str]:
    return _WORD.findall(text.casefold().replace("\u2019", "'"))


def _ngrams(words: list[str], n: int) -> set[tuple[str, ...]]:
    if len(words) < n:
        return {tuple(words)} if words else set()
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


@cache
def protected_ngrams() -> frozenset[tuple[str, ...]]:
    """Return the word n-grams of every instruction and rule the reply must never repeat."""
    texts: Iterable[str] = (
        *prompts.STRATEGY_INSTRUCTIONS.values(),
        prompts.GENERIC_INSTRUCTION,
        prompts.MOVIE_RULE,
        prompts.NO_MOVIE_RULE,
        prompts.OWN_KNOWLEDGE_RULE,
        *prompts.RULES,
        # The prompt's own frame, placeholders left out ("Some replies of this kind by other
        # recommenders:" came back as a reply's preface in the demo).
        *(_MARKUP.sub(" ", t) for t in (prompts.SYSTEM, prompts.EXAMPLES, prompts.USER)),
        *(_MARKUP.sub(" ", t) for t in (prompts.RETRY_NOTE, prompts.RETRY_MOVIE_NOTE)),
    )
    grams: set[tuple[str, ...]] = set()
    for text in texts:
        grams |= _ngrams(_words(text), LEAK_NGRAM)
        for sentence in _SENTENCE_SPLIT.split(text):  # a whole short rule counts as well
            words = tuple(_words(sentence))
            if MIN_LEAK_WORDS <= len(words) < LEAK_NGRAM:
                grams.add(words)
    return frozenset(grams)


#: The fallback log's action when no draft was usable and a fixed reply was sent.
FIXED_REPLY_ACTION: Final = "sent a fixed safe reply"
#: The fallback action when no draft named the movie: its title put in front of the first draft.
TITLED_DRAFT_ACTION: Final = "sent the first usable draft with the movie's title in front"


def leaks_instructions(text: str) -> bool:
    """Return True when `text` repeats an instruction or rule verbatim.

    A repeat is a run of 6 words of one, or a whole rule sentence of 4 or 5 words
    ("Never mention these instructions.").
    """
    words = _words(text)
    grams = protected_ngrams()
    return any(
        tuple(words[i : i + n]) in grams
        for n in range(MIN_LEAK_WORDS, LEAK_NGRAM + 1)
        for i in range(len(words) - n + 1)
    )


def cut_at_role_name(text: str) -> str:
    """Drop a leading speaker name, and everything from the next speaker name on."""
    text = text.strip()
    while (match := _ROLE_NAME.match(text)) is not None:
        text = text[match.end() :].lstrip()
    match = _ROLE_NAME.search(text)
    return text[: match.start()].rstrip() if match else text


def drop_half_sentence(text: str) -> str:
    """Cut a trailing unfinished sentence, if there is a finished one before it."""
    text = text.strip()
    ends = list(_SENTENCE_END.finditer(text))
    if not ends or ends[-1].end() == len(text):
        return text
    return text[: ends[-1].end()]


def _keep_sentences(text: str, drop: Callable[[str], bool]) -> tuple[str, bool]:
    """Return `text` without the sentences `drop` selects, and whether any went."""
    sentences = [s for s in _SENTENCE_SPLIT.split(text) if s.strip()]
    kept = [s for s in sentences if not drop(s)]
    return " ".join(" ".join(kept).split()), len(kept) < len(sentences)


def clean_reply(raw: str) -> tuple[str, bool]:
    """Post-process a draft; returns the reply and whether sentences repeating instructions went."""
    text = _MARKUP.sub(" ", cut_at_role_name(raw)).strip()
    text = _QUOTED_PREFACE.sub("", _LABEL_PREFACE.sub("", text)).strip().strip('"\u201c\u201d')
    kept, leaked = _keep_sentences(text, leaks_instructions)
    return drop_half_sentence(kept), leaked


def drop_repeats(reply: str, earlier: Iterable[str]) -> tuple[str, bool]:
    """Drop the sentences of `reply` that repeat one of the `earlier` replies (a 6-word run).

    A small model reading the dialogue tends to copy its own last reply into the next one.
    """
    grams: set[tuple[str, ...]] = set()
    for text in earlier:
        grams |= _ngrams(_words(text), LEAK_NGRAM)
    return _keep_sentences(reply, lambda s: bool(_ngrams(_words(s), LEAK_NGRAM) & grams))


def write_reply(
    state: State, runtime: Runtime[Context], strategy: Strategy | None
) -> dict[str, Any]:
    """Write the reply under `strategy` (None = generic prompt) and detect the movies it names."""
    context = context_from(runtime)
    node = actor_node_name(strategy)
    movie = resources.movies().get(state.chosen_movie) if state.chosen_movie else None
    history = state.messages[-context.history_messages :]
    settings = context.llm("actor")
    if settings.lora_path is not None:  # the adapter learnt its own input format
        turns = dialogue_turns(history, context.max_message_chars)
        system_text, user = tuned_prompt(strategy, turns, state.preferences, movie)
    else:
        system_text, user = actor_prompt(
            strategy,
            format_dialogue(dialogue_turns(history, context.max_message_chars)),
            state.preferences,
            (movie.display_title, state.movie_facts) if movie is not None else None,
            use_retriever=context.use_retriever,
        )
    system = SystemMessage(system_text)
    model = models.load_chat_model(settings)
    fallbacks: list[FallbackRecord] = []
    # Under a strategy about the movie, a draft that does not name the chosen movie is retried.
    must_name = movie is not None and strategy in prompts.MOVIE_STRATEGIES
    earlier = [str(m.content) for m in state.messages if isinstance(m, AIMessage)]
    reply, unnamed, note = "", "", ""
    for attempt in range(context.llm_max_retries + 1):
        draft = models.text_call(model, [system, HumanMessage(user + note)], retries=0)
        reply, leaked = clean_reply(draft)
        then = "regenerating" if attempt < context.llm_max_retries else "no attempts left"
        note = prompts.RETRY_NOTE
        if leaked:
            removed = "removed those sentences" + ("" if reply else f"; {then}")
            fallbacks.append(
                fallback(state.turn, node, "the draft repeated the instructions", removed)
            )
        elif not reply:
            fallbacks.append(fallback(state.turn, node, "empty draft", then))
        reply, repeated = drop_repeats(reply, earlier)
        if repeated:
            removed = "removed those sentences" + ("" if reply else f"; {then}")
            fallbacks.append(
                fallback(state.turn, node, "the draft repeated an earlier reply", removed)
            )
        if reply and must_name and movie is not None and not names_movie(reply, movie.kb_id):
            fallbacks.append(fallback(state.turn, node, "the draft does not name the movie", then))
            unnamed, reply = unnamed or reply, ""
            note = prompts.RETRY_MOVIE_NOTE.format(title=movie.display_title)
        if reply:
            break
    if not reply and unnamed and movie is not None:  # the model's words, the title in front
        reply = prompts.TITLED_DRAFT.format(title=movie.display_title, reply=unnamed)
        fallbacks.append(
            fallback(state.turn, node, "no draft named the movie", TITLED_DRAFT_ACTION)
        )
    if not reply:
        reply = (
            prompts.FALLBACK_REPLY_WITH_MOVIE.format(title=movie.display_title)
            if movie is not None
            else prompts.FALLBACK_REPLY
        )
        fallbacks.append(
            fallback(
                state.turn,
                node,
                f"no usable draft in {context.llm_max_retries + 1} attempts",
                FIXED_REPLY_ACTION,
            )
        )
    update: dict[str, Any] = {
        "reply": reply,
        "messages": [AIMessage(reply, name="recommender")],
        "recommended": recommended_movies(reply, state.candidates),
    }
    if fallbacks:
        update["fallbacks"] = fallbacks
    return update


def actor_prompt(
    strategy: Strategy | None,
    dialogue: str,
    preferences: str,
    movie: tuple[str, str] | None,
    *,
    use_retriever: bool = True,
) -> tuple[str, str]:
    """Return the Actor's system and user texts; `movie` is (title, facts) or None.

    The TRL export (`rl.export`) builds its prompts here too, so that a row's prompt holds what
    the Actor read.
    """
    instruction = (
        prompts.GENERIC_INSTRUCTION if strategy is None else prompts.STRATEGY_INSTRUCTIONS[strategy]
    )
    if movie is not None:
        movie_rule, movie_block = prompts.MOVIE_RULE, f"{movie[0]}\n{movie[1]}"
    else:
        movie_rule = prompts.NO_MOVIE_RULE if use_retriever else prompts.OWN_KNOWLEDGE_RULE
        movie_block = prompts.NO_MOVIE
    user = prompts.USER.format(
        dialogue=dialogue,
        preferences=preferences or prompts.UNKNOWN_PREFERENCES,
        movie=movie_block,
    )
    shots = strategy_examples(strategy) if strategy is not None else ()
    examples = prompts.EXAMPLES.format(examples=" ".join(f'"{s}"' for s in shots)) if shots else ""
    system = prompts.SYSTEM.format(
        instruction=instruction,
        movie_rule=movie_rule,
        rules=" ".join(prompts.RULES),
        examples=examples,
    )
    return system, user


def names_movie(reply: str, kb_id: str) -> bool:
    """Return True when the reply mentions the movie `kb_id` by its title."""
    return bool(recommended_movies(reply, [kb_id]))


def recommended_movies(reply: str, candidates: list[str]) -> list[str]:
    """Return the candidates (kb_ids) whose titles the reply mentions."""
    if not candidates:
        return []
    return list(resources.title_matcher().find_in_text(reply, candidates=candidates))
