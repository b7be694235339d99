"""Training the Actor from a rows file alone (rl.actor_tune_rows), and exporting a finished run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("gguf", reason="the adapter export needs the tune extra")
pytest.importorskip("safetensors")

from rl import actor_tune_rows  # noqa: E402  (after the extra's check)
from rl.actor_run import ActorRunPaths, export_latest  # noqa: E402
from rl.actor_tune import ActorTuneConfig, steps_for  # noqa: E402
from rl.actor_tune_rows import read_rows  # noqa: E402
from rl.lora_gguf import read_base_shape, read_lora_gguf  # noqa: E402

ROW = {
    "prompt": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}],
    "completion": [{"role": "assistant", "content": "c"}],
}


def test_rows_are_read_and_bad_lines_named(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps(ROW | {"strategy": "Credibility"}) + "\n\n" + json.dumps(ROW) + "\n")
    rows = read_rows(path)
    assert [r.chat_row() for r in rows] == [ROW, ROW]  # only the messages go to the trainer
    path.write_text(json.dumps(ROW) + "\n{not json\n")
    with pytest.raises(ValueError, match=r"rows.jsonl:2: not JSON"):
        read_rows(path)
    path.write_text(json.dumps({"prompt": []}) + "\n")
    with pytest.raises(ValueError, match=r":1: a row needs 'prompt' and 'completion'"):
        read_rows(path)
    path.write_text("\n")
    with pytest.raises(ValueError, match="no rows"):
        read_rows(path)


def test_epochs_set_the_steps() -> None:
    assert steps_for(6346, 64, 3) == 298
    assert steps_for(10, 64, 1) == 1


def _save_adapter(directory: Path, state: dict[str, Any], alpha: int = 32) -> None:
    from safetensors.torch import save_file

    directory.mkdir(parents=True, exist_ok=True)
    save_file(state, str(directory / "adapter_model.safetensors"))
    (directory / "adapter_config.json").write_text(json.dumps({"lora_alpha": alpha}))


def test_main_passes_the_options_on_and_halves_the_adapter(monkeypatch, tmp_path: Path) -> None:
    import torch

    rows = tmp_path / "rows.jsonl"
    rows.write_text("\n".join(json.dumps(ROW) for _ in range(100)) + "\n")
    seen: dict[str, Any] = {}

    def fake_train(examples, gguf, out_dir, config):  # type: ignore[no-untyped-def]
        seen.update(examples=len(examples), gguf=gguf, config=config)
        _save_adapter(out_dir / "adapter", {"a": torch.ones(2, 3)})
        return {"steps": config.max_steps}

    monkeypatch.setattr(actor_tune_rows, "train_actor_lora", fake_train)
    argv = [str(rows), "base.gguf", str(tmp_path / "w"), "--device", "cuda", "--batch-size", "32",
            "--epochs", "2", "--learning-rate", "2e-4", "--max-length", "256"]  # fmt: skip
    assert actor_tune_rows.main(argv) == {"steps": 7}
    config: ActorTuneConfig = seen["config"]
    assert seen["examples"] == 100 and seen["gguf"] == Path("base.gguf")
    assert (config.device, config.batch_size, config.max_steps) == ("cuda", 32, 7)
    assert (config.learning_rate, config.max_length, config.rank) == (2e-4, 256, 16)
    from safetensors.torch import load_file

    assert load_file(str(tmp_path / "w" / "adapter" / "adapter_model.safetensors"))["a"].dtype == (
        torch.float16
    )
    with pytest.raises(SystemExit):  # argparse refuses another device
        actor_tune_rows.main([str(rows), "b.gguf", str(tmp_path), "--device", "tpu"])


def test_a_finished_run_is_exported_with_its_own_settings(tmp_path: Path) -> None:
    import torch

    from graph.llm_server import find_smollm2_gguf

    out, inp = read_base_shape(find_smollm2_gguf()).tensor_shapes["blk.0.attn_v.weight"]
    key = "base_model.model.model.layers.0.self_attn.v_proj"
    rng = np.random.default_rng(0)
    state = {
        f"{key}.lora_A.weight": torch.tensor(rng.standard_normal((4, inp)), dtype=torch.float16),
        f"{key}.lora_B.weight": torch.tensor(rng.standard_normal((out, 4)), dtype=torch.float16),
    }
    paths = ActorRunPaths(tmp_path / "work", tmp_path / "shipped")
    _save_adapter(paths.work_dir / "adapter", state, alpha=8)
    ran = ActorTuneConfig(rank=4, alpha=8, batch_size=64, max_steps=298, device="cuda")
    ran_config = ran.__dict__ | {"target_modules": ["v_proj"]}
    summary = {"examples": 6346, "steps": 298, "config": ran_config}
    (paths.work_dir / "summary.json").write_text(json.dumps(summary))
    paths.curve.write_text(json.dumps({"step": 1, "loss": 3.0, "elapsed_s": 40}) + "\n")
    card = export_latest(paths, ActorTuneConfig(), per_strategy=800)
    assert (card["steps"], card["examples"], card["rows_seen"]) == (298, 6346, 298 * 64)
    assert card["config"]["device"] == "cuda" and card["config"]["rank"] == 4
    meta, tensors = read_lora_gguf(paths.output / "actor-lora.gguf")
    assert meta["adapter.lora.alpha"] == 8.0 and len(tensors) == 2
