"""Settings of the RL-evidence experiment and the names of its arms and protocols."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rl.arms import DEFAULT_SEEDS
from rl.reinforce_config import RLConfig
from rso.modes import EndOn

DEFAULT_BETAS = (0.01, 0.0)
#: Betas of the controlled arms: the paper's beta, the two others it tried, and no bonus.
DEFAULT_CONTROLLED_BETAS = (0.1, 0.01, 0.001, 0.0)


@dataclass
class EvidenceConfig:
    """Settings of the RL-evidence experiment."""

    #: RL settings shared by every arm (init, cases, updates, lr...); seed, beta, out are set here.
    rl: RLConfig
    seeds: tuple[int, ...] = DEFAULT_SEEDS
    betas: tuple[float, ...] = DEFAULT_BETAS
    #: Held-out case sets; each is evaluated for every arm.
    eval_sets: tuple[str, ...] = ("inspired-test",)
    #: Episode-ending rules of the evaluations (each set is evaluated under each rule); None =
    #: the training rule only. The first listed rule's SR is the primary comparison.
    eval_end_on: tuple[EndOn, ...] | None = None
    #: Also train every beta on the same logged rollouts of the SFT Planner (per seed): the
    #: bonus is then the only difference between the arms, free of the run-to-run noise of
    #: on-policy training, which at beta 0.01 is larger than the bonus's effect.
    controlled: bool = True
    #: Betas trained on the shared logged rollouts: a dose-response of the bonus, compared
    #: against the smallest (normally 0).
    controlled_betas: tuple[float, ...] = DEFAULT_CONTROLLED_BETAS
    out: Path = Path("runs/rl-evidence")
    #: Continue an interrupted experiment in `out`: finished RL runs are loaded, unfinished ones
    #: continue from their last checkpoint, complete logs are reused, evaluations run again.
    resume: bool = False

    def protocols(self) -> list[tuple[str, EndOn | None]]:
        """Return the (case set, episode-ending rule) pairs every arm is evaluated on."""
        rules = self.eval_end_on or (self.rl.end_on,)
        return [(s, rule) for s in self.eval_sets for rule in rules]


def protocol_label(eval_set: str, end_on: EndOn | None) -> str:
    """Return the report's name of one evaluation protocol."""
    return eval_set if end_on is None else f"{eval_set}, episodes end on {end_on}"


def beta_label(beta: float) -> str:
    """Return the arm name of SFT+RL with entropy bonus `beta`."""
    return f"SFT+RL (beta={beta:g})"


def controlled_label(beta: float) -> str:
    """Return the arm name of RL from the SFT Planner's logged rollouts with bonus `beta`."""
    return f"SFT+RL from SFT logs (beta={beta:g})"
