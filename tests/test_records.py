from __future__ import annotations

import json

import pytest

import rso.runs.records as records
from rso.data.jsonl import DataFormatError
from rso.data.records import EvalCase
from rso.runs.records import (
    EpisodeRecord,
    TurnRecord,
    episode_id,
    read_episodes,
    settings_digest,
)
from rso.runs.writer import RolloutWriter

CASE = EvalCase(
    case_id="inspired:d1",
    dataset="inspired",
    dialog_id="d1",
    user_id="user_1",
    target_genres=["action"],
)


def episode(index: int, seed: int = 0) -> EpisodeRecord:
    turn = TurnRecord(
        turn=0,
        planner_input="Seeker: Hello.",
        strategy="Credibility",
        probs=[1 / 14] * 14,
        logprob=-2.6,
        reply="Try Heat.",
        recommended=["m1"],
        top=[("m1", 0.9), ("m2", 0.5)],
        seeker_reply="Sure!",
        seeker_act="accept",
        reward_samples=[1.0],
        reward=1.0,
        done=True,
    )
    return EpisodeRecord(
        episode_id=episode_id(CASE.case_id, seed, index),
        case=CASE,
        persona_id="user_1",
        goal="genre:action",
        settings_digest=settings_digest({"b": 1, "a": 2}),
        seed=seed,
        turns=[turn],
        success=True,
        strict_success=True,
        n_turns=1,
    )


def test_ids_and_digests_are_deterministic() -> None:
    assert episode_id("c", 1, 2) == episode_id("c", 1, 2) != episode_id("c", 1, 3)
    assert settings_digest({"a": 1, "b": 2}) == settings_digest({"b": 2, "a": 1})


def test_round_trip(tmp_path) -> None:
    path = tmp_path / "episodes.jsonl"
    with RolloutWriter(path) as writer:
        writer.write(episode(0))
        writer.write(episode(1))
    back = read_episodes(path)
    assert back == [episode(0), episode(1)]
    assert back[0].turns[0].top == [("m1", 0.9), ("m2", 0.5)]


def test_resume_truncates_a_torn_last_line(tmp_path) -> None:
    path = tmp_path / "episodes.jsonl"
    with RolloutWriter(path) as writer:
        writer.write(episode(0))
    whole = path.read_text()
    path.write_text(whole + episode(1).model_dump_json()[:40])  # a crash mid-write
    with RolloutWriter(path) as writer:
        assert writer.finished == {episode(0).episode_id}
        assert path.read_text() == whole
        writer.write(episode(2))
    assert [e.episode_id for e in read_episodes(path)] == [
        episode(0).episode_id,
        episode(2).episode_id,
    ]


def test_bad_records_name_file_and_line(tmp_path) -> None:
    path = tmp_path / "episodes.jsonl"
    bad = json.loads(episode(0).model_dump_json())
    bad["turns"][0]["probs"] = [0.5, 0.5]
    path.write_text(episode(0).model_dump_json() + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(DataFormatError, match=r"episodes.jsonl:2: .*probs"):
        read_episodes(path)
    newer = json.loads(episode(0).model_dump_json()) | {"schema_version": 99}
    path.write_text(json.dumps(newer) + "\n")
    with pytest.raises(DataFormatError, match="newer than this code"):
        read_episodes(path)


def test_older_schema_versions_are_migrated(tmp_path, monkeypatch) -> None:
    # Simulate a future version 2: version-1 files are upgraded through the registered hook.
    monkeypatch.setattr(records, "SCHEMA_VERSION", 2)

    def v1_to_v2(obj):
        return {**obj, "schema_version": 2}

    monkeypatch.setitem(records.MIGRATIONS, 1, v1_to_v2)
    path = tmp_path / "old.jsonl"
    old = json.loads(episode(0).model_dump_json())
    old.pop("schema_version")  # records predating the field are version 1
    path.write_text(json.dumps(old) + "\n")
    [back] = read_episodes(path)
    assert back.schema_version == 2 and back.episode_id == episode(0).episode_id


def test_version_2_records_read_without_a_policy_version(tmp_path) -> None:
    path = tmp_path / "v2.jsonl"
    old = json.loads(episode(0).model_dump_json())
    old.pop("policy_version")
    old["schema_version"] = 2
    path.write_text(json.dumps(old) + "\n")
    [back] = read_episodes(path)
    assert back.schema_version == records.SCHEMA_VERSION == 3
    assert back.policy_version is None and back.episode_id == episode(0).episode_id
    tagged = episode(1).model_copy(update={"policy_version": 4})
    path.write_text(tagged.model_dump_json() + "\n")
    assert read_episodes(path)[0].policy_version == 4
