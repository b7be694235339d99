"""The Planner's RL update and the trainer's logged-run path (offline, no rollouts needed)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from policy.network import PlannerPolicy
from rl.features import FeatureCache, set_trainable
from rl.reinforce import ReinforceTrainer
from rl.reinforce_config import LOGGED_RUNS_LR, ON_POLICY_LR, RLConfig
from rl.steps import batch_from_episodes
from rl.update import centred_rewards, reinforce_step
from rso.data.records import EvalCase
from rso.runs.records import EpisodeRecord, TurnRecord, episode_id
from rso.runs.writer import RolloutWriter
from rso.strategies import STRATEGIES, STRATEGY_INDEX

GOOD, BAD = "Credibility", "No Strategy"
TEXTS = [
    "Seeker: Hello.",
    "Seeker: Hello.\nRecommender: What movies do you like?\nSeeker: I love horror.",
    "Seeker: Hello.\nRecommender: Hi!\nSeeker: Something scary please.",
]


@pytest.fixture(scope="module")
def base_policy() -> PlannerPolicy:
    return PlannerPolicy()


def _episode(
    index: int, strategies: list[str], rewards: list[float], probs: float
) -> EpisodeRecord:
    case = EvalCase(
        case_id=f"c{index}",
        dataset="inspired",
        dialog_id=f"d{index}",
        user_id="p1",
        target_genres=["horror"],
    )
    uniform = [1.0 / len(STRATEGIES)] * len(STRATEGIES)
    turns = []
    for t, (strategy, reward) in enumerate(zip(strategies, rewards, strict=True)):
        turns.append(
            TurnRecord(
                turn=t,
                planner_input=TEXTS[(index + t) % len(TEXTS)],
                strategy=strategy,  # type: ignore[arg-type]
                probs=uniform,
                logprob=math.log(probs),
                reward=reward,
                reward_samples=[reward],
                done=t == len(strategies) - 1,
            )
        )
    return EpisodeRecord(
        episode_id=episode_id(case.case_id, 0, index),
        case=case,
        persona_id="p1",
        goal="genre:horror",
        turns=turns,
        success=rewards[-1] > 0.7,
        n_turns=len(turns),
    )


def _logged_episodes(n: int) -> list[EpisodeRecord]:
    # Credibility is followed by acceptance, No Strategy by the seeker losing interest.
    out = []
    for i in range(n):
        good = i % 2 == 0
        strategy = GOOD if good else BAD
        out.append(_episode(i, [strategy, strategy], [0.6, 1.0 if good else 0.4], 1 / 14))
    return out


def test_update_moves_mass_toward_rewarded_strategy(base_policy: PlannerPolicy) -> None:
    policy = PlannerPolicy()
    set_trainable(policy, 0)
    FeatureCache(policy, 0, 100).install()
    batch = batch_from_episodes(_logged_episodes(8))
    before = policy.probabilities(TEXTS)
    optimizer = torch.optim.Adam([p for p in policy.parameters() if p.requires_grad], lr=0.05)
    config = RLConfig(init=None, beta=0.0, normalisation="batch", baseline=True)
    for _ in range(5):
        reinforce_step(policy, optimizer, batch, config)
    after = policy.probabilities(TEXTS)
    good, bad = STRATEGY_INDEX[GOOD], STRATEGY_INDEX[BAD]
    assert bool((after[:, good] > before[:, good] + 0.05).all())
    assert bool((after[:, bad] < before[:, bad]).all())


def test_entropy_bonus_keeps_distribution_broader() -> None:
    entropies = {}
    for beta in (0.0, 1.0):
        policy = PlannerPolicy()
        set_trainable(policy, 0)
        FeatureCache(policy, 0, 100).install()
        batch = batch_from_episodes(_logged_episodes(8))
        optimizer = torch.optim.Adam([p for p in policy.parameters() if p.requires_grad], lr=0.05)
        config = RLConfig(init=None, beta=beta, normalisation="batch")
        for _ in range(8):
            reinforce_step(policy, optimizer, batch, config)
        probs = policy.probabilities(TEXTS)
        entropies[beta] = float(-(probs * probs.log()).sum(-1).mean())
    assert entropies[1.0] > entropies[0.0]


def test_cached_encode_matches_the_encoder(base_policy: PlannerPolicy) -> None:
    direct = base_policy.encode(TEXTS)
    cache = FeatureCache(base_policy, 0, 100)
    assert torch.allclose(cache.encode(TEXTS), direct, atol=1e-5)
    top = FeatureCache(base_policy, 1, 100)
    assert torch.allclose(top.encode(TEXTS), direct, atol=1e-4)
    assert cache.encode(TEXTS[:1]).shape == (1, direct.shape[1])
    assert cache.hits == 1 and cache.misses == 3


def test_shared_feature_cache_encodes_each_text_once(base_policy: PlannerPolicy) -> None:
    first = FeatureCache(base_policy, 0, 100)
    first.encode(TEXTS)
    second = FeatureCache(PlannerPolicy(), 0, 100, share_with=first)
    assert torch.allclose(second.encode(TEXTS), first.encode(TEXTS))
    assert second.misses == 0 and second.hits == len(TEXTS)
    with pytest.raises(ValueError, match="cannot share"):
        FeatureCache(base_policy, 1, 100, share_with=first)


def test_decision_entropy_scale_is_a_stronger_bonus() -> None:
    # Two decisions per episode: "decision" doubles the bonus of "mean" at the same beta.
    entropies = {}
    for scale in ("mean", "decision"):
        policy = PlannerPolicy()
        set_trainable(policy, 0)
        FeatureCache(policy, 0, 100).install()
        batch = batch_from_episodes(_logged_episodes(8))
        optimizer = torch.optim.Adam([p for p in policy.parameters() if p.requires_grad], lr=0.05)
        config = RLConfig(init=None, beta=0.5, entropy_scale=scale, normalisation="batch")
        for _ in range(8):
            reinforce_step(policy, optimizer, batch, config)
        probs = policy.probabilities(TEXTS)
        entropies[scale] = float(-(probs * probs.log()).sum(-1).mean())
    assert entropies["decision"] > entropies["mean"]
    with pytest.raises(ValueError, match="entropy_scale"):
        RLConfig(init=None, entropy_scale="sum").validate()  # type: ignore[arg-type]


def test_centred_rewards_subtract_batch_mean() -> None:
    got = centred_rewards([[0.6, 1.0], [0.2]])
    assert [len(e) for e in got] == [2, 1]
    assert [r for e in got for r in e] == pytest.approx([0.0, 0.4, -0.4])


def test_importance_weights_come_from_logged_probabilities(base_policy: PlannerPolicy) -> None:
    # Logged under a policy that gave the taken strategy probability 0.9: the current (nearly
    # uniform) policy is ~13x less likely to take it, so the weight is pi/mu ~ 0.079.
    episodes = [_episode(0, [GOOD, GOOD], [0.6, 1.0], 0.9)]
    episodes[0].turns[0].probs = []
    episodes[0].turns[1].probs = []
    batch = batch_from_episodes(episodes)
    assert batch.behaviour.tolist() == pytest.approx([0.9, 0.9])
    policy = PlannerPolicy()
    set_trainable(policy, 0)
    optimizer = torch.optim.Adam([p for p in policy.parameters() if p.requires_grad], lr=1e-3)
    stats = reinforce_step(policy, optimizer, batch, RLConfig(init=None))
    assert stats.mean_weight == pytest.approx(1 / 14 / 0.9, rel=0.05)
    assert stats.clipped_fraction == 0.0
    # Logged at a tiny probability: the ratio is large and clipped at the configured bound.
    rare = [_episode(1, [GOOD, GOOD], [0.6, 1.0], 0.001)]
    rare[0].turns[0].probs = []
    rare[0].turns[1].probs = []
    clipped = reinforce_step(
        policy, optimizer, batch_from_episodes(rare), RLConfig(init=None, importance_clip=2.0)
    )
    assert clipped.mean_weight == pytest.approx(2.0)
    assert clipped.clipped_fraction == 1.0


def test_unusable_logs_are_refused() -> None:
    episode = _episode(0, [GOOD], [1.0], 0.5)
    episode.turns[0].planner_input = ""
    with pytest.raises(ValueError, match="no planner_input"):
        batch_from_episodes([episode], source="run.jsonl")
    ablated = _episode(1, [GOOD], [1.0], 0.5)
    ablated.turns[0].strategy = None
    with pytest.raises(ValueError, match="no_planner_decision: 1"):
        batch_from_episodes([ablated])


def _write_run(directory: Path, episodes: list[EpisodeRecord]) -> Path:
    with RolloutWriter(directory / "episodes.jsonl") as writer:
        for episode in episodes:
            writer.write(episode)
    return directory


def _config(out: Path, run: Path, updates: int, resume: bool = False) -> RLConfig:
    return RLConfig(
        init=None,
        from_runs=(run,),
        updates=updates,
        episodes_per_update=3,
        lr=0.01,
        seed=7,
        out=out,
        eval_cases=None,
        resume=resume,
        progress=False,
    )


def test_resume_continues_identically(tmp_path: Path) -> None:
    run = _write_run(tmp_path / "logged", _logged_episodes(5))
    straight = ReinforceTrainer(_config(tmp_path / "straight", run, 4)).run()

    ReinforceTrainer(_config(tmp_path / "split", run, 2)).run()
    with pytest.raises(FileExistsError, match="--resume"):
        ReinforceTrainer(_config(tmp_path / "split", run, 4))
    resumed = ReinforceTrainer(_config(tmp_path / "split", run, 4, resume=True))
    assert resumed.start_update == 2
    continued = resumed.run()

    assert len(continued.history) == len(straight.history) == 4
    for got, want in zip(continued.history, straight.history, strict=True):
        assert got["shares"] == pytest.approx(want["shares"])
        for key in ("update", "episodes", "mean_reward", "success_rate", "policy_entropy", "loss"):
            assert got[key] == pytest.approx(want[key], abs=1e-6), key
    from safetensors.torch import load_file

    w1 = load_file(str(tmp_path / "straight" / "planner" / "planner.safetensors"))
    w2 = load_file(str(tmp_path / "split" / "planner" / "planner.safetensors"))
    assert set(w1) == set(w2) == {"head.weight", "head.bias"}
    for name in w1:
        assert torch.allclose(w1[name], w2[name], atol=1e-6)
    curves = (tmp_path / "split" / "curves.csv").read_text().splitlines()
    assert len(curves) == 5 and curves[0].startswith("update,episodes,mean_reward")
    assert (tmp_path / "split" / "curves.png").stat().st_size > 0
    latest = json.loads((tmp_path / "split" / "latest.json").read_text())
    assert latest["update"] == 4
    assert [p.name for p in (tmp_path / "split" / "checkpoints").iterdir()] == ["update-0004"]


def test_logged_episodes_train_the_same_in_any_file_order(tmp_path: Path) -> None:
    # Concurrent rollouts write episodes in the order they finish, which varies from run to run.
    episodes = _logged_episodes(5)
    forward = _write_run(tmp_path / "forward", episodes)
    backward = _write_run(tmp_path / "backward", episodes[::-1])
    a = ReinforceTrainer(_config(tmp_path / "a", forward, 3)).run()
    b = ReinforceTrainer(_config(tmp_path / "b", backward, 3)).run()
    for got, want in zip(a.history, b.history, strict=True):
        assert got["loss"] == pytest.approx(want["loss"], abs=1e-6)
        assert got["policy_entropy"] == pytest.approx(want["policy_entropy"], abs=1e-6)


def test_learning_rate_defaults_by_the_kind_of_run(tmp_path: Path) -> None:
    assert RLConfig().learning_rate() == ON_POLICY_LR == 1e-2
    assert RLConfig(from_runs=(tmp_path,)).learning_rate() == LOGGED_RUNS_LR == 3e-3
    assert RLConfig(from_runs=(tmp_path,), lr=0.05).learning_rate() == 0.05
    # Saved settings hold the rate actually used, so runs saved with the old default resume.
    assert RLConfig().to_json()["lr"] == 1e-2
    with pytest.raises(ValueError, match="lr must be > 0"):
        RLConfig(lr=0.0).validate()


def test_resume_refuses_changed_settings(tmp_path: Path) -> None:
    run = _write_run(tmp_path / "logged", _logged_episodes(3))
    ReinforceTrainer(_config(tmp_path / "out", run, 1)).run()
    changed = _config(tmp_path / "out", run, 2, resume=True)
    changed.beta = 0.5
    with pytest.raises(ValueError, match="settings differ.*beta"):
        ReinforceTrainer(changed)


def test_resume_reads_runs_saved_before_the_entropy_scale_setting(tmp_path: Path) -> None:
    run = _write_run(tmp_path / "logged", _logged_episodes(3))
    ReinforceTrainer(_config(tmp_path / "out", run, 1)).run()
    state_file = next((tmp_path / "out" / "checkpoints").glob("*/*.json"))
    for candidate in (tmp_path / "out" / "checkpoints").glob("*/*.json"):
        if "history" in json.loads(candidate.read_text()):
            state_file = candidate
    state = json.loads(state_file.read_text())
    del state["config"]["entropy_scale"]  # as written by earlier versions: the paper's mean
    state_file.write_text(json.dumps(state))
    assert ReinforceTrainer(_config(tmp_path / "out", run, 2, resume=True)).start_update == 1
    changed = _config(tmp_path / "out", run, 2, resume=True)
    changed.entropy_scale = "decision"
    with pytest.raises(ValueError, match="settings differ.*entropy_scale"):
        ReinforceTrainer(changed)


def test_logged_run_training_prefers_rewarded_strategy(tmp_path: Path) -> None:
    run = _write_run(tmp_path / "logged", _logged_episodes(6))
    config = _config(tmp_path / "out", run, 6)
    config.lr = 0.05
    trainer = ReinforceTrainer(config)
    before = trainer.policy.probabilities(TEXTS)
    trainer.run()
    after = trainer.policy.probabilities(TEXTS)
    good = STRATEGY_INDEX[GOOD]
    assert bool((after[:, good] > before[:, good]).all())
    assert all(row["mean_weight"] > 0 for row in trainer.history)
