"""Recommendation turns and movie mentions: the inputs of the movie ranker and its evaluation.

- ReDial: iEvaLM's 2,716 recommendation turns of the 1,000 ReDial dialogs (``context``, ``rec``).
- INSPIRED: the UniCRS release with movie mentions per utterance; a turn per recommender
  utterance that names a movie (consecutive utterances of one speaker merged, so the context
  alternates and ends with the seeker), and each dialog's mentions for co-mention counts.

The dialogue-disjoint validation split is a hash rule of the dialog id (`dialog_fold`), so it is
the same on every machine and for dialogs that are not in the repository.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Final

from rso.data.jsonl import DataFormatError, iter_json_lines
from rso.data.records import MovieDialog, MovieMention, RecTurn, Speaker, Split
from rso.data.store import Parsed, Source, load_records, raw_file
from rso.data.validate import require, string_list

RAW_REDIAL_TURNS: Final = Path("redial") / "ievalm" / "valid_data_processed.jsonl"
RAW_INSPIRED_DIR: Final = Path("inspired") / "unicrs_format"
PROCESSED_REDIAL_TURNS: Final = "redial-rec-turns.jsonl.gz"
PROCESSED_INSPIRED_TEST_TURNS: Final = "inspired-test-rec-turns.jsonl.gz"
PROCESSED_INSPIRED_MENTIONS: Final = "inspired-train-mentions.jsonl.gz"

#: Folds of the dialogue-disjoint split; fold `VALID_FOLD` is the pinned validation split.
N_FOLDS: Final = 5
VALID_FOLD: Final = 0
_FOLD_SALT: Final = b"rso-recommend-split-v1:"

NOTE_MERGED: Final = "consecutive same-speaker utterances merged"


def dialog_fold(dialog_id: str) -> int:
    """Return the fold (0..4) of a dialog: a salted SHA-256 of its id, fixed for any dialog."""
    digest = hashlib.sha256(_FOLD_SALT + dialog_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % N_FOLDS


def is_validation_dialog(dialog_id: str) -> bool:
    """Tell whether a dialog belongs to the pinned validation split (never used for training)."""
    return dialog_fold(dialog_id) == VALID_FOLD


def parse_redial_rec_turns(raw_dir: Path | None = None) -> Parsed[RecTurn]:
    """Parse iEvaLM's ReDial recommendation turns (``valid_data_processed.jsonl``)."""
    path = raw_file(RAW_REDIAL_TURNS, raw_dir)
    turns: list[RecTurn] = []
    for line, obj in iter_json_lines(path):
        targets = string_list(obj, "rec", path, line)
        if not targets:
            raise DataFormatError(path, line, "field 'rec' is empty")
        turns.append(
            RecTurn(
                dataset="redial",
                dialog_id=require(obj, "dialog_id", str, path, line),
                turn_id=require(obj, "turn_id", int, path, line),
                context=string_list(obj, "context", path, line),
                targets=targets,
            )
        )
    return Parsed(turns)


def inspired_dialogs(
    split: Split, raw_dir: Path | None
) -> tuple[list[tuple[str, list[tuple[Speaker, str, list[str]]]]], int]:
    """Read each dialog as (id, merged utterances (speaker, text, movies)), and how many merges."""
    path = raw_file(RAW_INSPIRED_DIR / f"{split}_data_dbpedia.jsonl", raw_dir)
    dialogs = []
    merged_count = 0
    with open(path, encoding="utf-8") as fh:
        for line, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                utterances = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise DataFormatError(path, line, f"invalid JSON ({exc.msg})") from None
            if not isinstance(utterances, list):
                raise DataFormatError(path, line, "expected a JSON list of utterances")
            merged: list[tuple[Speaker, str, list[str]]] = []
            for index, item in enumerate(utterances):
                where = f"[{index}]"
                if not isinstance(item, dict):
                    raise DataFormatError(path, line, f"{where} should be an object")
                role = require(item, "role", str, path, line, where)
                if role not in ("SEEKER", "RECOMMENDER"):
                    raise DataFormatError(path, line, f"{where}.role: unknown role {role!r}")
                speaker: Speaker = "SEEKER" if role == "SEEKER" else "RECOMMENDER"
                text = require(item, "text", str, path, line, where).strip()
                movies = _string_items(item, "movie", path, line, where)
                if merged and merged[-1][0] == speaker:
                    previous = merged[-1]
                    merged_count += 1
                    movies = previous[2] + [m for m in movies if m not in previous[2]]
                    merged[-1] = (speaker, f"{previous[1]} {text}".strip(), movies)
                else:
                    merged.append((speaker, text, list(dict.fromkeys(movies))))
            dialogs.append((f"{split}-{line:04d}", merged))
    return dialogs, merged_count


def _string_items(obj: dict[str, Any], key: str, path: Path, line: int, where: str) -> list[str]:
    value = obj.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DataFormatError(path, line, f"{where}.{key} should be a list of strings")
    return [v.strip() for v in value if v.strip()]


def parse_inspired_rec_turns(split: Split, raw_dir: Path | None = None) -> Parsed[RecTurn]:
    """Parse one turn per INSPIRED recommender utterance naming a movie, after the seeker's."""
    dialogs, merged = inspired_dialogs(split, raw_dir)
    turns: list[RecTurn] = []
    for dialog_id, utterances in dialogs:
        for index, (speaker, _, movies) in enumerate(utterances):
            if speaker != "RECOMMENDER" or not movies or index == 0:
                continue
            turns.append(
                RecTurn(
                    dataset="inspired",
                    dialog_id=dialog_id,
                    turn_id=index,
                    context=[text for _, text, _ in utterances[:index]],
                    targets=movies,
                )
            )
    return Parsed(turns, {NOTE_MERGED: merged})


def parse_inspired_mentions(split: Split, raw_dir: Path | None = None) -> Parsed[MovieDialog]:
    """Parse the movie mentions of every INSPIRED dialog of `split`, with speaker and utterance."""
    dialogs, merged = inspired_dialogs(split, raw_dir)
    records = [
        MovieDialog(
            dataset="inspired",
            split=split,
            dialog_id=dialog_id,
            mentions=[
                MovieMention(speaker=speaker, utterance=index, title=title)
                for index, (speaker, _, movies) in enumerate(utterances)
                for title in movies
            ],
        )
        for dialog_id, utterances in dialogs
    ]
    return Parsed(records, {NOTE_MERGED: merged})


def load_redial_rec_turns(source: Source = "auto") -> list[RecTurn]:
    """Load the 2,716 ReDial recommendation turns (context, suggested movies) with dialog ids."""
    return load_records(
        PROCESSED_REDIAL_TURNS, RecTurn, lambda: parse_redial_rec_turns().records, source
    )


def load_inspired_test_turns(source: Source = "auto") -> list[RecTurn]:
    """Load the INSPIRED test turns where the recommender names a movie (the cross-dataset set)."""
    return load_records(
        PROCESSED_INSPIRED_TEST_TURNS,
        RecTurn,
        lambda: parse_inspired_rec_turns("test").records,
        source,
    )


def load_inspired_train_mentions(source: Source = "auto") -> list[MovieDialog]:
    """Load the movie mentions of the 801 INSPIRED training dialogs."""
    return load_records(
        PROCESSED_INSPIRED_MENTIONS,
        MovieDialog,
        lambda: parse_inspired_mentions("train").records,
        source,
    )
