"""Evaluation and rollout cases: a seeker persona id, target genres and a target movie per case."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Final, Literal, get_args

from rso.data.case_targets import dialogue_key, recommended_by_dialogue
from rso.data.inspired import NOTE_NO_GENRES, parse_inspired
from rso.data.jsonl import DataFormatError, iter_json_lines
from rso.data.records import EvalCase, EvalDataset, InspiredDialog, Split
from rso.data.store import Parsed, Source, load_records, raw_file
from rso.data.validate import require, string_list

#: The case sets: the paper's two test sets, and INSPIRED train for RL rollouts.
CaseSet = Literal["inspired-test", "redial-test", "inspired-train"]
CASE_SETS: Final[tuple[CaseSet, ...]] = get_args(CaseSet)

EVAL_DIR: Final = Path("rso_eval")
MAPPING_NAME: Final = "dialog_ids2user_id_and_genre_dict.jsonl"
NOTE_DUPLICATE_IDS: Final = "duplicate dialog ids disambiguated with '#<line>'"
NOTE_NO_TARGET: Final = "cases without target genres"
NOTE_NO_TARGET_MOVIE: Final = "cases without a target movie (item mode)"


def processed_cases_name(name: CaseSet) -> str:
    """File name of a case set inside the processed data directory."""
    return f"eval-{_check_set(name)}.jsonl.gz"


def case_id(dataset: EvalDataset, dialog_id: str) -> str:
    """Return the identifier of the case built from a dialog ("redial:20001")."""
    return f"{dataset}:{dialog_id}"


def parse_eval_cases(name: CaseSet, raw_dir: Path | None = None) -> Parsed[EvalCase]:
    """Build a case set from the raw files, checking the id mapping against the dialog file."""
    if _check_set(name) == "inspired-train":
        train = parse_inspired("train", raw_dir)
        targets = _target_movies(train.records, "train", raw_dir)
        cases = [
            EvalCase(
                case_id=case_id("inspired", d.dialog_id),
                dataset="inspired",
                dialog_id=d.dialog_id,
                user_id=d.user_id,
                target_genres=d.target_genres,
                target_movie=targets.get(d.dialog_id),
            )
            for d in train.records
        ]
        notes = {
            NOTE_NO_TARGET: train.notes[NOTE_NO_GENRES],
            NOTE_NO_TARGET_MOVIE: sum(c.target_movie is None for c in cases),
        }
        return Parsed(cases, notes)
    dataset: EvalDataset = "inspired" if name == "inspired-test" else "redial"
    mapping_path = raw_file(EVAL_DIR / dataset / MAPPING_NAME, raw_dir)
    dialogs_path = raw_file(EVAL_DIR / dataset / f"{name}.jsonl", raw_dir)
    parsed = _cases_from_mapping(dataset, mapping_path, dialogs_path)
    if dataset == "inspired":
        # The RSO release's INSPIRED test dialogs are the strategy-labelled split's, by id.
        dialogs = parse_inspired("test", path=dialogs_path).records
        targets = _target_movies(dialogs, "test", raw_dir)
        cases = [
            c.model_copy(update={"target_movie": targets.get(c.dialog_id)}) for c in parsed.records
        ]
        parsed = Parsed(cases, parsed.notes)
    parsed.notes[NOTE_NO_TARGET_MOVIE] = sum(c.target_movie is None for c in parsed.records)
    return parsed


def load_eval_cases(name: CaseSet, source: Source = "auto") -> list[EvalCase]:
    """Cases of a set: "inspired-test" (99), "redial-test" (198) or "inspired-train" (801)."""
    return load_records(
        processed_cases_name(name), EvalCase, lambda: parse_eval_cases(name).records, source
    )


def _target_movies(
    dialogs: list[InspiredDialog], split: Split, raw_dir: Path | None
) -> dict[str, str | None]:
    """Each dialog's last recommended movie (`rso.data.case_targets`), by dialog id."""
    recommended = recommended_by_dialogue(split, raw_dir)
    return {
        d.dialog_id: recommended.get(dialogue_key(u.text for u in d.utterances)) for d in dialogs
    }


def _check_set(name: str) -> CaseSet:
    if name not in CASE_SETS:
        raise ValueError(f"unknown case set {name!r}; expected one of {', '.join(CASE_SETS)}")
    return name


def _cases_from_mapping(
    dataset: EvalDataset, mapping_path: Path, dialogs_path: Path
) -> Parsed[EvalCase]:
    # The dialog file repeats each case's user and genres; both files must agree, id by id.
    in_dialogs: defaultdict[str, list[tuple[int, str, list[str]]]] = defaultdict(list)
    for line, obj in iter_json_lines(dialogs_path):
        dialog_id = require(obj, "dialog_id", str, dialogs_path, line)
        user_id = require(obj, "user_id", str, dialogs_path, line)
        genres = string_list(obj, "genre_dict", dialogs_path, line)
        in_dialogs[dialog_id].append((line, user_id, genres))

    cases: list[EvalCase] = []
    used: defaultdict[str, int] = defaultdict(int)
    duplicates = 0
    for line, obj in iter_json_lines(mapping_path):
        dialog_id = require(obj, "dialog_id", str, mapping_path, line)
        user_id = require(obj, "user_id", str, mapping_path, line)
        genres = string_list(obj, "genre_dict", mapping_path, line)
        occurrence = used[dialog_id]
        used[dialog_id] += 1
        matches = in_dialogs.get(dialog_id, [])
        if occurrence >= len(matches):
            raise DataFormatError(
                mapping_path, line, f"dialog_id {dialog_id!r} is not in {dialogs_path.name}"
            )
        dialog_line, dialog_user, dialog_genres = matches[occurrence]
        if (dialog_user, dialog_genres) != (user_id, genres):
            raise DataFormatError(
                mapping_path,
                line,
                f"dialog {dialog_id!r} has user {user_id!r} / genres {genres} here but "
                f"{dialog_user!r} / {dialog_genres} in {dialogs_path.name}:{dialog_line}",
            )
        identifier = case_id(dataset, dialog_id)
        if occurrence:
            # A repeated dialog id still needs its own case id; the mapping line makes it unique.
            identifier = f"{identifier}#{line}"
            duplicates += 1
        cases.append(
            EvalCase(
                case_id=identifier,
                dataset=dataset,
                dialog_id=dialog_id,
                user_id=user_id,
                target_genres=genres,
            )
        )
    for dialog_id, entries in in_dialogs.items():
        if used[dialog_id] < len(entries):
            raise DataFormatError(
                dialogs_path,
                entries[used[dialog_id]][0],
                f"dialog_id {dialog_id!r} has no entry in {mapping_path.name}",
            )
    notes = {
        NOTE_DUPLICATE_IDS: duplicates,
        NOTE_NO_TARGET: sum(not c.target_genres for c in cases),
    }
    return Parsed(cases, notes)
