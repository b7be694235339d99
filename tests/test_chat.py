from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from cli.commands import chat
from tests.fakes import ScriptedChatModel, patch_chat_model
from tests.world import answer


@pytest.fixture
def app(monkeypatch, tmp_path, world) -> typer.Typer:
    monkeypatch.setenv("RSO_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("RSO_LLM_MAX_RETRIES", "0")
    monkeypatch.setenv("RSO_PLANNER_CHECKPOINT", "uniform")
    monkeypatch.setenv("RSO_ACTOR_ADAPTER", "none")  # the fake answers the untuned prompt
    patch_chat_model(monkeypatch, ScriptedChatModel(default=answer))
    application = typer.Typer()
    application.callback()(lambda: None)  # keep "chat" a subcommand, as in the real CLI
    chat.register(application)
    return application


def run(app, *args: str, input: str | None = None):
    return CliRunner().invoke(app, ["chat", *args], input=input)


def test_one_turn_as_json_then_continue_the_thread(app, tmp_path) -> None:
    first = run(app, "--message", "Hello.", "--json", "--thread", "abc")
    assert first.exit_code == 0, first.output
    payload = json.loads(first.stdout)
    assert payload["thread_id"] == "abc" and payload["turn"] == 0
    assert payload["reply"] == "What kind of movies do you enjoy?"
    assert payload["strategy_probability"] == pytest.approx(1 / 14)
    second = json.loads(run(app, "-m", "I love horror movies", "--json", "--thread", "abc").stdout)
    assert second["turn"] == 1
    assert second["recommended"] == [{"kb_id": "m2", "title": "The Conjuring (2013)"}]
    assert (tmp_path / "sessions.sqlite").is_file()


def test_interactive_chat_shows_strategy_and_movie(app) -> None:
    result = run(app, "--no-planner", input="I love horror movies\n\nquit\n")
    assert result.exit_code == 0, result.output
    assert "New session" in result.output
    assert "Actor: the untuned prompt" in result.output  # which Actor runs is said
    assert "Recommender: You might like The Conjuring" in result.output
    assert "[strategy: none (generic prompt) | recommended: The Conjuring (2013)]" in result.output
    assert "(type a message, or 'quit')" in result.output


def test_bad_options_are_clear_errors(app) -> None:
    assert "--message is empty" in run(app, "--message", "  ").output
    bad_mode = run(app, "-m", "hi", "--planner-mode", "best")
    assert (
        bad_mode.exit_code == 2 and "planner_mode must be one of sample, greedy" in bad_mode.output
    )
    assert "--json needs --message" in run(app, "--json").output
    missing = run(app, "-m", "hi", "--planner-checkpoint", "/no/such/ckpt")
    assert "planner checkpoint not found" in missing.output


def test_help_lists_the_options(app) -> None:
    text = run(app, "--help").output
    for option in (
        "--message",
        "--json",
        "--thread",
        "--db",
        "--base-url",
        "--planner-checkpoint",
        "--no-planner",
        "--no-reasoner",
        "--no-retriever",
        "--experts",
    ):
        assert option in text


def test_a_person_meets_the_most_likely_strategy_unless_sampling_is_asked(app, monkeypatch) -> None:
    from rso.paths import DEFAULT_PLANNER_DIR

    sft = str(DEFAULT_PLANNER_DIR)
    greedy = json.loads(run(app, "-m", "Hello.", "--json", "--planner-checkpoint", sft).stdout)
    probs = greedy["strategy_probs"]
    assert greedy["planner_mode"] == "greedy"
    assert greedy["strategy"] == max(probs, key=probs.get)
    flag = run(app, "-m", "Hello.", "--json", "--planner-mode", "sample")
    assert json.loads(flag.stdout)["planner_mode"] == "sample"
    monkeypatch.setenv("RSO_PLANNER_MODE", "sample")
    assert json.loads(run(app, "-m", "Hello.", "--json").stdout)["planner_mode"] == "sample"
    text = run(app, "-m", "Hello.", "--planner-mode", "greedy").stdout
    assert "(greedy, p=" in text
