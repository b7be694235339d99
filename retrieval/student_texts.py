"""What the query encoder's student learns from: text of the training dialogues only.

The ranker embeds exchanges (a seeker utterance with the recommender utterances before it), so
the student is taught on those and on their neighbours in shape: every exchange of every
training dialogue, every single utterance, and every run of two and three consecutive utterances
(about 107,000 distinct texts from ReDial's training folds and INSPIRED train). No text of a
validation dialogue is learnt from; the validation exchanges are kept apart to watch the cosine
to the teacher during training.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from retrieval.dialogue import DialogueTurn, from_context, query_exchanges
from retrieval.recommender_build import TrainingData, training_split
from rso.data.rec_turns import is_validation_dialog
from rso.data.records import InspiredDialog, RecTurn

#: Exchanges per dialogue kept: every one (the ranker reads the last few of each turn).
ALL_EXCHANGES = 10_000
#: Lengths of the runs of consecutive utterances added beside single utterances.
RUN_LENGTHS = (2, 3)


@dataclass(frozen=True)
class DistillTexts:
    """The student's training texts (shuffled by `seed`) and the validation exchanges (sorted)."""

    train: list[str]
    valid: list[str]


def dialogue_texts(turns: Sequence[DialogueTurn]) -> set[str]:
    """Every exchange, utterance and run of 2-3 consecutive utterances of one dialogue."""
    texts = {e for e in query_exchanges(turns, limit=ALL_EXCHANGES) if e.strip()}
    utterances = [text for _, text in turns if text.strip()]
    texts.update(utterances)
    for n in RUN_LENGTHS:
        texts.update(" ".join(utterances[i : i + n]) for i in range(len(utterances) - n + 1))
    return texts


def distill_texts(
    data: TrainingData,
    inspired_train: Iterable[InspiredDialog],
    validation_turns: Iterable[RecTurn],
    seed: int = 0,
) -> DistillTexts:
    """Collect the texts from `data`'s training part and INSPIRED train; validation apart.

    `data` is the ranker's training input (its validation fold is dropped here);
    `validation_turns` are ReDial recommendation turns, of which only validation dialogues' are
    read, for the held-out exchanges.
    """
    training = training_split(data)
    texts: set[str] = set()
    for turn in training.redial_turns:
        texts.update(e for e in query_exchanges(from_context(turn.context), ALL_EXCHANGES) if e)
    for dialog in training.redial_dialogs:
        texts |= dialogue_texts([(m.speaker, m.text) for m in dialog.messages])
    for inspired in inspired_train:
        if inspired.split != "train":
            raise ValueError(f"INSPIRED dialog {inspired.dialog_id} is from {inspired.split}")
        texts |= dialogue_texts([(u.speaker, u.text) for u in inspired.utterances])
    valid: set[str] = set()
    for turn in validation_turns:
        if is_validation_dialog(turn.dialog_id):
            valid.update(e for e in query_exchanges(from_context(turn.context), ALL_EXCHANGES) if e)
    train = sorted(texts)
    random.Random(seed).shuffle(train)
    return DistillTexts(train, sorted(valid))
