import math

import pytest
import torch

from rl.losses import entropy, importance_weights, reinforce_loss
from rl.returns import discounted_returns, episode_advantages, standardise

LOG14 = math.log(14)


def test_discounted_returns_by_hand() -> None:
    assert discounted_returns([1.0, 0.0, 2.0], gamma=0.5).tolist() == [1.5, 1.0, 2.0]


def test_default_gamma_is_0999() -> None:
    got = discounted_returns([0.6, 0.6])
    assert got.tolist() == pytest.approx([0.6 + 0.999 * 0.6, 0.6])


def test_gamma_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="gamma"):
        discounted_returns([1.0], gamma=1.5)


def test_standardise_uses_population_std() -> None:
    got = standardise(torch.tensor([1.0, 2.0, 3.0]))
    s = math.sqrt(2 / 3)
    assert got.tolist() == pytest.approx([-1 / s, 0.0, 1 / s])


def test_one_step_and_constant_episodes_normalise_to_zero() -> None:
    assert standardise(torch.tensor([0.8])).tolist() == [0.0]
    assert standardise(torch.tensor([0.6, 0.6, 0.6])).tolist() == [0.0, 0.0, 0.0]


def test_episode_advantages_normalise_each_episode() -> None:
    adv, index = episode_advantages([[0.0, 1.0], [0.5]], gamma=1.0)
    # Episode 0 returns [1, 1] -> constant -> zeros; episode 1 has one step -> zero.
    assert adv.tolist() == [0.0, 0.0, 0.0]
    assert index.tolist() == [0, 0, 1]
    adv, _ = episode_advantages([[1.0, 0.0, 0.0]], gamma=0.5)
    # returns [1, 0, 0] -> mean 1/3, std sqrt(2)/3
    assert adv.tolist() == pytest.approx([math.sqrt(2), -1 / math.sqrt(2), -1 / math.sqrt(2)])


def test_batch_normalisation_spans_episodes() -> None:
    adv, _ = episode_advantages([[1.0], [0.0]], gamma=1.0, normalisation="batch")
    assert adv.tolist() == pytest.approx([1.0, -1.0])


def test_bad_options_are_named() -> None:
    with pytest.raises(ValueError, match="normalisation"):
        episode_advantages([[1.0]], normalisation="per-step")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no steps"):
        episode_advantages([[]])


def test_entropy_uniform_and_peaked() -> None:
    assert float(entropy(torch.zeros(1, 14))[0]) == pytest.approx(LOG14)
    peaked = torch.full((1, 14), -100.0)
    peaked[0, 3] = 100.0
    assert float(entropy(peaked)[0]) == pytest.approx(0.0, abs=1e-6)


def test_reinforce_loss_by_hand() -> None:
    logits = torch.zeros(2, 14, requires_grad=True)
    out = reinforce_loss(logits, torch.tensor([0, 1]), torch.tensor([1.0, 0.5]), beta=0.1)
    # log pi = -log 14 for both steps: policy term = -(-log14 * 1 - log14 * 0.5) = 1.5 log 14
    assert float(out.policy_term) == pytest.approx(1.5 * LOG14)
    assert float(out.entropy) == pytest.approx(LOG14)
    # The paper's formula (the default): beta times the per-step mean entropy.
    assert out.loss.item() == pytest.approx(1.5 * LOG14 - 0.1 * LOG14)
    assert float(out.mean_weight) == 1.0
    two = reinforce_loss(
        logits, torch.tensor([0, 1]), torch.tensor([1.0, 0.5]), beta=0.0, num_episodes=2
    )
    assert two.loss.item() == pytest.approx(0.75 * LOG14)


def test_decision_entropy_scale_by_hand() -> None:
    # "decision": the bonus counts at every decision and is averaged over episodes, like the
    # policy term.
    logits = torch.zeros(2, 14)
    for episodes in (1, 2):
        out = reinforce_loss(
            logits,
            torch.tensor([0, 1]),
            torch.tensor([1.0, 0.5]),
            beta=0.1,
            num_episodes=episodes,
            entropy_scale="decision",
        )
        assert out.loss.item() == pytest.approx((1.5 * LOG14 - 0.1 * 2 * LOG14) / episodes)
    with pytest.raises(ValueError, match="entropy_scale"):
        reinforce_loss(
            logits[:1],
            torch.tensor([0]),
            torch.tensor([1.0]),
            entropy_scale="sum",  # type: ignore[arg-type]
        )


def test_decision_scale_weighs_entropy_like_the_policy_term() -> None:
    # With T decisions in one episode, beta under "decision" equals T * beta under "mean".
    logits = torch.randn(5, 14, generator=torch.Generator().manual_seed(0))
    actions, adv = torch.tensor([0, 3, 3, 7, 1]), torch.tensor([1.0, -0.5, 0.2, 0.0, -0.7])
    decision = reinforce_loss(logits, actions, adv, beta=0.01, entropy_scale="decision")
    mean = reinforce_loss(logits, actions, adv, beta=0.05, entropy_scale="mean")
    assert decision.loss.item() == pytest.approx(mean.loss.item(), rel=1e-6)


def test_gradient_raises_probability_of_advantaged_action() -> None:
    logits = torch.zeros(1, 14, requires_grad=True)
    reinforce_loss(logits, torch.tensor([5]), torch.tensor([1.0]), beta=0.0).loss.backward()
    assert logits.grad is not None
    # d(-log p_5)/d logit_5 = p_5 - 1 < 0, so gradient descent raises logit 5 and lowers the rest.
    assert float(logits.grad[0, 5]) == pytest.approx(1 / 14 - 1)
    assert float(logits.grad[0, 0]) == pytest.approx(1 / 14)


def test_entropy_term_pushes_towards_uniform() -> None:
    logits = torch.tensor([[2.0] + [0.0] * 13], requires_grad=True)
    reinforce_loss(logits, torch.tensor([1]), torch.tensor([0.0]), beta=1.0).loss.backward()
    assert logits.grad is not None
    assert float(logits.grad[0, 0]) > 0  # the dominant logit is pushed down


def test_importance_weights_are_clipped_and_detached() -> None:
    log_pi = torch.full((3,), -LOG14, requires_grad=True)
    w = importance_weights(log_pi, torch.tensor([1 / 7, 1 / 28, 1 / 14]), clip=1.5)
    assert w.tolist() == pytest.approx([0.5, 1.5, 1.0])
    assert not w.requires_grad
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        importance_weights(log_pi, torch.tensor([0.0, 0.5, 0.5]))


def test_reinforce_loss_with_behaviour_probabilities() -> None:
    logits = torch.zeros(2, 14)
    out = reinforce_loss(
        logits,
        torch.tensor([0, 1]),
        torch.tensor([1.0, 1.0]),
        beta=0.0,
        behaviour_prob=torch.tensor([1 / 7, 1 / 28]),
        importance_clip=1.5,
    )
    # weights 0.5 and clip(2.0) = 1.5 -> -(0.5 + 1.5) * (-log 14)
    assert float(out.loss) == pytest.approx(2.0 * LOG14)
    assert float(out.mean_weight) == pytest.approx(1.0)
    assert float(out.clipped_fraction) == pytest.approx(0.5)


def test_shape_mismatch_is_refused() -> None:
    with pytest.raises(ValueError, match="must both have shape"):
        reinforce_loss(torch.zeros(2, 14), torch.tensor([0]), torch.tensor([1.0, 1.0]))
    with pytest.raises(ValueError, match="strategy indices"):
        reinforce_loss(torch.zeros(1, 14), torch.tensor([14]), torch.tensor([1.0]))
