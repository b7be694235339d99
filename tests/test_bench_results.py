"""bench/results.py: each benchmark replaces its own part of bench/RESULTS.md and nothing else."""

from __future__ import annotations

from pathlib import Path

from bench.results import replace_marked, write_section


def test_write_section_replaces_one_section_and_keeps_the_others(tmp_path: Path) -> None:
    path = tmp_path / "RESULTS.md"
    path.write_text("# Benchmark results\n\n## A\n\nold a\n\n## B\n\nkeep b\n", encoding="utf-8")
    write_section("A", "new a\n\n| x |", path)
    assert path.read_text() == "# Benchmark results\n\n## A\n\nnew a\n\n| x |\n\n## B\n\nkeep b\n"
    write_section("C", "c", path)
    assert path.read_text().endswith("## B\n\nkeep b\n\n## C\n\nc\n")
    write_section("B", "b2", path)
    assert "keep b" not in path.read_text() and "## C\n\nc\n" in path.read_text()


def test_write_section_creates_the_file(tmp_path: Path) -> None:
    path = tmp_path / "RESULTS.md"
    write_section("Only", "body", path)
    assert path.read_text() == "# Benchmark results\n\n## Only\n\nbody\n"


def test_replace_marked_block() -> None:
    text = "## T\n\n<!-- s -->\nold\n<!-- e -->\n\nafter\n"
    assert replace_marked(text, "<!-- s -->", "<!-- e -->", "<!-- s -->\nnew\n<!-- e -->\n") == (
        "## T\n\n<!-- s -->\nnew\n<!-- e -->\n\nafter\n"
    )
    assert replace_marked("no markers", "<!-- s -->", "<!-- e -->", "x") is None
