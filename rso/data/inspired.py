"""INSPIRED dialogs with recommender strategy labels, and the Planner's supervised samples."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final, get_args

from rso.data.jsonl import DataFormatError, iter_json_lines
from rso.data.records import InspiredDialog, PlannerSample, Speaker, Split, Utterance
from rso.data.store import Parsed, Source, load_records, raw_file
from rso.data.validate import require, string_list
from rso.strategies import Strategy, UnknownStrategyError, parse_strategy

SPLITS: Final[tuple[Split, ...]] = get_args(Split)
RAW_DIR: Final = Path("inspired") / "rso_sft"
#: The release escapes every double quote as this token (sometimes glued to the next word).
QUOTE_TOKEN: Final = "QUOTATION_MARK"
#: How seeker utterances are marked as unlabelled in the release.
NO_LABEL: Final = "NaN"
NOTE_NO_GENRES: Final = "dialogs without target genres"


def raw_inspired_file(split: Split) -> Path:
    """Path of a split's raw file, relative to the raw data directory."""
    return RAW_DIR / f"inspired-{_check_split(split)}.jsonl"


def processed_inspired_name(split: Split) -> str:
    """File name of a split's processed file inside the processed data directory."""
    return f"inspired-{_check_split(split)}.jsonl.gz"


def decode_text(text: str) -> str:
    """Undo the release's quote escaping: ``QUOTATION_MARK`` becomes ``"``."""
    return text.replace(QUOTE_TOKEN, '"')


def parse_inspired(
    split: Split, raw_dir: Path | None = None, path: Path | None = None
) -> Parsed[InspiredDialog]:
    """Parse one raw split (or the file at `path`) into validated dialogs."""
    path = path or raw_file(raw_inspired_file(split), raw_dir)
    dialogs: list[InspiredDialog] = []
    seen: dict[str, int] = {}
    without_genres = 0
    for line, obj in iter_json_lines(path):
        dialog = _parse_dialog(obj, split, path, line)
        if dialog.dialog_id in seen:
            first = seen[dialog.dialog_id]
            raise DataFormatError(
                path, line, f"duplicate dialog_id {dialog.dialog_id!r} (first on line {first})"
            )
        seen[dialog.dialog_id] = line
        without_genres += not dialog.target_genres
        dialogs.append(dialog)
    return Parsed(dialogs, {NOTE_NO_GENRES: without_genres})


def load_inspired(split: Split, source: Source = "auto") -> list[InspiredDialog]:
    """INSPIRED dialogs of `split` ("train", "valid" or "test")."""
    return load_records(
        processed_inspired_name(split),
        InspiredDialog,
        lambda: parse_inspired(split).records,
        source,
    )


def planner_samples_from(dialogs: list[InspiredDialog]) -> list[PlannerSample]:
    """One sample per labelled recommender utterance that has at least one utterance before it."""
    samples: list[PlannerSample] = []
    for dialog in dialogs:
        for index, utterance in enumerate(dialog.utterances):
            if index == 0 or utterance.speaker != "RECOMMENDER" or utterance.strategy is None:
                continue
            samples.append(
                PlannerSample(
                    dialog_id=dialog.dialog_id,
                    utterance_index=index,
                    history=dialog.utterances[:index],
                    label=utterance.strategy,
                )
            )
    return samples


def planner_samples(split: Split, source: Source = "auto") -> list[PlannerSample]:
    """Supervised Planner samples (history, strategy label) of an INSPIRED split."""
    return planner_samples_from(load_inspired(split, source))


def _check_split(split: str) -> Split:
    if split not in SPLITS:
        raise ValueError(f"unknown INSPIRED split {split!r}; expected one of {', '.join(SPLITS)}")
    return split


def _parse_dialog(obj: dict[str, Any], split: Split, path: Path, line: int) -> InspiredDialog:
    dialog_id = require(obj, "dialog_id", str, path, line)
    user_id = require(obj, "user_id", str, path, line)
    raw_turns = require(obj, "dialog", list, path, line)
    if not raw_turns:
        raise DataFormatError(path, line, "field 'dialog' is empty")
    utterances = [
        _parse_utterance(turn, f"dialog[{i}]", path, line) for i, turn in enumerate(raw_turns)
    ]
    return InspiredDialog(
        dialog_id=dialog_id,
        split=split,
        user_id=user_id,
        # The valid split has no genre_dict at all; train and test have some empty ones.
        target_genres=string_list(obj, "genre_dict", path, line),
        utterances=utterances,
    )


def _parse_utterance(turn: Any, where: str, path: Path, line: int) -> Utterance:
    if not isinstance(turn, dict):
        raise DataFormatError(path, line, f"{where} should be an object, got {type(turn).__name__}")
    text = require(turn, "text", str, path, line, where)
    speaker = require(turn, "speaker", str, path, line, where)
    if speaker not in get_args(Speaker):
        raise DataFormatError(path, line, f"{where}.speaker: unknown speaker {speaker!r}")
    label = turn.get("strategy")
    strategy: Strategy | None = None
    if speaker == "RECOMMENDER":
        if not isinstance(label, str) or label in ("", NO_LABEL):
            raise DataFormatError(
                path, line, f"{where}.strategy: recommender utterance has no label"
            )
        try:
            strategy = parse_strategy(label)
        except UnknownStrategyError as exc:
            raise DataFormatError(path, line, f"{where}.strategy: {exc}") from None
    elif label not in (None, "", NO_LABEL):
        # Seekers are never labelled in INSPIRED; a label here means the columns are mixed up.
        raise DataFormatError(path, line, f"{where}.strategy: seeker utterance labelled {label!r}")
    return Utterance(speaker=speaker, text=decode_text(text), strategy=strategy)  # type: ignore[arg-type]
