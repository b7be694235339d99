"""The Fact Retriever: the learned ranker's top-k, then an LLM picks a candidate and its facts.

The LLM sees the top ``n_candidates`` with their records, picks the one that fits the preferences
and the last seeker turn (or declines), and summarises its facts from the record in < 100 words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field, JsonValue, create_model

from agents.dialogue_memory import current_movie, dialogue_of, preferences_of
from graph import models, resources
from graph.constrained import schema_bounds
from graph.context import Context, context_from
from graph.routing import RETRIEVE_FACTS
from graph.state import FallbackRecord, State
from graph.utils import clip_text, content_words, dialogue_turns, fallback, overlap
from prompts import fact_retriever as prompts
from retrieval.dialogue import DialogueTurn
from rso.data.records import Movie
from rso.dialogue import format_dialogue

#: Facts are kept under this many words (method.md: "a factual summary of under 100 words").
MAX_FACT_WORDS = 99
#: Share of the facts' content words that must occur in the movie's record (else: invented).
MIN_FACT_OVERLAP = 0.4
#: Distinctive words the facts must hold besides the title ("Title: The Proposal" is no fact).
MIN_FACT_WORDS = 2
#: Words of plot shown per candidate: three full records must fit a small model's context.
CANDIDATE_PLOT_WORDS = 80


#: Bound of the facts in the answer's schema (about 100 words, within the token budget).
MAX_FACTS_CHARS: Final = 600


class MoviePick(BaseModel):
    """What the Fact Retriever's LLM answers."""

    choice: str = Field(description=f'The chosen title as written, or "{prompts.NO_CHOICE}".')
    facts: str = Field(
        description="Facts about the chosen movie from its record, under 100 words.",
        json_schema_extra=schema_bounds(max_chars=MAX_FACTS_CHARS),
    )


def pick_schema(candidates: Sequence[Movie]) -> type[MoviePick]:
    """Return `MoviePick` whose choice is one of the candidates' titles or the decline.

    A server that constrains decoding to the schema (llama.cpp's function calling, vLLM's
    json_schema) can then only answer a valid choice; the value is still checked on return.
    """
    options: list[JsonValue] = list(
        dict.fromkeys([*(movie.title for movie in candidates), prompts.NO_CHOICE])
    )
    choice = Field(
        description=f'The chosen title as written, or "{prompts.NO_CHOICE}".',
        json_schema_extra={"enum": options},
    )
    return create_model(
        "MoviePick", __base__=MoviePick, __doc__=MoviePick.__doc__, choice=(str, choice)
    )


def movie_under_discussion(state: State) -> str | None:
    """Return the movie the latest recommending reply named, unless the seeker turned it down."""
    dialogue = dialogue_of(state.messages, state.recommended_history)
    current = current_movie(dialogue)
    if current is None or current in preferences_of(dialogue).rejected:
        return None
    return current


def movie_record(movie: Movie, plot_words: int = CANDIDATE_PLOT_WORDS) -> str:
    """Return the record of a movie as shown to the LLM (title, year, people, clipped plot)."""
    lines = [f"Title: {movie.title}"]
    if movie.year:
        lines.append(f"Year: {movie.year}")
    for label, values in (
        ("Genres", movie.genres),
        ("Directed by", movie.directors),
        ("Starring", movie.cast[:5]),
    ):
        if values:
            lines.append(f"{label}: {', '.join(values)}")
    if movie.plot:
        lines.append(f"Plot: {limit_words(movie.plot, plot_words)}")
    return "\n".join(lines)


def record_facts(movie: Movie) -> str:
    """Return facts about a movie written from its record alone (the grounded fallback summary)."""
    parts = [movie.display_title]
    if movie.genres:
        parts.append(f"is a {', '.join(g.lower() for g in movie.genres[:3])} movie")
    else:
        parts.append("is a movie")
    if movie.directors:
        parts.append(f"directed by {', '.join(movie.directors[:2])}")
    sentence = " ".join(parts)
    if movie.cast:
        sentence += f", starring {', '.join(movie.cast[:3])}"
    text = sentence + "."
    if movie.plot:
        text += " " + movie.plot
    return limit_words(text, MAX_FACT_WORDS)


def limit_words(text: str, max_words: int) -> str:
    """Keep at most `max_words` words, ending at a nearby sentence end, else with "..."."""
    words = text.split()
    if len(words) <= max_words:
        return " ".join(words)
    clipped = " ".join(words[:max_words])
    end = max(clipped.rfind(". "), clipped.rfind("! "), clipped.rfind("? "))
    if end >= len(clipped) // 2:
        return clipped[: end + 1]
    return clipped.rstrip(",;:") + "..."


def facts_problem(facts: str, movie: Movie) -> str | None:
    """Return why the facts about `movie` are unusable (empty, markup, not from its record)."""
    if not facts:
        return "the model gave no facts"
    if re.search(r"[<>{}]", facts):
        return "the facts contain markup"
    beyond_title = content_words(facts) - content_words(f"title {movie.title}")
    if len(beyond_title) < MIN_FACT_WORDS:
        return "the facts say nothing beyond the title"
    grounded = overlap(facts, movie_record(movie, plot_words=10_000))
    if grounded < MIN_FACT_OVERLAP:
        return f"only {grounded:.0%} of the facts' words come from the movie's record"
    return None


def snap_to_candidate(choice: str, candidates: Sequence[Movie]) -> Movie | None:
    """Return the candidate the LLM's choice names (its number, or its title, fuzzily); or None."""
    text = choice.strip().strip("\"'").strip()
    number = re.fullmatch(r"(?:movie|candidate|number|#)?\s*(\d+)", text, flags=re.IGNORECASE)
    if number and 1 <= int(number.group(1)) <= len(candidates):
        return candidates[int(number.group(1)) - 1]
    kb_id = resources.title_matcher().match(text, candidates=[movie.kb_id for movie in candidates])
    return next((movie for movie in candidates if movie.kb_id == kb_id), None)


def is_decline(choice: str) -> bool:
    """Return True when the LLM's choice says that no candidate fits."""
    text = re.sub(r"[^a-z0-9 ]", "", choice.casefold()).strip()
    return text in {"", prompts.NO_CHOICE, "no", "nothing", "na", "none of them", "no movie"}


def ranker_dialogue(state: State, context: Context) -> list[DialogueTurn]:
    """Return the whole dialogue as the ranker reads it: (SEEKER or RECOMMENDER, text)."""
    turns = dialogue_turns(state.messages, context.max_message_chars)
    return [("SEEKER" if speaker == "Seeker" else "RECOMMENDER", text) for speaker, text in turns]


def retrieve_facts(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Rank the top-k movies; with known preferences, choose one candidate and its facts.

    The learned ranker (docs/recommendation.md) reads the whole dialogue and the preference
    summary and never returns a movie the dialogue already named.
    """
    context = context_from(runtime)
    ranked = resources.recommender().recommend(
        ranker_dialogue(state, context), state.preferences or None, k=context.top_k
    )
    retrieved = [(pick.kb_id, pick.score) for pick in ranked]
    candidate_ids = [pick.kb_id for pick in ranked[: context.n_candidates]]
    # A follow-up ("who is in it?") is about the movie just recommended: it stays candidate 1,
    # although the ranker never returns a movie the dialogue already named.
    current = movie_under_discussion(state)
    if current is not None and candidate_ids:
        candidate_ids = [current, *[c for c in candidate_ids if c != current]][
            : context.n_candidates
        ]
    update: dict[str, Any] = {"retrieved": retrieved, "candidates": candidate_ids}
    # Without the Preference Reasoner (ablation) the LLM reads the dialogue instead of a summary.
    if not candidate_ids or (context.use_reasoner and not state.preferences):
        return update  # no known preference: no recommendation this turn (method.md)
    known = resources.movies()
    candidates = [known[kb_id] for kb_id in candidate_ids]
    if context.use_reasoner:
        preferences = state.preferences
    else:
        history = state.messages[:-1][-context.history_messages :]
        preferences = prompts.PREFERENCES_FROM_DIALOGUE.format(
            dialogue=format_dialogue(dialogue_turns(history, context.max_message_chars))
        )
    blocks = "\n".join(
        prompts.CANDIDATE.format(number=i, record=movie_record(movie))
        for i, movie in enumerate(candidates, start=1)
    )
    settings = context.llm("retriever")
    messages = [
        SystemMessage(prompts.SYSTEM.format(n_candidates=len(candidates), none=prompts.NO_CHOICE)),
        HumanMessage(
            prompts.USER.format(
                preferences=preferences,
                seeker_message=clip_text(state.seeker_text, context.max_message_chars),
                candidates=blocks,
            )
        ),
    ]
    result = models.structured_call(
        models.load_chat_model(settings),
        pick_schema(candidates),
        messages,
        settings.structured_method,
        retries=context.llm_max_retries,
    )
    fallbacks: list[FallbackRecord] = []
    chosen: Movie | None
    if result.value is None:
        chosen, facts = candidates[0], record_facts(candidates[0])
        fallbacks.append(
            fallback(
                state.turn,
                RETRIEVE_FACTS,
                f"malformed output after {result.attempts} attempts: {result.error}",
                f"chose the top-ranked candidate {candidates[0].kb_id} with facts from its record",
            )
        )
    elif is_decline(result.value.choice):
        chosen, facts = None, ""
    else:
        chosen = snap_to_candidate(result.value.choice, candidates)
        if chosen is None:
            chosen = candidates[0]
            fallbacks.append(
                fallback(
                    state.turn,
                    RETRIEVE_FACTS,
                    f"choice {result.value.choice[:80]!r} names no candidate",
                    f"chose the top-ranked candidate {chosen.kb_id}",
                )
            )
        facts = limit_words(" ".join(result.value.facts.split()), MAX_FACT_WORDS)
        problem = facts_problem(facts, chosen)
        if problem is not None:
            facts = record_facts(chosen)
            fallbacks.append(
                fallback(
                    state.turn,
                    RETRIEVE_FACTS,
                    problem,
                    "used facts written from the movie's record",
                )
            )
    update |= {"chosen_movie": chosen.kb_id if chosen else None, "movie_facts": facts}
    if fallbacks:
        update["fallbacks"] = fallbacks
    return update
