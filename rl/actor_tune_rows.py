r"""Train the Actor's adapter from a rows file alone, on a machine with only the training stack.

``rso train actor --rows-only`` writes the rows (``rows.jsonl`` in its work directory); this
module trains on them where torch, transformers, peft, trl, datasets and gguf are installed but
the project's other dependencies are not (a GPU machine, say)::

    python -m rl.actor_tune_rows rows.jsonl SmolLM2-135M-Instruct.Q4_1.gguf work/ \
        --device cuda --epochs 5

``work/`` then holds what ``rso train actor --export-only --work-dir work/`` turns into the
shipped adapter GGUF and its card: ``adapter/`` (saved in float16, the precision the GGUF keeps),
``curve.jsonl`` and ``summary.json``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from rl.actor_tune import ActorTuneConfig, steps_for, train_actor_lora


@dataclass(frozen=True)
class StoredRow:
    """One row as `rl.actor_data.write_examples` stored it."""

    row: dict[str, Any]

    def chat_row(self) -> dict[str, Any]:
        """Return the prompt and completion messages only."""
        return {"prompt": self.row["prompt"], "completion": self.row["completion"]}


def read_rows(path: Path) -> list[StoredRow]:
    """Read a rows file; a line without prompt and completion messages is a clear error."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{number}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict) or not {"prompt", "completion"} <= row.keys():
            raise ValueError(f"{path}:{number}: a row needs 'prompt' and 'completion' messages")
        rows.append(StoredRow(row))
    if not rows:
        raise ValueError(f"{path}: no rows")
    return rows


def halve_adapter(adapter_dir: Path) -> None:
    """Store the adapter's tensors in float16 (what the GGUF keeps; half the bytes to move)."""
    from safetensors.torch import load_file, save_file

    path = adapter_dir / "adapter_model.safetensors"
    save_file({k: v.half().contiguous() for k, v in load_file(str(path)).items()}, str(path))


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Parse the arguments, train, halve the adapter; returns the run's summary."""
    defaults = ActorTuneConfig()
    parser = argparse.ArgumentParser(prog="python -m rl.actor_tune_rows", description=__doc__)
    parser.add_argument("rows", type=Path)
    parser.add_argument("gguf", type=Path, help="the base model's GGUF (SmolLM2-135M-Instruct)")
    parser.add_argument("work_dir", type=Path)
    parser.add_argument("--epochs", type=float, help="passes over the rows (sets --max-steps)")
    for field in fields(ActorTuneConfig):
        if field.name == "target_modules":
            continue
        default = getattr(defaults, field.name)
        option = "--" + field.name.replace("_", "-")
        if field.name == "device":
            parser.add_argument(option, choices=("cpu", "cuda"), default=default)
        else:
            parser.add_argument(option, type=type(default), default=default)
    args = parser.parse_args(argv)
    rows = read_rows(args.rows)
    settings = {f.name: getattr(args, f.name) for f in fields(ActorTuneConfig) if f.name in args}
    if args.epochs is not None:
        settings["max_steps"] = steps_for(len(rows), args.batch_size, args.epochs)
    config = ActorTuneConfig(**settings)
    summary = train_actor_lora(rows, args.gguf, args.work_dir, config)
    halve_adapter(args.work_dir / "adapter")
    return summary


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
