"""Validate the raw and processed data against each other and against the published counts."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rso.data.catalog import CATALOG
from rso.data.jsonl import DataFormatError, read_models
from rso.data.records import EvalCase, Persona
from rso.paths import processed_data_dir, raw_data_dir


@dataclass
class CheckRow:
    """One measured figure of one dataset, from each place it could be read."""

    dataset: str
    measure: str
    expected: int | None
    raw: int | None
    processed: int | None

    @property
    def ok(self) -> bool:
        """True when every available figure equals the expected one."""
        found = [v for v in (self.raw, self.processed) if v is not None]
        return bool(found) and (self.expected is None or all(v == self.expected for v in found))


@dataclass
class CheckReport:
    """Everything `check` measured, and every problem found."""

    raw_dir: Path
    data_dir: Path
    raw_available: bool
    rows: list[CheckRow] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    #: Parsing notes of the raw data, by dataset (what was merged, recovered or dropped).
    notes: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-serialisable view of the report."""
        return {
            "ok": self.ok,
            "raw_dir": str(self.raw_dir),
            "data_dir": str(self.data_dir),
            "raw_available": self.raw_available,
            "rows": [asdict(r) | {"ok": r.ok} for r in self.rows],
            "problems": self.problems,
            "notes": self.notes,
        }


def check(data_dir: Path | None = None, raw_dir: Path | None = None) -> CheckReport:
    """Parse the raw data (when present), read the processed files, compare, and count."""
    data_dir = data_dir or processed_data_dir()
    raw_dir = raw_dir or raw_data_dir()
    report = CheckReport(raw_dir, data_dir, raw_available=raw_dir.is_dir())
    # The best available records of each dataset (processed first), for the cross checks.
    best: dict[str, tuple[list[Any], bool]] = {}
    for entry in CATALOG:
        raw_records: list[Any] | None = None
        processed: list[Any] | None = None
        if report.raw_available:
            try:
                parsed = entry.parse(raw_dir)
            except (DataFormatError, FileNotFoundError, KeyError, ValueError) as exc:
                report.problems.append(f"{entry.key}: raw data: {exc}")
            else:
                raw_records = parsed.records
                if parsed.notes:
                    report.notes[entry.key] = parsed.notes
        path = data_dir / entry.file_name
        if not path.is_file():
            report.problems.append(f"{entry.key}: missing {path} (run `rso data prepare`)")
        else:
            try:
                processed = read_models(path, entry.record)
            except DataFormatError as exc:
                report.problems.append(f"{entry.key}: processed file: {exc}")
        if raw_records is not None and processed is not None and raw_records != processed:
            report.problems.append(
                f"{entry.key}: {path.name} differs from the raw data (run `rso data prepare`)"
            )
        raw_measures = entry.measure(raw_records) if raw_records is not None else {}
        processed_measures = entry.measure(processed) if processed is not None else {}
        for name in entry.expected | raw_measures | processed_measures:
            row = CheckRow(
                entry.key,
                name,
                entry.expected.get(name),
                raw_measures.get(name),
                processed_measures.get(name),
            )
            report.rows.append(row)
            if not row.ok and (row.raw is not None or row.processed is not None):
                report.problems.append(_mismatch(row))
        if processed is not None:
            best[entry.key] = (processed, True)
        elif raw_records is not None:
            best[entry.key] = (raw_records, False)
    _check_case_personas(best, report)
    return report


def _mismatch(row: CheckRow) -> str:
    found = []
    if row.raw is not None and row.raw != row.expected:
        found.append(f"{row.raw:,} in the raw data")
    if row.processed is not None and row.processed != row.expected:
        found.append(f"{row.processed:,} in the processed file")
    return f"{row.dataset}: {row.measure} is {' and '.join(found)}, expected {row.expected:,}"


def _check_case_personas(best: dict[str, tuple[list[Any], bool]], report: CheckReport) -> None:
    """Every case must name a seeker whose persona has a personality (the simulator needs it)."""
    if "personas" not in best:
        return
    personas: list[Persona] = best["personas"][0]
    complete = {p.user_id for p in personas if p.big_five is not None}
    for key, (records, from_processed) in best.items():
        if not key.startswith("eval-"):
            continue
        cases: list[EvalCase] = records
        lacking = sorted({c.user_id for c in cases} - complete)
        count = len(lacking)
        report.rows.append(
            CheckRow(
                key,
                "seekers without a full persona",
                0,
                None if from_processed else count,
                count if from_processed else None,
            )
        )
        if lacking:
            report.problems.append(
                f"{key}: {len(lacking)} seekers have no persona with personality: {lacking[:5]}"
            )
