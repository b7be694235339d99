"""Seeker personas: the INSPIRED survey's demographics joined with personality scores."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from rso.data.jsonl import DataFormatError
from rso.data.records import BigFive, Persona
from rso.data.store import Parsed, Source, load_records, raw_file

SURVEY_DIR: Final = Path("inspired") / "original" / "survey_data"
RAW_DEMOGRAPHIC: Final = SURVEY_DIR / "seeker_demographic.tsv"
RAW_PERSONALITY: Final = SURVEY_DIR / "seeker_personality.tsv"
PROCESSED_PERSONAS: Final = "personas.jsonl.gz"

#: The survey's answer options per demographic question, in the file's column order. Values
#: outside them come from rows whose answers slid into neighbouring columns (see `_align`).
DEMOGRAPHIC_OPTIONS: Final[dict[str, frozenset[str]]] = {
    "age_group": frozenset(
        {
            "12 or younger",
            "12 - 17",
            "18 - 24",
            "25 - 34",
            "35 - 44",
            "45 - 54",
            "55 - 74",
            "75 or older",
        }
    ),
    "gender": frozenset({"Female", "Male", "Other"}),
    "race": frozenset(
        {
            "African",
            "Caucasian",
            "East Asian",
            "Hispanic/Latino",
            "Middle Eastern",
            "Native American/American Indian/Alaskan Native",
            "Other",
            "Pacific Islander",
            "South Asian",
            "Southeast Asian",
        }
    ),
    "degree": frozenset(
        {
            "Associate Degree",
            "Bachelor/4-year Degree",
            "Doctorate",
            "High School/GED",
            "Master",
            "No Degree",
            "Professional Postgraduate Degree (Medical, Law, etc)",
            "Vocational Training",
        }
    ),
    "job": frozenset(
        {
            "Employed",
            "Homemaker",
            "Non-university student",
            "Retired",
            "Unable to Work",
            "University Student",
        }
    ),
    "marital_status": frozenset(
        {"Divorced", "Living with partner", "Married", "Never been married", "Separated", "Widowed"}
    ),
    "political_view": frozenset({"Conservative", "Liberal", "Moderate"}),
    "religion": frozenset(
        {
            "Atheist",
            "Buddhist",
            "Hindu",
            "Jewish",
            "Mormon",
            "Muslim",
            "Orthodox",
            "Other",
            "Protestant",
            "Roman Catholic",
        }
    ),
}
DEMOGRAPHIC_FIELDS: Final = tuple(DEMOGRAPHIC_OPTIONS)
BIG_FIVE_COLUMNS: Final = {
    "extrovert": "Extrovert",
    "agreeable": "Agreeable",
    "conscientious": "Conscientious",
    "neurotic": "Neurotic",
    "open": "Open",
}
VALUE_COLUMNS: Final = (
    "Conformity",
    "Tradition",
    "Benevolence",
    "Universalism",
    "Self-Direction",
    "Stimulation",
    "Hedonism",
    "Achievement",
    "Power",
    "Security",
)
#: How far an answer may have slid from its own column and still be recovered.
MAX_SLIDE: Final = 2

NOTE_ROWS: Final = "demographic rows"
NOTE_DUPLICATE_ROWS: Final = "duplicate demographic rows merged (same seeker, several dialogs)"
NOTE_CONFLICTS: Final = "seekers whose duplicate rows disagree (later row wins)"
NOTE_REALIGNED: Final = "answers recovered from a neighbouring column"
NOTE_UNREADABLE: Final = "answers missing or unreadable (left empty)"
NOTE_NO_PERSONALITY: Final = "seekers without a personality row (big_five empty)"


def parse_personas(raw_dir: Path | None = None) -> Parsed[Persona]:
    """Join the two survey files by seeker id: one `Persona` per seeker of the demographic file."""
    demographic_path = raw_file(RAW_DEMOGRAPHIC, raw_dir)
    personality_path = raw_file(RAW_PERSONALITY, raw_dir)
    personality, personality_lines = _read_personality(personality_path)
    notes = dict.fromkeys(
        (
            NOTE_ROWS,
            NOTE_DUPLICATE_ROWS,
            NOTE_CONFLICTS,
            NOTE_REALIGNED,
            NOTE_UNREADABLE,
            NOTE_NO_PERSONALITY,
        ),
        0,
    )
    answers: dict[str, dict[str, str | None]] = {}
    conflicting: set[str] = set()
    for line, row in _tsv_rows(demographic_path, "seeker_id", *DEMOGRAPHIC_FIELDS):
        notes[NOTE_ROWS] += 1
        user_id = row["seeker_id"].strip()
        if not user_id:
            raise DataFormatError(demographic_path, line, "empty seeker_id")
        aligned, realigned = _align([row[f] for f in DEMOGRAPHIC_FIELDS])
        notes[NOTE_REALIGNED] += realigned
        previous = answers.get(user_id)
        if previous is None:
            answers[user_id] = aligned
            continue
        # A seeker who took part in several dialogs answered the survey each time; merge the
        # rows: the later answer wins, a missing one never erases an earlier answer.
        notes[NOTE_DUPLICATE_ROWS] += 1
        for name, value in aligned.items():
            if value is None:
                continue
            if previous[name] is not None and previous[name] != value:
                conflicting.add(user_id)
            previous[name] = value
    notes[NOTE_CONFLICTS] = len(conflicting)

    for user_id, line in personality_lines.items():
        if user_id not in answers:
            raise DataFormatError(
                personality_path, line, f"User_ID {user_id!r} has no row in {demographic_path.name}"
            )
    personas: list[Persona] = []
    for user_id, fields in answers.items():
        notes[NOTE_UNREADABLE] += sum(v is None for v in fields.values())
        scores = personality.get(user_id)
        record: dict[str, Any] = {"user_id": user_id, **fields}
        if scores is None:
            notes[NOTE_NO_PERSONALITY] += 1
        else:
            record |= {
                "big_five": BigFive(**{k: scores[c] for k, c in BIG_FIVE_COLUMNS.items()}),
                "values": {c: scores[c] for c in VALUE_COLUMNS},
                "rational": scores["Rational"],
                "feeling": scores["Feeling"],
            }
        personas.append(Persona.model_validate(record))
    return Parsed(personas, notes)


def load_personas(source: Source = "auto") -> dict[str, Persona]:
    """Seeker personas by user id ("user_188" -> Persona)."""
    personas = load_records(PROCESSED_PERSONAS, Persona, lambda: parse_personas().records, source)
    return {p.user_id: p for p in personas}


def _tsv_rows(path: Path, *required: str) -> Iterator[tuple[int, dict[str, str]]]:
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = reader.fieldnames or []
        missing = [c for c in required if c not in header]
        if missing:
            raise DataFormatError(path, 1, f"missing column(s) {', '.join(missing)}")
        for row in reader:
            # The header is line 1, so a row's line number is the reader's line count.
            line = reader.line_num
            if None in row or any(v is None for v in row.values()):
                raise DataFormatError(path, line, f"expected {len(header)} tab-separated fields")
            yield line, row


def _read_personality(path: Path) -> tuple[dict[str, dict[str, float]], dict[str, int]]:
    """Scores by user id, and the line of each user's row."""
    columns = (*BIG_FIVE_COLUMNS.values(), *VALUE_COLUMNS, "Rational", "Feeling")
    scores: dict[str, dict[str, float]] = {}
    lines: dict[str, int] = {}
    for line, row in _tsv_rows(path, "User_ID", *columns):
        user_id = row["User_ID"].strip()
        if user_id in lines:
            raise DataFormatError(
                path, line, f"duplicate User_ID {user_id!r} (first on line {lines[user_id]})"
            )
        try:
            scores[user_id] = {c: float(row[c]) for c in columns}
        except ValueError as exc:
            raise DataFormatError(path, line, f"non-numeric score ({exc})") from None
        lines[user_id] = line
    return scores, lines


def _align(cells: list[str]) -> tuple[dict[str, str | None], int]:
    """Assign each answer to its question even when some rows slid a column or two.

    Some survey rows lost an answer (everything after it moved left) or gained a stray one
    (a checkbox's literal "on", a mood word; everything moved right). Scanning the cells in
    order, each question takes the first cell within `MAX_SLIDE` that is one of its options.
    Returns the answers and how many came from a column other than their own.
    """
    answers: dict[str, str | None] = {}
    realigned = 0
    position = 0
    for column, name in enumerate(DEMOGRAPHIC_FIELDS):
        options = DEMOGRAPHIC_OPTIONS[name]
        window = range(position, min(len(cells), position + MAX_SLIDE + 1))
        found = next((i for i in window if cells[i].strip() in options), None)
        if found is None:
            answers[name] = None
            continue
        answers[name] = cells[found].strip()
        realigned += found != column
        position = found + 1
    return answers, realigned
