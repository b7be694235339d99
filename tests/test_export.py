"""Export of logged rollouts to TRL-style rows."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rl.export import MissingDatasetsError, actor_rows, export_trl, pair_rows, planner_rows
from rso.data.records import EvalCase
from rso.runs.records import EpisodeRecord, TurnRecord, episode_id
from rso.runs.writer import RolloutWriter
from rso.strategies import STRATEGIES


def _episode(index: int, status: str = "ok") -> EpisodeRecord:
    case = EvalCase(
        case_id=f"c{index}",
        dataset="inspired",
        dialog_id=f"d{index}",
        user_id="u1",
        target_genres=["comedy"],
    )
    probs = [1.0 / len(STRATEGIES)] * len(STRATEGIES)
    turns = [
        TurnRecord(
            turn=0,
            planner_input="Seeker: Hello.",
            strategy="Opinion Inquiry",
            probs=probs,
            logprob=math.log(1 / 14),
            reply="What kind of movies do you like?",
            seeker_reply="I like comedies.",
            reward=0.6,
            reward_samples=[0.6],
        ),
        TurnRecord(
            turn=1,
            planner_input=(
                "Seeker: Hello.\nRecommender: What kind of movies do you like?\n"
                "Seeker: I like comedies."
            ),
            strategy="Credibility",
            probs=probs,
            logprob=math.log(1 / 14),
            reply="Airplane! (1980) is a comedy.",
            seeker_reply="Sounds great, I'll watch it.",
            reward=1.0,
            reward_samples=[1.0],
            done=True,
        ),
    ]
    return EpisodeRecord(
        episode_id=episode_id(case.case_id, 0, index),
        case=case,
        persona_id="u1",
        goal="genre:comedy",
        turns=turns if status == "ok" else [],
        success=status == "ok",
        n_turns=2,
        status=status,  # type: ignore[arg-type]
        error=None if status == "ok" else "LLM timed out",
    )


@pytest.fixture()
def run(tmp_path: Path) -> Path:
    with RolloutWriter(tmp_path / "run" / "episodes.jsonl") as writer:
        writer.write(_episode(0))
        writer.write(_episode(1, status="failed"))
    return tmp_path / "run"


def test_actor_rows_are_conversational_prompt_completion() -> None:
    from prompts.actor import STRATEGY_INSTRUCTIONS, UNKNOWN_PREFERENCES

    rows = list(actor_rows([_episode(0)]))
    assert len(rows) == 2
    second = rows[1]
    assert [m["role"] for m in second["prompt"]] == ["system", "user"]
    system, user = (m["content"] for m in second["prompt"])
    assert STRATEGY_INSTRUCTIONS["Credibility"] in system
    dialogue = _episode(0).turns[1].planner_input  # what the Planner read is the dialogue
    assert f"<dialogue>\n{dialogue}\n</dialogue>" in user
    assert f"<preferences>\n{UNKNOWN_PREFERENCES}\n</preferences>" in user
    assert second["completion"] == [
        {"role": "assistant", "content": "Airplane! (1980) is a comedy."}
    ]
    assert second["strategy"] == "Credibility" and second["reward"] == 1.0
    text = list(actor_rows([_episode(0)], prompt_format="text"))[1]
    assert text["prompt"] == f"{system}\n\n{user}\n"
    assert text["completion"] == "Airplane! (1980) is a comedy."


def _a_movie() -> tuple[str, str]:
    from graph.resources import movies

    kb_id, movie = next(iter(sorted(movies().items())))
    return kb_id, movie.display_title


def test_an_actor_row_holds_the_preferences_and_the_movie_the_actor_read() -> None:
    kb_id, title = _a_movie()
    episode = _episode(0)
    turn = episode.turns[1]
    turn.preferences, turn.chosen_movie, turn.movie_facts = "Likes comedies.", kb_id, "A fact."
    turn.recommended, turn.reply = [kb_id], f"Try {title}."
    row = list(actor_rows([episode]))[1]
    user = row["prompt"][1]["content"]
    assert "<preferences>\nLikes comedies.\n</preferences>" in user
    assert f"<movie>\n{title}\nA fact.\n</movie>" in user
    assert row["recommended"] == [kb_id]


def _written(tmp_path: Path, episode: EpisodeRecord) -> Path:
    with RolloutWriter(tmp_path / "one" / "episodes.jsonl") as writer:
        writer.write(episode)
    return tmp_path / "one"


def test_a_reply_naming_a_movie_missing_from_its_prompt_is_left_out(
    tmp_path: Path,
) -> None:
    from graph.resources import movies

    kb_id, title = _a_movie()
    episode = _episode(0)
    episode.turns[1].recommended, episode.turns[1].reply = [kb_id], f"Try {title}."
    episode.turns[1].chosen_movie = None
    episode.turns[1].preferences = "Likes comedies."  # logged: the Actor read no movie
    other_id, _ = sorted(movies().items())[1]
    episode.turns[1].chosen_movie = other_id  # it was given another movie and named this one
    skipped: list[int] = []
    rows = list(actor_rows([episode], skipped=skipped))
    assert [r["turn"] for r in rows] == [0] and skipped == [1]
    result = export_trl(_written(tmp_path, episode), tmp_path / "rows.jsonl")
    assert (result.rows, result.skipped_ungrounded) == (1, 1)


def test_pairs_prefer_the_better_rewarded_reply_to_the_same_state() -> None:
    better, worse = _episode(0), _episode(1)
    worse.turns[0].reward, worse.turns[0].reply = 0.1, "Hi."
    rows = list(pair_rows([better, worse]))
    assert len(rows) == 1  # only turn 0 shares its state; its rewards differ
    row = rows[0]
    assert row["prompt"] == [{"role": "user", "content": "Hello."}]
    assert row["chosen"] == [{"role": "assistant", "content": "What kind of movies do you like?"}]
    assert row["rejected"] == [{"role": "assistant", "content": "Hi."}]
    assert (row["chosen_reward"], row["rejected_reward"]) == (0.6, 0.1)


def test_every_movie_a_completion_names_is_in_its_prompt(tmp_path: Path) -> None:
    from graph.resources import movies
    from rollouts.config import RolloutConfig
    from rollouts.runner import run_rollouts

    run = tmp_path / "fast"
    run_rollouts(RolloutConfig(out=run, episodes=12, max_turns=4, concurrency=2), progress=False)
    result = export_trl(run, tmp_path / "rows.jsonl")
    rows = [json.loads(x) for x in (tmp_path / "rows.jsonl").read_text().splitlines()]
    named = [r for r in rows if r["recommended"]]
    assert named, "the run recommended no movie"
    for row in named:
        prompt = "\n".join(m["content"] for m in row["prompt"])
        for kb_id in row["recommended"]:
            assert movies()[kb_id].display_title in prompt
    assert result.skipped_ungrounded == 0  # the rule Actor names only the chosen movie


def test_planner_rows_carry_discounted_returns() -> None:
    rows = list(planner_rows([_episode(0)], gamma=0.5))
    assert [r["return"] for r in rows] == pytest.approx([0.6 + 0.5 * 1.0, 1.0])
    assert rows[0]["state"] == "Seeker: Hello."
    assert rows[0]["logprob"] == pytest.approx(math.log(1 / 14))


def test_export_jsonl_skips_failed_episodes(run: Path, tmp_path: Path) -> None:
    result = export_trl(run, tmp_path / "actor.jsonl")
    assert (result.rows, result.episodes, result.skipped_failed) == (2, 1, 1)
    lines = (tmp_path / "actor.jsonl").read_text().splitlines()
    assert [json.loads(x)["turn"] for x in lines] == [0, 1]
    planner = export_trl(run, tmp_path / "planner.jsonl", kind="planner")
    assert planner.rows == 2


def test_the_same_episodes_export_the_same_rows_whatever_order_they_finished_in(
    tmp_path: Path,
) -> None:
    episodes = [_episode(i) for i in range(4)]
    for name, order in (("forward", episodes), ("backward", episodes[::-1])):
        with RolloutWriter(tmp_path / name / "episodes.jsonl") as writer:
            for e in order:
                writer.write(e)
        export_trl(tmp_path / name, tmp_path / f"{name}.jsonl", kind="planner")
    assert (tmp_path / "forward.jsonl").read_bytes() == (tmp_path / "backward.jsonl").read_bytes()


def test_datasets_format_needs_the_package(run: Path, tmp_path: Path) -> None:
    try:
        import datasets  # noqa: F401
    except ImportError:
        with pytest.raises(MissingDatasetsError, match="pip install datasets"):
            export_trl(run, tmp_path / "ds", fmt="datasets")
    else:
        result = export_trl(run, tmp_path / "ds", fmt="datasets")
        assert result.rows == 2 and (tmp_path / "ds").is_dir()


def test_missing_run_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no episodes.jsonl"):
        export_trl(tmp_path / "nothing", tmp_path / "x.jsonl")


def test_export_cli(run: Path, tmp_path: Path) -> None:
    import typer

    from cli.commands.export import register

    app = typer.Typer()
    register(app)
    out = tmp_path / "rows.jsonl"
    result = CliRunner().invoke(
        app, ["export", "trl", str(run), "--out", str(out), "--rows", "planner"]
    )
    assert result.exit_code == 0, result.output
    assert "2 planner rows" in result.output and "1 failed episode" in result.output
    assert json.loads(out.read_text().splitlines()[0])["strategy"] == "Opinion Inquiry"
    bad = CliRunner().invoke(app, ["export", "trl", str(run), "--out", str(out), "--rows", "x"])
    assert bad.exit_code != 0
