from __future__ import annotations

import pytest

from agents.seeker import (
    LEAK_THRESHOLD,
    goal_from_case,
    guard_leaks,
    persona_text,
    seeker_messages,
    seeker_reply,
    sentence_leaks,
)
from agents.seeker_goal import SeekerGoal
from graph.models import LLMSettings
from prompts.seeker import SAFE_REPLY
from rso.data.records import BigFive, EvalCase, Movie, Persona
from rso.dialogue import OPENING
from tests.fakes import ScriptedChatModel, patch_chat_model

SETTINGS = LLMSettings(base_url="http://127.0.0.1:9/v1", temperature=0.7)
TARGET = Movie(
    kb_id="m1",
    title="The Dark Knight",
    year=2008,
    genres=["action", "crime"],
    directors=["Christopher Nolan"],
    cast=["Christian Bale"],
    plot="In The Dark Knight, Batman faces the Joker.",
    doc="d",
)
PERSONA = Persona(
    user_id="user_1",
    age_group="35 - 44",
    gender="Female",
    job="Employed",
    big_five=BigFive(extrovert=4.3, agreeable=3.0, conscientious=2.0, neurotic=1.7, open=4.0),
    values={"Tradition": 6, "Benevolence": 5, "Power": 2, "Hedonism": 3, "Security": 4},
    rational=5,
    feeling=2,
)


def test_persona_text_describes_traits_values_and_style() -> None:
    text = persona_text(PERSONA)
    assert "Female" in text and "35 - 44" in text
    assert "high extraversion (outgoing and talkative)" in text
    assert "moderate agreeableness" in text
    assert "low conscientiousness (spontaneous and easygoing)" in text
    assert "low neuroticism" in text
    assert "most to you: Tradition, Benevolence" in text and "least: Power, Hedonism" in text
    assert "rational" in text
    bare = persona_text(Persona(user_id="u2"))
    assert "not known" in bare and "balanced" in bare


def test_leak_guard_removes_sentences_that_name_the_target_loosely() -> None:
    reply = "I want something dark with Batman. I loved dark knight so much! Anything like that?"
    shown, removed = guard_leaks(reply, TARGET.title)
    assert removed == ["I loved dark knight so much!"]
    assert shown == "I want something dark with Batman. Anything like that?"
    assert sentence_leaks("maybe the Dark Knigt?", TARGET.title)  # a typo still leaks
    assert not sentence_leaks("Something with a hero in a dark city.", TARGET.title)
    assert LEAK_THRESHOLD == 85.0


def test_short_titles_match_whole_words_only() -> None:
    assert sentence_leaks("I think it was Up, the one with balloons.", "Up")
    assert not sentence_leaks("I'm up for anything funny.", "Upside")
    assert not sentence_leaks("Could you pick something?", "Up")


def test_a_reply_that_only_leaks_becomes_the_safe_reply() -> None:
    shown, removed = guard_leaks("The Dark Knight!", TARGET.title)
    assert shown == SAFE_REPLY and removed == ["The Dark Knight!"]


def test_goal_from_case() -> None:
    case = EvalCase(
        case_id="c1",
        dataset="inspired",
        dialog_id="d",
        user_id="u",
        target_genres=["Action", "crime"],
    )
    goal = goal_from_case(case)
    assert goal.genre == "action" and goal.other_genres == ("crime",)
    assert goal_from_case(case, TARGET).target == TARGET
    empty = case.model_copy(update={"target_genres": []})
    with pytest.raises(ValueError, match="c1.*no target genre"):
        goal_from_case(empty)


def test_seeker_reply_uses_persona_goal_and_guards_leaks(monkeypatch) -> None:
    fake = ScriptedChatModel(
        script=["Seeker: It's The Dark Knight. Something with Batman. Recommender: ok"]
    )
    patch_chat_model(monkeypatch, fake)
    dialogue = [("Seeker", "Hello."), ("Recommender", "What are you looking for?")]
    reply = seeker_reply(dialogue, SeekerGoal(target=TARGET), PERSONA, SETTINGS)
    assert reply.text == "Something with Batman."
    assert reply.leaked == ["It's The Dark Knight."]
    prompt = fake.prompt_text(0)
    assert "Dark Knight" not in prompt.replace("Batman faces", "")  # title hidden from the model
    assert "Christopher Nolan" in prompt and "high extraversion" in prompt
    assert "Recommender: What are you looking for?" in prompt


def test_seeker_opens_with_hello_and_accepts_a_genre_string() -> None:
    assert seeker_reply([], "action", PERSONA, SETTINGS).text == OPENING == "Hello."
    fake = ScriptedChatModel(script=["I'd like an action movie."])
    reply = seeker_reply(
        [("Seeker", "Hello."), ("Recommender", "Hi!")], "Action", None, SETTINGS, model=fake
    )
    assert reply.text == "I'd like an action movie." and reply.fallback is None
    assert "a action movie" in fake.prompt_text(0) or "action movie" in fake.prompt_text(0)


def test_empty_model_reply_falls_back_to_a_safe_reply() -> None:
    fake = ScriptedChatModel(script=["", "", ""])
    reply = seeker_reply(
        [("Seeker", "Hello."), ("Recommender", "Hi!")], "comedy", PERSONA, SETTINGS, model=fake
    )
    assert reply.text == SAFE_REPLY and reply.fallback == "empty reply"


def test_seeker_messages_take_chat_messages() -> None:
    from langchain_core.messages import AIMessage, HumanMessage

    messages = seeker_messages(
        [HumanMessage("Hello."), AIMessage("Hi, what do you like?")],
        SeekerGoal(genre="horror"),
        PERSONA,
    )
    assert "Seeker: Hello.\nRecommender: Hi, what do you like?" in messages[1].content
    assert "horror movie" in messages[0].content
