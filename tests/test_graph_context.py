from __future__ import annotations

from types import SimpleNamespace

import pytest

from graph.context import LLM_ROLES, Context, ContextError, context_from


def test_roles_inherit_the_global_backend_unless_overridden() -> None:
    context = Context(base_url="http://127.0.0.1:9/v1", model="m", actor_model="big", seed=5)
    actor, reasoner = context.llm("actor"), context.llm("reasoner")
    assert (actor.model, actor.base_url, actor.temperature) == ("big", "http://127.0.0.1:9/v1", 0.7)
    assert (reasoner.model, reasoner.temperature, reasoner.max_tokens) == ("m", 0.0, 320)
    assert actor.seed == 5 and actor.structured_method == "json_mode"
    assert {context.llm(role).model for role in LLM_ROLES} == {"m", "big"}
    with pytest.raises(ContextError, match="unknown LLM role"):
        context.llm("critic")  # type: ignore[arg-type]


def test_embedded_default_backend() -> None:
    settings = Context().llm("rewarder")
    assert settings.base_url is None  # the embedded server
    assert settings.structured_method == "function_calling"
    assert settings.temperature == 1.1


def test_environment_overrides_and_explicit_arguments_win(monkeypatch) -> None:
    monkeypatch.setenv("RSO_BASE_URL", "http://10.0.0.1:8000/v1")
    monkeypatch.setenv("RSO_ACTOR_MODEL", "Qwen/Qwen2.5-7B-Instruct")
    monkeypatch.setenv("RSO_USE_PLANNER", "false")
    monkeypatch.setenv("RSO_PLANNER_CHECKPOINT", "none")
    monkeypatch.setenv("RSO_TOP_K", "20")
    context = Context(top_k=10)
    assert context.base_url == "http://10.0.0.1:8000/v1" and context.use_planner is False
    assert context.llm("actor").model == "Qwen/Qwen2.5-7B-Instruct"
    assert context.planner_checkpoint is None and context.top_k == 10
    assert Context.from_env(top_k=30).top_k == 30 and Context.from_env().top_k == 20
    # An explicit mapping is hermetic: os.environ is not read.
    assert Context.from_env({}).base_url is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"RSO_TOP_K": "ten"}, "RSO_TOP_K='ten': expected an integer"),
        ({"RSO_TOP_K": "0"}, "RSO_TOP_K='0': top_k must be >= 1"),
        ({"RSO_PLANNER_MODE": "best"}, "RSO_PLANNER_MODE='best': expected one of sample, greedy"),
        ({"RSO_USE_RETRIEVER": "maybe"}, "RSO_USE_RETRIEVER='maybe': expected one of 1/0"),
        ({"RSO_STRUCTURED_METHOD": "xml"}, "RSO_STRUCTURED_METHOD='xml': expected one of"),
        ({"RSO_ACTOR_TEMPERATURE": "hot"}, "RSO_ACTOR_TEMPERATURE='hot': expected a number"),
        ({"RSO_N_CANDIDATES": "60"}, "n_candidates (60) must not exceed top_k (50)"),
        ({"RSO_BASE_URL": "localhost:8000"}, "base_url must start with http:// or https://"),
        ({"RSO_EXPERTS": "magic"}, "RSO_EXPERTS='magic': expected one of llm, rule"),
    ],
)
def test_invalid_environment_values_name_the_variable(monkeypatch, env, message) -> None:
    with pytest.raises(ContextError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Context.from_env(env)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ContextError, match=next(iter(env))):
        Context()


def test_invalid_arguments_are_clear_errors() -> None:
    with pytest.raises(ContextError, match="planner_mode must be one of sample, greedy"):
        Context(planner_mode="best")  # type: ignore[arg-type]
    with pytest.raises(ContextError, match="unknown Context field"):
        Context.from_env(top_kk=3)
    with pytest.raises(ContextError, match="actor_temperature must be >= 0"):
        Context().replace(actor_temperature=-1.0)


def test_context_from_runtime_accepts_instances_mappings_and_nothing(monkeypatch) -> None:
    monkeypatch.setenv("RSO_SEED", "11")
    assert context_from(SimpleNamespace(context=None)).seed == 11
    assert context_from(SimpleNamespace(context={"top_k": 5})).top_k == 5
    given = Context(seed=1)
    assert context_from(SimpleNamespace(context=given)) is given
    with pytest.raises(ContextError, match="must be a Context"):
        context_from(SimpleNamespace(context=42))


def test_every_field_is_documented() -> None:
    docs = Context.field_docs()
    assert all(docs.values()) and len(docs) > 30
