"""Item-mode episodes: the goal setting, the hidden target's label, and the runs that play them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from graph import resources
from graph.context import ContextError
from graph.episode_context import RolloutContext
from graph.episode_nodes import RolloutError, can_play, goal_of, target_of
from rollouts.plan import plan_episodes
from rollouts.runner import run_rollouts
from rso.data.eval_cases import load_eval_cases
from rso.data.records import EvalCase, Movie
from rso.runs.directory import RunDirectoryError
from tests.fakes import ScriptedChatModel, patch_chat_model
from tests.test_rollout import fast_config
from tests.world import answer

HEAT = Movie(kb_id="kb:heat", title="Heat", year=1995, genres=["Crime"], doc="Heat.")


class FakeMatcher:
    """Knows one title."""

    def match(self, mention: str) -> str | None:
        return HEAT.kb_id if mention.startswith("Heat") else None


def case(name: str, target: str | None, genres: list[str] | None = None) -> EvalCase:
    return EvalCase(
        case_id=f"inspired:{name}",
        dataset="inspired",
        dialog_id=name,
        user_id="user_1",
        target_genres=genres if genres is not None else ["drama"],
        target_movie=target,
    )


@pytest.fixture
def small_world(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resources, "title_matcher", FakeMatcher)
    monkeypatch.setattr(resources, "movies", lambda: {HEAT.kb_id: HEAT})


def test_the_goal_setting_takes_genre_or_item_only() -> None:
    assert RolloutContext().goal == "genre"
    assert RolloutContext(goal="item").goal == "item"
    with pytest.raises(ContextError, match="goal must be one of genre, item") as error:
        RolloutContext(goal="movie")  # type: ignore[arg-type]
    assert error.value.field_name == "goal"
    with pytest.raises(ContextError, match="goal must be one of"):
        fast_config(Path("unused"), goal="title")


@pytest.mark.usefixtures("small_world")
def test_item_mode_hides_the_linked_target_and_leaves_out_cases_without_one() -> None:
    linked = case("a", "Heat (1995)", genres=[])
    unknown = case("b", "A Film Nobody Made (2031)")
    none = case("c", None)
    assert target_of(linked) == HEAT and target_of(unknown) is None and target_of(none) is None
    assert goal_of(linked, "item").label == "movie:kb:heat"
    assert goal_of(unknown, "genre").label == "genre:drama"  # genre mode is unchanged
    with pytest.raises(RolloutError, match="'A Film Nobody Made \\(2031\\)' is not in the"):
        goal_of(unknown, "item")
    with pytest.raises(RolloutError, match="no target movie"):
        goal_of(none, "item")
    assert [can_play(c, "item") for c in (linked, unknown, none)] == [True, False, False]
    assert [can_play(c, "genre") for c in (linked, unknown, none)] == [False, True, True]
    plans, excluded = plan_episodes([linked, unknown, none], None, seed=0, goal="item")
    assert [(p.case.case_id, p.goal) for p in plans] == [("inspired:a", "item")]
    assert excluded == ["inspired:b", "inspired:c"]
    with pytest.raises(ValueError, match="no case has a target movie in the knowledge base"):
        plan_episodes([unknown], None, seed=0, goal="item")


def test_a_fast_item_mode_run_hunts_the_hidden_movie(tmp_path: Path) -> None:
    out = tmp_path / "run"
    summary = run_rollouts(fast_config(out, goal="item", episodes=3), progress=False)
    assert summary.ran == 3 and summary.failed == 0
    for episode in summary.episodes:
        target = target_of(episode.case)
        assert target is not None and episode.goal == f"movie:{target.kb_id}"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["settings"]["goal"] == "item"
    assert manifest["excluded_cases"]["reason"] == "no target movie in the knowledge base"
    linked = [c for c in load_eval_cases("inspired-test") if target_of(c) is not None]
    assert len(manifest["excluded_cases"]["case_ids"]) == 99 - len(linked)
    with pytest.raises(RunDirectoryError, match="goal: 'item' -> 'genre'"):
        run_rollouts(fast_config(out, episodes=3, resume=True), progress=False)
    # Genre-mode runs record no goal: their settings digest is the one they had before.
    assert "goal" not in fast_config(out).settings()


def test_item_mode_with_the_llm_seeker_and_experts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    patch_chat_model(monkeypatch, ScriptedChatModel(default=answer))
    settings = {"experts": "llm", "seeker": "llm", "episodes": 2, "max_turns": 2}
    settings |= {"rewarder_samples": 2, "concurrency": 1, "goal": "item"}
    summary = run_rollouts(fast_config(tmp_path / "llm", **settings), progress=False)
    assert summary.failed == 0 and summary.ran == 2
    assert all(e.goal.startswith("movie:") and e.turns for e in summary.episodes)
