"""Run settings of the recommender graph: one `Context` dataclass, with ``RSO_*`` overrides.

Nodes receive it as ``runtime.context`` (the graph is compiled with ``context_schema=Context``);
when a caller passes no context (e.g. ``langgraph dev`` without an assistant config), nodes fall
back to ``Context.from_env()``: the defaults below with any ``RSO_<FIELD>`` variable applied.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import MISSING, Field, dataclass, field, fields
from functools import partial
from typing import TYPE_CHECKING, Any, Final, Literal, get_args, get_type_hints

from graph.typed_text import parse_typed, value_problem
from rso.env import ENV_PREFIX, unknown_variables
from rso.modes import ExpertsMode, PlannerMode
from rso.paths import AUTO_ADAPTER_NAME, DEFAULT_ADAPTER_NAME, NO_ADAPTER_NAME

if TYPE_CHECKING:
    from graph.models import LLMSettings

#: The LLM roles; reasoner, retriever and actor run inside the graph, the others in rollouts/eval.
LLMRole = Literal["reasoner", "retriever", "actor", "seeker", "rewarder", "judge"]
LLM_ROLES: Final[tuple[LLMRole, ...]] = get_args(LLMRole)

#: How structured outputs are requested from the backend (mirrors `graph.models.StructuredMethod`).
StructuredMethodName = Literal["json_schema", "json_mode", "function_calling"]

#: Structured-output method per backend when none is set: llama.cpp's server rejects
#: json_schema but decodes a forced tool call under the schema's grammar; other servers get the
#: widely supported JSON mode (set json_schema for vLLM/OpenAI where constrained decoding exists).
EMBEDDED_STRUCTURED_METHOD: Final[StructuredMethodName] = "function_calling"
OTHER_STRUCTURED_METHOD: Final[StructuredMethodName] = "json_mode"


class ContextError(ValueError):
    """An invalid run setting; the message names the field or environment variable."""

    def __init__(self, message: str, field_name: str | None = None) -> None:
        super().__init__(message)
        self.field_name = field_name


def _default_planner_checkpoint() -> str | None:
    """Return the committed warm-up Planner when this checkout has it, else None (uniform)."""
    from rso.paths import DEFAULT_PLANNER_DIR

    return str(DEFAULT_PLANNER_DIR) if (DEFAULT_PLANNER_DIR / "planner.json").is_file() else None


#: Metadata key of a field's declared default (before any RSO_* variable applies).
_DECLARED = "declared_default"


def _field(default: Any, doc: str) -> Any:
    # The default and the doc live in metadata; `_env_defaults` turns the default into a factory
    # that applies the field's RSO_* variable, and `rso chat --help` and Studio can show the doc.
    # Pydantic (the API server's schema generator) reads the metadata keys named like its
    # `Field` arguments: "description" and "json_schema_extra" are those, so Studio's form shows
    # the doc and the declared default; "declared_default" is ours alone.
    return field(
        default=default,
        metadata={
            "description": doc,
            "json_schema_extra": {"default": default},
            _DECLARED: default,
        },
    )


def _env_default(name: str) -> Any:
    """Return a field's default: its ``RSO_<NAME>`` variable when set, else the declared value."""
    var = ENV_PREFIX + name.upper()
    if var in os.environ:
        return _parse_env(var, os.environ[var], _HINTS[name])
    return _DECLARED_DEFAULTS[name]


def _env_defaults(cls: type[Any]) -> type[Any]:
    """Make every `_field` default read its environment variable when the instance is created."""
    # Applied before @dataclass, so the generated __init__ calls these factories. This is what
    # lets a context built from a plain dict (Studio, the LangGraph server) honour RSO_* too.
    for name, value in list(vars(cls).items()):
        if isinstance(value, Field) and _DECLARED in value.metadata:
            value.default = MISSING
            value.default_factory = partial(_env_default, name)
    return cls


@dataclass(frozen=True, kw_only=True)
@_env_defaults
class Context:
    """Every setting of one recommender run; frozen so a run cannot change it halfway.

    Each default below is overridden by the environment variable ``RSO_<FIELD NAME>`` (e.g.
    ``RSO_BASE_URL``, ``RSO_ACTOR_MODEL``, ``RSO_PLANNER_MODE``); explicit arguments win over both.
    """

    # --- LLM backend shared by all roles (each role may override model / base URL) -------------
    model: str | None = _field(
        None,
        "Model name for every LLM role that sets no model of its own; None = the backend's "
        "default (the embedded SmolLM2-135M-Instruct).",
    )
    base_url: str | None = _field(
        None,
        "OpenAI-compatible /v1 base URL for every role without its own; None = the embedded "
        "SmolLM2 llama.cpp server, started on first use.",
    )
    api_key: str | None = _field(None, "API key for the backend; None = a placeholder key.")
    structured_method: StructuredMethodName | None = _field(
        None,
        "How structured outputs are requested; None = per backend: function_calling for the "
        "embedded llama.cpp server (schema grammar), json_mode for any other base URL.",
    )
    llm_timeout_s: float = _field(
        120.0, "Timeout of one LLM request, in seconds (a busy 2-core CPU is slow)."
    )
    llm_max_retries: int = _field(2, "Retries of a failed or unparsable LLM call.")

    # --- per role: None inherits the global value; structured roles' budgets cover their answers'
    # schema bounds (`graph.constrained.answer_token_bound`, tested)
    reasoner_model: str | None = _field(None, "Preference Reasoner model (None = `model`).")
    reasoner_base_url: str | None = _field(None, "Preference Reasoner base URL (None = global).")
    reasoner_temperature: float = _field(0.0, "Preference Reasoner temperature.")
    reasoner_max_tokens: int = _field(320, "Preference Reasoner output budget, in tokens.")

    retriever_model: str | None = _field(None, "Fact Retriever model (None = `model`).")
    retriever_base_url: str | None = _field(None, "Fact Retriever base URL (None = global).")
    retriever_temperature: float = _field(0.0, "Fact Retriever temperature.")
    retriever_max_tokens: int = _field(384, "Fact Retriever output budget, in tokens.")

    actor_model: str | None = _field(None, "Actor model (None = `model`).")
    actor_base_url: str | None = _field(None, "Actor base URL (None = global).")
    actor_temperature: float = _field(0.7, "Actor temperature.")
    actor_max_tokens: int = _field(96, "Actor output budget, in tokens (replies are brief).")
    actor_adapter: str | None = _field(
        "auto",
        "LoRA adapter GGUF of the tuned Actor, served by a second embedded server (the other "
        "roles keep the plain model): 'auto' = the shipped adapter when the Actor runs on the "
        "embedded model, none when it is served; 'default' = the shipped "
        "models/actor-lora/actor-lora.gguf; a path = another adapter; 'none' or None = the "
        "untuned prompt. An adapter named explicitly needs the embedded model for the Actor.",
    )

    seeker_model: str | None = _field(None, "Simulated seeker model (None = `model`).")
    seeker_base_url: str | None = _field(None, "Simulated seeker base URL (None = global).")
    seeker_temperature: float = _field(0.7, "Simulated seeker temperature.")
    seeker_max_tokens: int = _field(96, "Simulated seeker output budget, in tokens.")

    rewarder_model: str | None = _field(None, "Rewarder model (None = `model`).")
    rewarder_base_url: str | None = _field(None, "Rewarder base URL (None = global).")
    rewarder_temperature: float = _field(1.1, "Rewarder temperature (the method samples at 1.1).")
    rewarder_max_tokens: int = _field(32, "Rewarder output budget, in tokens.")

    judge_model: str | None = _field(None, "Evaluation judge model (None = `model`).")
    judge_base_url: str | None = _field(None, "Evaluation judge base URL (None = global).")
    judge_temperature: float = _field(0.0, "Evaluation judge temperature.")
    judge_max_tokens: int = _field(128, "Evaluation judge output budget, in tokens.")

    # --- retrieval --------------------------------------------------------------------------------
    top_k: int = _field(50, "Movies kept by dense retrieval (the ranked list used for Recall@k).")
    n_candidates: int = _field(3, "Top retrieved movies passed on to the Fact Retriever's LLM.")

    # --- planner ----------------------------------------------------------------------------------
    planner_checkpoint: str | None = _field(
        _default_planner_checkpoint(),
        "Planner: a checkpoint path (default: the committed warm-up Planner, models/planner-sft); "
        "None or 'uniform' = uniform over the 14 strategies; 'majority' = the "
        "most frequent INSPIRED train strategy; 'memory:<key>' = a live policy registered with "
        "policy.planners.register_policy (see policy/planners.py).",
    )
    planner_mode: PlannerMode = _field(
        "sample",
        "sample = draw the strategy (seeded per turn); greedy = argmax. rso chat, the demo and "
        "the web page use greedy unless this is set.",
    )

    # --- ablations and implementation ------------------------------------------------------------
    use_planner: bool = _field(
        True, "False = no strategy: the generic Actor prompt, no Planner (ablation)."
    )
    use_reasoner: bool = _field(
        True, "False = skip the Preference Reasoner; experts read the dialogue instead (ablation)."
    )
    use_retriever: bool = _field(
        True, "False = skip the Fact Retriever: no retrieved candidates or facts (ablation)."
    )
    experts: ExpertsMode = _field(
        "llm", "Implementation of Reasoner, Retriever and Actor: llm, or rule (LLM-free)."
    )

    # --- prompt budget ---------------------------------------------------------------------------
    history_messages: int = _field(
        8, "Most recent messages shown to the LLM experts (the Planner sees all, left-truncated)."
    )
    max_message_chars: int = _field(
        1500, "Longer messages are clipped (keeping their end) inside LLM prompts; logged."
    )

    seed: int = _field(0, "Seed of the Planner's per-turn draws and of the LLM sampling.")

    def __post_init__(self) -> None:
        """Reject values that no run can use, naming the field (and its variable, if set)."""
        try:
            self._validate()
        except ContextError as exc:
            var = ENV_PREFIX + (exc.field_name or "").upper()
            if exc.field_name and var in os.environ:
                message = f"{exc} ({var} is set to {os.environ[var]!r})"
                raise ContextError(message, exc.field_name) from None
            raise

    def _validate(self) -> None:
        for f in fields(self):
            _check_literal(f.name, getattr(self, f.name), _HINTS[f.name])
        positive = ("top_k", "n_candidates", "history_messages", "max_message_chars")
        for name in positive + tuple(f"{r}_max_tokens" for r in LLM_ROLES):
            if getattr(self, name) < 1:
                raise ContextError(f"{name} must be >= 1, got {getattr(self, name)}", name)
        if self.n_candidates > self.top_k:
            raise ContextError(
                f"n_candidates ({self.n_candidates}) must not exceed top_k ({self.top_k})",
                "n_candidates",
            )
        for name in (f"{r}_temperature" for r in LLM_ROLES):
            if getattr(self, name) < 0:
                raise ContextError(f"{name} must be >= 0, got {getattr(self, name)}", name)
        for name in ("base_url", *(f"{r}_base_url" for r in LLM_ROLES)):
            url = getattr(self, name)
            if url is not None and not url.startswith(("http://", "https://")):
                raise ContextError(f"{name} must start with http:// or https://, got {url!r}", name)
        named = self.actor_adapter not in (None, AUTO_ADAPTER_NAME, NO_ADAPTER_NAME)
        if named and (self.actor_base_url or self.base_url):
            raise ContextError(
                f"actor_adapter {self.actor_adapter!r} needs the embedded model for the Actor; "
                "unset base_url and actor_base_url, or set actor_adapter to 'auto' or 'none'",
                "actor_adapter",
            )
        if self.llm_max_retries < 0:
            raise ContextError("llm_max_retries must be >= 0", "llm_max_retries")
        if self.llm_timeout_s <= 0:
            raise ContextError("llm_timeout_s must be > 0", "llm_timeout_s")

    @property
    def actor_adapter_in_use(self) -> str | None:
        """The Actor's adapter setting once 'auto' and 'none' are resolved (None: untuned)."""
        if self.actor_adapter in (None, NO_ADAPTER_NAME):
            return None
        if self.actor_adapter == AUTO_ADAPTER_NAME:
            served = self.actor_base_url or self.base_url
            return None if served else DEFAULT_ADAPTER_NAME
        return self.actor_adapter

    def llm(self, role: LLMRole) -> LLMSettings:
        """Build the `LLMSettings` of one role, inheriting the global model and base URL."""
        from graph.models import LLMSettings  # lazy: keeps `import graph.context` light

        if role not in LLM_ROLES:
            raise ContextError(f"unknown LLM role {role!r}; expected one of {', '.join(LLM_ROLES)}")
        base_url = getattr(self, f"{role}_base_url") or self.base_url
        method = self.structured_method or (
            EMBEDDED_STRUCTURED_METHOD if base_url is None else OTHER_STRUCTURED_METHOD
        )
        settings: dict[str, Any] = {
            "base_url": base_url,
            "temperature": getattr(self, f"{role}_temperature"),
            "max_tokens": getattr(self, f"{role}_max_tokens"),
            "structured_method": method,
            "timeout_s": self.llm_timeout_s,
            "max_retries": self.llm_max_retries,
            "seed": self.seed,
        }
        # Unset model and key keep LLMSettings' own defaults (the embedded model, a dummy key).
        model = getattr(self, f"{role}_model") or self.model
        if model is not None:
            settings["model"] = model
        if self.api_key is not None:
            settings["api_key"] = self.api_key
        if role == "actor" and (adapter := self.actor_adapter_in_use) is not None:
            from rso.paths import actor_adapter_path

            settings["lora_path"] = str(actor_adapter_path(adapter))
        return LLMSettings(**settings)

    def replace(self, **changes: Any) -> Context:
        """Return a copy with some fields changed (validated like the original)."""
        _check_names(changes)
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Context:
        """Return the defaults, then ``RSO_<FIELD>`` variables of `environ`, then `overrides`."""
        _check_names(overrides)
        if environ is None:
            return cls(**overrides)  # the field factories read os.environ
        values: dict[str, Any] = dict(_DECLARED_DEFAULTS)
        for name in _DECLARED_DEFAULTS:
            var = ENV_PREFIX + name.upper()
            if var in environ:
                values[name] = _parse_env(var, environ[var], _HINTS[name])
        values.update(overrides)
        try:
            return cls(**values)
        except ContextError as exc:
            bad = exc.field_name
            if bad is not None and bad not in overrides and ENV_PREFIX + bad.upper() in environ:
                var = ENV_PREFIX + bad.upper()
                raise ContextError(f"{var}={environ[var]!r}: {exc}", bad) from None
            raise

    @classmethod
    def variables(cls) -> dict[str, str]:
        """Environment variable -> the field it sets (``RSO_BASE_URL`` -> ``base_url``)."""
        return {ENV_PREFIX + f.name.upper(): f.name for f in fields(cls)}

    @classmethod
    def field_docs(cls) -> dict[str, str]:
        """Field name -> its one-line documentation."""
        return {f.name: f.metadata.get("description", "") for f in fields(cls)}


def _check_names(values: Mapping[str, Any]) -> None:
    known = {f.name for f in fields(Context)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ContextError(f"unknown Context field(s): {', '.join(unknown)}", unknown[0])


def _check_literal(name: str, value: Any, tp: Any) -> None:
    problem = value_problem(value, tp)
    if problem is not None:
        raise ContextError(f"{name} {problem}", name)


def _parse_env(var: str, raw: str, tp: Any) -> Any:
    try:
        return parse_typed(raw, tp)
    except ValueError as exc:
        raise ContextError(f"{var}={raw!r}: {exc}", var[len(ENV_PREFIX) :].lower()) from None


_HINTS: Final[dict[str, Any]] = get_type_hints(Context)
_DECLARED_DEFAULTS: Final[dict[str, Any]] = {
    f.name: f.metadata[_DECLARED] for f in fields(Context) if _DECLARED in f.metadata
}


def unknown_setting_warnings(environ: Mapping[str, str] | None = None) -> list[str]:
    """One warning per ``RSO_*`` variable that names no setting, with the closest setting."""
    found = unknown_variables(os.environ if environ is None else environ, Context.variables())
    return [
        f"{var} is not a setting and is ignored" + (f"; did you mean {close}?" if close else "")
        for var, close in found
    ]


def context_from(runtime: Any) -> Context:
    """Return the run's `Context` from a node's runtime; defaults plus ``RSO_*`` if absent."""
    context = getattr(runtime, "context", None)
    if isinstance(context, Context):
        return context
    if context is None:
        return Context.from_env()
    if isinstance(context, Mapping):
        # A context sent as JSON (e.g. by the LangGraph server) arrives as a mapping.
        return Context.from_env(**context)
    raise ContextError(f"runtime.context must be a Context, got {type(context).__name__}")
