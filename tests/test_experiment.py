"""Pure parts of the experiments: arm settings, summary statistics and the rendered tables."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from rl.ablations import AblationConfig, arm_settings
from rl.arms import arm_stats
from rl.breadth import Breadth, breadth_comparisons, breadth_on, breadth_table
from rl.evaluate import EvalResult, effective_count, strategy_shares
from rl.evidence_config import EvidenceConfig, beta_label, controlled_label, protocol_label
from rl.evidence_report import evidence_markdown
from rl.reinforce_config import RLConfig


def _result(sr: float, shares: list[float]) -> EvalResult:
    return EvalResult(
        episodes=10,
        success_rate=sr,
        strict_success_rate=sr / 2,
        mean_turns=4.0,
        mean_reward=0.6,
        strategy_shares=shares,
        mean_policy_entropy=1.0,
    )


def test_effective_count_and_shares() -> None:
    assert effective_count([0.5, 0.5] + [0.0] * 12) == pytest.approx(2.0)
    assert effective_count([1.0] + [0.0] * 13) == pytest.approx(1.0)
    shares = strategy_shares(["Credibility", "Credibility", "Offer Help", "Similarity"])
    assert sum(shares) == pytest.approx(1.0) and max(shares) == 0.5


#: The RL settings an evidence report quotes in its header.
RL_SETTINGS = {
    "updates": 2,
    "episodes_per_update": 3,
    "cases": "inspired-train",
    "lr": 0.01,
    "gamma": 0.999,
    "normalisation": "batch",
    "baseline": True,
    "train": "head",
    "seeker": "act",
    "experts": "rule",
}


def test_arm_statistics_and_markdown() -> None:
    one_hot = [1.0] + [0.0] * 13
    sft = arm_stats("SFT", [_result(0.5, one_hot), _result(0.6, one_hot)])
    rl = arm_stats("SFT+RL (beta=0.01)", [_result(0.7, one_hot), _result(0.8, one_hot)])
    assert sft.mean == pytest.approx(0.55) and sft.std == pytest.approx(0.05)
    report = {
        "config": {
            "seeds": [0, 1],
            "rl": RL_SETTINGS,
        },
        "sets": {
            "inspired-test": {
                "arms": {"SFT": sft.to_json(), rl.name: rl.to_json()},
                "comparisons": {
                    rl.name: {
                        "gap": 0.2,
                        "paired_gaps": [0.2, 0.2],
                        "outside_spread": True,
                        "strict_gap": 0.1,
                        "strict_outside_spread": True,
                        "turns_gap": -0.5,
                    }
                },
            }
        },
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
        ("inspired-test", "reward"),
        ("inspired-test", "accept"),
        ("redial-test", "reward"),
        ("redial-test", "accept"),
    ]
    assert protocol_label("inspired-test", "accept") == "inspired-test, episodes end on accept"
    assert protocol_label("inspired-test", None) == "inspired-test"


def test_rl_config_refuses_unknown_ending_rule() -> None:
    with pytest.raises(ValueError, match="end_on must be one of"):
        RLConfig(init=None, end_on="never").validate()  # type: ignore[arg-type]


def test_breadth_comparisons_pair_seeds_against_the_smallest_beta() -> None:
    table = breadth_table(
        {
            beta_label(0.01): [Breadth(1.0, 3.0), Breadth(0.9, 2.0), Breadth(0.8, 2.5)],
            beta_label(0.0): [Breadth(0.9, 3.0), Breadth(0.95, 2.0), Breadth(0.7, 2.0)],
            beta_label(0.1): [Breadth(1.2, 4.0), Breadth(1.1, 4.0), Breadth(1.0, 4.0)],
        }
    )
    assert table[beta_label(0.01)]["entropy_mean"] == pytest.approx(0.9)
    assert table[beta_label(0.0)]["effective_strategies_mean"] == pytest.approx(7.0 / 3)
    labels = {0.01: beta_label(0.01), 0.0: beta_label(0.0), 0.1: beta_label(0.1)}
    comparisons = breadth_comparisons(table, labels)
    assert set(comparisons) == {
        f"{beta_label(0.01)} vs {beta_label(0.0)}",
        f"{beta_label(0.1)} vs {beta_label(0.0)}",
    }
    small = comparisons[f"{beta_label(0.01)} vs {beta_label(0.0)}"]
    assert small["entropy_gaps"] == pytest.approx([0.1, -0.05, 0.1])
    assert small["broader_on_every_seed"] is False  # one seed of three is narrower
    assert comparisons[f"{beta_label(0.1)} vs {beta_label(0.0)}"]["broader_on_every_seed"]
    assert breadth_comparisons(table, {0.01: beta_label(0.01)}) == {}


def test_breadth_on_fixed_states() -> None:
    import torch

    class Fixed(torch.nn.Module):
        def __init__(self, logits: torch.Tensor) -> None:
            super().__init__()
            self.logits = logits

        def forward(self, texts: list[str]) -> torch.Tensor:
            return self.logits[: len(texts)]

    uniform = breadth_on(Fixed(torch.zeros(4, 14)), ["a", "b", "c", "d"])
    assert uniform.entropy == pytest.approx(math.log(14))
    peaked = torch.full((4, 14), -50.0)
    peaked[[0, 1, 2, 3], [0, 0, 5, 5]] = 50.0
    two = breadth_on(Fixed(peaked), ["a", "b", "c", "d"])
    assert two.entropy == pytest.approx(0.0, abs=1e-6)
    assert two.effective_strategies == pytest.approx(2.0)
    with pytest.raises(ValueError, match="no states"):
        breadth_on(Fixed(peaked), [])


def test_breadth_sections_in_the_markdown() -> None:
    one_hot = [1.0] + [0.0] * 13
    sft = arm_stats("SFT", [_result(0.5, one_hot)])
    arms = {
        "SFT": [Breadth(1.8, 5.0)],
        beta_label(0.01): [Breadth(1.0, 3.0)],
        beta_label(0.0): [Breadth(0.9, 3.5)],
    }
    table = breadth_table(arms)
    controlled = breadth_table(
        {controlled_label(0.01): [Breadth(1.3, 2.6)], controlled_label(0.0): [Breadth(1.2, 2.5)]}
    )
    for name in controlled:
        controlled[name]["success_rates"] = [1.0]
        controlled[name]["sr_mean"] = 1.0
    report = {
        "config": {
            "seeds": [0],
            "rl": RL_SETTINGS,
        },
        "sets": {"inspired-test": {"arms": {"SFT": sft.to_json()}, "comparisons": {}}},
        "breadth": {
            "states": "the SFT arm's states",
            "arms": table,
            "comparisons": breadth_comparisons(
                table, {0.01: beta_label(0.01), 0.0: beta_label(0.0)}
            ),
        },
        "controlled": {
            "logged_episodes": 6,
            "protocol": "inspired-test",
            "arms": controlled,
            "comparisons": breadth_comparisons(
                controlled, {0.01: controlled_label(0.01), 0.0: controlled_label(0.0)}
            ),
        },
        "seconds": 1.0,
    }
    text = evidence_markdown(report)
    assert "| SFT | 1.800 | 1.800 | 5.00 |" in text
    assert f"| {beta_label(0.01)} vs {beta_label(0.0)} | +0.100 | +0.100 | yes |" in text
    assert "6 sampled episodes of the SFT Planner per seed" in text
    assert f"| {controlled_label(0.01)} | 1.300 | 1.300 | 2.60 | 1.000 (1.000) |" in text


def test_cli_refuses_an_unknown_entropy_scale() -> None:
    import typer
    from typer.testing import CliRunner

    from cli.commands import experiment, train

    app = typer.Typer()
    train.register(app)
    experiment.register(app)
    for command in (["train", "rl"], ["experiment", "rl-evidence"]):
        result = CliRunner().invoke(app, [*command, "--entropy-scale", "sum"])
        assert result.exit_code == 2, result.output
        assert "--entropy-scale must be one of mean, decision" in result.output
