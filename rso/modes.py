"""Every mode name of the project, declared once: what a run can be set to, and the thresholds.

The `Literal` aliases type the settings; the tuples beside them list the choices for the command
line and for validation, so that ``--help`` never has to import torch or LangGraph to know them.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

#: How the Planner turns its distribution into a strategy: draw from it, or take the argmax.
PlannerMode = Literal["sample", "greedy"]
PLANNER_MODES: Final[tuple[PlannerMode, ...]] = get_args(PlannerMode)
#: How the Planner chooses when a person chats (rso chat, the demo, the web page): the most
#: likely strategy. Rollouts and training sample (the Context default) to explore.
CHAT_PLANNER_MODE: Final[PlannerMode] = "greedy"

#: Which implementation of the Preference Reasoner, Fact Retriever and Actor runs.
ExpertsMode = Literal["llm", "rule"]
EXPERTS_MODES: Final[tuple[ExpertsMode, ...]] = get_args(ExpertsMode)

#: The simulated seeker: an LLM playing the persona, or the fast act-level simulator.
SeekerMode = Literal["llm", "act"]
SEEKER_MODES: Final[tuple[SeekerMode, ...]] = get_args(SeekerMode)

#: What the simulated seeker wants: "genre" = the case's first target genre (the paper's
#: protocol); "item" = a hidden target movie, the one the case's human recommender recommended
#: last (cases without one linked to the knowledge base are left out).
GoalMode = Literal["genre", "item"]
GOAL_MODES: Final[tuple[GoalMode, ...]] = get_args(GoalMode)

#: When an episode ends early: "reward" = the paper's protocol, at the first turn reward above
#: `SUCCESS_THRESHOLD`; "accept" = only when the seeker explicitly accepts or leaves. The act-level
#: seeker always shows interest (0.8) before it accepts, so under "reward" its episodes would stop
#: before any explicit acceptance and strict success could not be measured or learned.
EndOn = Literal["reward", "accept"]
END_ON: Final[tuple[EndOn, ...]] = get_args(EndOn)

#: How the RL loss sums the entropy bonus over a batch's decisions.
#: "mean": the paper's formula as written, beta times the mean entropy per step, which makes the
#: bonus about 1/T of the policy term's scale (T decisions per episode); "decision": like the
#: policy term, summed over each episode's decisions and averaged over episodes, so that beta
#: weighs one decision's entropy against one decision's advantage-weighted log-probability.
EntropyScale = Literal["mean", "decision"]
ENTROPY_SCALES: Final[tuple[EntropyScale, ...]] = get_args(EntropyScale)

#: A turn reward above this is a success (method: 0.7, so a merely "interested" seeker counts).
SUCCESS_THRESHOLD: Final = 0.7

#: Recommender turns per episode at most (method: 10).
MAX_TURNS: Final = 10
