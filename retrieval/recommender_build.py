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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from retrieval.attributes import Attributes, Said
from retrieval.dialogue import (
    DialogueTurn,
    WordFinder,
    dialogue_vector,
    from_context,
    mentioned_movies,
    query_exchanges,
    said_attributes,
)
from retrieval.embedding import TextEmbedder
from retrieval.fusion import FUSED_FEATURES, Fusion, fit_fusion, sample_rows
from retrieval.item_stats import DialogueMentions, ItemStats
from retrieval.rank_features import ItemData, feature_matrix, one_blas_thread, said_weights
from retrieval.rank_features import mention_weights as weights_of
from retrieval.turn_memory import TurnMemory
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
    """Everything per movie except the turn memory: vectors, attributes, years, counts."""
    rows = {m.kb_id: row for row, m in enumerate(movies)}
    dialogues = [redial_mentions(d) for d in data.redial_dialogs]
    dialogues += [inspired_mentions(d, match) for d in data.inspired_mentions]
    years = np.asarray([m.year if m.year else np.nan for m in movies], dtype=np.float32)
    return ItemData(
        kb_ids=tuple(rows),
        vectors=np.ascontiguousarray(vectors, dtype=np.float32),
        attributes=Attributes.of(movies),
        years=years,
        stats=ItemStats.count(dialogues, rows, len(movies)),
        memory=TurnMemory.of(np.zeros((0, vectors.shape[1]), np.float32), [], [], len(movies)),
    )


@dataclass(frozen=True)
class ReadTurn:
    """A training turn as the ranker reads it, with the suggested movies it must find."""

    dialog: int
    dialog_id: str
    query: np.ndarray
    rows: np.ndarray
    weights: np.ndarray
    positives: np.ndarray
    #: Columns and weights of the genres and people named in words.
    said: Said


def read_turns(
    items: ItemData,
    turns: Sequence[RecTurn],
    embedder: TextEmbedder,
    find_titles: Callable[[str], list[str]],
    find_words: WordFinder,
    match: TitleMatch,
) -> list[ReadTurn]:
    """Read every turn (one embedding batch); positives: suggested movies not named before."""
    rows = items.rows
    dialogues: list[list[DialogueTurn]] = [from_context(turn.context) for turn in turns]
    texts = [query_exchanges(d) for d in dialogues]
    # Turns of one dialog share most exchanges: each distinct text is embedded once.
    distinct = list(dict.fromkeys(text for exchanges in texts for text in exchanges))
    vectors = embedder.embed(distinct) if distinct else np.zeros((0, embedder.dimension))
    position = {text: n for n, text in enumerate(distinct)}
    queries = [
        dialogue_vector(vectors[[position[text] for text in exchanges]], exchanges)
        for exchanges in texts
    ]
    numbers: dict[str, int] = {}
    out = []
    for turn, dialogue, query in zip(turns, dialogues, queries, strict=True):
        index, weights = weights_of(mentioned_movies(dialogue, find_titles), rows)
        linked = (match(title) for title in turn.targets)
        targets = {rows[kb_id] for kb_id in linked if kb_id is not None and kb_id in rows}
        positives = np.asarray(sorted(targets - set(index.tolist())), dtype=np.int64)
        number = numbers.setdefault(turn.dialog_id, len(numbers))
        said = said_weights(said_attributes(dialogue, find_words), items.attributes)
        out.append(ReadTurn(number, turn.dialog_id, query, index, weights, positives, said))
    return out


def turn_memory(turns: Sequence[ReadTurn], n_items: int, dimension: int) -> TurnMemory:
    """Build the similar-dialogues memory over the training turns that have a positive."""
    kept = [t for t in turns if t.positives.size]
    vectors = np.stack([t.query for t in kept]) if kept else np.zeros((0, dimension), np.float32)
    return TurnMemory.of(
        vectors, [t.positives.tolist() for t in kept], [t.dialog for t in kept], n_items
    )


def training_rows(
    items: ItemData,
    turns: Sequence[ReadTurn],
    data: TrainingData,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, BuildReport]:
    """Feature rows and 0/1 labels of every training turn, with leave-own-dialog-out counts."""
    rows = items.rows
    own = {d.dialog_id: redial_mentions(d) for d in data.redial_dialogs}
    rng = np.random.default_rng(seed)
    blocks: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    report = BuildReport()
    loo: tuple[str, ItemStats] | None = None
    for turn in sorted(turns, key=lambda t: t.dialog):
        if turn.positives.size == 0:
            continue
        if loo is None or loo[0] != turn.dialog_id:
            own_stats = ItemStats.count([own.get(turn.dialog_id, [])], rows, len(rows))
            loo = (turn.dialog_id, items.stats.without(own_stats))
        with one_blas_thread():
            matrix = feature_matrix(
                items,
                turn.query,
                turn.rows,
                turn.weights,
                loo[1],
                leave_out=turn.dialog,
                said=turn.said,
            )
        picked, label = sample_rows(matrix, turn.positives, turn.rows, rng)
        blocks.append(matrix[picked])
        labels.append(label)
        report.training_turns += 1
        report.positives += int(turn.positives.size)
    if not blocks:
        raise ValueError("no training turn has a suggested movie outside its context")
    stacked = np.concatenate(blocks)
    report.training_rows = int(stacked.shape[0])
    return stacked, np.concatenate(labels), report


def prepare_items(
    movies: Sequence[Movie],
    vectors: np.ndarray,
    data: TrainingData,
    embedder: TextEmbedder,
    find_titles: Callable[[str], list[str]],
    find_words: WordFinder,
    match: TitleMatch,
) -> tuple[ItemData, list[ReadTurn]]:
    """Count, index and remember the training data; also return the read training turns."""
    items = item_data(movies, vectors, data, match)
    turns = read_turns(items, data.redial_turns, embedder, find_titles, find_words, match)
    memory = turn_memory(turns, len(movies), vectors.shape[1])
    return replace(items, memory=memory), turns


@dataclass(frozen=True)
class BuiltRanker:
    """A build's artefacts, with the fusion's training rows (to refit it on fewer signals)."""

    items: ItemData
    fusion: Fusion
    report: BuildReport
    rows: np.ndarray
    labels: np.ndarray


def fit_ranker(
    movies: Sequence[Movie],
    vectors: np.ndarray,
    data: TrainingData,
    embedder: TextEmbedder,
    find_titles: Callable[[str], list[str]],
    find_words: WordFinder,
    match: TitleMatch,
    *,
    features: Sequence[str] = FUSED_FEATURES,
    seed: int = 0,
) -> BuiltRanker:
    """Count, then fit the fusion on the training turns of `data` (validation fold dropped)."""
    started = time.perf_counter()
    data = training_split(data)
    items, turns = prepare_items(movies, vectors, data, embedder, find_titles, find_words, match)
    stacked, labels, report = training_rows(items, turns, data, seed)
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
    return BuiltRanker(items, fusion, report, stacked, labels)


def build(
    movies: Sequence[Movie],
    vectors: np.ndarray,
    data: TrainingData,
    embedder: TextEmbedder,
    find_titles: Callable[[str], list[str]],
    find_words: WordFinder,
    match: TitleMatch,
    *,
    features: Sequence[str] = FUSED_FEATURES,
    seed: int = 0,
) -> tuple[ItemData, Fusion, BuildReport]:
    """`fit_ranker` without the training rows: the artefacts and the build report."""
    built = fit_ranker(
        movies,
        vectors,
        data,
        embedder,
        find_titles,
        find_words,
        match,
        features=features,
        seed=seed,
    )
    return built.items, built.fusion, built.report
