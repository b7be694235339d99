"""``rso recommend`` and ``rso eval recommend`` on the fixture ranker: output and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import _register_commands, app
from retrieval import recommender_default
from retrieval.recommender import MovieRecommender
from tests.recommend_fixtures import MOVIES, make_recommender, training_ids

_register_commands()


@pytest.fixture(scope="module")
def ranker() -> MovieRecommender:
    return make_recommender()


@pytest.fixture(autouse=True)
def fixture_ranker(ranker: MovieRecommender, monkeypatch: pytest.MonkeyPatch) -> None:
    from retrieval import titles
    from retrieval.titles import TitleMatcher

    monkeypatch.setattr(recommender_default, "get_recommender", lambda *_: ranker)
    monkeypatch.setattr(titles, "get_title_matcher", lambda: TitleMatcher(MOVIES))


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def turn(dialog_id: str, text: str, **extra: object) -> str:
    return json.dumps({"dialog_id": dialog_id, "turn_id": 2, "context": ["", "Hi", text]} | extra)


def test_recommend_writes_one_ranked_line_per_turn(tmp_path: Path) -> None:
    source = write_lines(
        tmp_path / "turns.jsonl",
        [turn("a", "I liked Heat (1995)."), "", turn("b", "Horror like It (2017)?")],
    )
    out = tmp_path / "ranks.jsonl"
    result = CliRunner().invoke(
        app, ["recommend", "--input", str(source), "--k", "3", "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["dialog_id"], r["turn_id"]) for r in rows] == [("a", 2), ("b", 2)]
    assert rows[0]["ranking"][0] == "redial:8" and rows[0]["titles"][0] == "Casino (1995)"
    assert all(len(r["ranking"]) == 3 == len(r["titles"]) for r in rows)
    assert "redial:7" not in rows[0]["ranking"] and "redial:3" not in rows[1]["ranking"]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("{not json", "invalid JSON"),
        ('["a list"]', "expected a JSON object"),
        ('{"dialog_id": "x"}', "missing field 'context'"),
        ('{"context": "one string"}', "field 'context' should be a list of strings"),
        ('{"context": ["", " "]}', "no non-empty utterance"),
        ('{"context": ["hi"], "turn_id": true}', "field 'turn_id'"),
    ],
)
def test_a_bad_line_stops_with_its_number_and_keeps_earlier_output(
    tmp_path: Path, bad: str, message: str
) -> None:
    source = write_lines(tmp_path / "turns.jsonl", [turn("a", "I liked Heat (1995)."), bad])
    out = tmp_path / "ranks.jsonl"
    result = CliRunner().invoke(app, ["recommend", "--input", str(source), "--output", str(out)])
    assert result.exit_code == 1
    assert "turns.jsonl:2: " in result.output and message in result.output
    assert "Traceback" not in result.output
    assert len(out.read_text().splitlines()) == 1  # the good first line was kept


def test_a_missing_input_file_is_one_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["recommend", "--input", str(tmp_path / "none.jsonl")])
    assert result.exit_code == 1
    assert "no such file" in result.output


def test_eval_recommend_reports_every_system_and_leaves_out_training_dialogs(
    tmp_path: Path, ranker: MovieRecommender
) -> None:
    trained = sorted(ranker.training_dialogs)[0]
    fresh = training_ids(2, fold_is_valid=True)
    source = write_lines(
        tmp_path / "turns.jsonl",
        [
            turn(fresh[0], "I liked Heat (1995).", rec=["Casino (1995)"]),
            turn(fresh[1], "Any film like Heat (1995)?", rec=["Casino (1995)", "Unknown (1900)"]),
            turn(trained, "I liked Heat (1995).", rec=["Casino (1995)"]),
        ],
    )
    result = CliRunner().invoke(app, ["eval", "recommend", "--input", str(source), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["n_training_excluded"] == 1 and report["n_turns"] == 2
    assert report["n_unmatched"] == 1 and report["n_evaluated"] == 2
    names = [s["name"] for s in report["systems"]]
    assert names[0] == "ranker" and len(names) == 4
    assert report["systems"][0]["metrics"]["recall"]["recall@1"]["value"] == 1.0


def test_eval_recommend_needs_targets(tmp_path: Path) -> None:
    source = write_lines(tmp_path / "turns.jsonl", [turn("x", "I liked Heat (1995).")])
    result = CliRunner().invoke(app, ["eval", "recommend", "--input", str(source)])
    assert result.exit_code == 1
    assert "turns.jsonl:1: missing or empty field 'rec'" in result.output
