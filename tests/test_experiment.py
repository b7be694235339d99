"""Pure parts of the experiments: arm settings, summary statistics and the rendered tables."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from rl.experiment import (
    AblationConfig,
    EvidenceConfig,
    _arm,
    arm_settings,
    evidence_markdown,
    protocol_label,
)
from rl.reinforce import EvalResult, RLConfig, effective_count, strategy_shares


def _result(sr: float, shares: list[float]) -> EvalResult:
    return EvalResult(
        episodes=10, success_rate=sr, strict_success_rate=sr / 2, mean_turns=4.0,
        mean_reward=0.6, strategy_shares=shares, mean_policy_entropy=1.0,
    )


def test_effective_count_and_shares() -> None:
    assert effective_count([0.5, 0.5] + [0.0] * 12) == pytest.approx(2.0)
    assert effective_count([1.0] + [0.0] * 13) == pytest.approx(1.0)
    shares = strategy_shares(["Credibility", "Credibility", "Offer Help", "Similarity"])
    assert sum(shares) == pytest.approx(1.0) and max(shares) == 0.5


def test_arm_statistics_and_markdown() -> None:
    one_hot = [1.0] + [0.0] * 13
    sft = _arm("SFT", [_result(0.5, one_hot), _result(0.6, one_hot)])
    rl = _arm("SFT+RL (beta=0.01)", [_result(0.7, one_hot), _result(0.8, one_hot)])
    assert sft.mean == pytest.approx(0.55) and sft.std == pytest.approx(0.05)
    report = {
        "config": {"seeds": [0, 1], "rl": {
            "updates": 2, "episodes_per_update": 3, "cases": "inspired-train", "lr": 0.01,
            "gamma": 0.999, "normalisation": "batch", "baseline": True, "train": "head",
            "seeker": "act", "experts": "rule"}},
        "sets": {"inspired-test": {
            "arms": {"SFT": sft.to_json(), rl.name: rl.to_json()},
            "comparisons": {rl.name: {"gap": 0.2, "paired_gaps": [0.2, 0.2],
                                      "outside_spread": True, "strict_gap": 0.1,
                                      "strict_outside_spread": True, "turns_gap": -0.5}},
        }},
        "seconds": 1.0,
    }
    text = evidence_markdown(report)
    assert "| SFT | 0.550 +- 0.050 | 0.500, 0.600 |" in text
    comparison = "| SFT+RL (beta=0.01) - SFT | +0.200 | +0.200, +0.200 | yes | +0.100 | yes |"
    assert comparison + " -0.50 |" in text
    # Strict SR is shown with its spread over the seeds, beside SR.
    assert "| SFT+RL (beta=0.01) | 0.750 +- 0.050 | 0.700, 0.800 | 0.375 +- 0.025 |" in text
    assert math.isclose(rl.to_json()["effective_strategies_mean"], 1.0)


def test_ablation_arms_map_to_planners_and_switches(tmp_path: Path) -> None:
    config = AblationConfig(sft=tmp_path / "sft", rl=tmp_path / "rl")
    assert arm_settings("full", config) == (str(tmp_path / "rl"), {})
    assert arm_settings("no-planner", config) == ("none", {})
    assert arm_settings("no-reasoner", config)[1] == {"use_reasoner": False}
    assert arm_settings("no-retriever", config)[1] == {"use_retriever": False}
    assert arm_settings("sft", config)[0] == str(tmp_path / "sft")
    assert arm_settings("random", config)[0] == "uniform"
    assert arm_settings("majority", config)[0] == "majority"
    with pytest.raises(ValueError, match="needs an RL checkpoint"):
        arm_settings("sft+rl", AblationConfig(sft=tmp_path / "sft"))
    with pytest.raises(ValueError, match="unknown arm"):
        arm_settings("bogus", config)  # type: ignore[arg-type]


def test_evidence_protocols_pair_every_case_set_with_every_ending_rule() -> None:
    rl = RLConfig(init=None, end_on="reward")
    assert EvidenceConfig(rl=rl).protocols() == [("inspired-test", "reward")]
    both = EvidenceConfig(
        rl=rl, eval_sets=("inspired-test", "redial-test"), eval_end_on=("reward", "accept")
    )
    assert both.protocols() == [
        ("inspired-test", "reward"), ("inspired-test", "accept"),
        ("redial-test", "reward"), ("redial-test", "accept"),
    ]
    assert protocol_label("inspired-test", "accept") == "inspired-test, episodes end on accept"
    assert protocol_label("inspired-test", None) == "inspired-test"


def test_rl_config_refuses_unknown_ending_rule() -> None:
    with pytest.raises(ValueError, match="end_on must be one of"):
        RLConfig(init=None, end_on="never").validate()  # type: ignore[arg-type]
