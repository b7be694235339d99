"""`rso data prepare` and `rso data check`: build and validate the processed datasets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rso.data.check import CheckReport

data_app = typer.Typer(
    help="Build the processed datasets from the raw ones, and validate them.",
    no_args_is_help=True,
)

RawDirOption = Annotated[
    Path | None,
    typer.Option(
        "--raw-dir", help="Raw datasets directory (default: $RSO_RAW_DATA or ../shared/data)."
    ),
]
DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Processed data directory (default: $RSO_DATA_DIR or data/)."),
]


@data_app.command("prepare")
def prepare_command(raw_dir: RawDirOption = None, data_dir: DataDirOption = None) -> None:
    """Parse every raw source and write the processed files and their README."""
    from rso.data.jsonl import DataFormatError
    from rso.data.prepare import prepare

    try:
        prepared = prepare(out_dir=data_dir, raw_dir=raw_dir)
    except (DataFormatError, FileNotFoundError, KeyError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    width = max(len(p.path.name) for p in prepared)
    for item in prepared:
        counts = ", ".join(f"{name} {value:,}" for name, value in item.measures.items())
        typer.echo(f"{item.path.name:<{width}}  {item.size / 1e3:>8,.0f} kB  {counts}")
        for note, value in item.notes.items():
            if value:
                typer.echo(f"{'':<{width}}  {'':>11}  note: {note}: {value:,}")
    total = sum(p.size for p in prepared)
    typer.echo(f"wrote {len(prepared)} files ({total / 1e6:.1f} MB) to {prepared[0].path.parent}")


@data_app.command("check")
def check_command(
    raw_dir: RawDirOption = None,
    data_dir: DataDirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Validate raw and processed data and print the counts; exit 1 on any mismatch."""
    from rso.data.check import check

    report = check(data_dir=data_dir, raw_dir=raw_dir)
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2))
    else:
        _print_report(report)
    if not report.ok:
        raise typer.Exit(1)


def _print_report(report: CheckReport) -> None:
    if not report.raw_available:
        typer.echo(f"raw data not found at {report.raw_dir}: checking the processed files only")
    header = ("dataset", "measure", "expected", "raw", "processed", "")
    cells = [
        (
            r.dataset,
            r.measure,
            _number(r.expected),
            _number(r.raw),
            _number(r.processed),
            "ok" if r.ok else "MISMATCH",
        )
        for r in report.rows
    ]
    widths = [max(len(row[i]) for row in [header, *cells]) for i in range(len(header))]
    for row in [header, *cells]:
        typer.echo(
            "  ".join(
                cell.ljust(w) if i < 2 else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
        )
    for dataset, notes in report.notes.items():
        for note, value in notes.items():
            if value:
                typer.echo(f"note: {dataset}: {note}: {value:,}")
    for problem in report.problems:
        typer.echo(f"problem: {problem}", err=True)
    if report.ok:
        typer.echo("data check passed")
    else:
        typer.echo(f"data check FAILED: {len(report.problems)} problem(s)")


def _number(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def register(app: typer.Typer) -> None:
    """Add the `data` command group to the `rso` app."""
    app.add_typer(data_app, name="data")
