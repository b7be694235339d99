"""Dataset loaders against the real raw data, the processed round trip, and `rso data check`."""

from __future__ import annotations

import gzip
import json
import re
import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from cli.commands.data import register
from rso.data import catalog
from rso.data.check import check
from rso.data.eval_cases import load_eval_cases, parse_eval_cases
from rso.data.inspired import (
    decode_text,
    load_inspired,
    parse_inspired,
    planner_samples,
    planner_samples_from,
)
from rso.data.jsonl import read_models
from rso.data.movies import load_raw_movies
from rso.data.personas import load_personas, parse_personas
from rso.data.records import InspiredDialog
from rso.data.redial import load_redial_dialogs, parse_redial_dialogs
from rso.paths import REPO_ROOT, raw_data_dir
from rso.strategies import STRATEGIES

RAW = raw_data_dir()
requires_raw = pytest.mark.skipif(
    not (RAW / "inspired" / "rso_sft").is_dir(),
    reason=f"raw datasets not found at {RAW} (set RSO_RAW_DATA to the shared data directory)",
)
COMMITTED = REPO_ROOT / "data"


def _cli() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.callback()
    def _root() -> None:
        """Keep `data` a subcommand even though it is the only one registered here."""

    return app


@pytest.fixture(scope="module")
def prepared_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Processed files written by `rso data prepare` into a fresh directory."""
    if not (RAW / "inspired" / "rso_sft").is_dir():
        pytest.skip(f"raw datasets not found at {RAW}")
    out = tmp_path_factory.mktemp("processed")
    result = CliRunner().invoke(_cli(), ["data", "prepare", "--data-dir", str(out)])
    assert result.exit_code == 0, result.output
    return out


# --- raw loaders ------------------------------------------------------------------------------


@requires_raw
@pytest.mark.parametrize(
    ("split", "dialogs", "recommender", "samples"),
    [("train", 801, 14_662, 13_861), ("valid", 99, 1_860, 1_761), ("test", 99, 1_764, 1_665)],
)
def test_inspired_counts(split: str, dialogs: int, recommender: int, samples: int) -> None:
    parsed = parse_inspired(split)  # type: ignore[arg-type]
    assert len(parsed.records) == dialogs
    utterances = [u for d in parsed.records for u in d.utterances]
    labelled = [u for u in utterances if u.speaker == "RECOMMENDER"]
    assert len(labelled) == recommender
    assert all(u.strategy in STRATEGIES for u in labelled)
    assert all(u.strategy is None for u in utterances if u.speaker == "SEEKER")
    assert len(planner_samples_from(parsed.records)) == samples
    assert {d.split for d in parsed.records} == {split}
    # Every strategy occurs in train, so the Planner sees all 14 labels.
    if split == "train":
        assert {u.strategy for u in labelled} == set(STRATEGIES)


@requires_raw
def test_quotation_marks_are_decoded() -> None:
    texts = [u.text for d in parse_inspired("train").records for u in d.utterances]
    assert not any("QUOTATION_MARK" in t for t in texts)
    assert any('called "Black Widow" in 2020' in t for t in texts)
    assert decode_text("I loved QUOTATION_MARKHeatQUOTATION_MARK!") == 'I loved "Heat"!'


@requires_raw
def test_planner_samples_are_prefixes_with_their_label() -> None:
    dialog = parse_inspired("train").records[0]
    samples = planner_samples_from([dialog])
    labelled = [i for i, u in enumerate(dialog.utterances) if i > 0 and u.speaker == "RECOMMENDER"]
    assert [s.utterance_index for s in samples] == labelled
    for sample in samples:
        assert sample.history == dialog.utterances[: sample.utterance_index]
        assert sample.label == dialog.utterances[sample.utterance_index].strategy
    assert samples[0].history[0].text == "Hi there!"
    assert samples[0].label == "Transparency"


@requires_raw
def test_personas_join_demographics_and_personality() -> None:
    parsed = parse_personas()
    by_id = {p.user_id: p for p in parsed.records}
    assert len(parsed.records) == len(by_id) == 894
    assert parsed.notes["demographic rows"] == 1_001
    assert sum(p.big_five is not None for p in parsed.records) == 889
    first = by_id["user_1"]
    assert first.age_group == "35 - 44" and first.religion == "Other"
    assert first.big_five is not None and first.big_five.conscientious == 4.0
    assert first.values["Tradition"] == 6.0 and first.rational == 4.0 and first.feeling == 3.0
    # A seeker who filled the demographic survey but not the personality one.
    lonely = by_id["user_396"]
    assert lonely.big_five is None and lonely.values == {} and lonely.rational is None
    assert (lonely.gender, lonely.age_group) == ("Female", "25 - 34")
    # A row that lost its age answer: the other answers slid one column to the left.
    shifted = by_id["user_103"]
    assert (shifted.gender, shifted.race, shifted.religion) == ("Female", "Caucasian", "Jewish")
    assert shifted.age_group is None


@requires_raw
@pytest.mark.parametrize(
    ("name", "count", "first_id"),
    [
        ("inspired-test", 99, "inspired:20191127-224739_530_live.pkl"),
        ("redial-test", 198, "redial:20001"),
        ("inspired-train", 801, "inspired:20191126-061250_477_live.pkl"),
    ],
)
def test_eval_cases(name: str, count: int, first_id: str) -> None:
    cases = parse_eval_cases(name).records  # type: ignore[arg-type]
    assert len(cases) == len({c.case_id for c in cases}) == count
    assert cases[0].case_id == first_id
    personas = {p.user_id for p in parse_personas().records if p.big_five is not None}
    assert {c.user_id for c in cases} <= personas


@requires_raw
def test_inspired_test_cases_are_the_test_dialogs() -> None:
    dialogs = {d.dialog_id: d for d in parse_inspired("test").records}
    cases = parse_eval_cases("inspired-test").records
    assert {c.dialog_id for c in cases} == set(dialogs)
    for case in cases:
        assert case.user_id == dialogs[case.dialog_id].user_id
        assert case.target_genres == dialogs[case.dialog_id].target_genres
    train_ids = {c.case_id for c in parse_eval_cases("inspired-train").records}
    assert not train_ids & {c.case_id for c in cases}


@requires_raw
def test_redial_dialogs_resolve_mentions_and_roles() -> None:
    parsed = parse_redial_dialogs()
    dialogs = parsed.records
    assert len(dialogs) == 1_000
    assert not any(re.search(r"@\d", m.text) for d in dialogs for m in d.messages)
    first = dialogs[0]
    assert first.messages[1].speaker == "SEEKER"
    assert first.messages[1].text.endswith("like The Babadook (2014)")
    assert first.messages[1].movie_ids == ["135508"]
    # A mention missing from its dialog's own table is titled from the ReDial movie list.
    assert parsed.notes["mentions titled from movies_with_mentions.csv"] == 1
    date_night = next(d for d in dialogs if d.dialog_id == "1382")
    assert date_night.movie_mentions["115908"] == "50 First Dates (2004)"
    # The role rule: movies the questionnaire says the recommender suggested are, almost always,
    # first mentioned by the speaker we call RECOMMENDER.
    agree = total = 0
    for dialog in dialogs:
        first_speaker: dict[str, str] = {}
        for message in dialog.messages:
            for movie_id in message.movie_ids:
                first_speaker.setdefault(movie_id, message.speaker)
        for movie_id, answer in dialog.seeker_feedback.items():
            if answer.suggested_by_recommender and movie_id in first_speaker:
                total += 1
                agree += first_speaker[movie_id] == "RECOMMENDER"
    assert total > 3_000 and agree / total > 0.95


@requires_raw
def test_movie_knowledge_base() -> None:
    movies = load_raw_movies()
    assert len(movies) == len({m.kb_id for m in movies}) == 6_991


# --- processed files --------------------------------------------------------------------------


@requires_raw
def test_prepare_round_trip(prepared_dir: Path) -> None:
    for entry in catalog.CATALOG:
        written = read_models(prepared_dir / entry.file_name, entry.record)
        assert written == entry.parse(None).records, entry.key
    readme = (prepared_dir / "README.md").read_text()
    assert "| `inspired-train.jsonl.gz` | InspiredDialog |" in readme
    assert "sweetpeach/Inspired" in readme and "CC BY 4.0" in readme
    assert sum(p.stat().st_size for p in prepared_dir.iterdir()) < 5_000_000


@requires_raw
def test_prepare_is_byte_reproducible(prepared_dir: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(_cli(), ["data", "prepare", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    for path in prepared_dir.iterdir():
        assert (tmp_path / path.name).read_bytes() == path.read_bytes(), path.name


@requires_raw
def test_public_loaders_prefer_processed_files(
    prepared_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Processed files win over raw ones: a processed split with one dialog is what loads.
    only_one = tmp_path / "processed"
    only_one.mkdir()
    shutil.copy(prepared_dir / "inspired-valid.jsonl.gz", only_one)
    dialogs = read_models(only_one / "inspired-valid.jsonl.gz", InspiredDialog)
    _write_gz(only_one / "inspired-valid.jsonl.gz", [dialogs[0].model_dump_json()])
    monkeypatch.setenv("RSO_DATA_DIR", str(only_one))
    assert load_inspired("valid") == dialogs[:1]
    assert load_inspired("valid", source="raw") == dialogs
    # Without a processed file, "auto" falls back to the raw data and "processed" refuses.
    assert len(load_inspired("test")) == 99
    with pytest.raises(FileNotFoundError, match="rso data prepare"):
        load_inspired("test", source="processed")

    monkeypatch.setenv("RSO_DATA_DIR", str(prepared_dir))
    assert len(planner_samples("train")) == 13_861
    assert load_personas()["user_1"] == load_personas(source="raw")["user_1"]
    assert [c.case_id for c in load_eval_cases("redial-test")][:1] == ["redial:20001"]
    assert load_redial_dialogs() == load_redial_dialogs(source="raw")


def test_loaders_read_processed_files_without_raw_data(monkeypatch: pytest.MonkeyPatch) -> None:
    if not (COMMITTED / "inspired-train.jsonl.gz").is_file():
        pytest.skip("processed data not committed (run `rso data prepare`)")
    # A fresh clone has the processed files but maybe no raw directory.
    monkeypatch.setenv("RSO_RAW_DATA", "/nonexistent/raw")
    monkeypatch.setenv("RSO_DATA_DIR", str(COMMITTED))
    assert len(load_inspired("train")) == 801
    assert len(load_eval_cases("inspired-test")) == 99
    assert len(load_personas()) == 894


# --- rso data check ---------------------------------------------------------------------------


@requires_raw
def test_check_passes_on_committed_data() -> None:
    result = CliRunner().invoke(_cli(), ["data", "check", "--data-dir", str(COMMITTED)])
    assert result.exit_code == 0, result.output
    assert "data check passed" in result.output
    row = next(line for line in result.output.splitlines() if "recommender utterances" in line)
    assert row.split() == ["inspired-train", "recommender", "utterances"] + ["14,662"] * 3 + ["ok"]


@requires_raw
def test_check_fails_on_a_count_mismatch(prepared_dir: Path, tmp_path: Path) -> None:
    for path in prepared_dir.iterdir():
        shutil.copy(path, tmp_path)
    with gzip.open(tmp_path / "inspired-valid.jsonl.gz", "rt", encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    _write_gz(tmp_path / "inspired-valid.jsonl.gz", lines[:-1])
    result = CliRunner().invoke(_cli(), ["data", "check", "--json", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert "inspired-valid: dialogs is 98 in the processed file, expected 99" in report["problems"]
    assert any("inspired-valid.jsonl.gz differs from the raw data" in p for p in report["problems"])
    figures = {(r["dataset"], r["measure"]): r for r in report["rows"]}
    assert figures[("inspired-valid", "dialogs")]["raw"] == 99
    assert figures[("movies", "movies")]["processed"] == 6_991
    # Without raw data the processed counts alone still reveal the mismatch.
    alone = check(data_dir=tmp_path, raw_dir=tmp_path / "no-raw")
    assert not alone.ok and not alone.raw_available
    assert alone.problems[0] == "inspired-valid: dialogs is 98 in the processed file, expected 99"
    assert all(p.startswith("inspired-valid: ") for p in alone.problems)


def test_check_reports_missing_processed_files(tmp_path: Path) -> None:
    report = check(data_dir=tmp_path, raw_dir=tmp_path / "no-raw")
    assert not report.ok
    assert any("missing" in p and "inspired-train.jsonl.gz" in p for p in report.problems)


def _write_gz(path: Path, lines: list[str]) -> None:
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write("".join(line + "\n" for line in lines))
