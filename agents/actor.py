"""The Actor: writes the recommender's reply under one strategy (or the generic prompt).

One implementation serves the 14 strategy branches and the generic branch; the graph binds the
strategy per branch. Drafts pass the checks of `agents.reply_text`: cut at any role name,
stripped of sentences that repeat the instructions or an earlier reply or that put a person in the
chosen movie who is not in its record, and cut after the last full sentence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langgraph.runtime import Runtime

from agents.actor_format import strategy_examples, tuned_prompt
from agents.fact_retriever import movie_record, record_facts
from agents.reply_text import (
    clean_reply,
    drop_repeats,
    drop_unfounded_people,
    drop_unsupported_claims,
)
from agents.rule_replies import first_sentence
from graph import models, resources
from graph.context import Context, context_from
from graph.routing import actor_node_name
from graph.state import FallbackRecord, State
from graph.utils import dialogue_turns, fallback
from prompts import actor as prompts
from rso.data.records import Movie
from rso.dialogue import format_dialogue
from rso.strategies import Strategy

#: The fallback log's action when no draft was usable and a fixed reply was sent.
FIXED_REPLY_ACTION: Final = "sent a fixed safe reply"
#: The fallback action when no draft named the movie: its title put in front of the first draft.
TITLED_DRAFT_ACTION: Final = "sent the first usable draft with the movie's title in front"
#: The fallback action when every draft's facts were not the movie's: the movie's own facts sent.
FACTS_REPLY_ACTION: Final = "sent the first sentence of the movie's record"
#: The failure logged when a draft's claims are not in the movie's record.
UNSUPPORTED_FAILURE: Final = "the draft states facts that are not in the movie's record"
#: Words of plot the facts check reads (the whole plot of a record).
FULL_PLOT: Final = 400


@dataclass(frozen=True)
class DraftChecks:
    """The checks of one turn's drafts, in order; each logs what it removed."""

    turn: int
    node: str
    movie: Movie | None
    #: The Actor's earlier replies (a draft must not repeat them).
    earlier: list[str]
    #: What the seeker said (people they named may be mentioned freely).
    seeker_said: list[str]
    #: The record and facts a draft's claims must come from; None: claims are not checked.
    facts_source: str | None

    def apply(self, draft: str, note: str, then: str) -> tuple[str, list[FallbackRecord]]:
        """Return what is left of `draft` and the log of each check that removed something."""
        found: list[FallbackRecord] = []

        def log(problem: str, left: str) -> None:
            action = "removed those sentences" + ("" if left else f"; {then}")
            found.append(fallback(self.turn, self.node, problem, action))

        reply, leaked = clean_reply(draft, note)
        if leaked:
            log("the draft repeated the instructions", reply)
        elif not reply:
            found.append(fallback(self.turn, self.node, "empty draft", then))
        reply, repeated = drop_repeats(reply, self.earlier)
        if repeated:
            log("the draft repeated an earlier reply", reply)
        if reply and self.movie is not None:
            reply, wrong = drop_unfounded_people(
                reply, self.movie, self.seeker_said, resources.vocabulary()
            )
            if wrong:
                log(f"the draft put {', '.join(wrong)} in the movie, not in its record", reply)
        if reply and self.facts_source is not None:
            dialogue = [*self.earlier, *self.seeker_said]
            reply, unsupported = drop_unsupported_claims(reply, self.facts_source, dialogue)
            if unsupported:
                log(UNSUPPORTED_FAILURE, reply)
        return reply, found


def facts_reply(movie: Movie) -> str:
    """Return the first sentence of facts written from the movie's record (the facts fallback).

    Not the Fact Retriever's facts: those may hold what the model added to the record.
    """
    sentence = first_sentence(record_facts(movie))
    if names_movie(sentence, movie.kb_id):
        return sentence
    return prompts.TITLED_DRAFT.format(title=movie.display_title, reply=sentence)


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
    checks = DraftChecks(
        turn=state.turn,
        node=node,
        movie=movie,
        earlier=[str(m.content) for m in state.messages if isinstance(m, AIMessage)],
        seeker_said=[str(m.content) for m in state.messages if not isinstance(m, AIMessage)],
        # Under Credibility the reply states facts: they must come from the record.
        facts_source=(
            f"{movie_record(movie, plot_words=FULL_PLOT)}\n{state.movie_facts}"
            if movie is not None and strategy in prompts.FACT_STRATEGIES
            else None
        ),
    )
    # Under a strategy about the movie, a draft that does not name the chosen movie is retried.
    must_name = movie is not None and strategy in prompts.MOVIE_STRATEGIES
    fallbacks: list[FallbackRecord] = []
    reply, unnamed, note, unsupported = "", "", "", False
    for attempt in range(context.llm_max_retries + 1):
        draft = models.text_call(model, [system, HumanMessage(user + note)], retries=0)
        then = "regenerating" if attempt < context.llm_max_retries else "no attempts left"
        reply, found = checks.apply(draft, note, then)
        fallbacks += found
        unsupported = unsupported or any(f["failure"] == UNSUPPORTED_FAILURE for f in found)
        note = prompts.RETRY_NOTE
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
    if not reply and unsupported and movie is not None:  # facts, but the record's
        reply = facts_reply(movie)
        fallbacks.append(
            fallback(state.turn, node, "no draft kept to the movie's facts", FACTS_REPLY_ACTION)
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
