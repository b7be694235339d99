from __future__ import annotations

import pytest

from agents.rewarder import (
    LABEL_SCORES,
    parse_answer,
    score_answers,
    score_turn,
)
from graph.models import LLMSettings
from tests.fakes import ScriptedChatModel, patch_chat_model

SETTINGS = LLMSettings(base_url="http://127.0.0.1:9/v1", temperature=1.1, seed=3)
DIALOGUE = [("Seeker", "Hello."), ("Recommender", "Try Heat."), ("Seeker", "I'll watch it!")]


@pytest.mark.parametrize(
    ("answer", "label"),
    [
        ("E) accepted", "accepted"),
        ("(D)", "interested"),
        ("Answer: B.", "not_interested"),
        ("A", "rejected"),
        ("The seeker is not interested.", "not_interested"),
        ("interested - asks for details", "interested"),
        ("No recommendation yet", "other"),
        ("The seeker rejected it", "rejected"),
        ("accepted", "accepted"),
    ],
)
def test_parse_answer(answer: str, label: str) -> None:
    assert parse_answer(answer) == label


@pytest.mark.parametrize("garbage", ["", "banana", "The seeker has not accepted it", "42"])
def test_unparsable_answers_name_no_option(garbage: str) -> None:
    assert parse_answer(garbage) is None


def test_score_mapping_and_garbage_counts_as_other_and_is_logged() -> None:
    assert LABEL_SCORES == {
        "rejected": 0.2,
        "not_interested": 0.4,
        "other": 0.6,
        "interested": 0.8,
        "accepted": 1.0,
    }
    result = score_answers(["E) accepted", "banana", "A) rejected"])
    assert result.samples == [1.0, 0.6, 0.2]
    assert result.labels == ["accepted", "other", "rejected"]
    assert result.parse_failures == ["banana"]
    assert result.reward == pytest.approx(0.6)


def test_success_thresholds() -> None:
    interested = score_answers(["D) interested"] * 10)
    assert interested.reward == pytest.approx(0.8) and interested.success
    assert not interested.strict_success
    half = score_answers(["E) accepted"] * 5 + ["C) no recommendation yet"] * 5)
    assert half.reward == pytest.approx(0.8) and half.success and not half.strict_success
    majority = score_answers(["E) accepted"] * 6 + ["A) rejected"] * 4)
    assert majority.strict_success and majority.reward == pytest.approx(0.68)
    assert not majority.success  # 0.68 is not above 0.7
    exactly = score_answers(
        ["E) accepted", "C) other", "D) interested", "B) not interested"] * 1 + ["E) accepted"]
    )
    assert exactly.reward == pytest.approx(0.76)


def test_score_turn_draws_ten_samples_with_the_scripted_model(monkeypatch) -> None:
    script = ["E) accepted"] * 7 + ["D) interested"] * 2 + ["nonsense"]
    fake = ScriptedChatModel(script=script)
    patch_chat_model(monkeypatch, fake)
    result = score_turn(DIALOGUE, SETTINGS)
    assert len(result.samples) == 10
    assert result.reward == pytest.approx((7 * 1.0 + 2 * 0.8 + 0.6) / 10)
    assert result.success and result.strict_success
    assert result.parse_failures == ["nonsense"]
    # One request asked for n=10; the fake answers one choice, so the rest were topped up.
    assert fake.requests[0].get("n") == 10
    assert "Seeker: I'll watch it!" in fake.prompt_text(0)
    assert "Has the seeker accepted the recommendation?" in fake.prompt_text(0)


def test_score_turn_one_request_per_sample_when_n_is_off() -> None:
    fake = ScriptedChatModel(script=["A) rejected"] * 3)
    result = score_turn(DIALOGUE, SETTINGS, samples=3, use_n=False, model=fake)
    assert result.samples == [0.2, 0.2, 0.2] and not result.success
    assert all("n" not in r or r["n"] in (None, 1) for r in fake.requests)
    assert [r.get("seed") for r in fake.requests] == [3, 4, 5]


def test_zero_samples_is_refused() -> None:
    fake = ScriptedChatModel(script=["E) accepted"])
    with pytest.raises(ValueError, match="samples"):
        score_turn(DIALOGUE, SETTINGS, samples=0, model=fake)
