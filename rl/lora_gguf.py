"""PEFT LoRA adapter -> llama.cpp LoRA GGUF, for a Llama-architecture base model such as SmolLM2.

llama.cpp's adapter format: metadata ``general.type = "adapter"``, ``adapter.type = "lora"``,
``adapter.lora.alpha``, and per adapted weight two tensors named after the base tensor,
``blk.{i}.attn_q.weight.lora_a`` (rank x in) and ``...lora_b`` (out x rank). llama.cpp scales the
product by alpha / rank, as PEFT does. The base GGUF stores the Q and K projections with their
rows permuted (rotary halves interleaved; transformers undoes this when it loads a GGUF), so the
B matrices of q_proj and k_proj get the same row permutation here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

#: transformers' Llama projection -> llama.cpp's tensor name inside a block.
TENSOR_NAMES: Final[Mapping[str, str]] = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
_PEFT_KEY = re.compile(
    r"^(?:base_model\.model\.)?model\.layers\.(\d+)\.(self_attn\.\w+|mlp\.\w+)\.lora_([AB])\.weight$"
)


class LoraConversionError(ValueError):
    """The adapter cannot be converted (unknown tensor, wrong shape, other architecture)."""


@dataclass(frozen=True)
class BaseShape:
    """What the conversion needs to know of the base model, read from its GGUF."""

    architecture: str
    n_head: int
    n_head_kv: int
    tensor_shapes: Mapping[str, tuple[int, int]]  # name -> (out, in), numpy order


def read_base_shape(base_gguf: Path) -> BaseShape:
    """Read the architecture, head counts and weight shapes of a base model's GGUF."""
    from gguf import GGUFReader

    reader = GGUFReader(base_gguf)

    def field(name: str) -> Any:
        found = reader.get_field(name)
        if found is None:
            raise LoraConversionError(f"{base_gguf}: no {name} in the GGUF metadata")
        return found.contents()

    arch = str(field("general.architecture"))
    shapes = {
        t.name: (int(t.shape[1]), int(t.shape[0]))  # GGUF lists dimensions innermost first
        for t in reader.tensors
        if len(t.shape) == 2
    }
    return BaseShape(
        arch, int(field(f"{arch}.attention.head_count")),
        int(field(f"{arch}.attention.head_count_kv")), shapes,
    )  # fmt: skip


def permute_rows(weight: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's Q/K row order: each head's two rotary halves interleaved (as its converter)."""
    out = weight.shape[0]
    return (
        weight.reshape(n_head, 2, out // n_head // 2, *weight.shape[1:])
        .swapaxes(1, 2)
        .reshape(weight.shape)
    )


def gguf_lora_tensors(state: Mapping[str, np.ndarray], base: BaseShape) -> dict[str, np.ndarray]:
    """Map a PEFT state dict (numpy arrays) to llama.cpp's LoRA tensors, checking every shape."""
    pairs: dict[str, dict[str, np.ndarray]] = {}
    for key, value in state.items():
        match = _PEFT_KEY.match(key)
        if match is None or match.group(2) not in TENSOR_NAMES:
            raise LoraConversionError(f"unsupported adapter tensor {key!r}")
        layer, module, half = match.groups()
        name = f"blk.{layer}.{TENSOR_NAMES[module]}.weight"
        pairs.setdefault(name, {})[half] = np.asarray(value, dtype=np.float32)
    tensors: dict[str, np.ndarray] = {}
    for name, pair in sorted(pairs.items()):
        if set(pair) != {"A", "B"}:
            raise LoraConversionError(f"{name}: lora_A and lora_B must both be present")
        a, b = pair["A"], pair["B"]
        if name not in base.tensor_shapes:
            raise LoraConversionError(f"{name}: the base model has no such tensor")
        out, inp = base.tensor_shapes[name]
        if a.ndim != 2 or b.ndim != 2 or a.shape[1] != inp or b.shape[0] != out:
            raise LoraConversionError(
                f"{name}: lora_A {a.shape} / lora_B {b.shape} do not fit the base ({out}, {inp})"
            )
        if a.shape[0] != b.shape[1]:
            raise LoraConversionError(f"{name}: ranks of lora_A and lora_B differ")
        if ".attn_q." in name:
            b = permute_rows(b, base.n_head)
        elif ".attn_k." in name:
            b = permute_rows(b, base.n_head_kv)
        tensors[f"{name}.lora_a"] = np.ascontiguousarray(a)
        tensors[f"{name}.lora_b"] = np.ascontiguousarray(b)
    if not tensors:
        raise LoraConversionError("the adapter has no tensors")
    return tensors


def write_lora_gguf(
    state: Mapping[str, np.ndarray], alpha: float, base_gguf: Path, out: Path
) -> dict[str, np.ndarray]:
    """Write the adapter `state` (PEFT names) as a llama.cpp LoRA GGUF for `base_gguf`."""
    import gguf

    base = read_base_shape(base_gguf)
    tensors = gguf_lora_tensors(state, base)
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(out), base.architecture)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(alpha))
    for name, value in tensors.items():
        writer.add_tensor(name, value.astype(np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return tensors


def convert_peft_adapter(adapter_dir: Path, base_gguf: Path, out: Path) -> dict[str, np.ndarray]:
    """Convert a saved PEFT adapter directory (adapter_config.json + safetensors) to GGUF."""
    import json

    from safetensors.numpy import load_file

    config = json.loads((adapter_dir / "adapter_config.json").read_text(encoding="utf-8"))
    state = load_file(str(adapter_dir / "adapter_model.safetensors"))
    return write_lora_gguf(state, float(config["lora_alpha"]), base_gguf, out)


def read_lora_gguf(path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read an adapter GGUF back: its metadata and its tensors in numpy order (for checks)."""
    from gguf import GGUFReader

    reader = GGUFReader(path)
    meta = {name: f.contents() for name, f in reader.fields.items() if not name.startswith("GGUF.")}
    tensors = {
        t.name: np.asarray(t.data).reshape([int(d) for d in reversed(t.shape)])
        for t in reader.tensors
    }
    return meta, tensors
