"""One reproducible Actor tuning run: rows -> LoRA training -> adapter GGUF with its card.

The work directory keeps the rows, the checkpoints and the loss curve (``curve.jsonl``); the
output directory gets what is shipped: ``actor-lora.gguf`` and ``card.json`` (data size, steps,
time, final loss). An interrupted run resumes from its latest checkpoint, or is exported as is.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Final

from rl.actor_data import ActorExample, actor_examples, write_examples
from rl.actor_tune import ActorTuneConfig, steps_for, train_actor_lora
from rso.paths import DEFAULT_ACTOR_ADAPTER, DEFAULT_ACTOR_ADAPTER_DIR, cache_dir

#: File name of the shipped adapter inside the output directory.
ADAPTER_FILE: Final = DEFAULT_ACTOR_ADAPTER.name
CARD_FILE: Final = "card.json"
#: Logged losses averaged into the card's final loss (one step's loss is noisy).
FINAL_LOSS_STEPS: Final = 10


@dataclass(frozen=True)
class ActorRunPaths:
    """Where a run keeps its work files and writes what is shipped."""

    work_dir: Path
    output: Path

    @classmethod
    def default(cls, work_dir: Path | None, output: Path | None) -> ActorRunPaths:
        """Defaults: .cache/actor-tune and models/actor-lora."""
        return cls(work_dir or cache_dir() / "actor-tune", output or DEFAULT_ACTOR_ADAPTER_DIR)

    @property
    def rows(self) -> Path:
        """The training rows (``rl.actor_data.write_examples``)."""
        return self.work_dir / "rows.jsonl"

    @property
    def curve(self) -> Path:
        """The loss curve, one JSON line per logged step."""
        return self.work_dir / "curve.jsonl"


def read_curve(path: Path) -> list[dict[str, Any]]:
    """Read the logged steps of a run (the last entry per step wins, after a resume)."""
    if not path.is_file():
        return []
    by_step: dict[int, dict[str, Any]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            by_step[int(row["step"])] = row
    return [by_step[s] for s in sorted(by_step)]


def latest_checkpoint(work_dir: Path) -> Path | None:
    """Return the checkpoint directory with the highest step, None when there is none."""
    found = [
        (int(m.group(1)), p)
        for p in (work_dir / "checkpoints").glob("checkpoint-*")
        if (m := re.fullmatch(r"checkpoint-(\d+)", p.name)) and p.is_dir()
    ]
    return max(found)[1] if found else None


def _card(
    paths: ActorRunPaths, config: ActorTuneConfig, per_strategy: int, examples: int, steps: int
) -> dict[str, Any]:
    from graph.llm_server import find_smollm2_gguf

    curve = read_curve(paths.curve)
    tail = [row["loss"] for row in curve[-FINAL_LOSS_STEPS:]]
    adapter = paths.output / ADAPTER_FILE
    return {
        "base_model": find_smollm2_gguf().name,
        "adapter": ADAPTER_FILE,
        "adapter_bytes": adapter.stat().st_size,
        "data": "INSPIRED train recommender utterances (rl.actor_data)",
        "per_strategy": per_strategy,
        "examples": examples,
        "steps": steps,
        "rows_seen": steps * config.batch_size,
        "seconds": curve[-1]["elapsed_s"] if curve else None,
        "first_loss": curve[0]["loss"] if curve else None,
        "final_loss": round(sum(tail) / len(tail), 4) if tail else None,
        "config": asdict(config),
    }


def _export(adapter_dir: Path, paths: ActorRunPaths) -> None:
    from graph.llm_server import find_smollm2_gguf
    from rl.lora_gguf import convert_peft_adapter

    convert_peft_adapter(adapter_dir, find_smollm2_gguf(), paths.output / ADAPTER_FILE)


def _write_card(paths: ActorRunPaths, card: dict[str, Any]) -> None:
    (paths.output / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")


def write_rows(paths: ActorRunPaths, per_strategy: int, seed: int) -> list[ActorExample]:
    """Build the training rows and write them to the work directory's ``rows.jsonl``."""
    examples = actor_examples("train", per_strategy, seed)
    write_examples(examples, paths.rows)
    return examples


def run_actor_tuning(
    paths: ActorRunPaths,
    config: ActorTuneConfig,
    per_strategy: int,
    resume: bool = False,
    epochs: float | None = None,
) -> dict[str, Any]:
    """Build the rows, train, export the adapter GGUF and its card; returns the card.

    `epochs`, when given, sets the steps: that many passes over the rows.
    """
    from graph.llm_server import find_smollm2_gguf

    examples = write_rows(paths, per_strategy, config.seed)
    if epochs is not None:
        config = replace(config, max_steps=steps_for(len(examples), config.batch_size, epochs))
    summary = train_actor_lora(examples, find_smollm2_gguf(), paths.work_dir, config, resume)
    _export(paths.work_dir / "adapter", paths)
    card = _card(paths, config, per_strategy, len(examples), summary["steps"])
    _write_card(paths, card)
    return card


def export_latest(
    paths: ActorRunPaths, config: ActorTuneConfig, per_strategy: int
) -> dict[str, Any]:
    """Export a finished run's adapter (with its own settings), else the latest checkpoint.

    A finished run (``summary.json`` beside ``adapter/``) may have trained elsewhere, from the
    rows file alone (``rl.actor_tune_rows``); its card takes the settings it ran with.
    """
    summary_path = paths.work_dir / "summary.json"
    finished = paths.work_dir / "adapter"
    if summary_path.is_file() and (finished / "adapter_model.safetensors").is_file():
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
        ran = summary["config"] | {"target_modules": tuple(summary["config"]["target_modules"])}
        _export(finished, paths)
        card = _card(paths, ActorTuneConfig(**ran), per_strategy, summary["examples"],
                     summary["steps"])  # fmt: skip
        _write_card(paths, card)
        return card
    checkpoint = latest_checkpoint(paths.work_dir)
    if checkpoint is None:
        raise FileNotFoundError(
            f"no finished adapter and no checkpoint-* directory in {paths.work_dir}"
        )
    _export(checkpoint, paths)
    rows = paths.rows
    examples = sum(1 for _ in rows.open(encoding="utf-8")) if rows.is_file() else 0
    steps = int(checkpoint.name.split("-")[1])
    card = _card(paths, config, per_strategy, examples, steps) | {"checkpoint": checkpoint.name}
    _write_card(paths, card)
    return card
