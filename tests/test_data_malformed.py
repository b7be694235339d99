"""Bad input fails loudly, naming file and line; deliberate handling is counted (tiny fixtures)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rso.data.eval_cases import parse_eval_cases
from rso.data.inspired import parse_inspired
from rso.data.jsonl import DataFormatError
from rso.data.personas import parse_personas
from rso.data.redial import parse_redial_dialogs


def _dialog(dialog_id: str = "d1", **changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "dialog_id": dialog_id,
        "dialog": [
            {"text": "Hi! Seen QUOTATION_MARKHeatQUOTATION_MARK?", "speaker": "RECOMMENDER",
             "strategy": "Experience Inquiry"},
            {"text": "No, what is it?", "speaker": "SEEKER", "strategy": "NaN"},
            {"text": "A crime classic.", "speaker": "RECOMMENDER", "strategy": "credibility"},
        ],
        "user_id": "user_1",
        "genre_dict": ["crime"],
    }  # fmt: skip
    record.update(changes)
    return record


def _jsonl(path: Path, *lines: dict[str, Any] | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = [line if isinstance(line, str) else json.dumps(line) for line in lines]
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    return path


def _error(exc: pytest.ExceptionInfo[DataFormatError], path: Path, line: int) -> str:
    assert exc.value.path == path and exc.value.line == line
    assert str(exc.value).startswith(f"{path}:{line}: ")
    return exc.value.reason


# --- INSPIRED ---------------------------------------------------------------------------------


def test_inspired_fixture_parses_and_decodes(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "train.jsonl", _dialog(), _dialog("d2", genre_dict=[]))
    parsed = parse_inspired("train", path=path)
    first = parsed.records[0]
    assert first.utterances[0].text == 'Hi! Seen "Heat"?'
    assert [u.strategy for u in first.utterances] == ["Experience Inquiry", None, "Credibility"]
    assert parsed.notes == {"dialogs without target genres": 1}


def test_inspired_bad_json_line(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "train.jsonl", _dialog(), '{"dialog_id": "d2", "dialog": [')
    with pytest.raises(DataFormatError) as exc:
        parse_inspired("train", path=path)
    assert "invalid JSON" in _error(exc, path, 2)


def test_inspired_missing_field(tmp_path: Path) -> None:
    broken = _dialog("d2")
    del broken["user_id"]
    path = _jsonl(tmp_path / "train.jsonl", _dialog(), broken)
    with pytest.raises(DataFormatError) as exc:
        parse_inspired("train", path=path)
    assert _error(exc, path, 2) == "missing field 'user_id'"


def test_inspired_missing_utterance_text(tmp_path: Path) -> None:
    broken = _dialog()
    del broken["dialog"][1]["text"]
    path = _jsonl(tmp_path / "train.jsonl", broken)
    with pytest.raises(DataFormatError) as exc:
        parse_inspired("train", path=path)
    assert _error(exc, path, 1) == "missing field 'dialog[1].text'"


def test_inspired_unknown_strategy(tmp_path: Path) -> None:
    broken = _dialog("d3")
    broken["dialog"][2]["strategy"] = "Flattery"
    path = _jsonl(tmp_path / "train.jsonl", _dialog(), _dialog("d2"), broken)
    with pytest.raises(DataFormatError) as exc:
        parse_inspired("train", path=path)
    reason = _error(exc, path, 3)
    assert reason.startswith("dialog[2].strategy: unknown strategy label 'Flattery'")


@pytest.mark.parametrize(
    ("turn", "change", "reason"),
    [
        (0, {"strategy": "NaN"}, "dialog[0].strategy: recommender utterance has no label"),
        (1, {"strategy": "Credibility"}, "dialog[1].strategy: seeker utterance labelled"),
        (1, {"speaker": "USER"}, "dialog[1].speaker: unknown speaker 'USER'"),
        (1, {"text": 7}, "field 'dialog[1].text' should be str, got int"),
    ],
)
def test_inspired_bad_utterance(
    tmp_path: Path, turn: int, change: dict[str, Any], reason: str
) -> None:
    broken = _dialog()
    broken["dialog"][turn].update(change)
    path = _jsonl(tmp_path / "train.jsonl", broken)
    with pytest.raises(DataFormatError) as exc:
        parse_inspired("train", path=path)
    assert _error(exc, path, 1).startswith(reason)


def test_inspired_duplicate_dialog_id(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "train.jsonl", _dialog(), _dialog("d2"), _dialog())
    with pytest.raises(DataFormatError) as exc:
        parse_inspired("train", path=path)
    assert _error(exc, path, 3) == "duplicate dialog_id 'd1' (first on line 1)"


def test_inspired_unknown_split() -> None:
    with pytest.raises(ValueError, match="unknown INSPIRED split 'dev'"):
        parse_inspired("dev")  # type: ignore[arg-type]


# --- personas ---------------------------------------------------------------------------------

DEMOGRAPHIC_HEADER = (
    "seeker_survey_id\trole\tseeker_id\tcase\treason\tage_group\tgender\trace\tdegree\tjob\t"
    "marital_status\tpolitical_view\treligion\trecommender_id\tdate"
)
PERSONALITY_HEADER = (
    "User_ID\tExtrovert\tAgreeable\tConscientious\tNeurotic\tOpen\tConformity\tTradition\t"
    "Benevolence\tUniversalism\tSelf-Direction\tStimulation\tHedonism\tAchievement\tPower\t"
    "Security\tRational\tFeeling"
)


def _demographic(user: str, *answers: str) -> str:
    return "\t".join(["s", "SEEKER", user, "accept", "why", *answers, "user_0", "2019-11-29"])


def _survey(raw: Path, demographic: list[str], personality: list[str]) -> tuple[Path, Path]:
    folder = raw / "inspired" / "original" / "survey_data"
    folder.mkdir(parents=True)
    demo = folder / "seeker_demographic.tsv"
    pers = folder / "seeker_personality.tsv"
    demo.write_text("\n".join([DEMOGRAPHIC_HEADER, *demographic]) + "\n", encoding="utf-8")
    pers.write_text("\n".join([PERSONALITY_HEADER, *personality]) + "\n", encoding="utf-8")
    return demo, pers


FULL = ("25 - 34", "Female", "Caucasian", "Master", "Employed", "Married", "Liberal", "Hindu")
SCORES = "\t".join(["4", "3.5", "2", "1.5", "5"] + ["3"] * 10 + ["6", "1"])


def test_personas_join_merge_and_realign(tmp_path: Path) -> None:
    _survey(
        tmp_path,
        [
            _demographic("user_1", *FULL),
            _demographic("user_2", *FULL[:3], "on", *FULL[4:]),
            # Lost its age answer: everything slid left and a mood word fills the last column.
            _demographic("user_3", *FULL[1:], "Excited"),
            # The same seeker again, after another dialog: a new answer wins, a missing one
            # does not erase the first.
            _demographic("user_1", "35 - 44", *FULL[1:3], "on", *FULL[4:]),
        ],
        [f"user_1\t{SCORES}", f"user_3\t{SCORES}"],
    )
    parsed = parse_personas(tmp_path)
    by_id = {p.user_id: p for p in parsed.records}
    assert list(by_id) == ["user_1", "user_2", "user_3"]
    one = by_id["user_1"]
    assert (one.age_group, one.degree, one.religion) == ("35 - 44", "Master", "Hindu")
    assert one.big_five is not None and one.big_five.agreeable == 3.5
    assert one.values["Security"] == 3.0 and (one.rational, one.feeling) == (6.0, 1.0)
    two = by_id["user_2"]
    assert two.degree is None and two.job == "Employed" and two.big_five is None
    assert two.values == {} and two.rational is None
    three = by_id["user_3"]
    assert three.age_group is None
    assert (three.gender, three.religion) == ("Female", "Hindu")
    assert parsed.notes == {
        "demographic rows": 4,
        "duplicate demographic rows merged (same seeker, several dialogs)": 1,
        "seekers whose duplicate rows disagree (later row wins)": 1,
        "answers recovered from a neighbouring column": 7,
        "answers missing or unreadable (left empty)": 2,
        "seekers without a personality row (big_five empty)": 1,
    }


def test_personas_bad_rows(tmp_path: Path) -> None:
    demo, pers = _survey(
        tmp_path / "a", [_demographic("user_1", *FULL), "too\tfew"], [f"user_1\t{SCORES}"]
    )
    with pytest.raises(DataFormatError) as exc:
        parse_personas(tmp_path / "a")
    assert _error(exc, demo, 3) == "expected 15 tab-separated fields"

    demo, pers = _survey(
        tmp_path / "b",
        [_demographic("user_1", *FULL)],
        [f"user_1\t{SCORES}", "user_1\t" + SCORES.replace("3.5", "high")],
    )
    with pytest.raises(DataFormatError) as exc:
        parse_personas(tmp_path / "b")
    assert _error(exc, pers, 3) == "duplicate User_ID 'user_1' (first on line 2)"

    demo, pers = _survey(
        tmp_path / "c",
        [_demographic("user_1", *FULL)],
        ["user_1\t" + SCORES.replace("3.5", "high")],
    )
    with pytest.raises(DataFormatError) as exc:
        parse_personas(tmp_path / "c")
    assert _error(exc, pers, 2).startswith("non-numeric score")

    demo, pers = _survey(
        tmp_path / "d", [_demographic("user_1", *FULL)], [f"user_1\t{SCORES}", f"user_9\t{SCORES}"]
    )
    with pytest.raises(DataFormatError) as exc:
        parse_personas(tmp_path / "d")
    assert _error(exc, pers, 3) == "User_ID 'user_9' has no row in seeker_demographic.tsv"


# --- evaluation cases -------------------------------------------------------------------------


def _eval_files(
    raw: Path, mapping: list[dict[str, Any] | str], dialogs: list[dict[str, Any]]
) -> tuple[Path, Path]:
    folder = raw / "rso_eval" / "redial"
    return (
        _jsonl(folder / "dialog_ids2user_id_and_genre_dict.jsonl", *mapping),
        _jsonl(folder / "redial-test.jsonl", *dialogs),
    )


def _case(dialog_id: str, user: str = "user_1", genres: list[str] | None = None) -> dict[str, Any]:
    return {"dialog_id": dialog_id, "user_id": user, "genre_dict": genres or ["drama"]}


def _case_dialog(dialog_id: str, user: str = "user_1") -> dict[str, Any]:
    return _case(dialog_id, user) | {"dialog": ["Hi", "Hello"]}


def test_eval_cases_repeated_dialog_id_is_disambiguated(tmp_path: Path) -> None:
    _eval_files(
        tmp_path,
        [_case("7"), _case("8"), _case("7", "user_2")],
        [_case_dialog("7"), _case_dialog("8"), _case_dialog("7", "user_2")],
    )
    parsed = parse_eval_cases("redial-test", tmp_path)
    assert [c.case_id for c in parsed.records] == ["redial:7", "redial:8", "redial:7#3"]
    assert [c.user_id for c in parsed.records] == ["user_1", "user_1", "user_2"]
    assert parsed.notes["duplicate dialog ids disambiguated with '#<line>'"] == 1


def test_eval_cases_mapping_disagrees_with_dialogs(tmp_path: Path) -> None:
    mapping, dialogs = _eval_files(
        tmp_path, [_case("7"), _case("8", "user_3")], [_case_dialog("7"), _case_dialog("8")]
    )
    with pytest.raises(DataFormatError) as exc:
        parse_eval_cases("redial-test", tmp_path)
    reason = _error(exc, mapping, 2)
    assert "'user_3'" in reason and f"{dialogs.name}:2" in reason


def test_eval_cases_ids_must_match_both_ways(tmp_path: Path) -> None:
    mapping, _ = _eval_files(tmp_path / "a", [_case("7"), _case("9")], [_case_dialog("7")])
    with pytest.raises(DataFormatError) as exc:
        parse_eval_cases("redial-test", tmp_path / "a")
    assert _error(exc, mapping, 2) == "dialog_id '9' is not in redial-test.jsonl"

    _, dialogs = _eval_files(tmp_path / "b", [_case("7")], [_case_dialog("7"), _case_dialog("9")])
    with pytest.raises(DataFormatError) as exc:
        parse_eval_cases("redial-test", tmp_path / "b")
    assert _error(exc, dialogs, 2) == (
        "dialog_id '9' has no entry in dialog_ids2user_id_and_genre_dict.jsonl"
    )


def test_eval_cases_missing_field_and_unknown_set(tmp_path: Path) -> None:
    mapping, _ = _eval_files(tmp_path, [_case("7"), {"dialog_id": "8"}], [_case_dialog("7")])
    with pytest.raises(DataFormatError) as exc:
        parse_eval_cases("redial-test", tmp_path)
    assert _error(exc, mapping, 2) == "missing field 'user_id'"
    with pytest.raises(ValueError, match="unknown case set 'redial-train'"):
        parse_eval_cases("redial-train", tmp_path)  # type: ignore[arg-type]


# --- ReDial -----------------------------------------------------------------------------------


def _redial(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "conversationId": "100",
        "initiatorWorkerId": 1,
        "respondentWorkerId": 2,
        "movieMentions": {"11": "Heat  (1995)", "12": None},
        "initiatorQuestions": [],
        "respondentQuestions": {"11": {"suggested": 1, "seen": 2, "liked": 1}},
        "messages": [
            {"senderWorkerId": 1, "text": "Any crime movie?"},
            {"senderWorkerId": 2, "text": "Try @11, or @13."},
        ],
    }
    record.update(changes)
    return record


def _movie_list(raw: Path) -> None:
    path = raw / "redial" / "original" / "movies_with_mentions.csv"
    path.parent.mkdir(parents=True)
    path.write_text("movieId,movieName,nbMentions\n13,Ronin  (1998),4\n", encoding="utf-8")


def test_redial_fixture_resolves_titles_and_roles(tmp_path: Path) -> None:
    _movie_list(tmp_path)
    path = _jsonl(tmp_path / "redial.jsonl", _redial())
    parsed = parse_redial_dialogs(tmp_path, path=path)
    dialog = parsed.records[0]
    assert [m.speaker for m in dialog.messages] == ["SEEKER", "RECOMMENDER"]
    assert dialog.messages[1].text == "Try Heat (1995), or Ronin (1998)."
    assert dialog.messages[1].movie_ids == ["11", "13"]
    assert dialog.movie_mentions == {"11": "Heat (1995)", "13": "Ronin (1998)"}
    feedback = dialog.seeker_feedback["11"]
    assert feedback.suggested_by_recommender and feedback.seen is None and feedback.liked
    assert parsed.notes == {
        "mentions titled from movies_with_mentions.csv": 1,
        "dialogs without questionnaire answers": 0,
        "untitled movie-table entries never mentioned in the text (dropped)": 1,
    }


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        (
            {"messages": [{"senderWorkerId": 3, "text": "hi"}]},
            "messages[0].senderWorkerId 3 is neither worker of the dialog",
        ),
        ({"messages": [{"senderWorkerId": 1, "text": "Like @99?"}]}, "movie @99 has no title"),
        ({"messages": []}, "field 'messages' is empty"),
        ({"initiatorWorkerId": "one"}, "field 'initiatorWorkerId' should be int, got str"),
        (
            {"respondentQuestions": {"11": {"suggested": 1, "seen": 5, "liked": 1}}},
            "respondentQuestions.11: answers outside 0/1/2",
        ),
    ],
)
def test_redial_bad_dialog(tmp_path: Path, changes: dict[str, Any], reason: str) -> None:
    _movie_list(tmp_path)
    path = _jsonl(tmp_path / "redial.jsonl", _redial(conversationId="1"), _redial(**changes))
    with pytest.raises(DataFormatError) as exc:
        parse_redial_dialogs(tmp_path, path=path)
    assert _error(exc, path, 2).startswith(reason)


def test_redial_missing_field(tmp_path: Path) -> None:
    broken = _redial()
    del broken["messages"]
    path = _jsonl(tmp_path / "redial.jsonl", broken)
    with pytest.raises(DataFormatError) as exc:
        parse_redial_dialogs(tmp_path, path=path)
    assert _error(exc, path, 1) == "missing field 'messages'"
