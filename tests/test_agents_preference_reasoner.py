from __future__ import annotations

from agents.preference_reasoner import is_no_preference, reason_preferences
from tests.fakes import ScriptedChatModel, patch_chat_model
from tests.world import runtime, state


def test_summary_from_structured_answer(monkeypatch) -> None:
    fake = ScriptedChatModel(
        script=[{"reasoning": "They said horror.", "summary": "Likes  scary horror movies."}]
    )
    patch_chat_model(monkeypatch, fake)
    s = state("Hello.", "Hi! What do you like?", "I love horror movies, the scarier the better")
    update = reason_preferences(s, runtime())
    assert update == {"preferences": "Likes scary horror movies."}
    prompt = fake.prompt_text(0)
    assert "Seeker: Hello.\nRecommender: Hi! What do you like?" in prompt
    assert "<latest_seeker_message>\nI love horror movies" in prompt
    assert fake.requests[0]["tool_choice"]["function"]["name"] == "PreferenceSummary"


def test_malformed_output_keeps_previous_summary_and_logs(monkeypatch) -> None:
    fake = ScriptedChatModel(script=["not json at all", '{"reasoning": "x"'])
    patch_chat_model(monkeypatch, fake)
    s = state("Hello.", "Hi!", "anything", preferences="Likes comedies.")
    update = reason_preferences(s, runtime(llm_max_retries=1))
    assert "preferences" not in update
    (record,) = update["fallbacks"]
    assert record["node"] == "reason_preferences"
    assert "malformed output after 2 attempts" in record["failure"]
    assert record["action"] == "kept the previous preference summary"
    assert len(fake.prompts) == 2


def test_retry_after_malformed_output_succeeds(monkeypatch) -> None:
    fake = ScriptedChatModel(
        script=['{"summary": 3', {"reasoning": "r", "summary": "Likes heist thrillers."}]
    )
    patch_chat_model(monkeypatch, fake)
    update = reason_preferences(state("I like heist movies"), runtime(llm_max_retries=1))
    assert update == {"preferences": "Likes heist thrillers."}


def test_none_yet_clears_nothing_known_and_keeps_known(monkeypatch) -> None:
    patch_chat_model(
        monkeypatch, ScriptedChatModel(default={"reasoning": "-", "summary": "none yet"})
    )
    assert reason_preferences(state("Hello."), runtime()) == {"preferences": ""}
    update = reason_preferences(state("Hello.", "Hi", "ok", preferences="Likes horror."), runtime())
    assert "preferences" not in update
    assert "kept the previous" in update["fallbacks"][0]["action"]


def test_overlong_summary_is_clipped_and_logged(monkeypatch) -> None:
    patch_chat_model(
        monkeypatch, ScriptedChatModel(script=[{"reasoning": "-", "summary": "a " * 400}])
    )
    update = reason_preferences(state("I like everything"), runtime())
    assert len(update["preferences"]) == 400
    assert update["fallbacks"][0]["failure"].startswith("summary of")


def test_is_no_preference() -> None:
    assert is_no_preference("none yet") and is_no_preference(" None. ") and is_no_preference("")
    assert not is_no_preference("Likes horror but not gore.")


def test_a_summary_with_no_word_from_the_seeker_is_rejected(monkeypatch) -> None:
    invented = "The JSON document provides information about the preferences of the seeker."
    patch_chat_model(
        monkeypatch, ScriptedChatModel(script=[{"reasoning": "-", "summary": invented}])
    )
    update = reason_preferences(state("Hello.", "Hi!", "I want something scary"), runtime())
    assert "preferences" not in update
    assert "shares no word with the seeker's messages" in update["fallbacks"][0]["failure"]
