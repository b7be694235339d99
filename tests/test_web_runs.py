"""The web page's run endpoints: listing, paging, outcome filters, and no reads outside the root."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from rso.data.records import EvalCase
from rso.runs.directory import EPISODES_FILE, MANIFEST_FILE
from rso.runs.records import EpisodeRecord, TurnRecord, episode_id
from web.app import MAX_PAGE, STATIC, create_app

CASE = EvalCase(
    case_id="inspired:d1",
    dataset="inspired",
    dialog_id="d1",
    user_id="u1",
    target_genres=["action"],
)


def make_episode(index: int, outcome: str, reply: str = "Try Heat.") -> EpisodeRecord:
    turn = TurnRecord(
        turn=0,
        strategy="Credibility",
        probs=[1 / 14] * 14,
        reply=reply,
        seeker_reply="<script>alert(1)</script>",
        seeker_act="accept",
        reward_samples=[1.0],
        reward=1.0 if outcome != "no success" else 0.2,
        done=True,
    )
    return EpisodeRecord(
        episode_id=episode_id(CASE.case_id, 0, index),
        case=CASE,
        persona_id="u1",
        goal="genre:action",
        turns=[turn],
        success=outcome in ("strict", "success"),
        strict_success=outcome == "strict",
        n_turns=1,
        status="failed" if outcome == "failed" else "ok",
        error="boom" if outcome == "failed" else None,
    )


def write_run(path: Path, outcomes: list[str]) -> list[EpisodeRecord]:
    path.mkdir(parents=True)
    episodes = [make_episode(i, outcome) for i, outcome in enumerate(outcomes)]
    lines = "".join(e.model_dump_json() + "\n" for e in reversed(episodes))
    (path / EPISODES_FILE).write_text(lines, encoding="utf-8")
    manifest = {"name": path.name, "settings": {"seeker": "act", "experts": "rule"}}
    (path / MANIFEST_FILE).write_text(json.dumps(manifest), encoding="utf-8")
    return episodes


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "runs"
    outcomes = ["strict", "success", "no success", "failed"] * 63
    write_run(root / "big", outcomes)
    write_run(root / "exp" / "arm-a", ["strict"])
    (root / "notes").mkdir()
    write_run(tmp_path / "outside", ["strict"])
    (root / "escape").symlink_to(tmp_path / "outside", target_is_directory=True)
    (root / "linked").mkdir()
    (root / "linked" / EPISODES_FILE).symlink_to(tmp_path / "outside" / EPISODES_FILE)
    return root


@pytest.fixture
def client(root: Path) -> TestClient:
    return TestClient(create_app(root))


def test_the_runs_under_the_root_are_listed(client: TestClient, root: Path) -> None:
    body = client.get("/web/api/runs").json()
    assert body["root"] == str(root)
    assert [(r["name"], r["episodes"]) for r in body["runs"]] == [("big", 252), ("exp/arm-a", 1)]
    assert body["runs"][0]["settings"] == {"seeker": "act", "experts": "rule"}


@pytest.mark.parametrize(
    "name",
    ["../outside", "/etc", "big/../big", "./big", "", "big\\..", "escape", "linked", "exp//arm-a"],
)
def test_names_that_could_leave_the_root_are_refused(client: TestClient, name: str) -> None:
    for endpoint in ("run", "metrics", "episodes"):
        response = client.get(f"/web/api/{endpoint}", params={"name": name})
        assert response.status_code == 400, (endpoint, name, response.text)


def test_a_missing_run_or_episode_is_not_found(client: TestClient) -> None:
    assert client.get("/web/api/run", params={"name": "nope"}).status_code == 404
    assert client.get("/web/api/run", params={"name": "notes"}).status_code == 404
    missing = {"name": "big", "id": "no-such-episode"}
    assert client.get("/web/api/episode", params=missing).status_code == 404


def test_episodes_come_page_by_page_in_id_order_and_filter_by_outcome(client: TestClient) -> None:
    page = client.get("/web/api/episodes", params={"name": "big", "offset": 100}).json()
    assert page["total"] == 252 and page["offset"] == 100 and len(page["rows"]) == 50
    everything = client.get("/web/api/episodes", params={"name": "big", "limit": 10_000}).json()
    assert len(everything["rows"]) == MAX_PAGE == 200
    ids = [row["episode_id"] for row in everything["rows"]]
    assert ids == sorted(ids)
    failed = client.get("/web/api/episodes", params={"name": "big", "outcome": "failed"}).json()
    assert failed["total"] == 63
    assert {(r["outcome"], r["status"], r["error"]) for r in failed["rows"]} == {
        ("failed", "failed", "boom")
    }
    summary = client.get("/web/api/run", params={"name": "big"}).json()
    assert summary["outcomes"] == {"strict": 63, "success": 63, "no success": 63, "failed": 63}
    assert summary["manifest"]["name"] == "big"


def test_one_episode_keeps_its_text_as_written(client: TestClient) -> None:
    first = client.get("/web/api/episodes", params={"name": "exp/arm-a"}).json()["rows"][0]
    body = client.get("/web/api/episode", params={"name": "exp/arm-a", "id": first["episode_id"]})
    episode = body.json()
    assert episode["turns"][0]["seeker_reply"] == "<script>alert(1)</script>"
    assert len(episode["strategies"]) == 14 and episode["opening"]


def test_metrics_have_intervals_and_strategy_shares(client: TestClient) -> None:
    metrics = client.get("/web/api/metrics", params={"name": "big"}).json()
    assert metrics["n_episodes"] == 189 and metrics["n_failed"] == 63
    assert metrics["sr"]["value"] == pytest.approx(126 / 189)
    assert metrics["sr"]["low"] <= metrics["sr"]["value"] <= metrics["sr"]["high"]
    assert set(metrics["recall"]) == {"recall@1", "recall@5", "recall@10"}
    assert metrics["strategy_shares"][0]["Credibility"] == 1.0


def test_the_page_and_its_files_are_served_and_load_nothing_from_elsewhere(
    client: TestClient,
) -> None:
    assert client.get("/web", follow_redirects=False).headers["location"] == "/web/"
    page = client.get("/web/")
    assert page.status_code == 200 and "static/chat.js" in page.text
    for path in STATIC.iterdir():
        assert client.get(f"/web/static/{path.name}").status_code == 200
        text = path.read_text(encoding="utf-8").replace("http://www.w3.org/2000/svg", "")
        assert not re.search(r"(https?:)?//[a-z0-9]", text, re.IGNORECASE), path.name


def test_another_sites_page_cannot_read_the_runs(client: TestClient) -> None:
    other = client.get("/web/api/runs", headers={"Origin": "http://evil.example"})
    assert other.status_code == 403
    same = client.get("/web/api/runs", headers={"Origin": "http://testserver"})
    assert same.status_code == 200
