"""Settings of one RL run of the Planner (`rso train rl`), validated and resolved."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from rl.losses import DEFAULT_BETA, DEFAULT_IMPORTANCE_CLIP
from rl.returns import DEFAULT_GAMMA, Normalisation
from rso.data.eval_cases import CaseSet
from rso.modes import (
    END_ON,
    ENTROPY_SCALES,
    MAX_TURNS,
    EndOn,
    EntropyScale,
    ExpertsMode,
    SeekerMode,
)
from rso.paths import DEFAULT_PLANNER_DIR
from rso.runs.directory import EPISODES_FILE

#: Which parameters RL changes: the head only (frozen, cached encoder) or top blocks + head.
TrainPath = Literal["head", "top"]

#: Adam learning rate of on-policy RL, tuned for the head-only path (docs/training.md).
ON_POLICY_LR = 1e-2
#: ... and of learning from logged runs of another policy, where a rate that moves the policy
#: far from the logging one degrades the importance weights (docs/training.md).
LOGGED_RUNS_LR = 3e-3


@dataclass
class RLConfig:
    """Settings of one RL run of the Planner."""

    #: Starting checkpoint (the SFT warm-up by default); None starts from a fresh head.
    init: Path | None = DEFAULT_PLANNER_DIR
    cases: CaseSet = "inspired-train"
    updates: int = 10
    episodes_per_update: int = 100
    gamma: float = DEFAULT_GAMMA
    beta: float = DEFAULT_BETA
    #: "mean": the paper's formula as written (beta times the per-step mean entropy), whose
    #: bonus is ~1/T of the policy term's scale; "decision": the bonus is counted at every
    #: decision, like the policy term (docs/training.md, "Breadth of the strategy distribution").
    entropy_scale: EntropyScale = "mean"
    #: Adam learning rate; None = ON_POLICY_LR, or LOGGED_RUNS_LR with `from_runs`
    #: (`learning_rate()` resolves it; docs/training.md).
    lr: float | None = None
    #: Subtract the batch's mean turn reward from every r_t before discounting: the Rewarder
    #: scores a neutral turn 0.6, so raw returns grow with dialogue length; centred rewards make
    #: success worth more than a long polite dialogue.
    baseline: bool = True
    #: How returns are standardised: "episode" (the paper), "batch" or "none".
    normalisation: Normalisation = "batch"
    #: Upper clip of the importance ratio pi/mu (logged runs and any reuse of a batch).
    importance_clip: float = DEFAULT_IMPORTANCE_CLIP
    train: TrainPath = "head"
    #: Trained transformer blocks with train="top".
    top_layers: int = 1
    #: Gradient steps per update on the same batch (the later ones are importance-weighted).
    steps_per_update: int = 1
    max_grad_norm: float = 1.0
    seed: int = 0
    out: Path = Path("runs/rl")
    #: Logged runs (directories holding episodes.jsonl) to learn from instead of rolling out.
    from_runs: tuple[Path, ...] = ()
    #: Held-out cases for the greedy evaluation before and after training; None skips it.
    eval_cases: CaseSet | None = "inspired-test"
    #: Evaluation episodes (None = every case once).
    eval_episodes: int | None = None
    #: Evaluate every N updates as well (0 = only before and after training).
    eval_every: int = 0
    seeker: SeekerMode = "act"
    experts: ExpertsMode = "rule"
    max_turns: int = MAX_TURNS
    #: When an episode ends early: "reward" (the paper: at the first turn reward > 0.7, which is
    #: what the summed-reward objective assumes) or "accept" (explicit acceptance or the seeker
    #: leaving); None = the seeker's default ("accept" for the act seeker). See docs/training.md.
    end_on: EndOn | None = "reward"
    #: Episodes rolled out at once; the Planner's forward passes are batched across them. With
    #: the Ray engine, per worker.
    concurrency: int = 8
    #: Where the rollouts run: "graph" (threads of this process) or "ray" (a pool of `workers`
    #: Ray actors that receive the Planner's weights once per update); may change on resume.
    engine: str = "graph"
    #: Ray actors playing the rollouts (engine "ray").
    workers: int = 2
    #: Ray cluster to join ("auto" or "host:port"); None = a local Ray instance.
    ray_address: str | None = None
    #: Cached feature entries kept (per text; "top" entries are large, hence the cap).
    cache_size: int = 50_000
    resume: bool = False
    progress: bool = True

    def validate(self) -> None:
        """Raise ValueError naming the first setting no run can use."""
        checks: list[tuple[bool, str]] = [
            (self.updates >= 1, f"updates must be >= 1, got {self.updates}"),
            (
                self.episodes_per_update >= 1,
                f"episodes_per_update must be >= 1, got {self.episodes_per_update}",
            ),
            (0.0 <= self.gamma <= 1.0, f"gamma must lie in [0, 1], got {self.gamma}"),
            (self.beta >= 0.0, f"beta must be >= 0, got {self.beta}"),
            (
                self.entropy_scale in ENTROPY_SCALES,
                f"entropy_scale must be one of {', '.join(ENTROPY_SCALES)}, "
                f"got {self.entropy_scale!r}",
            ),
            (self.learning_rate() > 0.0, f"lr must be > 0, got {self.lr}"),
            (self.importance_clip > 0, f"importance_clip must be > 0, got {self.importance_clip}"),
            (self.train in ("head", "top"), f"train must be head or top, got {self.train!r}"),
            (self.top_layers >= 1, f"top_layers must be >= 1, got {self.top_layers}"),
            (self.steps_per_update >= 1, "steps_per_update must be >= 1"),
            (self.eval_every >= 0, "eval_every must be >= 0"),
            (self.engine in ("graph", "ray"), f"engine must be graph or ray, got {self.engine!r}"),
            (self.workers >= 1, f"workers must be >= 1, got {self.workers}"),
            (
                self.end_on in (None, *END_ON),
                f"end_on must be one of {', '.join(END_ON)} or None, got {self.end_on!r}",
            ),
            (
                self.normalisation in ("episode", "batch", "none"),
                f"normalisation must be episode, batch or none, got {self.normalisation!r}",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        for run in self.from_runs:
            if not (Path(run) / EPISODES_FILE).is_file():
                raise FileNotFoundError(f"--from-runs {run}: no episodes.jsonl in that directory")

    def learning_rate(self) -> float:
        """Return the Adam learning rate: `lr`, or the default of the run's kind."""
        if self.lr is not None:
            return self.lr
        return LOGGED_RUNS_LR if self.from_runs else ON_POLICY_LR

    def to_json(self) -> dict[str, Any]:
        """Return the settings as JSON-ready values (the learning rate resolved)."""
        data = asdict(self)
        data["lr"] = self.learning_rate()
        for key, value in data.items():
            if isinstance(value, Path):
                data[key] = str(value)
        data["from_runs"] = [str(p) for p in self.from_runs]
        return data

    def trained_blocks(self) -> int:
        """Top blocks trained with the head: 0 on the head-only path."""
        return 0 if self.train == "head" else self.top_layers
