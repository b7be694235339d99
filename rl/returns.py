"""Discounted returns and advantages for the Planner's REINFORCE objective (pure tensor code)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch

#: Discount of the RSO paper: almost undiscounted over a 10-turn dialogue.
DEFAULT_GAMMA = 0.999

#: How returns are standardised before they weight log-probabilities.
#: "episode": within each dialogue (the paper); "batch": over all steps of the batch; "none": raw.
Normalisation = Literal["episode", "batch", "none"]


def discounted_returns(
    rewards: Sequence[float] | torch.Tensor, gamma: float = DEFAULT_GAMMA
) -> torch.Tensor:
    """Return G_t = sum_{k>=t} gamma^(k-t) r_k for every step of one episode."""
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must lie in [0, 1], got {gamma}")
    r = torch.as_tensor(rewards, dtype=torch.float32)
    if r.dim() != 1:
        raise ValueError(
            f"rewards of one episode must be a 1-D sequence, got shape {tuple(r.shape)}"
        )
    out = torch.empty_like(r)
    running = torch.zeros((), dtype=r.dtype)
    # Backwards accumulation: G_t = r_t + gamma * G_{t+1}.
    for t in range(r.numel() - 1, -1, -1):
        running = r[t] + gamma * running
        out[t] = running
    return out


def standardise(values: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Return (x - mean) / std with the population std; constant or 1-element input gives zeros."""
    if values.numel() == 0:
        return values.clone()
    centred = values - values.mean()
    std = values.std(correction=0)
    # A 1-step episode (or one whose returns are all equal) carries no within-episode contrast:
    # zeros, never NaN or a blown-up ratio.
    if float(std) < eps:
        return torch.zeros_like(values)
    return centred / std


def episode_advantages(
    episodes: Sequence[Sequence[float] | torch.Tensor],
    gamma: float = DEFAULT_GAMMA,
    normalisation: Normalisation = "episode",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return flat advantages for a batch of episodes and the episode index of each step.

    Returns are discounted per episode, then standardised as `normalisation` says. The result
    lines up with the concatenated steps.
    """
    if not episodes:
        raise ValueError("episode_advantages needs at least one episode")
    per_episode = [discounted_returns(rewards, gamma) for rewards in episodes]
    for i, g in enumerate(per_episode):
        if g.numel() == 0:
            raise ValueError(f"episode {i} has no steps")
    index = torch.cat(
        [torch.full((g.numel(),), i, dtype=torch.long) for i, g in enumerate(per_episode)]
    )
    flat = torch.cat(per_episode)
    if normalisation == "episode":
        flat = torch.cat([standardise(flat[index == i]) for i in range(len(per_episode))])
    elif normalisation == "batch":
        flat = standardise(flat)
    elif normalisation != "none":
        raise ValueError(
            f"unknown normalisation {normalisation!r}; expected 'episode', 'batch' or 'none'"
        )
    return flat, index
