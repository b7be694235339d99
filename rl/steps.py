"""The Planner decisions of finished episodes as one batch to learn from."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import torch

from rso.runs.records import EpisodeRecord
from rso.strategies import STRATEGY_INDEX


@dataclass(frozen=True)
class StepBatch:
    """The Planner decisions of a set of episodes, flattened in episode order."""

    texts: list[str]
    actions: torch.Tensor
    #: Rewards of the decision steps, one list per episode (for the returns).
    rewards: list[list[float]]
    #: mu(h_t | s_t) logged at decision time, one per step.
    behaviour: torch.Tensor
    episode_ids: list[str]
    successes: list[bool]
    #: Episodes left out, by reason (failed episodes, episodes without Planner decisions).
    skipped: dict[str, int]

    @property
    def n_episodes(self) -> int:
        """Number of episodes in the batch."""
        return len(self.rewards)


def batch_from_episodes(episodes: Iterable[EpisodeRecord], source: str = "rollouts") -> StepBatch:
    """Collect the Planner decisions of finished episodes; raise if none can be learned from."""
    texts: list[str] = []
    actions: list[int] = []
    behaviour: list[float] = []
    rewards: list[list[float]] = []
    ids: list[str] = []
    successes: list[bool] = []
    skipped: Counter[str] = Counter()
    for episode in episodes:
        if episode.status != "ok":
            skipped["failed"] += 1
            continue
        steps = [t for t in episode.turns if t.strategy is not None]
        if not steps:
            skipped["no_planner_decision"] += 1
            continue
        if len(steps) != len(episode.turns):
            raise ValueError(
                f"{source}: episode {episode.episode_id} mixes turns with and without a strategy"
            )
        for turn in steps:
            assert turn.strategy is not None
            where = f"{source}: episode {episode.episode_id} turn {turn.turn}"
            if not turn.planner_input:
                raise ValueError(f"{where}: no planner_input logged; cannot replay the decision")
            index = STRATEGY_INDEX[turn.strategy]
            if turn.probs:
                mu = float(turn.probs[index])
            elif turn.logprob is not None:
                mu = math.exp(turn.logprob)
            else:
                raise ValueError(f"{where}: neither probs nor logprob logged")
            if not 0.0 < mu <= 1.0 + 1e-6:
                raise ValueError(f"{where}: logged probability {mu} of {turn.strategy!r}")
            texts.append(turn.planner_input)
            actions.append(index)
            behaviour.append(min(mu, 1.0))
        rewards.append([float(t.reward) for t in steps])
        ids.append(episode.episode_id)
        successes.append(bool(episode.success))
    if not rewards:
        detail = ", ".join(f"{k}: {v}" for k, v in sorted(skipped.items())) or "no episodes"
        raise ValueError(f"{source}: no episode with Planner decisions to learn from ({detail})")
    return StepBatch(
        texts=texts,
        actions=torch.tensor(actions, dtype=torch.long),
        rewards=rewards,
        behaviour=torch.tensor(behaviour, dtype=torch.float32),
        episode_ids=ids,
        successes=successes,
        skipped=dict(skipped),
    )
