"""docs/settings.md lists every RSO_* variable the code reads, and a typo gets a warning."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from graph.context import Context, unknown_setting_warnings
from rso.env import PROCESS_VARIABLES

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ["agents", "cli", "evaluation", "graph", "policy", "prompts", "retrieval", "rl"]
SOURCES += ["rollouts", "rso", "web"]
VARIABLE = re.compile(r"\bRSO_[A-Z][A-Z0-9_]*[A-Z0-9]\b")


def declared() -> set[str]:
    return set(Context.variables()) | {v.name for v in PROCESS_VARIABLES}


def test_the_docs_list_exactly_the_declared_variables() -> None:
    documented = set(VARIABLE.findall((ROOT / "docs" / "settings.md").read_text()))
    documented -= {"RSO_BASEURL"}  # the page's example of a typo
    assert documented == declared()


def test_every_variable_named_in_the_code_is_declared() -> None:
    named: set[str] = set()
    for package in SOURCES:
        for path in (ROOT / package).rglob("*.py"):
            named |= set(VARIABLE.findall(path.read_text(encoding="utf-8")))
    # Docstrings write a field's variable as RSO_<FIELD>; every concrete name must exist.
    assert named - declared() == set()


def test_an_unknown_variable_is_reported_with_the_closest_setting() -> None:
    warnings = unknown_setting_warnings({"RSO_BASEURL": "x", "RSO_MODEL": "m", "PATH": "/bin"})
    assert warnings == ["RSO_BASEURL is not a setting and is ignored; did you mean RSO_BASE_URL?"]
    assert unknown_setting_warnings({"RSO_ZZZZZZZZ": "1"}) == [
        "RSO_ZZZZZZZZ is not a setting and is ignored"
    ]


def test_the_cli_warns_about_an_unknown_variable() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cli.main", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"RSO_PLANER_MODE": "greedy", "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "RSO_PLANER_MODE is not a setting" in result.stderr
    assert "did you mean RSO_PLANNER_MODE?" in result.stderr
