"""`RolloutSummary`: what one call of `run_rollouts` did, with its throughput."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rso.runs.records import EpisodeRecord


@dataclass
class RolloutSummary:
    """What a call to `run_rollouts` did."""

    out_dir: Path
    episodes_path: Path
    manifest_path: Path
    #: Where the episodes ran: "graph" (threads of this process) or "ray".
    engine: str
    #: Episodes the run asks for, in all.
    planned: int
    #: Of those, finished before this call (resume).
    already_done: int
    #: Cases left out because they have no target genre (a seeker needs a goal).
    excluded_cases: list[str]
    #: Episodes finished by this call, in completion order.
    episodes: list[EpisodeRecord] = field(default_factory=list)
    #: Episodes that had failed before this call and were played again by it.
    retried: int = 0
    #: Attempts played again because their worker died or their LLM server stopped answering.
    replayed: int = 0
    elapsed_s: float = 0.0

    @property
    def ran(self) -> int:
        """Episodes played by this call."""
        return len(self.episodes)

    @property
    def failed(self) -> int:
        """Episodes of this call that failed."""
        return sum(e.status == "failed" for e in self.episodes)

    @property
    def turns(self) -> int:
        """Recommender turns played by this call."""
        return sum(e.n_turns for e in self.episodes)

    @property
    def success_rate(self) -> float:
        """Share of this call's successful episodes (0 when none ran)."""
        return sum(e.success for e in self.episodes) / self.ran if self.ran else 0.0

    @property
    def strict_success_rate(self) -> float:
        """Share of this call's episodes with an explicit acceptance."""
        return sum(e.strict_success for e in self.episodes) / self.ran if self.ran else 0.0

    @property
    def episodes_per_s(self) -> float:
        """Throughput of this call in episodes per second."""
        return self.ran / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def turns_per_s(self) -> float:
        """Throughput of this call in recommender turns per second."""
        return self.turns / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        """Return the figures as JSON-ready values."""
        return {
            "out_dir": str(self.out_dir),
            "engine": self.engine,
            "planned": self.planned,
            "already_done": self.already_done,
            "retried": self.retried,
            "replayed": self.replayed,
            "ran": self.ran,
            "failed": self.failed,
            "turns": self.turns,
            "success_rate": round(self.success_rate, 4),
            "strict_success_rate": round(self.strict_success_rate, 4),
            "elapsed_s": round(self.elapsed_s, 3),
            "episodes_per_s": round(self.episodes_per_s, 3),
            "turns_per_s": round(self.turns_per_s, 3),
            "excluded_cases": len(self.excluded_cases),
        }
