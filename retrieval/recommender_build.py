"""Learning the ranker's artefacts from training dialogues only.

Training dialogues: the ReDial dialogs outside the pinned validation fold
(`rso.data.rec_turns.is_validation_dialog`) and the INSPIRED training dialogs. From them come
the popularity and co-mention counts (`ItemStats`) and the fusion's training rows: each ReDial
recommendation turn of a training dialog, its features computed with counts that leave its own
dialog out, so that the fusion never learns from a count that already contains the answer.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from retrieval.dialogue import DialogueTurn, from_context, mentioned_movies, query_text
from retrieval.embedding import TextEmbedder
from retrieval.fusion import Fusion, fit_fusion, sample_rows
from retrieval.item_stats import DialogueMentions, ItemStats
from retrieval.rank_features import FEATURES, ItemData, attribute_matrix, feature_matrix
from retrieval.rank_features import mention_weights as weights_of
from rso.data.rec_turns import is_validation_dialog
from rso.data.records import Movie, MovieDialog, RecTurn, RedialDialog

logger = logging.getLogger(__name__)

#: Resolves one written title ("Heat (1995)") to a kb id, or None.
TitleMatch = Callable[[str], str | None]


@dataclass(frozen=True)
class TrainingData:
    """The dialogues the ranker learns from (all of them are training dialogues)."""

    redial_dialogs: Sequence[RedialDialog]
    redial_turns: Sequence[RecTurn]
    inspired_mentions: Sequence[MovieDialog] = ()


@dataclass
class BuildReport:
    """What a build used and how long it took."""

    training_dialogs: list[str] = field(default_factory=list)
    training_turns: int = 0
    training_rows: int = 0
    positives: int = 0
    seconds: float = 0.0


def redial_mentions(dialog: RedialDialog) -> DialogueMentions:
    """Return a ReDial dialog's mentions in order (kb id ``redial:<movieId>``)."""
    return [
        (message.speaker, f"redial:{movie_id}")
        for message in dialog.messages
        for movie_id in message.movie_ids
    ]


def inspired_mentions(dialog: MovieDialog, match: TitleMatch) -> DialogueMentions:
    """Return an INSPIRED dialog's mentions linked to the knowledge base (unlinked ones dropped)."""
    linked = ((m.speaker, match(m.title)) for m in dialog.mentions)
    return [(speaker, kb_id) for speaker, kb_id in linked if kb_id is not None]


def training_split(data: TrainingData) -> TrainingData:
    """Only the training dialogues of `data`: ReDial's validation fold is dropped."""
    return TrainingData(
        [d for d in data.redial_dialogs if not is_validation_dialog(d.dialog_id)],
        [t for t in data.redial_turns if not is_validation_dialog(t.dialog_id)],
        [d for d in data.inspired_mentions if d.split == "train"],
    )


def item_data(
    movies: Sequence[Movie], vectors: np.ndarray, data: TrainingData, match: TitleMatch
) -> ItemData:
    """Everything per movie: document vectors, attributes, years and the training counts."""
    rows = {m.kb_id: row for row, m in enumerate(movies)}
    dialogues = [redial_mentions(d) for d in data.redial_dialogs]
    dialogues += [inspired_mentions(d, match) for d in data.inspired_mentions]
    years = np.asarray([m.year if m.year else np.nan for m in movies], dtype=np.float32)
    return ItemData(
        kb_ids=tuple(rows),
        vectors=np.ascontiguousarray(vectors, dtype=np.float32),
        attributes=attribute_matrix(movies),
        years=years,
        stats=ItemStats.count(dialogues, rows, len(movies)),
    )


def training_rows(
    items: ItemData,
    data: TrainingData,
    embedder: TextEmbedder,
    find_titles: Callable[[str], list[str]],
    match: TitleMatch,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, BuildReport]:
    """Feature rows and 0/1 labels of every training turn, with leave-own-dialog-out counts."""
    rows = items.rows
    own = {d.dialog_id: redial_mentions(d) for d in data.redial_dialogs}
    by_dialog: dict[str, list[RecTurn]] = defaultdict(list)
    for turn in data.redial_turns:
        by_dialog[turn.dialog_id].append(turn)
    order = [(dialog_id, turn) for dialog_id, turns in by_dialog.items() for turn in turns]
    dialogues: list[list[DialogueTurn]] = [from_context(turn.context) for _, turn in order]
    queries = embedder.embed([query_text(d) for d in dialogues])
    rng = np.random.default_rng(seed)
    blocks: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    report = BuildReport()
    loo: tuple[str, ItemStats] | None = None
    for position, ((dialog_id, turn), dialogue) in enumerate(zip(order, dialogues, strict=True)):
        if loo is None or loo[0] != dialog_id:
            own_stats = ItemStats.count([own.get(dialog_id, [])], rows, len(rows))
            loo = (dialog_id, items.stats.without(own_stats))
        index, weights = weights_of(mentioned_movies(dialogue, find_titles), rows)
        named = set(index.tolist())
        targets = {rows[kb_id] for kb_id in map(match, turn.targets) if kb_id in rows}
        positives = np.asarray(sorted(targets - named), dtype=np.int64)
        if positives.size == 0:
            continue
        matrix = feature_matrix(items, queries[position], index, weights, loo[1])
        picked, label = sample_rows(matrix, positives, index, rng)
        blocks.append(matrix[picked])
        labels.append(label)
        report.training_turns += 1
        report.positives += int(positives.size)
    if not blocks:
        raise ValueError("no training turn has a suggested movie outside its context")
    stacked = np.concatenate(blocks)
    report.training_rows = int(stacked.shape[0])
    return stacked, np.concatenate(labels), report


def build(
    movies: Sequence[Movie],
    vectors: np.ndarray,
    data: TrainingData,
    embedder: TextEmbedder,
    find_titles: Callable[[str], list[str]],
    match: TitleMatch,
    *,
    features: Sequence[str] = FEATURES,
    seed: int = 0,
) -> tuple[ItemData, Fusion, BuildReport]:
    """Count, then fit the fusion on the training turns of `data` (validation fold dropped)."""
    started = time.perf_counter()
    data = training_split(data)
    items = item_data(movies, vectors, data, match)
    stacked, labels, report = training_rows(items, data, embedder, find_titles, match, seed)
    fusion = fit_fusion(stacked, labels, features, seed)
    report.training_dialogs = sorted(
        {d.dialog_id for d in data.redial_dialogs}
        | {t.dialog_id for t in data.redial_turns}
        | {d.dialog_id for d in data.inspired_mentions}
    )
    report.seconds = time.perf_counter() - started
    logger.info(
        "trained the ranker's fusion on %d turns (%d rows) in %.1f s",
        report.training_turns,
        report.training_rows,
        report.seconds,
    )
    return items, fusion, report
