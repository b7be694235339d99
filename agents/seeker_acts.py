"""The dialogue acts of the act-level simulation: what each strategy does, and the act judge.

The act-level seeker (`agents.act_seeker`) reads the recommender's dialogue act (strategy,
recommended movie, whether facts were given) and answers with a seeker act. Strategies are never
rewarded by name: each strategy maps to what it *does* (`STRATEGY_EFFECT`) and the seeker reacts
to effects.

Strategy -> effect (what the act does; with no movie every Actor asks about preferences, as
method.md says, but only "asks" is a targeted question, the others append a generic one):

| effect    | strategies                                                           |
|-----------|----------------------------------------------------------------------|
| asks      | Preference Confirmation, Opinion Inquiry, Experience Inquiry,        |
|           | Rephrase Preference (exactly the elicitation group)                  |
| facts     | Credibility with facts given (without facts it counts as opinion)    |
| opinion   | Personal Opinion, Personal Experience, Self Modeling                 |
| encourage | Encouragement                                                        |
| rapport   | Similarity                                                           |
| help      | Offer Help, Transparency                                             |
| ack       | Acknowledgment                                                       |
| nothing   | No Strategy; the ablated Planner (no strategy) counts as facts when  |
|           | facts were given, else as nothing                                    |
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from rso.strategies import STRATEGY_GROUP, Strategy

SeekerAct = Literal[
    "reveal_preference",
    "ask_about_movie",
    "interested",
    "accept",
    "reject",
    "not_interested",
    "other",
]

Effect = Literal["asks", "facts", "opinion", "encourage", "rapport", "help", "ack", "nothing"]

#: What each strategy does; the seeker reacts to this, never to the strategy's name.
STRATEGY_EFFECT: Final[Mapping[Strategy, Effect]] = {
    "Preference Confirmation": "asks",
    "Opinion Inquiry": "asks",
    "Experience Inquiry": "asks",
    "Rephrase Preference": "asks",
    "Credibility": "facts",
    "Personal Opinion": "opinion",
    "Personal Experience": "opinion",
    "Self Modeling": "opinion",
    "Encouragement": "encourage",
    "Similarity": "rapport",
    "Offer Help": "help",
    "Transparency": "help",
    "Acknowledgment": "ack",
    "No Strategy": "nothing",
}
if {s for s, g in STRATEGY_GROUP.items() if g == "elicitation"} != {
    s for s, e in STRATEGY_EFFECT.items() if e == "asks"
}:  # the elicitation group is exactly what asks
    raise RuntimeError("STRATEGY_EFFECT must map exactly the elicitation strategies to 'asks'")

#: Score of each seeker act on the Rewarder's scale (method.md). ``ask_about_movie`` is a neutral
#: check ("what is it about?") with no interest expressed, so it scores as "other"; curiosity
#: with a request for details is ``interested``.
ACT_SCORES: Final[Mapping[SeekerAct, float]] = {
    "accept": 1.0,
    "interested": 0.8,
    "ask_about_movie": 0.6,
    "reveal_preference": 0.6,
    "other": 0.6,
    "not_interested": 0.4,
    "reject": 0.2,
}


@dataclass(frozen=True)
class RecommenderAct:
    """What the recommender did this turn, as read from the graph's output state."""

    strategy: Strategy | None
    #: kb_id of the movie the reply recommends (the first one), None when it recommends none.
    movie: str | None = None
    #: True when the Fact Retriever supplied facts about the movie.
    facts_given: bool = False


def effect_of(act: RecommenderAct) -> Effect:
    """Return the effect of a recommender act (the strategy-effect map, with the facts rule)."""
    if act.strategy is None:
        # Ablated Planner: the generic Actor either states what it knows or just chats.
        return "facts" if act.facts_given else "nothing"
    effect = STRATEGY_EFFECT[act.strategy]
    if effect == "facts" and not act.facts_given:
        return "opinion"  # a claim of expertise with no grounded facts behind it
    return effect


def act_score(act: SeekerAct) -> float:
    """Return the Rewarder-scale score of one seeker act (the act judge)."""
    return ACT_SCORES[act]


def act_rewards(acts: Sequence[SeekerAct]) -> list[float]:
    """Batch act judge: one reward per seeker act (TRL-style reward function)."""
    return [act_score(a) for a in acts]
