"""The Planner's entropy-regularised REINFORCE loss, with optional clipped importance weights."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from rso.modes import ENTROPY_SCALES, EntropyScale

#: Entropy bonus of the RSO paper (0.1 and 0.001 were also tried).
DEFAULT_BETA = 0.01

#: Upper clip of the importance ratio pi/mu for logged (off-policy) rollouts.
DEFAULT_IMPORTANCE_CLIP = 2.0


@dataclass(frozen=True)
class ReinforceLoss:
    """The scalar loss to minimise and its parts, detached except `loss`, for logging."""

    loss: torch.Tensor
    policy_term: torch.Tensor
    entropy: torch.Tensor
    mean_weight: torch.Tensor
    clipped_fraction: torch.Tensor


def entropy(logits: torch.Tensor) -> torch.Tensor:
    """Return the entropy H(pi(.|s)) of each row of logits, in nats."""
    log_p = F.log_softmax(logits, dim=-1)
    return -(log_p.exp() * log_p).sum(dim=-1)


def _importance_ratio(log_prob_taken: torch.Tensor, behaviour_prob: torch.Tensor) -> torch.Tensor:
    mu = torch.as_tensor(behaviour_prob, dtype=log_prob_taken.dtype, device=log_prob_taken.device)
    if mu.shape != log_prob_taken.shape:
        raise ValueError(
            f"behaviour probabilities have shape {tuple(mu.shape)}, "
            f"expected {tuple(log_prob_taken.shape)}"
        )
    if bool((mu <= 0).any()) or bool((mu > 1).any()):
        raise ValueError("behaviour probabilities must lie in (0, 1]")
    # The weight corrects the sampling distribution; it is a constant for the gradient (as in
    # truncated importance sampling), so only log pi carries gradient.
    return torch.exp(log_prob_taken.detach() - mu.log())


def importance_weights(
    log_prob_taken: torch.Tensor,
    behaviour_prob: torch.Tensor,
    clip: float = DEFAULT_IMPORTANCE_CLIP,
) -> torch.Tensor:
    """Return w_t = clip(pi(h_t|s_t) / mu(h_t|s_t), 0, clip), detached from the graph."""
    if clip <= 0:
        raise ValueError(f"importance clip must be positive, got {clip}")
    return _importance_ratio(log_prob_taken, behaviour_prob).clamp(min=0.0, max=clip)


def reinforce_loss(
    logits: torch.Tensor,
    actions: torch.Tensor,
    advantages: torch.Tensor,
    *,
    beta: float = DEFAULT_BETA,
    num_episodes: int = 1,
    behaviour_prob: torch.Tensor | None = None,
    importance_clip: float = DEFAULT_IMPORTANCE_CLIP,
    entropy_scale: EntropyScale = "mean",
) -> ReinforceLoss:
    """Return L = -(1/E) sum_t w_t log pi(h_t|s_t) A_t - beta * mean_t H(pi(.|s_t)).

    `logits` [T, K] are the Planner's outputs at the T steps of E episodes (concatenated),
    `actions` [T] the strategy indices taken, `advantages` [T] the (normalised) returns. With one
    episode and no behaviour probabilities this is exactly the paper's loss; several episodes
    average their summed policy terms. `behaviour_prob` [T] are the logged probabilities of the
    taken actions under the policy that generated them, giving clipped importance weights.

    `entropy_scale="mean"` is the paper's formula as written (above). `"decision"` counts the
    bonus at every decision, as the policy term counts every decision:
    L = -(1/E) sum_t [w_t log pi(h_t|s_t) A_t + beta H(pi(.|s_t))]. With one episode of T
    decisions the two differ only by beta's scale (beta_decision * T = beta_mean).
    """
    if logits.dim() != 2:
        raise ValueError(f"logits must be [steps, strategies], got shape {tuple(logits.shape)}")
    steps = logits.shape[0]
    if steps == 0:
        raise ValueError("reinforce_loss needs at least one step")
    actions = torch.as_tensor(actions, dtype=torch.long, device=logits.device)
    advantages = torch.as_tensor(advantages, dtype=logits.dtype, device=logits.device)
    if actions.shape != (steps,) or advantages.shape != (steps,):
        raise ValueError(
            f"actions {tuple(actions.shape)} and advantages {tuple(advantages.shape)} "
            f"must both have shape ({steps},)"
        )
    if bool((actions < 0).any()) or bool((actions >= logits.shape[1]).any()):
        raise ValueError(f"actions must be strategy indices in [0, {logits.shape[1]})")
    if num_episodes < 1:
        raise ValueError(f"num_episodes must be at least 1, got {num_episodes}")
    if entropy_scale not in ENTROPY_SCALES:
        raise ValueError(
            f"entropy_scale must be one of {', '.join(ENTROPY_SCALES)}, got {entropy_scale!r}"
        )

    log_p = F.log_softmax(logits, dim=-1)
    log_p_taken = log_p.gather(1, actions[:, None]).squeeze(1)
    if behaviour_prob is None:
        weights = torch.ones_like(log_p_taken)
        clipped = torch.zeros((), dtype=logits.dtype)
    else:
        if importance_clip <= 0:
            raise ValueError(f"importance clip must be positive, got {importance_clip}")
        ratio = _importance_ratio(log_p_taken, behaviour_prob)
        weights = ratio.clamp(min=0.0, max=importance_clip)
        clipped = (ratio > importance_clip).to(logits.dtype).mean()

    policy_term = -(weights * log_p_taken * advantages).sum() / num_episodes
    step_entropy = entropy(logits)
    mean_entropy = step_entropy.mean()
    bonus = step_entropy.sum() / num_episodes if entropy_scale == "decision" else mean_entropy
    loss = policy_term - beta * bonus
    return ReinforceLoss(
        loss=loss,
        policy_term=policy_term.detach(),
        entropy=mean_entropy.detach(),
        mean_weight=weights.mean().detach(),
        clipped_fraction=clipped.detach(),
    )
