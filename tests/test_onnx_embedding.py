"""The ranker's query encoder through ONNX Runtime: same vectors and identity as torch's."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from retrieval.embedding import EmbeddingError, EmbeddingSettings, SentenceEmbedder  # noqa: E402
from retrieval.onnx_embedding import OnnxEmbedder, query_embedder, runtime_setting  # noqa: E402

TEXTS = [
    "Hi! I love scary movies, like The Shining (1980).",
    "Have you seen Inception? It is a mind-bending thriller by Christopher Nolan.",
    "ok",
    "word " * 400,  # longer than the model's 256 tokens: cut as sentence-transformers cuts it
]


@pytest.fixture(name="torch_embedder", scope="module")
def torch_embedder_fixture() -> SentenceEmbedder:
    return SentenceEmbedder(EmbeddingSettings(precision="float32", batch_size=2))


def test_onnx_vectors_equal_the_torch_float32_vectors(
    torch_embedder: SentenceEmbedder, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("RSO_CACHE_DIR", str(tmp_path))
    onnx = OnnxEmbedder(torch_embedder)
    assert str(onnx.onnx_path).startswith(str(tmp_path))
    expected = torch_embedder.embed(TEXTS)
    got = onnx.embed(TEXTS)  # exports on first use; batches of 2 with padding
    assert got.shape == expected.shape and got.dtype == np.float32
    assert np.min(np.sum(got * expected, axis=1)) > 0.99999
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert onnx.onnx_path.is_file()
    assert onnx.model_id == torch_embedder.model_id  # artefacts built by either stay valid
    assert onnx.embed([]).shape == (0, torch_embedder.dimension)
    assert np.allclose(OnnxEmbedder(torch_embedder).embed_one(TEXTS[0]), got[0], atol=1e-6)
    one_thread = OnnxEmbedder(torch_embedder, threads=1).embed(TEXTS)
    assert np.allclose(one_thread, OnnxEmbedder(torch_embedder, threads=2).embed(TEXTS), atol=1e-6)


def test_an_encoder_call_uses_at_most_two_threads(monkeypatch) -> None:
    from retrieval import onnx_embedding

    monkeypatch.setattr(onnx_embedding.os, "cpu_count", lambda: 16)
    assert onnx_embedding.default_threads() == 2
    monkeypatch.setattr(onnx_embedding.os, "cpu_count", lambda: None)
    assert onnx_embedding.default_threads() == 1


def test_a_corrupt_export_is_a_clear_error(torch_embedder, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("RSO_CACHE_DIR", str(tmp_path))
    onnx = OnnxEmbedder(torch_embedder)
    onnx.onnx_path.parent.mkdir(parents=True)
    onnx.onnx_path.write_bytes(b"not a model")
    with pytest.raises(EmbeddingError, match="delete it to export it again"):
        onnx.embed(["hello"])


def test_the_runtime_is_chosen_by_setting_and_settings(torch_embedder, monkeypatch) -> None:
    # MiniLM itself (RSO_QUERY_ENCODER=full); the student's choice: tests/test_student_encoder.py.
    monkeypatch.setenv("RSO_QUERY_ENCODER", "full")
    assert isinstance(query_embedder(torch_embedder, "auto"), OnnxEmbedder)
    assert query_embedder(torch_embedder, "torch") is torch_embedder
    bf16 = SentenceEmbedder(replace(torch_embedder.settings, precision="bfloat16"))
    assert query_embedder(bf16, "auto") is bf16  # bfloat16 vectors differ: keep torch
    with pytest.raises(EmbeddingError, match="needs float32 on the CPU"):
        query_embedder(bf16, "onnx")
    other = object()
    assert query_embedder(other, "auto") is other
    monkeypatch.setenv("RSO_EMBEDDING_RUNTIME", "tensorrt")
    with pytest.raises(EmbeddingError, match="use one of auto, torch, onnx"):
        runtime_setting()
    monkeypatch.setenv("RSO_EMBEDDING_RUNTIME", "torch")
    assert query_embedder(torch_embedder) is torch_embedder
