from __future__ import annotations

import pytest

from agents.judges import credibility, persuasiveness, rate_intention
from agents.seeker_goal import SeekerGoal
from graph.models import LLMSettings
from rso.data.records import Movie, Persona
from tests.fakes import ScriptedChatModel

SETTINGS = LLMSettings(base_url="http://127.0.0.1:9/v1", max_retries=1)
HEAT = Movie(
    kb_id="m1",
    title="Heat",
    year=1995,
    genres=["action", "crime"],
    directors=["Michael Mann"],
    cast=["Al Pacino"],
    plot="Robbers and a detective.",
    doc="d",
)
GOAL = SeekerGoal(genre="action")
PERSONA = Persona(user_id="u", rational=4, feeling=2)
DIALOGUE = [("Seeker", "Hello."), ("Recommender", "Try Heat (1995)."), ("Seeker", "Sure!")]


def test_persuasiveness_three_ratings_with_the_right_material() -> None:
    fake = ScriptedChatModel(
        script=[
            '{"reasoning": "only a title", "rating": 2}',
            '{"reasoning": "sounds good", "rating": 4}',
            '{"reasoning": "fits", "rating": 5}',
        ]
    )
    ratings = persuasiveness(DIALOGUE, HEAT, PERSONA, GOAL, SETTINGS, model=fake)
    assert ratings.values() == (2, 4, 5)
    assert "Heat (1995)" in fake.prompt_text(0) and "Robbers" not in fake.prompt_text(0)
    assert "Recommender: Try Heat (1995)." in fake.prompt_text(1)
    assert "Directed by: Michael Mann" in fake.prompt_text(2) and "Robbers" in fake.prompt_text(2)
    assert "action movie" in fake.prompt_text(0)  # the seeker's goal


def test_malformed_rating_falls_back_to_a_digit_then_to_missing() -> None:
    fake = ScriptedChatModel(script=["I'd say 4 out of 5", "I'd say 4 out of 5"])
    score = rate_intention("pre", HEAT, PERSONA, GOAL, SETTINGS, model=fake)
    assert score.value == 4 and score.source == "digit in raw reply" and score.error
    fake = ScriptedChatModel(script=["no idea", "still no idea"])
    score = rate_intention("true", HEAT, PERSONA, GOAL, SETTINGS, model=fake)
    assert score.value is None and score.source == "missing" and score.error


def test_out_of_range_rating_is_not_accepted_as_structured() -> None:
    fake = ScriptedChatModel(
        script=['{"reasoning": "x", "rating": 9}', '{"reasoning": "x", "rating": 3}']
    )
    score = rate_intention("pre", HEAT, PERSONA, GOAL, SETTINGS, model=fake)
    assert score.value == 3 and score.source == "structured"


def test_credibility_per_utterance() -> None:
    fake = ScriptedChatModel(
        script=['{"reasoning": "true", "score": 5}', '{"reasoning": "wrong director", "score": 1}']
    )
    scores = credibility(
        [("Heat is by Michael Mann.", HEAT), ("Heat is by Spielberg.", HEAT)], SETTINGS, model=fake
    )
    assert [s.value for s in scores] == [5, 1]
    assert "<utterance>\nHeat is by Spielberg.\n</utterance>" in fake.prompt_text(1)
    assert credibility([], SETTINGS, model=fake) == []


def test_ratings_are_an_enum_in_the_schema_and_out_of_range_ones_are_refused() -> None:
    from pydantic import ValidationError

    from agents.judges import CredibilityScore, WatchIntention

    for schema, key in ((WatchIntention, "rating"), (CredibilityScore, "score")):
        # An enum is what llama.cpp's schema grammar enforces (it ignores minimum and maximum).
        assert schema.model_json_schema()["properties"][key]["enum"] == [1, 2, 3, 4, 5]
        with pytest.raises(ValidationError):
            schema.model_validate({"reasoning": "r", key: 15})
        assert getattr(schema.model_validate({"reasoning": "r", key: 4}), key) == 4
