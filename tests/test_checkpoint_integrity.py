"""Verified Planner checkpoints: hashes, truncation, NaN weights, and version-1 checkpoints."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from policy.checkpoint import (
    CONFIG_FILE,
    FORMAT_VERSION,
    INTEGRITY_KEY,
    WEIGHTS_FILE,
    CorruptCheckpointError,
    load_checkpoint,
    save_checkpoint,
    upgrade_checkpoint,
)
from policy.network import PlannerConfig, PlannerPolicy
from rso.paths import REPO_ROOT

COMMITTED = REPO_ROOT / "models" / "planner-sft"


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("planner")
    save_checkpoint(PlannerPolicy(PlannerConfig(max_length=32)), path, trained_prefixes=["head."])
    return path


def _copy(saved: Path, dst: Path) -> Path:
    shutil.copytree(saved, dst)
    return dst


def _flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def test_a_saved_checkpoint_records_its_hashes(saved: Path) -> None:
    config = json.loads((saved / CONFIG_FILE).read_text())
    assert config["format_version"] == FORMAT_VERSION == 2
    integrity = config[INTEGRITY_KEY]
    assert len(integrity["weights_sha256"]) == 64 and len(integrity["config_sha256"]) == 64
    assert integrity["weights_bytes"] == (saved / WEIGHTS_FILE).stat().st_size


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda p: _flip_byte(p / WEIGHTS_FILE, 3), "do not match the recorded SHA-256"),
        (lambda p: _flip_byte(p / WEIGHTS_FILE, -5), "do not match the recorded SHA-256"),
        (
            lambda p: (p / WEIGHTS_FILE).write_bytes((p / WEIGHTS_FILE).read_bytes()[:1000]),
            "truncated",
        ),
        (
            lambda p: (p / CONFIG_FILE).write_text(
                (p / CONFIG_FILE).read_text().replace('"dropout": 0.1', '"dropout": 0.2')
            ),
            "config does not match",
        ),
        (lambda p: (p / CONFIG_FILE).write_text("{not json"), "invalid JSON"),
    ],
    ids=["header-byte", "weight-byte", "truncated", "edited-config", "config-not-json"],
)
def test_a_damaged_checkpoint_is_refused_with_one_line_naming_the_file(
    saved: Path, tmp_path: Path, damage: object, message: str
) -> None:
    bad = _copy(saved, tmp_path / "bad")
    damage(bad)  # type: ignore[operator]
    with pytest.raises(CorruptCheckpointError, match=message) as caught:
        load_checkpoint(bad)
    text = str(caught.value)
    assert "\n" not in text and str(bad) in text


def _version_1(saved: Path, dst: Path) -> Path:
    """A copy as the format-1 code wrote it: no integrity block."""
    old = _copy(saved, dst)
    config = json.loads((old / CONFIG_FILE).read_text())
    config.pop(INTEGRITY_KEY)
    config["format_version"] = 1
    (old / CONFIG_FILE).write_text(json.dumps(config))
    return old


def test_a_version_1_checkpoint_loads_and_upgrades(saved: Path, tmp_path: Path) -> None:
    old = _version_1(saved, tmp_path / "v1")
    assert isinstance(load_checkpoint(old), PlannerPolicy)
    upgrade_checkpoint(old)
    assert json.loads((old / CONFIG_FILE).read_text())["format_version"] == FORMAT_VERSION
    load_checkpoint(old)


@pytest.mark.parametrize("bad_value", [float("nan"), float("inf")])
def test_nan_or_infinite_weights_are_refused_even_without_hashes(
    saved: Path, tmp_path: Path, bad_value: float
) -> None:
    old = _version_1(saved, tmp_path / "v1")
    tensors = load_file(str(old / WEIGHTS_FILE))
    name = sorted(tensors)[0]
    tensors[name] = tensors[name].clone()
    tensors[name].view(-1)[0] = bad_value
    save_file(tensors, str(old / WEIGHTS_FILE))
    with pytest.raises(CorruptCheckpointError, match=f"weight {name} holds NaN or infinite"):
        load_checkpoint(old)


def test_a_version_1_truncated_file_is_a_clear_error(saved: Path, tmp_path: Path) -> None:
    old = _version_1(saved, tmp_path / "v1")
    (old / WEIGHTS_FILE).write_bytes((old / WEIGHTS_FILE).read_bytes()[:100])
    with pytest.raises(CorruptCheckpointError, match="not a readable safetensors file"):
        load_checkpoint(old)


def test_the_committed_planner_is_sealed_and_loads() -> None:
    config = json.loads((COMMITTED / CONFIG_FILE).read_text())
    assert config["format_version"] == FORMAT_VERSION
    policy = load_checkpoint(COMMITTED)
    assert all(torch.isfinite(p).all() for p in policy.parameters())
