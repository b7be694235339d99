"""State of the episode graph (``rollout``): what starts an episode, what it returns, what it keeps.

Reducers: ``messages`` uses `add_messages`; ``turns`` and ``rewards`` append (`append_items`);
every other key is written by one node at a time (last value wins).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages

from agents.act_seeker import SeekerState
from agents.seeker_acts import SeekerAct
from graph.state import FallbackRecord, TurnOutput, append_items
from rso.data.records import EvalCase
from rso.runs.records import TurnRecord


@dataclass
class RolloutInput:
    """What starts an episode: a case id, the episode's index, and optionally its seed."""

    #: Case id, e.g. "inspired:123" (looked up in the context's case set first, then the others).
    case_id: str = ""
    #: Repetition of this case within a run (episodes cycle through the cases).
    episode_index: int = 0
    #: Seed of this episode's draws; None = derived from the context's seed, case and index.
    seed: int | None = None


@dataclass
class RolloutOutput:
    """What an episode returns."""

    #: The whole dialogue, the seeker's opening first.
    messages: Annotated[list[AnyMessage], add_messages] = field(default_factory=list)
    #: One record per recommender turn, with the seeker's reaction and the reward.
    turns: Annotated[list[TurnRecord], append_items] = field(default_factory=list)
    #: The turn rewards r_t, in order.
    rewards: Annotated[list[float], append_items] = field(default_factory=list)
    #: Some turn reward exceeded `SUCCESS_THRESHOLD`.
    success: bool = False
    #: The seeker explicitly accepted a recommendation.
    strict_success: bool = False
    #: The episode is over.
    done: bool = False


@dataclass
class RolloutState(RolloutInput, RolloutOutput):
    """The full state of one episode."""

    #: The resolved case (set by ``start_episode``).
    case: EvalCase | None = None
    #: INSPIRED survey user id of the seeker's persona.
    persona_id: str = ""
    #: What the seeker wants, as `SeekerGoal.label` writes it ("genre:<genre>").
    goal: str = ""
    #: The seed actually used (``seed`` or the derived one); the recommender's Context gets it.
    episode_seed: int = 0
    #: The recommender's decisions of the current turn, waiting for the seeker and the Rewarder.
    recommender_turn: TurnOutput = field(default_factory=TurnOutput)
    #: The Preference Reasoner's summary the current turn's Actor read.
    recommender_preferences: str = ""
    #: The seeker's answer of the current turn and its act (act-level seeker only).
    seeker_reply: str = ""
    seeker_act: SeekerAct | None = None
    #: What failed this turn (in the recommender, the seeker, then the Rewarder) and what was done
    #: instead.
    turn_fallbacks: list[FallbackRecord] = field(default_factory=list)
    #: The act-level seeker's memory between turns (None with the LLM seeker).
    seeker_state: SeekerState | None = None
    #: The seeker ended the episode (accepted, or left out of patience).
    seeker_done: bool = False
