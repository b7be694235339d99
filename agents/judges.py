"""Evaluation judges: persuasiveness and credibility, both on a 1-5 scale.

- Persuasiveness: the simulated seeker (persona and goal) rates its intention to watch the
  recommended movie three times: given the title only (pre), after the dialogue (after) and given
  the movie's full record (true). The aggregate lives in `evaluation.metrics`.
- Credibility: for each recommender utterance that mentions a movie, a judge rates 1-5 how
  truthful it is against that movie's record.

Both ask for a Pydantic schema through `graph.models.structured_call` (reasoning before the
decision); when every attempt is malformed, the first digit 1-5 in the last raw reply is used,
and when there is none the score is None with the error kept (`JudgeScore.error`), so the metric
counts it as missing rather than inventing a value.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, Field

from agents.rewarder import Conversation, conversation_turns
from agents.seeker import NO_PERSONA, goal_text, persona_text
from agents.seeker_goal import SeekerGoal
from graph.constrained import schema_bounds
from prompts import judges as prompts
from rso.data.records import Movie, Persona
from rso.dialogue import format_dialogue

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from graph.models import LLMSettings

Stage = Literal["pre", "after", "true"]

_DIGIT = re.compile(r"(?<![\d.])([1-5])(?![\d.])")


#: A rating, 1-5, as an ``enum`` in the schema: llama.cpp's grammar enforces an enum but not an
#: integer's minimum and maximum (the 135M judge answered 15 and 1052894376888888).
Rating = Literal[1, 2, 3, 4, 5]

#: Bound of a judge's one-sentence reasoning in the schema: the rating after it must still fit
#: the judge's token budget.
REASON_CHARS: Final = 150


class WatchIntention(BaseModel):
    """The seeker's intention to watch a movie."""

    reasoning: str = Field(
        description="Why, in one sentence.", json_schema_extra=schema_bounds(max_chars=REASON_CHARS)
    )
    rating: Rating = Field(description="1 = certainly not, 5 = certainly.")


class CredibilityScore(BaseModel):
    """How truthful a recommender utterance is against the movie's record."""

    reasoning: str = Field(
        description="Why, in one sentence.", json_schema_extra=schema_bounds(max_chars=REASON_CHARS)
    )
    score: Rating = Field(description="1 = contradicts or invents, 5 = all true.")


@dataclass(frozen=True)
class JudgeScore:
    """One judge rating (1-5), or None with the reason when no rating could be read."""

    value: int | None
    #: How the value was obtained: "structured", "digit in raw reply" or "missing".
    source: str
    error: str | None = None
    raw: str | None = None


@dataclass(frozen=True)
class PersuasionRatings:
    """The three intention ratings of one dialogue's recommended movie."""

    pre: JudgeScore
    after: JudgeScore
    true: JudgeScore

    def values(self) -> tuple[int | None, int | None, int | None]:
        """Return (pre, after, true) as plain ratings."""
        return self.pre.value, self.after.value, self.true.value


def _judge(
    model: BaseChatModel,
    schema: type[WatchIntention] | type[CredibilityScore],
    messages: list[BaseMessage],
    settings: LLMSettings,
) -> JudgeScore:
    from graph import models

    result = models.structured_call(
        model, schema, messages, settings.structured_method, retries=settings.max_retries
    )
    if result.value is not None:
        value = (
            result.value.rating if isinstance(result.value, WatchIntention) else result.value.score
        )
        return JudgeScore(value, "structured", raw=result.raw)
    match = _DIGIT.search(result.raw or "")
    if match is not None:
        return JudgeScore(int(match.group(1)), "digit in raw reply", result.error, result.raw)
    return JudgeScore(None, "missing", result.error, result.raw)


def movie_record(movie: Movie) -> str:
    """Return the full record of a movie as the judges read it."""
    from agents.fact_retriever import movie_record as record

    # The judges see the whole plot: "true" intention and truthfulness need every fact.
    return record(movie, plot_words=10_000)


def intention_messages(
    stage: Stage,
    movie: Movie,
    persona: Persona | None,
    goal: SeekerGoal,
    dialogue: Conversation = (),
) -> list[BaseMessage]:
    """Build the intention prompt of one stage."""
    system = prompts.INTENTION_SYSTEM.format(
        persona=persona_text(persona) if persona is not None else NO_PERSONA,
        goal=goal_text(goal),
    )
    user = prompts.INTENTION_USER[stage].format(
        title=movie.display_title,
        dialogue=format_dialogue(conversation_turns(dialogue)) if stage == "after" else "",
        record=movie_record(movie) if stage == "true" else "",
    )
    return [SystemMessage(system), HumanMessage(user)]


def rate_intention(
    stage: Stage,
    movie: Movie,
    persona: Persona | None,
    goal: SeekerGoal,
    settings: LLMSettings,
    dialogue: Conversation = (),
    *,
    model: BaseChatModel | None = None,
) -> JudgeScore:
    """Rate the seeker's intention to watch `movie` at one stage (pre, after, true)."""
    from graph import models

    if stage == "after" and not dialogue:
        raise ValueError("the 'after' rating needs the dialogue")
    model = model or models.load_chat_model(settings)
    messages = intention_messages(stage, movie, persona, goal, dialogue)
    return _judge(model, WatchIntention, messages, settings)


def persuasiveness(
    dialogue: Conversation,
    movie: Movie,
    persona: Persona | None,
    goal: SeekerGoal,
    settings: LLMSettings,
    *,
    model: BaseChatModel | None = None,
) -> PersuasionRatings:
    """Rate pre, after and true intention for the dialogue's recommended movie."""
    from graph import models

    model = model or models.load_chat_model(settings)
    return PersuasionRatings(
        pre=rate_intention("pre", movie, persona, goal, settings, model=model),
        after=rate_intention("after", movie, persona, goal, settings, dialogue, model=model),
        true=rate_intention("true", movie, persona, goal, settings, model=model),
    )


def credibility(
    utterances: Sequence[tuple[str, Movie]],
    settings: LLMSettings,
    *,
    model: BaseChatModel | None = None,
) -> list[JudgeScore]:
    """Rate each (recommender utterance, movie it mentions) for truthfulness, 1-5."""
    from graph import models

    if not utterances:
        return []
    model = model or models.load_chat_model(settings)
    scores = []
    for utterance, movie in utterances:
        messages: list[BaseMessage] = [
            SystemMessage(prompts.CREDIBILITY_SYSTEM),
            HumanMessage(
                prompts.CREDIBILITY_USER.format(record=movie_record(movie), utterance=utterance)
            ),
        ]
        scores.append(_judge(model, CredibilityScore, messages, settings))
    return scores
