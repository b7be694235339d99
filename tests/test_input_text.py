"""Seeker text with invalid UTF-8 or control characters is refused or cleaned before it is saved."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import typer
from langchain_core.messages import HumanMessage

from graph.builder import open_session_graph
from graph.context import Context
from graph.state import InputState
from rso.dialogue import clean_text, invalid_utf8_position
from rso.paths import REPO_ROOT
from tests.test_chat import app, run  # noqa: F401  (the chat app fixture)

#: What Python hands over for the shell argument b"caf\xe9 \xff films" (Latin-1 bytes).
SHELL_BYTES = os.fsdecode(b"caf\xe9 \xff films")


def test_clean_text_drops_bad_bytes_and_controls_and_keeps_good_text() -> None:
    assert clean_text("I love horror.\nAnd sci-fi!\tReally: ünïcödé 映画") == (
        "I love horror.\nAnd sci-fi!\tReally: ünïcödé 映画",
        [],
    )
    text, dropped = clean_text("bell\x07 esc\x1b[31m nul\x00 c1\x85 crlf\r\n" + SHELL_BYTES)
    assert text == "bell esc[31m nul c1 crlf\ncaf  films"
    assert dropped == ["2 invalid UTF-8 byte(s)", "4 control character(s)"]
    assert invalid_utf8_position(SHELL_BYTES) == 3 and invalid_utf8_position("ok") is None


def test_chat_refuses_a_non_utf8_message_and_saves_nothing(
    app: typer.Typer,  # noqa: F811
    tmp_path: Path,
) -> None:
    result = run(app, "--message", SHELL_BYTES, "--thread", "t1")
    assert result.exit_code == 2
    assert "--message is not valid UTF-8 text (an undecodable byte at character 3)" in result.output
    assert not (tmp_path / "sessions.sqlite").exists()


def test_chat_saves_a_message_without_its_control_characters(
    app: typer.Typer,  # noqa: F811
    tmp_path: Path,
) -> None:
    result = run(app, "--message", "I love \x1bhorror\x00 movies", "--thread", "t2")
    assert result.exit_code == 0, result.output
    with open_session_graph(tmp_path / "sessions.sqlite") as session:
        saved = session.get_state({"configurable": {"thread_id": "t2"}}).values["messages"]
    assert saved[0].content == "I love horror movies"


def test_graph_input_is_cleaned_in_the_saved_session(world: object, tmp_path: Path) -> None:
    config = {"configurable": {"thread_id": "g"}}
    context = Context(experts="rule", planner_checkpoint="uniform", use_retriever=False)
    with open_session_graph(tmp_path / "s.sqlite") as session:
        out = session.invoke(
            InputState(messages=[HumanMessage("I love\x07 horror" + SHELL_BYTES)]),
            config,  # type: ignore[arg-type]
            context=context,
        )
        saved = session.get_state(config).values["messages"]  # type: ignore[arg-type]
    assert saved[0].content == "I love horrorcaf  films"
    assert any("invalid UTF-8" in f["failure"] for f in out["fallbacks"])
    assert len(saved) == 2  # the cleaned message replaced the raw one; the reply follows


def test_the_real_command_line_refuses_raw_bytes_in_one_line(tmp_path: Path) -> None:
    env = dict(os.environ, RSO_CACHE_DIR=str(tmp_path), PYTHONPATH=str(REPO_ROOT))
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "chat", "--message", b"caf\xe9 \xff films"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.decode().strip().splitlines() == [
        "error: --message is not valid UTF-8 text (an undecodable byte at character 3); "
        "pass it in UTF-8"
    ]
    assert not (tmp_path / "sessions.sqlite").exists()
