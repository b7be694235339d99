"""Baseline planners (uniform, majority, none), checkpoints and live policies in rollouts."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest
import torch

from policy.planners import (
    FixedPlanner,
    PlannerSpecError,
    PolicyPlanner,
    context_overrides,
    majority_strategy,
    most_frequent_strategy,
    planner_source,
    register_policy,
    registered_policy,
    unregister_policy,
)
from rollouts.config import RolloutConfig
from rollouts.runner import run_rollouts
from rso.data.inspired import planner_samples
from rso.runs.records import EpisodeRecord
from rso.strategies import STRATEGIES


def run(tmp_path: Path, name: str, **changes: object) -> list[EpisodeRecord]:
    """A short fast-mode run; every episode must finish cleanly."""
    values: dict[str, object] = {"episodes": 5, "max_turns": 4, "concurrency": 2} | changes
    config = RolloutConfig(out=tmp_path / name, **values)  # type: ignore[arg-type]
    episodes = run_rollouts(config, progress=False).episodes
    assert episodes and all(e.status == "ok" for e in episodes), [e.error for e in episodes]
    return episodes


def test_majority_is_the_most_frequent_train_label() -> None:
    counts = Counter(s.label for s in planner_samples("train"))
    assert majority_strategy() == counts.most_common(1)[0][0]
    assert most_frequent_strategy(["Similarity", "Credibility", "Credibility"]) == "Credibility"
    # A tie goes to the strategy listed first.
    assert most_frequent_strategy(["Similarity", "Credibility"]) == min(
        ("Similarity", "Credibility"), key=STRATEGIES.index
    )
    with pytest.raises(ValueError):
        most_frequent_strategy([])


def test_planner_names_map_to_context_settings(tmp_path: Path) -> None:
    assert context_overrides("none") == {"use_planner": False, "planner_checkpoint": None}
    assert context_overrides("uniform") == {"use_planner": True, "planner_checkpoint": None}
    assert context_overrides("majority")["planner_checkpoint"] == "majority"
    assert context_overrides(str(tmp_path))["planner_checkpoint"] == str(tmp_path)
    with pytest.raises(PlannerSpecError, match="no such checkpoint"):
        context_overrides(str(tmp_path / "missing"))
    with pytest.raises(PlannerSpecError, match="no in-memory policy"):
        planner_source("memory:404")
    one_hot = FixedPlanner("Credibility").distributions(["a", "b"])
    assert len(one_hot) == 2 and one_hot[0][STRATEGIES.index("Credibility")] == 1.0
    assert sum(one_hot[1]) == 1.0


def test_majority_always_picks_the_same_strategy(tmp_path: Path) -> None:
    episodes = run(tmp_path, "majority", planner="majority")
    strategies = {t.strategy for e in episodes for t in e.turns}
    assert strategies == {majority_strategy()}
    assert all(t.logprob == 0.0 for e in episodes for t in e.turns)


def test_none_plays_without_a_strategy(tmp_path: Path) -> None:
    episodes = run(tmp_path, "none", planner="none")
    turns = [t for e in episodes for t in e.turns]
    assert turns and all(t.strategy is None and t.probs == [] for t in turns)
    assert all(t.logprob is None and t.planner_input == "" for t in turns)


def test_uniform_draws_many_strategies(tmp_path: Path) -> None:
    episodes = run(tmp_path, "uniform", planner="uniform", episodes=10)
    assert len({t.strategy for e in episodes for t in e.turns}) >= 5


class CountingPolicy:
    """A stand-in PlannerPolicy: prefers Credibility, counts its forward passes."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.calls: list[int] = []
        self.delay_s = delay_s
        self.lock = threading.Lock()

    def probabilities(self, texts: Sequence[str]) -> torch.Tensor:
        with self.lock:
            self.calls.append(len(texts))
        if self.delay_s:
            threading.Event().wait(self.delay_s)
        probs = torch.full((len(texts), len(STRATEGIES)), 0.5 / (len(STRATEGIES) - 1))
        probs[:, STRATEGIES.index("Credibility")] = 0.5
        return probs


def test_an_in_memory_policy_drives_the_rollout(tmp_path: Path) -> None:
    policy = CountingPolicy()
    config = RolloutConfig(out=tmp_path / "live", episodes=4, max_turns=4, concurrency=1)
    summary = run_rollouts(config, policy=policy, progress=False)  # type: ignore[arg-type]
    assert summary.failed == 0, [e.error for e in summary.episodes]
    turns = [t for e in summary.episodes for t in e.turns]
    assert len(turns) >= 4
    assert sum(policy.calls) == len(turns)
    credibility = STRATEGIES.index("Credibility")
    assert all(t.probs[credibility] == pytest.approx(0.5) for t in turns)
    chosen = [t for t in turns if t.strategy == "Credibility"]
    assert all(t.logprob == pytest.approx(-0.6931, abs=1e-3) for t in chosen)
    manifest = json.loads((tmp_path / "live" / "manifest.json").read_text())
    assert manifest["settings"]["planner"] == "memory"


def test_concurrent_callers_share_forward_passes() -> None:
    policy = CountingPolicy(delay_s=0.02)
    planner = PolicyPlanner(policy)  # type: ignore[arg-type]
    results: list[list[float]] = []
    barrier = threading.Barrier(8)

    def ask(i: int) -> None:
        barrier.wait()
        results.append(planner.distribution(f"Seeker: hello {i}"))

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8 and sum(policy.calls) == 8
    assert len(policy.calls) < 8  # waiting callers were batched together
    assert planner.passes == len(policy.calls) and planner.scored == 8


def test_a_failing_policy_fails_every_waiting_caller() -> None:
    class Broken:
        def probabilities(self, texts: Sequence[str]) -> torch.Tensor:
            raise RuntimeError("out of memory")

    planner = PolicyPlanner(Broken())  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="out of memory"):
        planner.distribution("Seeker: hi")
    with pytest.raises(RuntimeError, match="out of memory"):  # no lock left behind
        planner.distribution("Seeker: hi again")


def test_registry_names_and_cleanup() -> None:
    planner = PolicyPlanner(CountingPolicy())  # type: ignore[arg-type]
    spec = register_policy(planner, name="unit")
    assert spec == "memory:unit" and planner_source(spec) is planner
    with pytest.raises(PlannerSpecError, match="already registered"):
        register_policy(PolicyPlanner(CountingPolicy()), name="unit")  # type: ignore[arg-type]
    unregister_policy(spec)
    with registered_policy(planner) as other:
        assert planner_source(other) is planner
    with pytest.raises(PlannerSpecError):
        planner_source(other)


def test_a_checkpoint_path_is_loaded_once_and_batched(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import policy.planners as planners

    policy = CountingPolicy()
    loaded: list[str] = []

    def load(path: str) -> CountingPolicy:
        loaded.append(path)
        return policy

    monkeypatch.setattr(planners, "load_policy", load)
    checkpoint = tmp_path / "planner"
    checkpoint.mkdir()
    episodes = run(tmp_path, "ckpt", planner=str(checkpoint), concurrency=4)
    turns = [t for e in episodes for t in e.turns]
    assert sum(policy.calls) == len(turns) and set(loaded) == {str(checkpoint)}
    assert all(t.probs[STRATEGIES.index("Credibility")] == pytest.approx(0.5) for t in turns)
    manifest = json.loads((tmp_path / "ckpt" / "manifest.json").read_text())
    assert manifest["settings"]["context"]["planner_checkpoint"] == str(checkpoint)


def test_the_committed_planner_plays_the_same_episodes_at_any_concurrency(tmp_path: Path) -> None:
    # Batched forward passes of a neural Planner depend on the batch only in the last float bits
    # (about 1e-7): the strategies, replies and outcomes are the same at any concurrency.
    runs = [
        run_rollouts(
            RolloutConfig(out=tmp_path / str(c), episodes=6, max_turns=4, concurrency=c),
            progress=False,
        )
        for c in (1, 3)
    ]
    one, three = ({e.episode_id: e for e in run.episodes} for run in runs)
    assert one.keys() == three.keys()
    for key, episode in one.items():
        other = three[key]
        assert (episode.success, episode.n_turns) == (other.success, other.n_turns)
        for a, b in zip(episode.turns, other.turns, strict=True):
            assert (a.strategy, a.reply, a.seeker_reply) == (b.strategy, b.reply, b.seeker_reply)
            assert a.probs == pytest.approx(b.probs, abs=1e-6)
