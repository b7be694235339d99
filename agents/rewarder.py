"""The Rewarder: an LLM judge of each exchange, and the reward functions built on it.

It answers "Has the seeker accepted the recommendation?" with one of five options, sampled
``samples`` times (10) at the rewarder role's temperature (1.1). Each answer maps
to a score (`LABEL_SCORES`); the turn reward r_t is their mean.

- success: r_t > 0.7 (method.md; a merely "interested" seeker counts).
- strict success: explicit acceptance, i.e. a strict majority of the samples answered
  "accepted" (more than half; 5 of 10 is not enough).
- An answer that names no option counts as "other" (0.6) and its text is kept in
  `TurnReward.parse_failures`, so a run can report how often the judge was unreadable.

Samples come from one request with ``n`` choices when ``use_n`` is on (vLLM honours it; servers
that ignore ``n`` are topped up with single requests by `graph.models.sample_texts`), or from
one request per sample when it is off.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Literal

from langchain_core.messages import HumanMessage, SystemMessage

from prompts import rewarder as prompts
from rso.dialogue import format_dialogue
from rso.modes import SUCCESS_THRESHOLD

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import BaseMessage

    from graph.models import LLMSettings

logger = logging.getLogger("rso.rewarder")

RewardLabel = Literal["rejected", "not_interested", "other", "interested", "accepted"]

#: Score of each answer (method.md): "other" is "no recommendation yet / anything else".
LABEL_SCORES: Final[dict[RewardLabel, float]] = {
    "rejected": 0.2,
    "not_interested": 0.4,
    "other": 0.6,
    "interested": 0.8,
    "accepted": 1.0,
}
#: Answers sampled per turn (method.md).
DEFAULT_SAMPLES: Final = 10

_LETTERS: Final[dict[str, RewardLabel]] = {
    "A": "rejected",
    "B": "not_interested",
    "C": "other",
    "D": "interested",
    "E": "accepted",
}
# "E) accepted", "(D)", "Answer: B." - an option letter on its own, not the article "A movie".
_LETTER = re.compile(
    r"(?:^|(?i:answer)\s*(?:is)?\s*:?\s*|(?i:option)\s*)\(?([A-E])(?:\)|\.|:|\s*$|\s+-)"
)
_NEGATED = re.compile(r"\b(?:not|n't|never|no)\s+(?:\w+\s+){0,2}$")
# Keywords in order: the more specific phrase wins ("not interested" before "interested").
_KEYWORDS: Final[tuple[tuple[re.Pattern[str], RewardLabel], ...]] = (
    (re.compile(r"not\s+interested|uninterested|no\s+interest"), "not_interested"),
    (re.compile(r"no\s+recommendation|not\s+yet|anything\s+else|other\b"), "other"),
    (re.compile(r"reject|declin|turned\s+(?:it\s+)?down"), "rejected"),
    (re.compile(r"interest|asks?\s+(?:for\s+)?details"), "interested"),
    (re.compile(r"accept|will\s+watch"), "accepted"),
)


@dataclass(frozen=True)
class TurnReward:
    """The Rewarder's verdict on one turn."""

    #: One label per sample ("other" for unparsable answers).
    labels: list[RewardLabel]
    #: One score per sample.
    samples: list[float]
    #: Mean score: the turn reward r_t.
    reward: float
    success: bool
    strict_success: bool
    #: Raw texts of the answers that named no option.
    parse_failures: list[str] = field(default_factory=list)


def parse_answer(text: str) -> RewardLabel | None:
    """Return the option an answer names, or None when it names none (or contradicts itself)."""
    stripped = text.strip()
    if not stripped:
        return None
    letter = _LETTER.search(stripped)
    if letter is not None:
        return _LETTERS[letter.group(1)]
    lowered = " ".join(stripped.lower().split())
    for pattern, label in _KEYWORDS:
        match = pattern.search(lowered)
        if match is None:
            continue
        if label in ("accepted", "interested", "rejected") and _NEGATED.search(
            lowered[: match.start()]
        ):
            # "has not accepted" names no option: it could be rejected, uninterested or other.
            return None
        return label
    return None


def score_answers(
    answers: Sequence[str], success_threshold: float = SUCCESS_THRESHOLD
) -> TurnReward:
    """Turn sampled answers into the turn reward, success flags and the logged parse failures."""
    if not answers:
        raise ValueError("score_answers needs at least one answer")
    labels: list[RewardLabel] = []
    failures: list[str] = []
    for answer in answers:
        label = parse_answer(answer)
        if label is None:
            failures.append(answer)
            label = "other"
        labels.append(label)
    if failures:
        logger.warning("Rewarder: %d of %d answers named no option", len(failures), len(answers))
    samples = [LABEL_SCORES[label] for label in labels]
    reward = sum(samples) / len(samples)
    accepted = sum(1 for label in labels if label == "accepted")
    return TurnReward(
        labels=labels,
        samples=samples,
        reward=reward,
        success=reward > success_threshold,
        strict_success=accepted * 2 > len(labels),
        parse_failures=failures,
    )


#: A conversation: chat messages (human = seeker, AI = recommender) or (speaker, text) turns.
Conversation = Sequence["BaseMessage"] | Sequence[tuple[str, str]]


def conversation_turns(conversation: Conversation) -> list[tuple[str, str]]:
    """Return (speaker, text) turns from messages or turns ("Seeker" / "Recommender")."""
    from langchain_core.messages import BaseMessage

    from graph.utils import dialogue_turns

    turns: list[tuple[str, str]] = []
    for item in conversation:
        if isinstance(item, BaseMessage):
            turns.extend(dialogue_turns([item]))  # type: ignore[list-item]
        else:
            speaker, text = item
            turns.append((speaker, text))
    return turns


def rewarder_messages(conversation: Conversation) -> list[SystemMessage | HumanMessage]:
    """Build the Rewarder's prompt for a conversation."""
    return [
        SystemMessage(prompts.SYSTEM),
        HumanMessage(
            prompts.USER.format(conversation=format_dialogue(conversation_turns(conversation)))
        ),
    ]


def score_turn(
    conversation: Conversation,
    settings: LLMSettings,
    *,
    samples: int = DEFAULT_SAMPLES,
    use_n: bool = True,
    success_threshold: float = SUCCESS_THRESHOLD,
    model: BaseChatModel | None = None,
    seed: int | None = None,
) -> TurnReward:
    """Judge the conversation so far: sample the answers and return the turn reward.

    ``use_n``: ask for all samples in one request with ``n`` (else one request per sample).
    """
    from graph import models
    from graph.constrained import constrained_to

    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}")
    model = model or models.load_chat_model(constrained_to(settings, prompts.ANSWERS))
    messages = rewarder_messages(conversation)
    seed = settings.seed if seed is None else seed
    if use_n:
        answers = models.sample_texts(
            model, messages, samples, seed=seed, retries=settings.max_retries
        )
    else:
        # The seed changes per request: one seed replayed would give the same answer each time.
        answers = [
            models.sample_texts(
                model, messages, 1, seed=None if seed is None else seed + i, retries=0
            )[0]
            for i in range(samples)
        ]
    return score_answers(answers, success_threshold)
