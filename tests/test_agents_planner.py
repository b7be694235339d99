from __future__ import annotations

import math
from collections import Counter

import pytest
import torch

import agents.planner as planner
import policy.planners as planners
from agents.planner import choose_strategy, plan_strategy, turn_uniform
from graph.routing import ACTOR_GENERIC, actor_node_name
from rso.strategies import STRATEGIES
from tests.world import runtime, state


class FixedPolicy:
    """Stands in for a PlannerPolicy: a fixed distribution, records eval() and its inputs."""

    def __init__(self, probs: list[float]) -> None:
        self.probs = torch.tensor([probs])
        self.texts: list[str] = []

    def probabilities(self, texts: list[str]) -> torch.Tensor:
        self.texts.extend(texts)
        return self.probs


@pytest.fixture
def peaked(monkeypatch):
    probs = [0.01] * 14
    probs[STRATEGIES.index("Opinion Inquiry")] = 0.87
    policy = FixedPolicy(probs)
    monkeypatch.setattr(planners, "load_policy", lambda path: policy)
    return policy


def test_greedy_takes_argmax_and_routes_to_its_actor(peaked) -> None:
    s = state("Hello.", "Hi there!", "I want a movie")
    command = plan_strategy(s, runtime(planner_checkpoint="ckpt", planner_mode="greedy"))
    assert command.goto == actor_node_name("Opinion Inquiry") == "actor_opinion_inquiry"
    update = command.update
    assert update["strategy"] == "Opinion Inquiry"
    assert list(update["strategy_probs"]) == list(STRATEGIES)
    assert update["strategy_logprob"] == pytest.approx(math.log(0.87))
    assert (
        update["planner_input"] == "Seeker: Hello.\nRecommender: Hi there!\nSeeker: I want a movie"
    )
    assert peaked.texts == [update["planner_input"]]


def test_sampling_is_seeded_per_turn_and_follows_the_distribution(peaked) -> None:
    ctx = runtime(planner_checkpoint="ckpt", planner_mode="sample", seed=7)
    s = state("Hello.")
    first = plan_strategy(s, ctx).goto
    assert all(plan_strategy(s, ctx).goto == first for _ in range(3))  # reproducible
    draws = Counter(
        plan_strategy(state(f"message {i}"), ctx).update["strategy"] for i in range(300)
    )
    assert 0.75 < draws["Opinion Inquiry"] / 300 < 0.97
    assert len(draws) > 1


def test_no_checkpoint_is_uniform() -> None:
    command = plan_strategy(state("Hello."), runtime())
    probs = command.update["strategy_probs"]
    assert set(probs.values()) == {1 / 14}
    assert command.update["strategy_logprob"] == pytest.approx(math.log(1 / 14))
    seen = {plan_strategy(state(f"hi {i}"), runtime()).update["strategy"] for i in range(200)}
    assert seen == set(STRATEGIES)  # every branch is reachable


@pytest.mark.parametrize("checkpoint", [None, "uniform"])
def test_uniform_planner_draws_even_in_greedy_mode(checkpoint: str | None) -> None:
    # The argmax of a uniform distribution would be the first strategy on every turn.
    ctx = runtime(planner_checkpoint=checkpoint, planner_mode="greedy")
    seen = Counter(plan_strategy(state(f"hi {i}"), ctx).update["strategy"] for i in range(200))
    assert set(seen) == set(STRATEGIES)
    assert max(seen.values()) < 40  # about 200 / 14 each, not one strategy


def test_ablated_planner_routes_to_generic_actor() -> None:
    command = plan_strategy(state("Hello."), runtime(use_planner=False))
    assert command.goto == ACTOR_GENERIC
    assert command.update["strategy"] is None and command.update["strategy_probs"] == {}


def test_choose_strategy_inverse_cdf() -> None:
    probs = [0.0, 0.5, 0.0, 0.5]
    assert choose_strategy(probs, "sample", 0.0) == 1
    assert choose_strategy(probs, "sample", 0.49) == 1
    assert choose_strategy(probs, "sample", 0.51) == 3
    assert choose_strategy(probs, "sample", 0.999999999) == 3
    assert choose_strategy(probs, "greedy", 0.9) == 1
    assert turn_uniform(0, 1, "x") == turn_uniform(0, 1, "x") != turn_uniform(0, 2, "x")


def test_bad_policy_output_is_a_clear_error(monkeypatch) -> None:
    monkeypatch.setattr(planners, "load_policy", lambda path: FixedPolicy([0.5] * 14))
    with pytest.raises(planner.PlannerOutputError, match="not a distribution"):
        plan_strategy(state("Hello."), runtime(planner_checkpoint="ckpt"))


@pytest.mark.slow
def test_a_saved_checkpoint_drives_the_greedy_choice(tmp_path) -> None:
    from policy.checkpoint import save_checkpoint
    from policy.network import PlannerPolicy

    policy = PlannerPolicy()
    with torch.no_grad():  # a head that always prefers Credibility
        policy.head.weight.zero_()
        policy.head.bias.zero_()
        policy.head.bias[STRATEGIES.index("Credibility")] = 5.0
    save_checkpoint(policy, tmp_path / "planner", trained_prefixes=["head."])
    planners._load_policy.cache_clear()
    try:
        ctx = runtime(planner_checkpoint=str(tmp_path / "planner"), planner_mode="greedy")
        command = plan_strategy(state("Hello.", "Hi!", "Tell me about a movie"), ctx)
        loaded = planners.load_policy(str(tmp_path / "planner"))
        assert not loaded.training  # eval mode: dropout off for inference
    finally:
        planners._load_policy.cache_clear()
    assert command.goto == "actor_credibility"
    assert command.update["strategy_probs"]["Credibility"] > 0.9


def test_default_context_uses_the_committed_sft_planner(monkeypatch) -> None:
    from graph.context import Context
    from rso.paths import DEFAULT_PLANNER_DIR

    monkeypatch.delenv("RSO_PLANNER_CHECKPOINT", raising=False)
    assert Context().planner_checkpoint == str(DEFAULT_PLANNER_DIR)
    command = plan_strategy(
        state("Hello.", "Hi! What kind of movies do you like?", "Comedies."),
        runtime(planner_checkpoint=Context().planner_checkpoint),
    )
    probs = list(command.update["strategy_probs"].values())
    assert sum(probs) == pytest.approx(1.0, abs=1e-4)
    assert max(probs) > 2 / 14  # a trained policy, not the uniform fallback
