"""bench/item_recall.py: which turns of item-mode episodes are ranked, and the table it writes."""

from __future__ import annotations

from bench.item_recall import item_turns, recall_table, target_of
from evaluation.recommendation import RecommendationReport, SystemReport, ranking_metrics
from rso.data.records import EvalCase
from rso.runs.records import EpisodeRecord, TurnRecord

CASE = EvalCase(
    case_id="inspired:x", dataset="inspired", dialog_id="x", user_id="u", target_genres=[]
)


def episode(goal: str, turns: list[TurnRecord], status: str = "ok") -> EpisodeRecord:
    return EpisodeRecord(
        episode_id=f"ep-{goal}", case=CASE, persona_id="u", goal=goal, turns=turns, status=status
    )


def turn(n: int, recommended: list[str], preferences: str = "") -> TurnRecord:
    return TurnRecord(
        turn=n,
        reply=f"reply {n}",
        recommended=recommended,
        seeker_reply=f"answer {n}",
        preferences=preferences,
    )


def test_the_dialogue_before_each_recommending_turn_and_the_last_one_is_ranked() -> None:
    played = episode(
        "movie:kb:heat",
        [turn(0, []), turn(1, ["kb:ronin"], "likes crime"), turn(2, []), turn(3, [])],
    )
    genre = episode("genre:crime", [turn(0, ["kb:ronin"])])
    failed = episode("movie:kb:heat", [turn(0, ["kb:ronin"])], status="failed")
    assert target_of(played) == "kb:heat" and target_of(genre) is None
    recommending, last = item_turns([played, genre, failed])
    assert [t.turn_id for t in recommending] == ["ep-movie:kb:heat:1"]
    assert recommending[0].context == ["Hello.", "reply 0", "answer 0"]
    assert recommending[0].targets == ["kb:heat"] and recommending[0].summary == "likes crime"
    assert [t.turn_id for t in last] == ["ep-movie:kb:heat:3"] and last[0].summary is None
    assert len(last[0].context) == 7  # the opening and three exchanges


def test_the_table_has_one_row_per_system_and_both_kinds_of_turn() -> None:
    def report(ranks: dict[str, list[int | None]]) -> RecommendationReport:
        systems = [SystemReport(name, ranking_metrics(r)) for name, r in ranks.items()]
        return RecommendationReport(systems=systems)

    table = recall_table(
        report({"ranker": [1, 20, None, 5], "dense": [None, None, 40, None]}),
        report({"ranker": [3, None], "dense": [None, None]}),
    ).splitlines()
    assert table[0].startswith("| system | R@1 rec. turns | R@10 rec. turns | R@50 rec. turns")
    assert table[2] == "| ranker | 0.250 | 0.500 | 0.750 | 0.000 | 0.500 | 0.500 |"
    assert table[3] == "| dense | 0.000 | 0.000 | 0.250 | 0.000 | 0.000 | 0.000 |"
