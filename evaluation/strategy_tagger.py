"""The strategy tagger: one utterance -> one of the 14 INSPIRED strategies.

TF-IDF word 1-2-grams and a multinomial logistic regression, trained on the labelled recommender
utterances of INSPIRED train. It is the yardstick of the Actor's strategy adherence, so it is
stored as plain data (`tagger.json`: vocabulary, labels, settings, training fingerprint and test
scores; `tagger.npz`: idf, weights, intercepts; never pickle) and rebuilt by ``rso train tagger``.
Inference is numpy alone (no scikit-learn import), a fraction of a millisecond per utterance.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import numpy as np

from rso.data.records import InspiredDialog
from rso.jsonio import invalid_key, read_json_object, write_json
from rso.paths import REPO_ROOT
from rso.strategies import STRATEGIES, Strategy, parse_strategy

#: The committed tagger.
DEFAULT_TAGGER_DIR: Final = REPO_ROOT / "models" / "strategy-tagger"
CONFIG_FILE: Final = "tagger.json"
ARRAYS_FILE: Final = "tagger.npz"
FORMAT_VERSION: Final = 1
#: scikit-learn's default token pattern: words of two or more word characters.
_TOKEN: Final = re.compile(r"(?u)\b\w\w+\b")
_CHUNK: Final = 256
ARRAYS_FILE_KEYS: Final = ("idf", "coef", "intercept")


class TaggerError(RuntimeError):
    """The tagger's files are missing, damaged, or do not fit each other."""


@dataclass(frozen=True)
class TaggerSettings:
    """How the tagger is trained (validation macro-F1 chose these on INSPIRED valid)."""

    #: Inverse regularisation strength of the logistic regression.
    c: float = 4.0
    #: Minimum number of training utterances a 1- or 2-gram must occur in.
    min_df: int = 2
    max_iter: int = 3000


def labelled_utterances(dialogs: Iterable[InspiredDialog]) -> tuple[list[str], list[Strategy]]:
    """Return the texts and gold strategies of every labelled recommender utterance."""
    texts: list[str] = []
    labels: list[Strategy] = []
    for dialog in dialogs:
        for utterance in dialog.utterances:
            if utterance.speaker == "RECOMMENDER" and utterance.strategy is not None:
                texts.append(utterance.text)
                labels.append(utterance.strategy)
    return texts, labels


def data_fingerprint(texts: Sequence[str], labels: Sequence[str]) -> str:
    """Return a short SHA-256 of the (label, text) rows a tagger was trained on."""
    digest = hashlib.sha256()
    for text, label in zip(texts, labels, strict=True):
        digest.update(f"{label}\t{text}\n".encode())
    return digest.hexdigest()[:16]


def _terms(text: str) -> list[str]:
    """Return the 1- and 2-grams of a text as scikit-learn's word analyzer makes them."""
    tokens = _TOKEN.findall(text.lower())
    return tokens + [f"{a} {b}" for a, b in zip(tokens, tokens[1:], strict=False)]


@dataclass(frozen=True)
class StrategyTagger:
    """A fitted tagger: vocabulary, idf, weights; `predict` labels utterances."""

    vocabulary: dict[str, int]
    idf: np.ndarray
    #: (14, n_terms) weights and (14,) intercepts, rows in `labels` order.
    coef: np.ndarray
    intercept: np.ndarray
    labels: tuple[Strategy, ...] = STRATEGIES
    #: Provenance written beside the arrays (fingerprint, sizes, test scores).
    info: dict[str, Any] = field(default_factory=dict, compare=False)

    def features(self, texts: Sequence[str]) -> np.ndarray:
        """Return sublinear TF-IDF rows, L2-normalised, as a dense (n, n_terms) array."""
        rows = np.zeros((len(texts), len(self.vocabulary)), dtype=np.float64)
        for i, text in enumerate(texts):
            for term in _terms(text):
                column = self.vocabulary.get(term)
                if column is not None:
                    rows[i, column] += 1.0
        counted = rows > 0
        rows[counted] = np.log(rows[counted]) + 1.0
        rows *= self.idf
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        return rows / np.where(norms == 0, 1.0, norms)

    def scores(self, texts: Sequence[str]) -> np.ndarray:
        """Return the (n, 14) class probabilities."""
        # In chunks: the dense feature rows of a whole test split would take hundreds of MB.
        logits = np.vstack(
            [
                self.features(texts[start : start + _CHUNK]) @ self.coef.T + self.intercept
                for start in range(0, len(texts), _CHUNK)
            ]
        )
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        return probs / probs.sum(axis=1, keepdims=True)

    def predict(self, texts: Sequence[str]) -> list[Strategy]:
        """Return the most likely strategy of each text."""
        if not texts:
            return []
        return [self.labels[int(i)] for i in self.scores(texts).argmax(axis=1)]

    def save(self, directory: Path) -> None:
        """Write `tagger.json` and `tagger.npz` into `directory` (created if needed)."""
        directory.mkdir(parents=True, exist_ok=True)
        terms = sorted(self.vocabulary, key=self.vocabulary.__getitem__)
        np.savez_compressed(
            directory / ARRAYS_FILE,
            idf=self.idf.astype(np.float32),
            coef=self.coef.astype(np.float32),
            intercept=self.intercept.astype(np.float32),
        )
        config = {
            "format_version": FORMAT_VERSION,
            "labels": list(self.labels),
            "terms": terms,
            **{k: v for k, v in self.info.items() if k not in ("labels", "terms")},
        }
        write_json(directory / CONFIG_FILE, config, indent=1)


def train_tagger(
    texts: Sequence[str], labels: Sequence[str], settings: TaggerSettings | None = None
) -> StrategyTagger:
    """Fit TF-IDF 1-2-grams + logistic regression on labelled utterances."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    settings = settings or TaggerSettings()
    gold = [parse_strategy(label) for label in labels]
    if len(texts) != len(gold) or not texts:
        raise ValueError("train_tagger needs as many labels as texts, and at least one")
    missing = [s for s in STRATEGIES if s not in set(gold)]
    vectorizer = TfidfVectorizer(
        ngram_range=(1, 2), min_df=min(settings.min_df, len(texts)), sublinear_tf=True
    )
    x = vectorizer.fit_transform(texts)
    y = np.asarray([STRATEGIES.index(s) for s in gold])
    coef = np.zeros((len(STRATEGIES), x.shape[1]))
    # A strategy absent from the data can never be predicted: its intercept is -inf-like.
    intercept = np.full(len(STRATEGIES), -1e4)
    present = sorted(set(y.tolist()))
    if len(present) == 1:
        intercept[present[0]] = 0.0
    else:
        model = LogisticRegression(C=settings.c, max_iter=settings.max_iter)
        model.fit(x, y)
        # Two classes: scikit-learn keeps one row w, p = sigmoid(w.x + b); a softmax over
        # (0, w.x + b) gives the same probability.
        binary = len(present) == 2
        rows = np.vstack([np.zeros_like(model.coef_), model.coef_]) if binary else model.coef_
        biases = np.r_[0.0, model.intercept_] if binary else model.intercept_
        for row, label in enumerate(model.classes_):
            coef[label] = rows[row]
            intercept[label] = biases[row]
    vocabulary = {str(term): int(i) for term, i in vectorizer.vocabulary_.items()}
    info = {
        "settings": {"c": settings.c, "min_df": settings.min_df, "max_iter": settings.max_iter},
        "train_utterances": len(texts),
        "train_fingerprint": data_fingerprint(texts, gold),
        "strategies_without_data": missing,
    }
    return StrategyTagger(vocabulary, vectorizer.idf_.copy(), coef, intercept, STRATEGIES, info)


def load_tagger(directory: Path | None = None) -> StrategyTagger:
    """Read a tagger written by `StrategyTagger.save`; raise TaggerError saying what is wrong."""
    directory = Path(directory or DEFAULT_TAGGER_DIR)
    fix = "rebuild it with `rso train tagger`"
    config_path, arrays_path = directory / CONFIG_FILE, directory / ARRAYS_FILE
    for path in (config_path, arrays_path):
        if not path.is_file():
            raise TaggerError(f"strategy tagger file {path} is missing; {fix}")
    try:
        config = read_json_object(config_path)
    except ValueError as exc:
        raise TaggerError(f"strategy tagger {config_path}: {exc}; {fix}") from None
    bad = invalid_key(config, {"format_version": int, "labels": list, "terms": list})
    if bad is not None:
        raise TaggerError(f"strategy tagger {config_path} lacks a valid {bad!r}; {fix}")
    if config["format_version"] != FORMAT_VERSION or tuple(config["labels"]) != STRATEGIES:
        raise TaggerError(
            f"strategy tagger {config_path} has format {config['format_version']} or labels "
            f"other than the 14 strategies; {fix}"
        )
    try:
        with np.load(arrays_path, allow_pickle=False) as arrays:
            idf, coef, intercept = (np.asarray(arrays[k], np.float64) for k in ARRAYS_FILE_KEYS)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise TaggerError(f"strategy tagger {arrays_path} is unreadable ({exc}); {fix}") from None
    n_terms = len(config["terms"])
    if (
        idf.shape != (n_terms,)
        or coef.shape != (len(STRATEGIES), n_terms)
        or intercept.shape != (len(STRATEGIES),)
    ):
        raise TaggerError(
            f"strategy tagger {arrays_path} does not fit its vocabulary of {n_terms} terms; {fix}"
        )
    if not (np.isfinite(idf).all() and np.isfinite(coef).all() and np.isfinite(intercept).all()):
        raise TaggerError(f"strategy tagger {arrays_path} holds NaN or infinite weights; {fix}")
    vocabulary = {str(term): i for i, term in enumerate(config["terms"])}
    info = {k: v for k, v in config.items() if k not in ("terms", "labels")}
    return StrategyTagger(vocabulary, idf, coef, intercept, STRATEGIES, info)


@lru_cache(maxsize=2)
def cached_tagger(directory: Path = DEFAULT_TAGGER_DIR) -> StrategyTagger:
    """Return the tagger in `directory`, loaded once per process."""
    return load_tagger(directory)


def tagger_scores(
    tagger: StrategyTagger, texts: Sequence[str], labels: Sequence[str]
) -> dict[str, float]:
    """Return the tagger's accuracy and macro-F1 (over the 14 strategies) on labelled texts."""
    from sklearn.metrics import f1_score

    gold = [parse_strategy(label) for label in labels]
    predicted = tagger.predict(texts)
    accuracy = float(np.mean([p == g for p, g in zip(predicted, gold, strict=True)]))
    macro_f1 = float(
        f1_score(gold, predicted, labels=[s for s in STRATEGIES if s in set(gold)], average="macro")
    )
    return {"accuracy": accuracy, "macro_f1": macro_f1, "utterances": float(len(gold))}


def build_inspired_tagger(
    output: Path | None = None, settings: TaggerSettings | None = None
) -> StrategyTagger:
    """Train on INSPIRED train, score on INSPIRED test, and save to `output` (the committed dir)."""
    from rso.data.inspired import load_inspired

    train_texts, train_labels = labelled_utterances(load_inspired("train"))
    tagger = train_tagger(train_texts, train_labels, settings)
    test_texts, test_labels = labelled_utterances(load_inspired("test"))
    info = {**tagger.info, "train_data": "INSPIRED train, labelled recommender utterances"}
    info["test"] = {"data": "INSPIRED test, labelled recommender utterances"}
    info["test"] |= tagger_scores(tagger, test_texts, test_labels)
    tagger = StrategyTagger(
        tagger.vocabulary, tagger.idf, tagger.coef, tagger.intercept, tagger.labels, info
    )
    tagger.save(Path(output or DEFAULT_TAGGER_DIR))
    return tagger
