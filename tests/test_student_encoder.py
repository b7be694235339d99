"""The student query encoder: the committed layers, their checks, the choice, distilling."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from retrieval.embedding import EmbeddingError, EmbeddingSettings, SentenceEmbedder  # noqa: E402
from retrieval.onnx_embedding import OnnxEmbedder, query_embedder  # noqa: E402
from retrieval.recommender_build import TrainingData  # noqa: E402
from retrieval.student_distill import DistillSettings, distill  # noqa: E402
from retrieval.student_encoder import CARD_FILE, WEIGHTS_FILE, StudentWeights  # noqa: E402
from retrieval.student_texts import DistillTexts, dialogue_texts, distill_texts  # noqa: E402
from rso.data.records import (  # noqa: E402
    InspiredDialog,
    RecTurn,
    RedialDialog,
    RedialMessage,
    Utterance,
)
from rso.paths import DEFAULT_QUERY_ENCODER_DIR  # noqa: E402
from tests.recommend_fixtures import training_ids  # noqa: E402

EXCHANGES = [
    "What kind of movies do you like? I love scary movies, like The Shining (1980).",
    "Have you seen Inception? No, is it good? I like mind-bending thrillers.",
    "Something funny for tonight, maybe with Jim Carrey",
    "ok",
]


@pytest.fixture(name="minilm", scope="module")
def minilm_fixture() -> SentenceEmbedder:
    return SentenceEmbedder(EmbeddingSettings(precision="float32", batch_size=8))


@pytest.fixture(name="isolated_cache")
def isolated_cache_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RSO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("RSO_QUERY_ENCODER", raising=False)
    monkeypatch.delenv("RSO_EMBEDDING_RUNTIME", raising=False)
    return tmp_path


def test_the_committed_student_fits_minilm_and_stays_in_its_space(
    minilm: SentenceEmbedder, isolated_cache: Path
) -> None:
    student = StudentWeights.load()
    assert student.directory == DEFAULT_QUERY_ENCODER_DIR
    assert student.layers == (1, 3, 5) and student.fits(minilm)
    assert student.weights_path.stat().st_size < 12_000_000  # three layers in float16
    encoder = OnnxEmbedder(minilm, student=student)
    got, teacher = encoder.embed(EXCHANGES), minilm.embed(EXCHANGES)
    assert got.shape == teacher.shape and np.allclose(np.linalg.norm(got, axis=1), 1, atol=1e-5)
    cosine = np.sum(got * teacher, axis=1)
    assert cosine.mean() > 0.85, cosine  # 0.93 on the validation exchanges
    # Its own identity and export: artefacts built with MiniLM's queries are not reused.
    assert encoder.model_id != OnnxEmbedder(minilm).model_id
    assert student.student_id in encoder.weights_id
    assert "student" in encoder.onnx_path.name
    # The card records how it was made.
    training = student.card["training"]
    assert training["curve"][-1]["valid_cosine"] > 0.9 and training["steps"] > 1000


def test_the_query_encoder_is_chosen_by_setting(
    minilm: SentenceEmbedder, isolated_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    auto = query_embedder(minilm, "auto", "auto")
    assert isinstance(auto, OnnxEmbedder) and auto.student is not None
    full = query_embedder(minilm, "auto", "full")
    assert isinstance(full, OnnxEmbedder) and full.student is None
    assert query_embedder(minilm, "torch", "auto") is minilm  # the student runs on ONNX Runtime
    with pytest.raises(EmbeddingError, match="cannot use the student"):
        query_embedder(minilm, "torch", str(DEFAULT_QUERY_ENCODER_DIR))
    named = query_embedder(minilm, "onnx", str(DEFAULT_QUERY_ENCODER_DIR))
    assert named.student.digest == auto.student.digest
    bf16 = SentenceEmbedder(replace(minilm.settings, precision="bfloat16"))
    assert query_embedder(bf16, "auto", "auto").student is not None  # same weights, so it fits
    with pytest.raises(EmbeddingError, match="no student query encoder"):
        query_embedder(minilm, "auto", str(isolated_cache / "nowhere"))
    other = object()
    assert query_embedder(other, "auto", "auto") is other
    with pytest.raises(EmbeddingError, match="needs the sentence encoder it was distilled from"):
        query_embedder(other, "auto", str(DEFAULT_QUERY_ENCODER_DIR))
    monkeypatch.setenv("RSO_QUERY_ENCODER", "full")
    assert query_embedder(minilm, "auto").student is None


def _copy_student(tmp_path: Path) -> Path:
    target = tmp_path / "student"
    target.mkdir()
    for name in (CARD_FILE, WEIGHTS_FILE):
        (target / name).write_bytes((DEFAULT_QUERY_ENCODER_DIR / name).read_bytes())
    return target


def test_a_damaged_or_foreign_student_is_refused_clearly(
    minilm: SentenceEmbedder, isolated_cache: Path
) -> None:
    target = _copy_student(isolated_cache)
    card = json.loads((target / CARD_FILE).read_text())
    # Another teacher: the student would reuse the wrong embeddings.
    (target / CARD_FILE).write_text(json.dumps(card | {"teacher": "other-model@sha256:0"}))
    foreign = StudentWeights.load(target)
    assert not foreign.fits(minilm)
    with pytest.raises(EmbeddingError, match="distilled from other-model"):
        OnnxEmbedder(minilm, student=foreign)
    with pytest.raises(EmbeddingError, match="distilled from other-model"):
        query_embedder(minilm, "auto", str(target))
    # Layers altered after the card was written.
    (target / CARD_FILE).write_text(json.dumps(card))
    with open(target / WEIGHTS_FILE, "r+b") as fh:
        fh.seek(-8, 2)
        fh.write(b"\0" * 8)
    with pytest.raises(EmbeddingError, match="does not match its card"):
        StudentWeights.load(target)
    (target / CARD_FILE).write_text("{not json")
    with pytest.raises(EmbeddingError, match="is not a student card"):
        StudentWeights.load(target)
    (target / CARD_FILE).write_text(json.dumps(card | {"format": 99}))
    with pytest.raises(EmbeddingError, match="format 99"):
        StudentWeights.load(target)


def _redial(dialog_id: str, lines: list[tuple[str, str]]) -> RedialDialog:
    messages = [RedialMessage(speaker=s, text=t) for s, t in lines]  # type: ignore[arg-type]
    return RedialDialog(dialog_id=dialog_id, messages=messages, movie_mentions={})


def test_distillation_texts_come_from_training_dialogues_only() -> None:
    train_id, valid_id = training_ids(1)[0], training_ids(1, fold_is_valid=True)[0]
    train = _redial(
        train_id,
        [("RECOMMENDER", "Hi there"), ("SEEKER", "I like horror"), ("RECOMMENDER", "Try It")],
    )
    valid = _redial(valid_id, [("RECOMMENDER", "Hello"), ("SEEKER", "secret validation taste")])
    turns = [
        RecTurn(dataset="redial", dialog_id=valid_id, turn_id=1, context=["Hello", "secret"],
                targets=["It (2017)"]),
        RecTurn(dataset="redial", dialog_id=train_id, turn_id=1, context=["Hi there", "horror"],
                targets=["It (2017)"]),
    ]  # fmt: skip
    inspired = InspiredDialog(
        dialog_id="i1",
        split="train",
        user_id="u",
        target_genres=[],
        utterances=[Utterance(speaker="SEEKER", text="Anything with Tom Hanks")],
    )
    texts = distill_texts(TrainingData([train, valid], turns, []), [inspired], turns, seed=0)
    assert "Hi there I like horror" in texts.train  # an exchange
    assert "I like horror Try It" in texts.train and "Try It" in texts.train  # run and utterance
    assert "Anything with Tom Hanks" in texts.train
    assert not any("secret" in t or "Hello" in t for t in texts.train)
    assert texts.valid == ["Hello secret"]
    assert dialogue_texts([("SEEKER", "a"), ("RECOMMENDER", "b"), ("SEEKER", "c")]) == {
        "a", "b", "c", "a b", "b c", "a b c",
    }  # fmt: skip
    with pytest.raises(ValueError, match="is from test"):
        distill_texts(TrainingData([], [], []), [inspired.model_copy(update={"split": "test"})], [])


def test_distilling_teaches_the_student_and_resumes_from_saved_teacher_vectors(
    minilm: SentenceEmbedder, isolated_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = [
        f"I {verb} {title}, it was {adjective}"
        for verb in ("loved", "hated")
        for title in ("Inception", "Titanic", "Alien", "Heat")
        for adjective in ("scary", "funny", "long")
    ]
    data = DistillTexts(texts, texts[:6])
    settings = DistillSettings(steps=20, batch_size=8, eval_every=10, warmup_steps=2, lr=1e-3)
    work, out = isolated_cache / "work", isolated_cache / "out"
    student = distill(minilm, data, out, work, settings, progress=lambda _: None)
    curve = student.card["training"]["curve"]
    assert [p["step"] for p in curve] == [0, 10, 20]
    assert curve[-1]["valid_cosine"] > curve[0]["valid_cosine"] + 0.2  # about 0.54 -> 0.98
    assert student.fits(minilm) and student.layers == (1, 3, 5)
    got = OnnxEmbedder(minilm, student=student).embed(texts[:6])
    assert np.sum(got * minilm.embed(texts[:6]), axis=1).mean() > 0.9
    assert query_embedder(minilm, "auto", str(out)).student.digest == student.digest

    # A second run reads the teacher's vectors saved by the first: no teacher call at all.
    def no_teacher(*_args: object) -> None:
        raise AssertionError("the teacher was called again")

    monkeypatch.setattr(OnnxEmbedder, "embed", no_teacher)
    again = distill(minilm, data, isolated_cache / "again", work, settings, progress=print)
    assert again.card["training"]["train_texts"] == len(texts)
    with pytest.raises(ValueError, match="no training texts"):
        distill(minilm, DistillTexts([], []), out, work, settings)


def test_the_distill_command_writes_a_student_and_refuses_bad_layers(
    isolated_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from cli.main import _register_commands, app
    from retrieval import student_texts

    _register_commands()
    texts = [f"a {kind} movie like {title}" for kind in ("funny", "sad") for title in "ABCDEFGH"]
    monkeypatch.setattr(
        student_texts, "distill_texts", lambda *_a, **_k: DistillTexts(texts, texts[:4])
    )
    out = isolated_cache / "cli-student"
    args = ["recommend", "distill", "--steps", "4", "--output", str(out)]
    result = CliRunner().invoke(app, [*args, "--work-dir", str(isolated_cache / "w")])
    assert result.exit_code == 0, result.output
    assert "16 training texts, 4 validation exchanges" in result.output
    assert f"wrote {out / WEIGHTS_FILE}" in result.output
    assert StudentWeights.load(out).card["training"]["steps"] == 4
    for bad, message in (("1,9", "layers 0 to 5"), ("one", "give layer numbers")):
        result = CliRunner().invoke(app, ["recommend", "distill", "--layers", bad])
        assert result.exit_code != 0 and message in result.output, result.output


def test_the_dense_baseline_queries_with_the_documents_encoder() -> None:
    from retrieval.recommender import MovieRecommender
    from tests.recommend_fixtures import make_recommender
    from tests.test_retrieval import HashingEmbedder

    built = make_recommender()
    queries, documents = HashingEmbedder("student@1"), HashingEmbedder()
    ranker = MovieRecommender(
        built.items,
        built.titles,
        built.fusion,
        queries,
        built.find_titles,
        lambda text, seeker: [],
        document_embedder=documents,
    )
    dialogue = [("RECOMMENDER", "Hi, what do you like?"), ("SEEKER", "Scary movies tonight")]
    ranker.evidence(dialogue)
    assert (queries.calls, documents.calls) == (1, 0)
    last_two = ranker.evidence(dialogue, query="last_two")
    assert (queries.calls, documents.calls) == (1, 1)
    expected = HashingEmbedder().embed(["Hi, what do you like? Scary movies tonight"])[0]
    assert np.allclose(last_two.query, expected, atol=1e-6)
    ranker.forget()
    ranker.evidence(dialogue, query="last_two")
    assert documents.calls == 2  # its cache is dropped with the ranker's
