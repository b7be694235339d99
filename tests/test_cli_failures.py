"""Expected failures of the `rso` CLI: one `error:` line, the shared exit codes, no traceback."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from cli.commands import EXIT_ERROR, EXIT_USAGE
from cli.main import main
from rso.paths import DEFAULT_PLANNER_DIR


def _rso(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str]:
    """Run `rso ARGS` as the console script does; return the exit code and stderr."""
    monkeypatch.setattr(sys, "argv", ["rso", *args])
    with pytest.raises(SystemExit) as caught:
        main()
    code = caught.value.code
    return (code if isinstance(code, int) else 1), capsys.readouterr().err


@pytest.fixture
def damaged_planner(tmp_path: Path) -> Path:
    bad = tmp_path / "planner"
    shutil.copytree(DEFAULT_PLANNER_DIR, bad)
    weights = bad / "planner.safetensors"
    data = bytearray(weights.read_bytes())
    data[3] ^= 0xFF  # a header byte
    weights.write_bytes(bytes(data))
    return bad


def test_chat_with_a_damaged_checkpoint_fails_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    damaged_planner: Path,
    tmp_path: Path,
) -> None:
    args = ["chat", "-m", "hi", "--experts", "rule", "--no-retriever", "--db", str(tmp_path / "s")]
    code, err = _rso(monkeypatch, capsys, *args, "--planner-checkpoint", str(damaged_planner))
    assert code == EXIT_ERROR
    # Log lines of other tests' handlers may share stderr; the failure itself is one line.
    assert [line for line in err.splitlines() if line.startswith("error")] == [
        f"error: {damaged_planner / 'planner.safetensors'}: contents do not match the recorded "
        "SHA-256"
    ], err
    assert "Traceback" not in err


def test_debug_shows_the_traceback(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    damaged_planner: Path,
    tmp_path: Path,
) -> None:
    from policy.checkpoint import CorruptCheckpointError

    monkeypatch.setattr(
        sys,
        "argv",
        ["rso", "--debug", "chat", "-m", "hi", "--experts", "rule", "--no-retriever"]
        + ["--db", str(tmp_path / "s"), "--planner-checkpoint", str(damaged_planner)],
    )
    with pytest.raises(CorruptCheckpointError):
        main()


def test_train_rl_with_a_bad_setting_exits_2_and_leaves_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("RSO_TOP_K", "abc")
    out = tmp_path / "rl"
    code, err = _rso(monkeypatch, capsys, "train", "rl", "--out", str(out), "--updates", "1")
    assert code == EXIT_USAGE
    assert err.strip() == "error: RSO_TOP_K='abc': expected an integer"
    assert not out.exists()


def test_train_rl_failing_before_work_removes_its_new_run_directory(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import rl.reinforce

    def fail_at_start(self: object) -> None:
        (tmp_path / "rl" / "rollouts").mkdir(parents=True)
        raise ValueError("no episode to learn from")

    monkeypatch.setattr(rl.reinforce.ReinforceTrainer, "run", fail_at_start)
    code, err = _rso(monkeypatch, capsys, "train", "rl", "--out", str(tmp_path / "rl"), "--fresh")
    assert code == EXIT_ERROR and "no episode to learn from" in err
    assert not (tmp_path / "rl").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["rollout", "--out", "{tmp}/run", "--episodes", "1"],
        ["eval", "{tmp}/nowhere"],
        ["chat", "-m", "hi"],
        ["experiment", "ablations", "--out", "{tmp}/abl"],
    ],
    ids=["rollout", "eval", "chat", "ablations"],
)
def test_every_command_exits_2_on_a_bad_setting(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    args: list[str],
) -> None:
    monkeypatch.setenv("RSO_ACTOR_TEMPERATURE", "hot")
    code, err = _rso(monkeypatch, capsys, *(a.format(tmp=tmp_path) for a in args))
    assert code == EXIT_USAGE, err
    assert "RSO_ACTOR_TEMPERATURE" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []
