"""A run's manifest (settings, models, versions, history) and the checks before writing a run.

A run directory belongs to one set of settings: starting a run where another one is refused, and
resuming with other settings is refused unless forced; the manifest says what changed.
"""

from __future__ import annotations

import platform
import subprocess
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from graph.context import LLM_ROLES, Context, LLMRole
from graph.episode_context import RolloutContext
from rollouts.config import RolloutConfig
from rollouts.plan import excluded_reason
from rso import jsonio
from rso.runs.directory import RunDirectoryError, read_manifest
from rso.runs.records import read_episodes

MANIFEST_VERSION: Final = 1

#: Packages whose versions go into the manifest (missing ones are recorded as null).
RECORDED_PACKAGES: Final = (
    "rso-crs",
    "langgraph",
    "langchain-core",
    "langchain-openai",
    "llama-cpp-python",
    "torch",
    "transformers",
    "sentence-transformers",
    "faiss-cpu",
    "numpy",
    "pydantic",
)


def check_run_directory(
    config: RolloutConfig,
    episodes_path: Path,
    manifest_path: Path,
    settings: dict[str, Any],
    digest: str,
) -> dict[str, Any] | None:
    """Refuse to mix runs; return the previous manifest when resuming."""
    has_episodes = episodes_path.exists() and episodes_path.stat().st_size > 0
    previous = read_manifest(manifest_path) if manifest_path.exists() else None
    if not config.resume:
        if has_episodes or previous is not None:
            raise RunDirectoryError(
                f"{episodes_path.parent} already holds a run; pass --resume to continue it "
                "or choose another --out"
            )
        return None
    if previous is None:
        if has_episodes:
            digests = {e.settings_digest for e in read_episodes(episodes_path)}
            if digests - {digest} and not config.force:
                raise RunDirectoryError(
                    f"{episodes_path} holds episodes of other settings "
                    f"({', '.join(sorted(digests))}); pass --force to resume anyway"
                )
        return None
    if previous.get("settings_digest") != digest and not config.force:
        # Genre-mode settings leave the goal out (`RolloutConfig.settings`); name it when listed.
        changes = _differences(
            {"goal": "genre", **previous.get("settings", {})}, {"goal": "genre", **settings}
        )
        listed = "; ".join(f"{k}: {old!r} -> {new!r}" for k, (old, new) in changes.items())
        raise RunDirectoryError(
            f"{manifest_path} was written with other settings ({listed or 'digest differs'}); "
            "resume with the same settings, or pass --force"
        )
    return previous


def _differences(
    old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = ""
) -> dict[str, tuple[Any, Any]]:
    changes: dict[str, tuple[Any, Any]] = {}
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            changes.update(_differences(a, b, f"{prefix}{key}."))
        elif a != b:
            changes[f"{prefix}{key}"] = (a, b)
    return changes


def _roles_in_use(config: RolloutConfig) -> list[LLMRole]:
    roles: list[LLMRole] = []
    if config.experts == "llm":
        roles += ["reasoner", "retriever", "actor"]
    if config.seeker == "llm":
        roles += ["seeker", "rewarder"]
    return [r for r in LLM_ROLES if r in roles]


def _models(config: RolloutConfig, context: Context) -> dict[str, Any]:
    models: dict[str, Any] = {}
    for role in _roles_in_use(config):
        settings = context.llm(role)
        models[role] = {"model": settings.model_name, "base_url": settings.base_url or "embedded"}
    if any(m["base_url"] == "embedded" for m in models.values()):
        try:
            from graph.llm_server import find_smollm2_gguf

            models["embedded_gguf"] = find_smollm2_gguf().name
        except Exception as exc:  # the manifest must not fail a run; say why it is missing
            models["embedded_gguf"] = f"unavailable: {exc}"
    return models


def build_manifest(
    config: RolloutConfig,
    settings: dict[str, Any],
    digest: str,
    context: RolloutContext,
    previous: dict[str, Any] | None,
    started: str,
    planned: int,
    excluded: list[str],
) -> dict[str, Any]:
    """Return a new manifest, carrying the history of the run it resumes (`previous`)."""
    history = list(previous.get("history", [])) if previous else []
    if previous is not None:
        history.append(
            {
                "started_at": previous.get("started_at"),
                "finished_at": previous.get("finished_at"),
                "status": previous.get("status"),
                "settings_digest": previous.get("settings_digest"),
            }
        )
    return {
        "manifest_version": MANIFEST_VERSION,
        "name": Path(config.out).name,
        "settings": settings,
        "settings_digest": digest,
        "seed": config.seed,
        "planner": settings["planner"],
        "models": _models(config, context.recommender),
        "engine": "ray" if config.on_ray else context.engine,
        "concurrency": config.concurrency,
        **({"workers": config.workers} if config.on_ray else {}),
        "episodes_planned": planned,
        "excluded_cases": {"reason": excluded_reason(config.goal), "case_ids": excluded},
        "git": _git_state(),
        "packages": _package_versions(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "started_at": started,
        "finished_at": None,
        "status": "running",
        "history": history,
    }


def _git_state() -> dict[str, Any]:
    root = Path(__file__).resolve().parents[1]

    def git(*args: str) -> str | None:
        try:
            result = subprocess.run(
                ["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=True
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return result.stdout.strip()

    status = git("status", "--porcelain", "--untracked-files=no")
    return {
        "commit": git("rev-parse", "HEAD"),
        "dirty": bool(status) if status is not None else None,
    }


def _package_versions() -> dict[str, str | None]:
    from importlib import metadata

    versions: dict[str, str | None] = {}
    for name in RECORDED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def now() -> str:
    """Return the current UTC time as an ISO timestamp (seconds)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def write_manifest(path: Path, data: Mapping[str, Any]) -> None:
    """Write a manifest atomically as strict JSON."""
    jsonio.write_json(path, data, indent=2, default=str)
