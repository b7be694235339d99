"""The 14 INSPIRED recommender strategies, named once for the whole project."""

from __future__ import annotations

import re
from typing import Final, Literal, get_args

Strategy = Literal[
    "Acknowledgment",
    "Credibility",
    "Encouragement",
    "Experience Inquiry",
    "No Strategy",
    "Offer Help",
    "Opinion Inquiry",
    "Personal Experience",
    "Personal Opinion",
    "Preference Confirmation",
    "Rephrase Preference",
    "Self Modeling",
    "Similarity",
    "Transparency",
]

#: Label order used by every Planner head, checkpoint and metric (alphabetical, as in INSPIRED).
STRATEGIES: Final[tuple[Strategy, ...]] = get_args(Strategy)
STRATEGY_INDEX: Final[dict[str, int]] = {s: i for i, s in enumerate(STRATEGIES)}

StrategyGroup = Literal["sociable", "elicitation", "non-strategy"]

STRATEGY_GROUP: Final[dict[Strategy, StrategyGroup]] = {
    "Credibility": "sociable",
    "Personal Opinion": "sociable",
    "Personal Experience": "sociable",
    "Similarity": "sociable",
    "Encouragement": "sociable",
    "Offer Help": "sociable",
    "Self Modeling": "sociable",
    "Transparency": "sociable",
    "Preference Confirmation": "elicitation",
    "Opinion Inquiry": "elicitation",
    "Experience Inquiry": "elicitation",
    "Rephrase Preference": "elicitation",
    "Acknowledgment": "non-strategy",
    "No Strategy": "non-strategy",
}

# The original INSPIRED release writes labels in snake_case ("preference_confirmation", ...).
_ALIASES: Final[dict[str, Strategy]] = {re.sub(r"[^a-z]", "", s.lower()): s for s in STRATEGIES} | {
    "acknowledgement": "Acknowledgment",
    "nostrategy": "No Strategy",
}


class UnknownStrategyError(ValueError):
    """A strategy label that is not one of the 14."""


def parse_strategy(label: str) -> Strategy:
    """Map a label in any of the dataset spellings to its canonical `Strategy` name."""
    key = re.sub(r"[^a-z]", "", label.lower())
    try:
        return _ALIASES[key]
    except KeyError:
        raise UnknownStrategyError(
            f"unknown strategy label {label!r}; expected one of: {', '.join(STRATEGIES)}"
        ) from None


def strategy_slug(strategy: Strategy) -> str:
    """Snake-case identifier of a strategy, used for graph node names ("opinion_inquiry")."""
    return strategy.lower().replace(" ", "_")
