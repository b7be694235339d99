"""Reference Planners fit on one split: the most frequent strategy; TF-IDF + logistic regression."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import f1_score


@dataclass(frozen=True)
class BaselineResult:
    """Test predictions of one baseline and the setting chosen on the validation split."""

    name: str
    predictions: list[int]
    chosen: str


def most_frequent_baseline(train_labels: Sequence[int], n_test: int) -> BaselineResult:
    """Predict the training split's most frequent strategy for every test sample."""
    if not train_labels:
        raise ValueError("most_frequent_baseline needs training labels")
    # Ties go to the lowest label index, so the choice is deterministic.
    counts = Counter(train_labels)
    label = min(counts, key=lambda k: (-counts[k], k))
    return BaselineResult("most_frequent", [label] * n_test, f"label={label}")


def tfidf_logreg_baseline(
    train_texts: Sequence[str],
    train_labels: Sequence[int],
    valid_texts: Sequence[str],
    valid_labels: Sequence[int],
    test_texts: Sequence[str],
    seed: int = 0,
) -> BaselineResult:
    """TF-IDF 1-2-grams + logistic regression; class weighting picked by validation macro-F1."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = TfidfVectorizer(
        ngram_range=(1, 2), min_df=2, sublinear_tf=True, max_features=50000
    )
    x_train = vectorizer.fit_transform(train_texts)
    x_valid = vectorizer.transform(valid_texts)
    best: tuple[float, str, LogisticRegression] | None = None
    # The same model selection as the Planner gets (validation macro-F1), so the comparison is fair.
    for class_weight in (None, "balanced"):
        model = LogisticRegression(max_iter=2000, class_weight=class_weight, random_state=seed)
        model.fit(x_train, np.asarray(train_labels))
        score = float(f1_score(valid_labels, model.predict(x_valid), average="macro"))
        if best is None or score > best[0]:
            best = (score, f"class_weight={class_weight}", model)
    assert best is not None
    predictions = best[2].predict(vectorizer.transform(test_texts))
    return BaselineResult("tfidf_logreg", [int(p) for p in predictions], best[1])
