"""PEFT LoRA -> llama.cpp adapter GGUF, and the embedded server's refusal of a bad adapter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from graph.llm_server import EmbeddedServer, EmbeddedServerError

gguf = pytest.importorskip("gguf", reason="the converter needs the tune extra")

from rl.lora_gguf import (  # noqa: E402  (after the extra's check)
    LoraConversionError,
    permute_rows,
    read_lora_gguf,
    write_lora_gguf,
)

HIDDEN, KV, FFN, RANK, HEADS, KV_HEADS = 8, 4, 12, 2, 2, 1


def _base(path: Path) -> Path:
    """A two-block Llama 'model' GGUF with the projection shapes of the real one, scaled down."""
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_uint32("llama.attention.head_count", HEADS)
    writer.add_uint32("llama.attention.head_count_kv", KV_HEADS)
    shapes = {
        "attn_q": (HIDDEN, HIDDEN), "attn_k": (KV, HIDDEN), "attn_v": (KV, HIDDEN),
        "attn_output": (HIDDEN, HIDDEN), "ffn_gate": (FFN, HIDDEN), "ffn_up": (FFN, HIDDEN),
        "ffn_down": (HIDDEN, FFN),
    }  # fmt: skip
    for block in range(2):
        for name, shape in shapes.items():
            writer.add_tensor(f"blk.{block}.{name}.weight", np.zeros(shape, np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _state(rng: np.random.Generator) -> dict[str, np.ndarray]:
    dims = {"self_attn.q_proj": (HIDDEN, HIDDEN), "self_attn.k_proj": (KV, HIDDEN),
            "self_attn.v_proj": (KV, HIDDEN), "mlp.down_proj": (HIDDEN, FFN)}  # fmt: skip
    state = {}
    for block in range(2):
        for module, (out, inp) in dims.items():
            key = f"base_model.model.model.layers.{block}.{module}"
            state[f"{key}.lora_A.weight"] = rng.standard_normal((RANK, inp)).astype(np.float32)
            state[f"{key}.lora_B.weight"] = rng.standard_normal((out, RANK)).astype(np.float32)
    return state


def test_round_trip_names_shapes_alpha_and_the_qk_row_order(tmp_path) -> None:
    state = _state(np.random.default_rng(0))
    out = tmp_path / "adapter.gguf"
    write_lora_gguf(state, 16.0, _base(tmp_path / "base.gguf"), out)
    meta, tensors = read_lora_gguf(out)
    assert meta["general.type"] == "adapter" and meta["adapter.type"] == "lora"
    assert meta["adapter.lora.alpha"] == 16.0 and meta["general.architecture"] == "llama"
    assert len(tensors) == len(state)
    peft = "base_model.model.model.layers.1"
    a, b = tensors["blk.1.ffn_down.weight.lora_a"], tensors["blk.1.ffn_down.weight.lora_b"]
    assert a.shape == (RANK, FFN) and b.shape == (HIDDEN, RANK)
    np.testing.assert_allclose(a, state[f"{peft}.mlp.down_proj.lora_A.weight"], atol=1e-2)
    np.testing.assert_allclose(b, state[f"{peft}.mlp.down_proj.lora_B.weight"], atol=1e-2)
    np.testing.assert_allclose(
        tensors["blk.1.attn_v.weight.lora_b"],
        state[f"{peft}.self_attn.v_proj.lora_B.weight"],
        atol=1e-2,
    )
    # Q and K rows follow llama.cpp's rotary order, by head count (K: the KV heads)
    q = state[f"{peft}.self_attn.q_proj.lora_B.weight"]
    k = state[f"{peft}.self_attn.k_proj.lora_B.weight"]
    np.testing.assert_allclose(
        tensors["blk.1.attn_q.weight.lora_b"], permute_rows(q, HEADS), atol=1e-2
    )
    np.testing.assert_allclose(
        tensors["blk.1.attn_k.weight.lora_b"], permute_rows(k, KV_HEADS), atol=1e-2
    )
    assert not np.allclose(permute_rows(q, HEADS), q)


def test_permute_rows_interleaves_each_heads_halves() -> None:
    rows = np.arange(8, dtype=np.float32).reshape(8, 1)
    assert permute_rows(rows, 2)[:, 0].tolist() == [0, 2, 1, 3, 4, 6, 5, 7]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s.update({"x.lora_A.weight": s.popitem()[1]}), "unsupported adapter tensor"),
        (lambda s: s.pop(next(k for k in s if "lora_B" in k)), "must both be present"),
        (
            lambda s: s.update(
                {next(k for k in s if "q_proj.lora_A" in k): np.zeros((RANK, 5), np.float32)}
            ),
            "do not fit the base",
        ),
    ],
)
def test_adapters_that_do_not_fit_are_refused(tmp_path, change, message) -> None:
    state = _state(np.random.default_rng(1))
    change(state)
    with pytest.raises(LoraConversionError, match=message):
        write_lora_gguf(state, 16.0, _base(tmp_path / "base.gguf"), tmp_path / "a.gguf")


def test_the_embedded_server_refuses_a_missing_adapter(tmp_path) -> None:
    pytest.importorskip("llama_cpp")
    server = EmbeddedServer(tmp_path / "model.gguf", lora_path=tmp_path / "none.gguf")
    (tmp_path / "model.gguf").write_bytes(b"")
    with pytest.raises(EmbeddedServerError, match="LoRA adapter file .*none.gguf does not exist"):
        server.start()
    assert not server.is_running()


@pytest.mark.integration
def test_the_embedded_server_refuses_an_adapter_of_another_model(tmp_path) -> None:
    pytest.importorskip("llama_cpp")
    from graph.llm_server import find_smollm2_gguf

    # llama-cpp-python would silently serve the plain model; the server must fail instead
    bad = tmp_path / "bad.gguf"
    writer = gguf.GGUFWriter(str(bad), "llama")
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, 16.0)
    writer.add_tensor("blk.0.attn_q.weight.lora_a", np.zeros((RANK, 100), np.float16))
    writer.add_tensor("blk.0.attn_q.weight.lora_b", np.zeros((576, RANK), np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    server = EmbeddedServer(find_smollm2_gguf(), lora_path=bad, log_path=tmp_path / "log")
    with pytest.raises(EmbeddedServerError, match="does not fit the model.*incorrect shape"):
        server.start()
    assert not server.is_running()


@pytest.mark.integration
def test_the_shipped_adapter_fits_the_embedded_model(tmp_path) -> None:
    pytest.importorskip("llama_cpp")
    from graph.llm_server import find_smollm2_gguf
    from rso.paths import DEFAULT_ACTOR_ADAPTER

    meta, tensors = read_lora_gguf(DEFAULT_ACTOR_ADAPTER)
    assert meta["adapter.type"] == "lora" and len(tensors) == 30 * 7 * 2  # 30 blocks, 7 weights
    with EmbeddedServer(
        find_smollm2_gguf(), lora_path=DEFAULT_ACTOR_ADAPTER, log_path=tmp_path / "log"
    ) as server:
        assert server.is_running()
