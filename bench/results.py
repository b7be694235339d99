"""Writing bench/RESULTS.md: each benchmark replaces its own part and keeps everything else.

A part is either a level-2 section ("## Heading" up to the next "## " heading) or a block between
two HTML-comment markers, for parts that live inside a section.
"""

from __future__ import annotations

import re
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
HEADER = "# Benchmark results\n"


def read_results(path: Path = RESULTS) -> str:
    """Return the current file, or just its title when it does not exist yet."""
    return path.read_text(encoding="utf-8") if path.exists() else HEADER


def replace_marked(text: str, start: str, end: str, block: str) -> str | None:
    """Return `text` with the span from marker `start` to marker `end` replaced by `block`.

    `block` carries the markers itself. Returns None when `text` lacks either marker.
    """
    if start not in text or end not in text:
        return None
    head, rest = text.split(start, 1)
    return head + block.rstrip("\n") + rest.split(end, 1)[1]


def write_section(heading: str, body: str, path: Path = RESULTS) -> None:
    """Replace (or append) the section ``## heading`` of the file with `body`."""
    current = read_results(path)
    title = f"## {heading}"
    pattern = re.compile(rf"^{re.escape(title)}\n.*?(?=^## |\Z)", re.DOTALL | re.MULTILINE)
    section = f"{title}\n\n{body.strip()}\n\n"
    if pattern.search(current):
        updated = pattern.sub(lambda _: section, current)
    else:
        updated = current.rstrip() + "\n\n" + section
    path.write_text(updated.rstrip() + "\n", encoding="utf-8")
