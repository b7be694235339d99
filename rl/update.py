"""One policy update: entropy-regularised REINFORCE on a batch of logged decisions.

Dropout stays off during the update: the behaviour probabilities logged during rollouts come from
the eval-mode network, and the importance ratio is only meaningful if the update compares the
same function.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from policy.network import PlannerPolicy
from rl.losses import reinforce_loss
from rl.reinforce_config import RLConfig
from rl.returns import episode_advantages
from rl.steps import StepBatch


def centred_rewards(rewards: Sequence[Sequence[float]]) -> list[list[float]]:
    """Subtract the mean turn reward of the whole batch from every reward (the reward baseline)."""
    flat = [r for episode in rewards for r in episode]
    mean = sum(flat) / len(flat)
    return [[r - mean for r in episode] for episode in rewards]


@dataclass(frozen=True)
class UpdateStats:
    """What one policy update measured (before the step, under the behaviour batch)."""

    loss: float
    policy_term: float
    entropy: float
    mean_weight: float
    clipped_fraction: float


def reinforce_step(
    policy: PlannerPolicy,
    optimizer: torch.optim.Optimizer,
    batch: StepBatch,
    config: RLConfig,
    *,
    importance: bool = True,
) -> UpdateStats:
    """Take `config.steps_per_update` optimiser steps of the entropy-regularised REINFORCE loss."""
    rewards = centred_rewards(batch.rewards) if config.baseline else batch.rewards
    advantages, _ = episode_advantages(
        rewards, gamma=config.gamma, normalisation=config.normalisation
    )
    params = [p for p in policy.parameters() if p.requires_grad]
    policy.eval()  # dropout off: see the module docstring
    first: UpdateStats | None = None
    for _ in range(config.steps_per_update):
        logits = policy(batch.texts)
        parts = reinforce_loss(
            logits,
            batch.actions.to(logits.device),
            advantages.to(logits.device),
            beta=config.beta,
            num_episodes=batch.n_episodes,
            behaviour_prob=batch.behaviour.to(logits.device) if importance else None,
            importance_clip=config.importance_clip,
            entropy_scale=config.entropy_scale,
        )
        optimizer.zero_grad(set_to_none=True)
        parts.loss.backward()
        if config.max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
        optimizer.step()
        if first is None:
            first = UpdateStats(
                loss=float(parts.loss.detach()),
                policy_term=float(parts.policy_term),
                entropy=float(parts.entropy),
                mean_weight=float(parts.mean_weight),
                clipped_fraction=float(parts.clipped_fraction),
            )
    assert first is not None
    return first
