"""An RL run directory between updates: checkpoint, optimizer state and the resume pointer.

After every update the Planner, Adam's moments and the run's state (settings, curve history) go
to `checkpoints/update-NNNN/`, and `latest.json` points at it, so a resumed run continues exactly
where the last one stopped.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch

from policy.checkpoint import read_checkpoint_config, save_checkpoint
from policy.network import PlannerPolicy
from rl.reinforce_config import RLConfig
from rso.jsonio import write_json

STATE_FILE = "rl_state.json"
OPTIMIZER_FILE = "optimizer.safetensors"
LATEST_FILE = "latest.json"
STATE_VERSION = 1


def _optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], Any]:
    state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, float]] = {}
    for index, values in state["state"].items():
        for key, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{index}.{key}"] = value.detach().cpu().contiguous().clone()
            else:
                scalars.setdefault(str(index), {})[key] = float(value)
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def load_optimizer(optimizer: torch.optim.Optimizer, directory: Path, meta: dict[str, Any]) -> None:
    """Restore the optimizer state saved in checkpoint `directory` (`meta`: from its state)."""
    from safetensors.torch import load_file

    tensors = load_file(str(directory / OPTIMIZER_FILE))
    state: dict[int, dict[str, Any]] = {}
    for name, tensor in tensors.items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = tensor
    for index, values in meta.get("scalars", {}).items():
        state.setdefault(int(index), {}).update(values)
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def prefixes_to_store(init: Path | None, trained: list[str] | None) -> list[str] | None:
    """Prefixes to store: what RL trains plus what the starting checkpoint already changed.

    None stores every parameter: the whole network trains, or the starting checkpoint is full.
    """
    if init is None or trained is None:
        return trained
    config = read_checkpoint_config(init)
    if config.get("stored") != "partial":
        return None  # a full starting checkpoint stays full
    return sorted(set(config.get("stored_prefixes") or ()) | set(trained))


def save_training_state(
    out: Path,
    update: int,
    policy: PlannerPolicy,
    optimizer: torch.optim.Optimizer,
    stored_prefixes: list[str] | None,
    history: list[dict[str, Any]],
    config: RLConfig,
    extra: dict[str, Any],
) -> Path:
    """Write the checkpoint after `update` updates, point latest.json at it, drop older ones."""
    from safetensors.torch import save_file

    directory = out / "checkpoints" / f"update-{update:04d}"
    save_checkpoint(
        policy,
        directory,
        trained_prefixes=stored_prefixes,
        dtype="float32",  # exact resume: fp16 storage would perturb the continued run
        metadata={"rl_update": update, "rl_config": config.to_json()},
    )
    tensors, meta = _optimizer_tensors(optimizer)
    save_file(tensors, str(directory / OPTIMIZER_FILE))
    state = {
        "state_version": STATE_VERSION,
        "update": update,
        "config": config.to_json(),
        "optimizer": meta,
        "history": history,
        **extra,
    }
    write_run_json(directory / STATE_FILE, state)
    write_run_json(out / LATEST_FILE, {"update": update, "dir": str(directory.relative_to(out))})
    for old in (out / "checkpoints").iterdir():
        if old != directory and old.name.startswith("update-"):
            shutil.rmtree(old)
    return directory


def write_run_json(path: Path, data: Any) -> None:
    """Write a JSON file of the run, indented with sorted keys."""
    write_json(path, data, indent=2, sort_keys=True)


def latest_checkpoint(out: Path) -> tuple[int, Path] | None:
    """Return (updates done, checkpoint dir) of a run directory, or None if it has none."""
    pointer = out / LATEST_FILE
    if not pointer.is_file():
        return None
    data = json.loads(pointer.read_text(encoding="utf-8"))
    return int(data["update"]), out / data["dir"]


def read_training_state(directory: Path) -> dict[str, Any]:
    """Return the run state saved in checkpoint `directory` (settings, history, optimizer)."""
    state: dict[str, Any] = json.loads((directory / STATE_FILE).read_text(encoding="utf-8"))
    if state.get("state_version") != STATE_VERSION:
        raise ValueError(f"{directory / STATE_FILE}: unknown state version")
    return state
