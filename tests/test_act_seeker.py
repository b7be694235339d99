from __future__ import annotations

import time

import pytest

from agents.act_seeker import ActSeeker
from agents.seeker_acts import (
    ACT_SCORES,
    STRATEGY_EFFECT,
    RecommenderAct,
    act_rewards,
    act_score,
    effect_of,
)
from agents.seeker_goal import SeekerGoal
from agents.seeker_profile import SeekerProfile
from rso.data.records import BigFive, Movie, Persona
from rso.strategies import STRATEGIES, STRATEGY_GROUP

MOVIES = {
    "m:act": Movie(kb_id="m:act", title="Fast Cars", genres=["action"], doc="d"),
    "m:act2": Movie(kb_id="m:act2", title="Faster Cars", genres=["action", "crime"], doc="d"),
    "m:com": Movie(kb_id="m:com", title="Laugh Lines", genres=["comedy"], doc="d"),
}


def persona(
    rational: float,
    feeling: float,
    *,
    a: float = 3,
    c: float = 3,
    n: float = 3,
    o: float = 3,
    e: float = 3,
) -> Persona:
    return Persona(
        user_id="u",
        big_five=BigFive(extrovert=e, agreeable=a, conscientious=c, neurotic=n, open=o),
        rational=rational,
        feeling=feeling,
    )


RATIONAL = persona(5, 1)
EMOTIONAL = persona(1, 5)


def seeker(p: Persona | None, seed: int = 0, genre: str = "action", others: tuple[str, ...] = ()):
    return ActSeeker(SeekerGoal(genre=genre, other_genres=others), p, MOVIES, seed=seed)


def play(s: ActSeeker, acts: list[RecommenderAct]):
    state = s.start()
    turns = []
    for act in acts:
        state, turn = s.step(state, act)
        turns.append(turn)
        if turn.done:
            break
    return state, turns


ASK = RecommenderAct("Opinion Inquiry")
CRED = RecommenderAct("Credibility", "m:act", facts_given=True)
OPINION = RecommenderAct("Personal Opinion", "m:act", facts_given=True)


def test_every_strategy_has_an_effect_and_elicitation_is_exactly_asks() -> None:
    assert set(STRATEGY_EFFECT) == set(STRATEGIES)
    asks = {s for s, e in STRATEGY_EFFECT.items() if e == "asks"}
    assert asks == {s for s in STRATEGIES if STRATEGY_GROUP[s] == "elicitation"}
    assert effect_of(RecommenderAct("Credibility", "m:act", facts_given=False)) == "opinion"
    assert effect_of(RecommenderAct(None, "m:act", facts_given=True)) == "facts"


def test_score_table() -> None:
    assert act_score("accept") == 1.0 and act_score("interested") == 0.8
    assert act_score("other") == 0.6 and act_score("not_interested") == 0.4
    assert act_score("reject") == 0.2
    assert act_rewards(["accept", "reject"]) == [1.0, 0.2]
    assert set(ACT_SCORES) >= {"reveal_preference", "ask_about_movie"}


def test_elicitation_reveals_one_preference_at_a_time() -> None:
    s = seeker(RATIONAL, others=("crime", "drama"))
    state = s.start()
    revealed = []
    for _ in range(3):
        state, turn = s.step(state, ASK)
        assert turn.act == "reveal_preference" and turn.revealed is not None
        assert turn.revealed.value in turn.text
        revealed.append(turn.revealed.value)
    assert sorted(revealed) == ["action", "crime", "drama"]
    state, turn = s.step(state, ASK)  # nothing left to tell costs patience
    assert turn.act != "reveal_preference"


def test_recommending_before_any_preference_scores_low() -> None:
    _, turns = play(seeker(RATIONAL), [CRED])
    assert turns[0].act == "not_interested"
    assert act_score(turns[0].act) < 0.6


def test_non_fitting_movie_is_never_accepted_and_rejected_after_facts() -> None:
    for seed in range(20):
        comedy = RecommenderAct("Credibility", "m:com", facts_given=True)
        acts = [ASK] + [comedy, RecommenderAct("Encouragement", "m:com"), comedy] * 3
        s = ActSeeker(SeekerGoal(genre="action", other_genres=("comedy",)), RATIONAL, MOVIES, seed)
        _, turns = play(s, acts)
        assert all(t.act != "accept" for t in turns)
        if turns[0].revealed and turns[0].revealed.value == "comedy":
            assert "reject" in [t.act for t in turns]


def test_fitting_movie_with_persona_appropriate_support_is_accepted() -> None:
    # Rational: facts persuade; emotional: one fact (fit) plus opinions.
    _, turns = play(seeker(RATIONAL), [ASK, CRED, CRED, CRED])
    assert turns[-1].act == "accept" and turns[-1].done
    _, turns = play(
        seeker(EMOTIONAL),
        [ASK, CRED, OPINION, RecommenderAct("Personal Experience", "m:act", facts_given=True)],
    )
    assert turns[-1].act == "accept"


def test_the_wrong_kind_of_support_does_not_persuade() -> None:
    # Opinions alone never establish the genre: no acceptance however many.
    _, turns = play(seeker(EMOTIONAL), [ASK] + [OPINION] * 8)
    assert "accept" not in [t.act for t in turns]
    # Facts alone barely move an emotional seeker (diminishing returns).
    _, turns = play(seeker(EMOTIONAL), [ASK] + [CRED] * 8)
    assert "accept" not in [t.act for t in turns]


def test_chit_chat_burns_patience_until_the_seeker_leaves() -> None:
    s = seeker(persona(3, 3, e=1, a=1))
    _, turns = play(s, [RecommenderAct("No Strategy")] * 10)
    assert turns[-1].done and turns[-1].act == "not_interested"
    assert len(turns) <= s.profile.patience + 3


def test_profile_follows_traits() -> None:
    assert (
        SeekerProfile.from_persona(RATIONAL).w_facts
        > SeekerProfile.from_persona(RATIONAL).w_opinion
    )
    assert (
        SeekerProfile.from_persona(EMOTIONAL).w_opinion
        > SeekerProfile.from_persona(EMOTIONAL).w_facts
    )
    assert SeekerProfile.from_persona(persona(3, 3, a=1)).w_encourage < 0
    assert (
        SeekerProfile.from_persona(persona(3, 3, n=5)).threshold
        > SeekerProfile.from_persona(persona(3, 3, n=1)).threshold
    )
    assert SeekerProfile.from_persona(persona(3, 3, c=5)).info_needed == 2
    assert SeekerProfile.from_persona(None).style == 0.0


def test_deterministic_given_seed_and_varies_across_seeds() -> None:
    acts = [RecommenderAct("Offer Help"), ASK, ASK, CRED, OPINION, CRED]
    first = play(seeker(persona(4, 3), seed=7, others=("crime",)), acts)
    again = play(seeker(persona(4, 3), seed=7, others=("crime",)), acts)
    assert first == again
    texts = {
        tuple(t.text for t in play(seeker(persona(4, 3), seed=s, others=("crime",)), acts)[1])
        for s in range(10)
    }
    assert len(texts) > 1


def test_item_mode_accepts_only_the_target() -> None:
    target = MOVIES["m:act2"]
    s = ActSeeker(SeekerGoal(target=target), RATIONAL, MOVIES, seed=0)
    _, turns = play(s, [ASK, CRED, CRED, CRED])
    assert "accept" not in [t.act for t in turns]
    hit = RecommenderAct("Credibility", "m:act2", facts_given=True)
    _, turns = play(s, [ASK, hit, hit])
    assert turns[-1].act == "accept"


def test_unknown_movie_and_finished_episode_are_errors() -> None:
    s = seeker(RATIONAL)
    with pytest.raises(KeyError, match="m:missing"):
        s.step(s.start(), RecommenderAct("Credibility", "m:missing", True))
    state, turns = play(s, [ASK, CRED, CRED, CRED])
    assert turns[-1].done
    with pytest.raises(ValueError, match="already ended"):
        s.step(state, CRED)


def test_a_turn_takes_microseconds() -> None:
    s = seeker(RATIONAL)
    state = s.start()
    start = time.perf_counter()
    for _ in range(200):
        s.step(state, OPINION)
    assert (time.perf_counter() - start) / 200 < 2e-3
