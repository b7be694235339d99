"""The RL-evidence experiment, end to end: RL from the SFT Planner beats the SFT Planner on
held-out cases, and the entropy bonus keeps the policy broader.

The default suite runs a small version: two seeds, 3 updates x 40 episodes, no controlled arms,
in the fast simulation (act-level seeker, rule experts), evaluated on the 91 inspired-test cases
with a target genre under the training protocol (episodes end at the first turn reward > 0.7).
`make evidence` (marker `evidence`) runs the experiment at the full RL size, 10 updates x 100
episodes, for beta 0.01 and 0, with the controlled arms whose only difference is beta. Why these
sizes and which assertions held on which seeds: docs/training.md, "Evidence figures".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rl.evidence import run_rl_evidence
from rl.evidence_config import EvidenceConfig, beta_label, controlled_label
from rl.reinforce_config import RLConfig
from rso.paths import DEFAULT_PLANNER_DIR

#: Sizes of the `make evidence` version (the full RL size); `one_seed_evidence` takes the seed.
UPDATES = 10
EPISODES_PER_UPDATE = 100
LR = 1e-2


def one_seed_evidence(out: Path, seed: int = 0) -> dict[str, Any]:
    """Run the evidence experiment at full RL size for one seed, betas 0.01 and 0; return it."""
    rl = RLConfig(
        updates=UPDATES,
        episodes_per_update=EPISODES_PER_UPDATE,
        lr=LR,
        beta=0.01,
        end_on="reward",
        concurrency=8,
        progress=False,
    )
    config = EvidenceConfig(
        rl=rl,
        seeds=(seed,),
        betas=(0.01, 0.0),
        controlled_betas=(0.1, 0.01, 0.0),
        eval_end_on=("reward",),
        out=out,
    )
    return run_rl_evidence(config)


needs_sft = pytest.mark.skipif(
    not (DEFAULT_PLANNER_DIR / "planner.json").is_file(), reason="no SFT Planner checkpoint"
)


@needs_sft
def test_a_few_rl_updates_raise_success_rate_over_the_sft_planner(tmp_path: Path) -> None:
    rl = RLConfig(updates=3, episodes_per_update=40, lr=LR, concurrency=8, progress=False)
    config = EvidenceConfig(
        rl=rl, seeds=(0, 1), betas=(0.01,), controlled=False, eval_end_on=("reward",), out=tmp_path
    )
    report = run_rl_evidence(config)
    (protocol,) = report["sets"]
    arms = report["sets"][protocol]["arms"]
    sft, trained = arms["SFT"], arms[beta_label(0.01)]
    # Paired: the same 91 cases and seed for both arms. Three updates move SR by a few cases,
    # so the claim is the mean over two seeds (one seed alone can tie: docs/training.md).
    assert trained["sr_mean"] > sft["sr_mean"], (trained["success_rates"], sft["success_rates"])
    comparison = report["sets"][protocol]["comparisons"][beta_label(0.01)]
    gaps = [t - s for t, s in zip(trained["success_rates"], sft["success_rates"], strict=True)]
    assert comparison["paired_gaps"] == pytest.approx(gaps)
    for seed in (0, 1):
        history = report["train_curves"][f"{beta_label(0.01)} seed {seed}"]
        assert [row["update"] for row in history] == [1, 2, 3]
    # RL concentrates the policy: narrower than the SFT Planner on the same fixed states.
    breadth = report["breadth"]["arms"]
    for trained_entropy, sft_entropy in zip(
        breadth[beta_label(0.01)]["entropy"], breadth["SFT"]["entropy"], strict=True
    ):
        assert trained_entropy < sft_entropy
    assert "controlled" not in report
    assert (tmp_path / "evidence.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.evidence
@needs_sft
def test_rl_raises_success_rate_over_the_sft_planner(tmp_path: Path) -> None:
    report = one_seed_evidence(tmp_path)
    (protocol,) = report["sets"]
    arms = report["sets"][protocol]["arms"]
    sft, rl = arms["SFT"], arms[beta_label(0.01)]
    assert rl["sr_mean"] > sft["sr_mean"], (rl["success_rates"], sft["success_rates"])
    comparison = report["sets"][protocol]["comparisons"][beta_label(0.01)]
    assert comparison["gap"] == pytest.approx(rl["sr_mean"] - sft["sr_mean"])
    # Every training update was logged and the trained Planner was written.
    run = tmp_path / "rl-beta0.01-seed0"
    assert (run / "planner" / "planner.json").is_file()
    history = report["train_curves"][f"{beta_label(0.01)} seed 0"]
    assert [row["update"] for row in history] == list(range(1, UPDATES + 1))
    text = (tmp_path / "evidence.md").read_text()
    sr_table, breadth = text.split("## Breadth of the strategy distribution")
    assert sr_table.count("| SFT |") == 1 and breadth.count("| SFT |") == 1
    # The bonus isolated: the same logged experience for both betas.
    controlled = report["controlled"]
    assert controlled["logged_episodes"] == UPDATES * EPISODES_PER_UPDATE
    entropy = {name: arm["entropy"][0] for name, arm in controlled["arms"].items()}
    strong, paper, none = (controlled_label(b) for b in (0.1, 0.01, 0.0))
    assert entropy[strong] > entropy[paper] and entropy[strong] > entropy[none], entropy
    assert set(controlled["comparisons"]) == {f"{strong} vs {none}", f"{paper} vs {none}"}
    assert "Entropy rises with beta (0 < 0.01 < 0.1)" in text
    # ... and on the logged states they learned from, which is where the bonus acts.
    seen = {name: arm["entropy"][0] for name, arm in controlled["experience"]["arms"].items()}
    assert seen[strong] > seen[paper] and seen[strong] > seen[none], seen
    assert "The same arms on the states they were trained on" in text
    # Every arm is measured on the same fixed states, below the SFT Planner's breadth.
    breadth = report["breadth"]["arms"]
    assert breadth["SFT"]["entropy"][0] > breadth[beta_label(0.01)]["entropy"][0]


@needs_sft
def test_an_interrupted_experiment_resumes(tmp_path: Path) -> None:
    import shutil

    rl = RLConfig(updates=2, episodes_per_update=4, eval_episodes=4, concurrency=2, progress=False)
    config = EvidenceConfig(
        rl=rl,
        seeds=(0,),
        betas=(0.01,),
        controlled_betas=(0.01, 0.0),
        eval_end_on=("reward",),
        out=tmp_path,
    )
    first = run_rl_evidence(config)
    with pytest.raises(FileExistsError, match="--resume"):
        run_rl_evidence(config)
    # As if killed before the last controlled run and the report.
    shutil.rmtree(tmp_path / "controlled-beta0-seed0")
    (tmp_path / "evidence.json").unlink()
    logs = (tmp_path / "sft-logs-seed0" / "episodes.jsonl").read_bytes()
    finished = {
        run: (tmp_path / run / "latest.json").stat().st_mtime_ns
        for run in ("rl-beta0.01-seed0", "controlled-beta0.01-seed0")
    }
    config.resume = True
    again = run_rl_evidence(config)
    for run, mtime in finished.items():  # loaded, not trained again
        assert (tmp_path / run / "latest.json").stat().st_mtime_ns == mtime, run
    assert (tmp_path / "controlled-beta0-seed0" / "latest.json").is_file()
    assert (tmp_path / "sft-logs-seed0" / "episodes.jsonl").read_bytes() == logs  # reused
    for key in ("sets", "breadth", "controlled"):
        assert _close(again[key], first[key]), key
    assert again["train_curves"] == first["train_curves"]


def _close(a: Any, b: Any, tol: float = 1e-4) -> bool:
    """Nested equality with a tolerance for floats (cached features may differ in the last bits)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k], tol) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y, tol) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= tol
    return bool(a == b)
