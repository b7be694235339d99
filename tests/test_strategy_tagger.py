"""The strategy tagger: training on tiny data, numpy inference equal to scikit-learn's, loading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from evaluation.strategy_tagger import (
    ARRAYS_FILE,
    CONFIG_FILE,
    DEFAULT_TAGGER_DIR,
    TaggerError,
    data_fingerprint,
    labelled_utterances,
    load_tagger,
    train_tagger,
)
from rso.data.records import InspiredDialog, Utterance

TEXTS = [
    "Have you seen any good horror movies lately?",
    "What kind of movies do you like to watch?",
    "I loved that movie, it is one of my favorites.",
    "I really loved the ending, it was great.",
    "It won three Oscars and was directed by Nolan.",
    "It was nominated for an Oscar and directed by Spielberg.",
    "You should definitely watch it tonight!",
    "You should watch it, you will love it!",
]
LABELS = [
    "Experience Inquiry",
    "Opinion Inquiry",
    "Personal Opinion",
    "Personal Opinion",
    "Credibility",
    "Credibility",
    "Encouragement",
    "Encouragement",
]


def test_training_learns_tiny_data_and_names_absent_strategies() -> None:
    tagger = train_tagger(TEXTS, LABELS)
    assert tagger.predict(TEXTS) == LABELS
    assert tagger.predict(["you should watch it"]) == ["Encouragement"]
    assert "Transparency" in tagger.info["strategies_without_data"]
    assert tagger.info["train_fingerprint"] == data_fingerprint(TEXTS, LABELS)
    probabilities = tagger.scores(TEXTS)
    assert probabilities.shape == (len(TEXTS), 14)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    assert tagger.predict([]) == []


def test_numpy_inference_matches_scikit_learn() -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    tagger = train_tagger(TEXTS, LABELS)
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    x = vectorizer.fit_transform(TEXTS)
    model = LogisticRegression(C=4.0, max_iter=3000).fit(x, LABELS)
    probe = [*TEXTS, "Did you like the movie? I loved it, you should watch it."]
    expected = model.predict_proba(vectorizer.transform(probe))
    columns = [tagger.labels.index(label) for label in model.classes_]
    np.testing.assert_allclose(tagger.scores(probe)[:, columns], expected, atol=1e-6)


def test_two_strategies_train_like_a_binary_regression() -> None:
    tagger = train_tagger(TEXTS[4:], LABELS[4:])
    assert tagger.predict(TEXTS[4:]) == LABELS[4:]


def test_fingerprint_changes_with_a_label() -> None:
    assert data_fingerprint(TEXTS, LABELS) != data_fingerprint(TEXTS, [*LABELS[:-1], "Similarity"])


def test_labelled_utterances_keep_labelled_recommender_turns_only() -> None:
    dialog = InspiredDialog(
        dialog_id="d",
        split="train",
        user_id="u",
        target_genres=[],
        utterances=[
            Utterance(speaker="SEEKER", text="hi"),
            Utterance(speaker="RECOMMENDER", text="Hello!", strategy="No Strategy"),
            Utterance(speaker="RECOMMENDER", text="unlabelled"),
        ],
    )
    assert labelled_utterances([dialog]) == (["Hello!"], ["No Strategy"])


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    tagger = train_tagger(TEXTS, LABELS)
    tagger.save(tmp_path)
    loaded = load_tagger(tmp_path)
    assert loaded.predict(TEXTS) == LABELS
    np.testing.assert_allclose(loaded.scores(TEXTS), tagger.scores(TEXTS), atol=1e-5)
    assert loaded.info["train_fingerprint"] == tagger.info["train_fingerprint"]


@pytest.mark.parametrize("missing", [CONFIG_FILE, ARRAYS_FILE])
def test_missing_file_is_a_clear_error(tmp_path: Path, missing: str) -> None:
    train_tagger(TEXTS, LABELS).save(tmp_path)
    (tmp_path / missing).unlink()
    with pytest.raises(TaggerError, match=f"{missing} is missing; rebuild it with `rso train"):
        load_tagger(tmp_path)


def test_corrupt_files_are_clear_errors(tmp_path: Path) -> None:
    train_tagger(TEXTS, LABELS).save(tmp_path)
    arrays = (tmp_path / ARRAYS_FILE).read_bytes()
    (tmp_path / ARRAYS_FILE).write_bytes(arrays[: len(arrays) // 2])
    with pytest.raises(TaggerError, match="unreadable"):
        load_tagger(tmp_path)
    (tmp_path / ARRAYS_FILE).write_bytes(arrays)
    (tmp_path / CONFIG_FILE).write_text("{not json", encoding="utf-8")
    with pytest.raises(TaggerError, match="unreadable"):
        load_tagger(tmp_path)


def test_weights_that_do_not_fit_the_vocabulary_are_refused(tmp_path: Path) -> None:
    train_tagger(TEXTS, LABELS).save(tmp_path)
    other = train_tagger(
        [*TEXTS, "a brand new phrase here", "a brand new phrase"],
        [*LABELS] * 1 + ["Similarity"] * 2,
    )
    np.savez_compressed(
        tmp_path / ARRAYS_FILE, idf=other.idf, coef=other.coef, intercept=other.intercept
    )
    with pytest.raises(TaggerError, match="does not fit its vocabulary"):
        load_tagger(tmp_path)


def test_committed_tagger_loads_and_reports_its_test_scores() -> None:
    tagger = load_tagger(DEFAULT_TAGGER_DIR)
    assert tagger.info["test"]["accuracy"] > 0.6
    assert tagger.predict(["What kind of movies do you like?"]) == ["Opinion Inquiry"]
