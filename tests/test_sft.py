import json
from pathlib import Path

import pytest
import torch
import typer
from typer.testing import CliRunner

from cli.commands import train as train_command
from policy.checkpoint import load_checkpoint
from rl.classifier_metrics import classification_metrics
from rl.sft import CONFUSION_FILE, SUMMARY_FILE, SFTSummary, run_sft
from rl.sft_config import SFTConfig
from rl.sft_data import class_weights
from rso.data.records import PlannerSample, Utterance
from rso.strategies import STRATEGIES, STRATEGY_INDEX

# Three strategies, each announced by a distinct last seeker turn, so even one epoch learns a bit.
_CUES = {
    "Opinion Inquiry": "I am not sure what I want to watch tonight",
    "Credibility": "who directed that one and is it any good",
    "Acknowledgment": "thanks a lot that sounds great",
}


def _fixture(n_per_label: int, offset: int) -> list[PlannerSample]:
    samples = []
    for i in range(n_per_label):
        for label, cue in _CUES.items():
            history = [
                Utterance(speaker="SEEKER", text="Hello."),
                Utterance(speaker="RECOMMENDER", text=f"Hi there, number {i + offset}!"),
                Utterance(speaker="SEEKER", text=cue),
            ]
            samples.append(
                PlannerSample(
                    dialog_id=f"d{i + offset}",
                    utterance_index=len(history),
                    history=history,
                    label=label,  # type: ignore[arg-type]
                )
            )
    return samples


SAMPLES = {"train": _fixture(12, 0), "valid": _fixture(4, 100), "test": _fixture(4, 200)}


def _config(tmp_path: Path, **changes: object) -> SFTConfig:
    config = SFTConfig(
        mode="partial",
        top_layers=1,
        max_length=24,
        epochs=1,
        batch_size=8,
        output=tmp_path / "planner",
        progress=False,
    )
    for key, value in changes.items():
        setattr(config, key, value)
    return config


def test_sft_partial_writes_loadable_checkpoint_and_summary(tmp_path: Path) -> None:
    summary = run_sft(_config(tmp_path), SAMPLES)
    out = tmp_path / "planner"
    assert summary.samples == {"train": 36, "valid": 12, "test": 12}
    assert len(summary.epochs) == 1 and summary.best_epoch == 1
    assert set(summary.baselines) == {"most_frequent", "tfidf_logreg"}
    assert 0.0 <= summary.test.macro_f1 <= 1.0
    assert set(summary.test.per_strategy) == set(STRATEGIES)
    assert summary.test.per_strategy["Credibility"].support == 4
    assert (out / CONFUSION_FILE).read_bytes().startswith(b"\x89PNG")
    on_disk = SFTSummary.model_validate_json((out / SUMMARY_FILE).read_text())
    assert on_disk.test == summary.test
    planner = load_checkpoint(out)
    probs = planner.probabilities(["Seeker: Hello.\nRecommender: Hi!"])
    assert probs.shape == (1, 14)
    meta = json.loads((out / "planner.json").read_text())["metadata"]
    assert meta["selected_by"] == "valid macro-F1"
    # Only the top block and head are stored (about 3.6 MB in fp16), not the backbone.
    assert summary.checkpoint_bytes < 5_000_000


def test_sft_frozen_mode_caches_embeddings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RSO_CACHE_DIR", str(tmp_path / "cache"))
    config = _config(tmp_path, mode="frozen", epochs=2, baselines=False)
    first = run_sft(config, SAMPLES)
    cached = sorted((tmp_path / "cache" / "planner-sft").glob("pooled-*.safetensors"))
    assert len(cached) == 2  # train and valid
    second = run_sft(config, SAMPLES)
    # Same seed, same cached features: the same run, exactly.
    assert second.test == first.test
    assert [e.train_loss for e in second.epochs] == [e.train_loss for e in first.epochs]
    assert first.baselines == {}


def test_class_weights() -> None:
    labels = [0, 0, 0, 1]
    balanced = class_weights(labels, "balanced")
    assert balanced is not None
    assert balanced[0].item() == pytest.approx(2 / 3 / (4 / 3))
    assert balanced[1].item() == pytest.approx(2 / (4 / 3))
    assert balanced[2].item() == 0.0  # unseen strategy
    assert class_weights(labels, "none") is None
    sqrt = class_weights(labels, "sqrt")
    assert sqrt is not None and sqrt[1] / sqrt[0] == pytest.approx(3**0.5)


def test_classification_metrics_by_hand() -> None:
    c, p = STRATEGY_INDEX["Credibility"], STRATEGY_INDEX["Personal Opinion"]
    metrics = classification_metrics([c, c, p, p], [c, p, p, p])
    assert metrics.accuracy == 0.75
    # Credibility: P=1, R=0.5 -> 2/3; Personal Opinion: P=2/3, R=1 -> 0.8
    assert metrics.macro_f1 == pytest.approx((2 / 3 + 0.8) / 2)
    assert metrics.per_strategy["Credibility"].f1 == pytest.approx(2 / 3)
    assert metrics.per_strategy["Similarity"].support == 0


def test_missing_split_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="split 'test'"):
        run_sft(_config(tmp_path), {"train": SAMPLES["train"], "valid": SAMPLES["valid"]})


def _app() -> typer.Typer:
    app = typer.Typer()
    train_command.register(app)
    return app


def test_cli_help_and_bad_option() -> None:
    runner = CliRunner()
    result = runner.invoke(_app(), ["train", "sft", "--help"])
    assert result.exit_code == 0
    assert "--top-layers" in result.output and "--json" in result.output
    result = runner.invoke(_app(), ["train", "sft", "--mode", "sideways"])
    assert result.exit_code != 0
    assert "--mode must be one of frozen, partial, full" in result.output


def test_torch_seeded_head_is_reproducible() -> None:
    # Two fresh Planners start from the same head, so runs with one seed are comparable.
    from policy.network import PlannerConfig, PlannerPolicy

    a = PlannerPolicy(PlannerConfig(max_length=16))
    b = PlannerPolicy(PlannerConfig(max_length=16))
    assert torch.equal(a.head.weight, b.head.weight)


class _TrainingStarted(Exception):
    """Raised in place of training, so a broken guard can neither train nor write."""


def _committed_files() -> dict[str, int]:
    from rso.paths import DEFAULT_PLANNER_DIR

    return {p.name: p.stat().st_mtime_ns for p in DEFAULT_PLANNER_DIR.iterdir()}


def _no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    import rl.sft

    def refuse(seed: int) -> None:
        raise _TrainingStarted

    monkeypatch.setattr(rl.sft, "seed_everything", refuse)


def test_cli_refuses_to_overwrite_the_committed_planner(monkeypatch: pytest.MonkeyPatch) -> None:
    from rso.paths import DEFAULT_PLANNER_DIR

    if not (DEFAULT_PLANNER_DIR / "planner.json").is_file():
        pytest.skip("no committed SFT Planner")
    _no_training(monkeypatch)
    before = _committed_files()
    for extra in ([], ["--output", str(DEFAULT_PLANNER_DIR)]):
        result = CliRunner().invoke(_app(), ["train", "sft", "--quiet", *extra])
        assert result.exit_code == 2, (result.output, result.exception)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.output
        assert "--force" in lines[0] and "models/planner-sft" in lines[0]
    assert _committed_files() == before
    # --force passes the guard and starts training (stopped here by the stand-in).
    result = CliRunner().invoke(_app(), ["train", "sft", "--quiet", "--force"])
    assert isinstance(result.exception, _TrainingStarted), result.output
    assert _committed_files() == before


def test_other_outputs_need_no_force(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _no_training(monkeypatch)
    result = CliRunner().invoke(
        _app(), ["train", "sft", "--quiet", "--output", str(tmp_path / "planner")]
    )
    assert isinstance(result.exception, _TrainingStarted), result.output
