import json
import math
from pathlib import Path

import pytest
import torch

from policy.checkpoint import (
    CONFIG_FILE,
    INTEGRITY_KEY,
    WEIGHTS_FILE,
    config_sha256,
    load_checkpoint,
    save_checkpoint,
)
from policy.network import (
    IncompatibleCheckpointError,
    PlannerConfig,
    PlannerPolicy,
)
from rso.dialogue import format_dialogue
from rso.strategies import STRATEGIES

TEXTS = [
    format_dialogue([("SEEKER", "Hello."), ("RECOMMENDER", "Hi! What movies do you like?")]),
    format_dialogue([("Seeker", "I love old westerns and anything with Clint Eastwood.")]),
]


@pytest.fixture(scope="module")
def policy() -> PlannerPolicy:
    return PlannerPolicy(PlannerConfig(max_length=48))


def _perturb(policy: PlannerPolicy, prefixes: list[str]) -> None:
    # Make the trained part differ from the base so a round trip proves something.
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in policy.named_parameters():
            if name.startswith(tuple(prefixes)):
                p.add_(torch.randn(p.shape, generator=generator) * 0.05)


def test_format_dialogue_speakers_and_lines() -> None:
    text = format_dialogue(
        [("SEEKER", "Hello."), ("RECOMMENDER", "Hi!\nWhat do you like?"), ("Seeker", " Comedies ")]
    )
    assert text == "Seeker: Hello.\nRecommender: Hi! What do you like?\nSeeker: Comedies"
    with pytest.raises(ValueError, match="turn 0: unknown speaker 'Narrator'"):
        format_dialogue([("Narrator", "Once upon a time")])


def test_logits_and_probabilities_shapes(policy: PlannerPolicy) -> None:
    logits = policy(TEXTS)
    assert logits.shape == (2, len(STRATEGIES))
    probs = policy.probabilities(TEXTS)
    assert probs.shape == (2, 14)
    assert torch.allclose(probs.sum(dim=-1), torch.ones(2))
    assert not probs.requires_grad
    assert policy.log_probabilities(TEXTS).requires_grad
    with pytest.raises(TypeError, match="sequence"):
        policy.tokenize(TEXTS[0])


def test_left_truncation_keeps_newest_turn(policy: PlannerPolicy) -> None:
    turns = [("SEEKER", "aardvark " * 5)] + [("RECOMMENDER", "filler words here")] * 20
    turns.append(("SEEKER", "zebra zebra"))
    batch = policy.tokenize([format_dialogue(turns)], max_length=16)
    decoded = policy.tokenizer.decode(batch["input_ids"][0], skip_special_tokens=True)
    assert batch["input_ids"].shape[1] == 16
    assert decoded.endswith("seeker : zebra zebra")
    assert "aardvark" not in decoded
    # The classifier token is still first after truncation.
    assert int(batch["input_ids"][0, 0]) == policy.tokenizer.cls_token_id


def test_split_forward_equals_full_forward(policy: PlannerPolicy) -> None:
    batch = policy.tokenize(TEXTS)
    with torch.no_grad():
        full = policy.encode(TEXTS)
        lower = policy.lower_hidden(batch, 2)
        upper = policy.upper_pooled(lower, batch["attention_mask"], 2)
    assert torch.allclose(full, upper, atol=1e-5)
    # The swap used for the split is undone afterwards.
    assert len(policy.transformer_layers()) == 6
    assert policy.encoder.config.num_hidden_layers == 6


def test_greedy_is_argmax_and_sampling_follows_probabilities(policy: PlannerPolicy) -> None:
    target = torch.tensor([0.5, 0.3, 0.2] + [0.0] * 11) + 1e-6
    saved = {k: v.clone() for k, v in policy.head.state_dict().items()}
    try:
        with torch.no_grad():
            # A zero weight makes the output independent of the text: probabilities = target.
            policy.head.weight.zero_()
            policy.head.bias.copy_(target.log())
        texts = [TEXTS[0]] * 200
        greedy, probs = policy.choose(texts[:3], greedy=True)
        assert greedy == [STRATEGIES[0]] * 3
        assert torch.allclose(probs[0], target / target.sum(), atol=1e-5)
        first, _ = policy.choose(texts, greedy=False, generator=torch.Generator().manual_seed(7))
        again, _ = policy.choose(texts, greedy=False, generator=torch.Generator().manual_seed(7))
        assert first == again  # seeded sampling is reproducible
        shares = [first.count(STRATEGIES[i]) / len(first) for i in range(3)]
        assert set(first) == set(STRATEGIES[:3])
        assert shares == pytest.approx([0.5, 0.3, 0.2], abs=0.1)
    finally:
        policy.head.load_state_dict(saved)


@pytest.mark.parametrize(("dtype", "atol"), [("float32", 1e-6), ("float16", 5e-3)])
def test_partial_checkpoint_round_trip(
    policy: PlannerPolicy, tmp_path: Path, dtype: str, atol: float
) -> None:
    prefixes = policy.top_layer_prefixes(1)
    saved_params = {k: v.clone() for k, v in policy.state_dict().items()}
    try:
        _perturb(policy, prefixes)
        expected = policy.probabilities(TEXTS)
        save_checkpoint(policy, tmp_path, trained_prefixes=prefixes, dtype=dtype)  # type: ignore[arg-type]
        loaded = load_checkpoint(tmp_path)
    finally:
        policy.load_state_dict(saved_params)
    assert not loaded.training  # loaded for inference
    assert loaded.config.max_length == 48
    assert torch.allclose(loaded.probabilities(TEXTS), expected, atol=atol)
    config = json.loads((tmp_path / CONFIG_FILE).read_text())
    assert config["labels"] == list(STRATEGIES)
    assert config["stored"] == "partial"
    # Only the top block and the head are stored: far smaller than the 90 MB backbone.
    assert (tmp_path / WEIGHTS_FILE).stat().st_size < 8_000_000


def test_full_checkpoint_round_trip(policy: PlannerPolicy, tmp_path: Path) -> None:
    save_checkpoint(policy, tmp_path, dtype="float32")
    loaded = load_checkpoint(tmp_path)
    assert torch.equal(loaded.probabilities(TEXTS), policy.probabilities(TEXTS))


@pytest.fixture(scope="module")
def saved_dir(policy: PlannerPolicy, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("planner")
    save_checkpoint(policy, path, trained_prefixes=["head."], metadata={"note": "test"})
    return path


def _edited_copy(src: Path, dst: Path, edit: dict[str, object]) -> Path:
    dst.mkdir()
    (dst / WEIGHTS_FILE).write_bytes((src / WEIGHTS_FILE).read_bytes())
    config = json.loads((src / CONFIG_FILE).read_text())
    for dotted, value in edit.items():
        node = config
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node[key]
        node[leaf] = value
    # Re-hashed, so that the check under test is the one that refuses, not the config hash.
    config[INTEGRITY_KEY]["config_sha256"] = config_sha256(config)
    (dst / CONFIG_FILE).write_text(json.dumps(config))
    return dst


def test_refuses_other_label_order(saved_dir: Path, tmp_path: Path) -> None:
    bad = _edited_copy(saved_dir, tmp_path / "c", {"labels": list(reversed(STRATEGIES))})
    with pytest.raises(IncompatibleCheckpointError, match="label order"):
        load_checkpoint(bad)


def test_refuses_other_backbone(saved_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(IncompatibleCheckpointError, match="'roberta-large' was requested"):
        load_checkpoint(saved_dir, backbone="roberta-large")
    bad = _edited_copy(saved_dir, tmp_path / "c", {"backbone.config_fingerprint": "0" * 16})
    with pytest.raises(IncompatibleCheckpointError, match="config fingerprint"):
        load_checkpoint(bad)


def test_refuses_other_base_weights(saved_dir: Path, tmp_path: Path) -> None:
    bad = _edited_copy(saved_dir, tmp_path / "c", {"backbone.frozen_weights_fingerprint": "f" * 16})
    with pytest.raises(IncompatibleCheckpointError, match="base weights"):
        load_checkpoint(bad)


def test_missing_checkpoint_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="planner.json"):
        load_checkpoint(tmp_path / "nowhere")


def test_checkpoint_metadata_kept(saved_dir: Path) -> None:
    config = json.loads((saved_dir / CONFIG_FILE).read_text())
    assert config["metadata"] == {"note": "test"}
    assert math.isclose(config["planner"]["dropout"], 0.1)
