"""Planner checkpoints: safetensors weights plus a JSON config, never pickle.

A checkpoint may hold only the parameters that training changed (the head and the fine-tuned top
blocks) and refer to the frozen base backbone by name, config fingerprint and a hash of its
weights; that keeps a trained MiniLM Planner at a few MB, small enough to commit.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import torch

from policy.network import (
    IncompatibleCheckpointError,
    PlannerConfig,
    PlannerPolicy,
    resolve_backbone,
)
from rso.strategies import STRATEGIES

WEIGHTS_FILE = "planner.safetensors"
CONFIG_FILE = "planner.json"
FORMAT_VERSION = 2
#: Versions this code reads: 1 has no integrity hashes (checked for NaN/inf and parse errors only).
READABLE_VERSIONS = (1, 2)
INTEGRITY_KEY = "integrity"

StorageDtype = Literal["float16", "float32"]
_DTYPES: dict[str, torch.dtype] = {"float16": torch.float16, "float32": torch.float32}


class CorruptCheckpointError(IncompatibleCheckpointError):
    """A checkpoint whose files are damaged: a hash mismatch, a truncated file, NaN weights."""


def file_sha256(path: Path) -> str:
    """Return the hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def config_sha256(config: dict[str, Any]) -> str:
    """Return the hex SHA-256 of a config's canonical JSON, its integrity block left out."""
    body = {k: v for k, v in config.items() if k != INTEGRITY_KEY}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def seal_config(config: dict[str, Any], weights_path: Path) -> dict[str, Any]:
    """Return `config` at the current format version, with its own and its weights' hashes."""
    sealed = {k: v for k, v in config.items() if k != INTEGRITY_KEY}
    sealed["format_version"] = FORMAT_VERSION
    sealed[INTEGRITY_KEY] = {
        "weights_file": WEIGHTS_FILE,
        "weights_sha256": file_sha256(weights_path),
        "weights_bytes": weights_path.stat().st_size,
        "config_sha256": config_sha256(sealed),
    }
    return sealed


def write_config(directory: Path, config: dict[str, Any]) -> None:
    """Write a checkpoint's config atomically."""
    config_tmp = directory / (CONFIG_FILE + ".tmp")
    config_tmp.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(config_tmp, directory / CONFIG_FILE)


def weights_fingerprint(state: dict[str, torch.Tensor]) -> str:
    """Return a short sha256 over names, shapes and fp32 values of the given tensors."""
    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name].detach().cpu().contiguous()
        digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}".encode())
        if tensor.is_floating_point():
            tensor = tensor.to(torch.float32)
        digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()[:16]


def _split_state(
    policy: PlannerPolicy, trained_prefixes: Sequence[str] | None
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    state = policy.state_dict()
    if trained_prefixes is None:
        return dict(state), {}
    for prefix in trained_prefixes:
        if not any(name.startswith(prefix) for name in state):
            raise ValueError(f"no Planner parameter starts with {prefix!r}")
    saved = {n: t for n, t in state.items() if n.startswith(tuple(trained_prefixes))}
    frozen = {n: t for n, t in state.items() if n not in saved}
    return saved, frozen


def save_checkpoint(
    policy: PlannerPolicy,
    directory: str | Path,
    *,
    trained_prefixes: Sequence[str] | None = None,
    dtype: StorageDtype = "float32",
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Write the Planner to `directory` (weights + config); `trained_prefixes` limits what is kept.

    With `trained_prefixes` (e.g. ``["encoder.encoder.layer.5.", "head."]``) only those parameters
    are written and the rest must come from the unchanged base backbone at load time.
    """
    from safetensors.torch import save_file

    if dtype not in _DTYPES:
        raise ValueError(f"unknown storage dtype {dtype!r}; expected float16 or float32")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    saved, frozen = _split_state(policy, trained_prefixes)
    tensors = {
        name: (t.detach().cpu().to(_DTYPES[dtype]) if t.is_floating_point() else t.detach().cpu())
        .contiguous()
        .clone()
        for name, t in saved.items()
    }
    config = {
        "format_version": FORMAT_VERSION,
        "labels": list(STRATEGIES),
        "planner": policy.config.to_json(),
        "backbone": {
            "name": policy.config.backbone,
            "config_fingerprint": policy.backbone_fingerprint(),
            # Hash of what is NOT stored: loading onto other base weights would silently change
            # the Planner, so it is refused instead.
            "frozen_weights_fingerprint": weights_fingerprint(frozen) if frozen else None,
        },
        "stored": "partial" if trained_prefixes is not None else "full",
        "stored_prefixes": list(trained_prefixes) if trained_prefixes is not None else None,
        "dtype": dtype,
        "metadata": metadata or {},
    }
    weights_tmp = directory / (WEIGHTS_FILE + ".tmp")
    save_file(tensors, str(weights_tmp), metadata={"format": "pt"})
    os.replace(weights_tmp, directory / WEIGHTS_FILE)
    write_config(directory, seal_config(config, directory / WEIGHTS_FILE))
    return directory


def read_checkpoint_config(directory: str | Path) -> dict[str, Any]:
    """Read and sanity-check a checkpoint's JSON config; raise on a missing or malformed file."""
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no Planner checkpoint at {directory} (missing {CONFIG_FILE})")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8 text"
        raise CorruptCheckpointError(f"{path}: invalid JSON ({reason})") from None
    if not isinstance(config, dict):
        raise CorruptCheckpointError(f"{path}: expected a JSON object")
    for key in ("format_version", "labels", "planner", "backbone"):
        if key not in config:
            raise IncompatibleCheckpointError(f"{path}: missing key {key!r}")
    if config["format_version"] not in READABLE_VERSIONS:
        raise IncompatibleCheckpointError(
            f"{path}: format version {config['format_version']}, this code reads "
            f"{', '.join(map(str, READABLE_VERSIONS))}"
        )
    if config["format_version"] >= 2:
        recorded = (config.get(INTEGRITY_KEY) or {}).get("config_sha256")
        if recorded is None:
            raise CorruptCheckpointError(f"{path}: no config hash (integrity.config_sha256)")
        if recorded != config_sha256(config):
            raise CorruptCheckpointError(f"{path}: config does not match its recorded SHA-256")
    if list(config["labels"]) != list(STRATEGIES):
        raise IncompatibleCheckpointError(
            f"{path}: label order {config['labels']} differs from the project's strategies "
            f"{list(STRATEGIES)}; the head's rows would map to the wrong strategies"
        )
    return config


def load_checkpoint(
    directory: str | Path,
    *,
    backbone: str | None = None,
    device: str | torch.device = "cpu",
) -> PlannerPolicy:
    """Rebuild a saved Planner in eval mode; `backbone`, if given, must be the checkpoint's own."""
    directory = Path(directory)
    config = read_checkpoint_config(directory)
    stored_backbone = str(config["backbone"]["name"])
    if backbone is not None and resolve_backbone(backbone) != resolve_backbone(stored_backbone):
        raise IncompatibleCheckpointError(
            f"{directory}: trained on backbone {stored_backbone!r}, but {backbone!r} was requested"
        )
    planner_fields = dict(config["planner"])
    planner_fields["labels"] = tuple(planner_fields.get("labels", STRATEGIES))
    try:
        planner_config = PlannerConfig(**planner_fields)
    except TypeError as exc:
        raise IncompatibleCheckpointError(f"{directory}: bad planner config ({exc})") from None
    policy = PlannerPolicy(planner_config)
    expected = config["backbone"]["config_fingerprint"]
    if policy.backbone_fingerprint() != expected:
        raise IncompatibleCheckpointError(
            f"{directory}: backbone {stored_backbone!r} found here has config fingerprint "
            f"{policy.backbone_fingerprint()}, the checkpoint was trained on {expected}"
        )

    weights_path = directory / WEIGHTS_FILE
    if not weights_path.is_file():
        raise FileNotFoundError(f"no Planner weights at {weights_path}")
    tensors = read_weights(weights_path, config.get(INTEGRITY_KEY))
    state = policy.state_dict()
    unknown = sorted(set(tensors) - set(state))
    if unknown:
        raise IncompatibleCheckpointError(
            f"{weights_path}: parameters not in this Planner: {', '.join(unknown[:5])}"
        )
    for name, tensor in tensors.items():
        if tuple(tensor.shape) != tuple(state[name].shape):
            raise IncompatibleCheckpointError(
                f"{weights_path}: {name} has shape {tuple(tensor.shape)}, "
                f"expected {tuple(state[name].shape)}"
            )
    if config.get("stored") == "partial":
        prefixes = tuple(config.get("stored_prefixes") or ())
        expected_names = {n for n in state if n.startswith(prefixes)}
        if expected_names != set(tensors):
            missing = sorted(expected_names - set(tensors))
            raise IncompatibleCheckpointError(
                f"{weights_path}: missing trained parameters: {', '.join(missing[:5])}"
            )
        frozen = {n: t for n, t in state.items() if n not in expected_names}
        frozen_expected = config["backbone"].get("frozen_weights_fingerprint")
        if frozen_expected is not None and weights_fingerprint(frozen) != frozen_expected:
            raise IncompatibleCheckpointError(
                f"{directory}: the base weights of backbone {stored_backbone!r} differ from the "
                "ones this Planner was fine-tuned on"
            )
    elif set(tensors) != set(state):
        missing = sorted(set(state) - set(tensors))
        raise IncompatibleCheckpointError(
            f"{weights_path}: full checkpoint lacks: {', '.join(missing[:5])}"
        )
    with torch.no_grad():
        for name, tensor in tensors.items():
            state[name].copy_(tensor.to(state[name].dtype))
    policy.to(device)
    policy.eval()
    return policy


def read_weights(path: Path, integrity: dict[str, Any] | None) -> dict[str, torch.Tensor]:
    """Read a weights file, checked against its recorded size and hash, with finite values only."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if integrity is not None:
        size = path.stat().st_size
        if size != integrity.get("weights_bytes", size):
            raise CorruptCheckpointError(
                f"{path}: truncated or padded ({size} bytes, expected {integrity['weights_bytes']})"
            )
        if file_sha256(path) != integrity.get("weights_sha256"):
            raise CorruptCheckpointError(f"{path}: contents do not match the recorded SHA-256")
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        message = f"{path}: not a readable safetensors file ({reason})"
        raise CorruptCheckpointError(message) from None
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise CorruptCheckpointError(f"{path}: weight {name} holds NaN or infinite values")
    return tensors


def upgrade_checkpoint(directory: str | Path) -> Path:
    """Bring a version-1 checkpoint to the current format (adds the hashes) after a full load."""
    directory = Path(directory)
    load_checkpoint(directory)  # refuses a damaged one before it is sealed as good
    config = read_checkpoint_config(directory)
    write_config(directory, seal_config(config, directory / WEIGHTS_FILE))
    return directory
