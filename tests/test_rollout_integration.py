"""Two short episodes against the real embedded SmolLM2 model: LLM seeker, experts and Rewarder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rollouts.config import RolloutConfig
from rollouts.runner import run_rollouts
from rso.runs.records import read_episodes

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


def test_two_llm_episodes_finish_or_fail_cleanly(tmp_path: Path) -> None:
    config = RolloutConfig(
        out=tmp_path / "llm",
        seeker="llm",
        experts="llm",
        episodes=2,
        max_turns=2,
        concurrency=2,
        rewarder_samples=2,
        context={"llm_timeout_s": 120.0},
    )
    summary = run_rollouts(config, progress=False)
    episodes = read_episodes(tmp_path / "llm" / "episodes.jsonl")
    assert summary.ran == len(episodes) == 2
    assert len({e.episode_id for e in episodes}) == 2
    for episode in episodes:
        if episode.status == "failed":
            assert episode.error  # a failure is recorded with its reason, never silently
            continue
        assert 1 <= episode.n_turns <= 2
        for turn in episode.turns:
            assert turn.reply.strip() and turn.seeker_reply.strip()
            assert turn.seeker_act is None  # the LLM seeker has no act labels
            assert len(turn.reward_samples) == 2
            assert turn.reward == pytest.approx(sum(turn.reward_samples) / 2)
            assert len(turn.top) == 50  # dense retrieval's ranked list, every turn
    assert any(e.status == "ok" for e in episodes), [e.error for e in episodes]
    manifest = json.loads((tmp_path / "llm" / "manifest.json").read_text())
    assert manifest["engine"] == "graph"
    assert {"reasoner", "retriever", "actor", "seeker", "rewarder"} <= set(manifest["models"])
    assert manifest["models"]["embedded_gguf"].endswith(".gguf")
