"""Batch rollouts: many simulated episodes, run concurrently, logged to a resumable run directory.

    summary = run_rollouts(RolloutConfig(out=Path("runs/uniform"), planner="uniform"))

A run directory holds ``episodes.jsonl`` (one schema-versioned `EpisodeRecord` a line, appended
and fsynced per finished episode by `RolloutWriter`) and ``manifest.json`` (settings and their
digest, model names, planner, seed, git commit, package versions, start and end times), and after
a resume that retried failed episodes, ``failed.jsonl`` (their earlier failed records).

Episodes: episode ``i`` plays case ``i mod C`` (C usable cases, in file order or shuffled by the
seed) with episode index ``i div C``, so asking for more episodes than cases cycles through them
with new indices, and a longer run extends a shorter one with the same ids. Each episode's seed
derives from the run seed, the case and the index (`graph.episode.episode_seed`), never from the
order in which threads finish, so a fast-mode run is reproducible at any concurrency.

Resume: episodes finished "ok" are skipped, a torn last line is cut off, and a run whose manifest
holds different settings is refused unless ``force``. Failed episodes of the plan are played again
(unless ``retry_failed`` is off): their records move from ``episodes.jsonl`` to ``failed.jsonl``
first (`RolloutWriter.set_aside_failed`), so ``episodes.jsonl`` keeps holding each episode once,
its latest attempt, and every earlier failed attempt stays in ``failed.jsonl``. Concurrency, the
engine and the number of episodes may change between resumes; they do not change any episode's
result. An exception inside an episode (an LLM failure, say) is logged as a failed episode with
its error and the batch goes on; the turns played before the failure are kept.
"""

from __future__ import annotations

import concurrent.futures as futures
import dataclasses
import json
import platform
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from graph.context import LLM_ROLES, Context, LLMRole
from graph.episode import (
    EngineName,
    RolloutContext,
    episode_seed,
    episode_steps,
    goal_of,
    has_goal,
    rollout_graph,
    run_graph,
)
from policy.planners import MEMORY_PREFIX, context_overrides, registered_policy
from rso import jsonio
from rso.data.eval_cases import CaseSet
from rso.data.records import EvalCase
from rso.modes import EndOn, ExpertsMode, SeekerMode
from rso.runs.directory import (
    EPISODES_FILE,
    FAILED_FILE,
    MANIFEST_FILE,
    RunDirectoryError,
    read_manifest,
)
from rso.runs.records import EpisodeRecord, episode_id, read_episodes, settings_digest
from rso.runs.writer import RolloutWriter

if TYPE_CHECKING:
    from policy.network import PlannerPolicy
    from policy.planners import PolicyPlanner

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

#: Context fields never written to a manifest.
_SECRET_FIELDS: Final = frozenset({"api_key"})


@dataclass(frozen=True, kw_only=True)
class RolloutConfig:
    """Everything that defines a batch of rollouts."""

    #: Run directory (``runs/NAME``); created if missing.
    out: Path
    #: Case set: "inspired-test" (99), "redial-test" (198) or "inspired-train" (801).
    cases: CaseSet = "inspired-test"
    #: Simulated seeker: "act" (fast, LLM-free) or "llm".
    seeker: SeekerMode = "act"
    #: Recommender experts: "rule" (fast, LLM-free) or "llm".
    experts: ExpertsMode = "rule"
    #: Planner: uniform, majority, none, a checkpoint path (see `policy.planners`); ignored when a
    #: policy is passed to `run_rollouts`.
    planner: str = "uniform"
    #: Episodes to play; None = one per usable case; more than the cases cycles through them.
    episodes: int | None = None
    #: Episodes in flight at once (threads; LLM calls are I/O bound).
    concurrency: int = 4
    #: Run seed: per-episode seeds derive from it (with the case and episode index).
    seed: int = 0
    #: Continue an existing run directory, skipping finished episodes.
    resume: bool = False
    #: On resume, play failed episodes again (their failed records move to ``failed.jsonl``);
    #: off, a failed episode counts as finished. Not a setting of the episodes' results.
    retry_failed: bool = True
    #: Resume even when the manifest's settings differ (the new settings are recorded).
    force: bool = False
    #: Most recommender turns per episode.
    max_turns: int = 10
    #: When an episode ends early: "reward" (paper: first reward > 0.7) or "accept" (explicit
    #: acceptance or the seeker leaving); None = "accept" for the act seeker, else "reward".
    end_on: EndOn | None = None
    #: Rewarder samples per turn (LLM seeker).
    rewarder_samples: int = 10
    #: One request with ``n`` samples for the Rewarder (else one request per sample).
    rewarder_n: bool = True
    #: Execution engine; None = "direct" for the LLM-free fast mode, "graph" otherwise.
    engine: EngineName | None = None
    #: Shuffle the case order with the seed (e.g. a different RL batch per seed).
    shuffle_cases: bool = False
    #: Other `Context` settings (model, base_url, temperatures, ablations...).
    context: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Reject settings no run can use."""
        if self.episodes is not None and self.episodes < 1:
            raise ValueError(f"episodes must be >= 1 (or None for all cases), got {self.episodes}")
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {self.concurrency}")
        reserved = {"experts", "seed"} & set(self.context)
        if reserved:
            raise ValueError(
                f"set {', '.join(sorted(reserved))} through RolloutConfig, not in its context"
            )

    @property
    def fast(self) -> bool:
        """True for the LLM-free simulation (act seeker and rule experts)."""
        return self.seeker == "act" and self.experts == "rule"

    @property
    def resolved_engine(self) -> EngineName:
        """The engine this run uses."""
        if self.engine is not None:
            return self.engine
        return "direct" if self.fast else "graph"

    def recommender_context(self, planner: str | None = None) -> Context:
        """Return the recommender's `Context`: defaults, ``RSO_*`` variables, this config."""
        overrides = {
            **context_overrides(planner or self.planner),
            **self.context,
            "experts": self.experts,
            "seed": self.seed,
        }
        return Context.from_env(**overrides)

    def rollout_context(self, planner: str | None = None) -> RolloutContext:
        """Return the rollout graph's context for this run."""
        return RolloutContext(
            recommender=self.recommender_context(planner),
            seeker=self.seeker,
            max_turns=self.max_turns,
            end_on=self.end_on,
            rewarder_samples=self.rewarder_samples,
            rewarder_n=self.rewarder_n,
            cases=self.cases,
            engine=self.resolved_engine,
        )

    def settings(self, *, in_memory_policy: bool = False) -> dict[str, Any]:
        """Return what determines the episodes' results (the manifest's settings)."""
        context = _public_context(self.recommender_context())
        planner = self.planner
        if in_memory_policy:
            planner = "memory"
            context["planner_checkpoint"] = "memory"
        return {
            "cases": self.cases,
            "seeker": self.seeker,
            "experts": self.experts,
            "planner": planner,
            "seed": self.seed,
            "max_turns": self.max_turns,
            "end_on": self.rollout_context().resolved_end_on,
            "rewarder_samples": self.rewarder_samples,
            "rewarder_n": self.rewarder_n,
            "shuffle_cases": self.shuffle_cases,
            "context": context,
        }


@dataclass(frozen=True)
class EpisodePlan:
    """One episode to play: the case and its index (its repetition number)."""

    case: EvalCase
    index: int

    def episode_id(self, seed: int) -> str:
        """Return the episode's deterministic id."""
        return episode_id(self.case.case_id, seed, self.index)


@dataclass
class RolloutSummary:
    """What a call to `run_rollouts` did."""

    out_dir: Path
    episodes_path: Path
    manifest_path: Path
    engine: EngineName
    #: Episodes the run asks for, in all.
    planned: int
    #: Of those, finished before this call (resume).
    already_done: int
    #: Cases left out because they have no target genre (a seeker needs a goal).
    excluded_cases: list[str]
    #: Episodes finished by this call, in completion order.
    episodes: list[EpisodeRecord] = field(default_factory=list)
    #: Episodes that had failed before this call and were played again by it.
    retried: int = 0
    elapsed_s: float = 0.0

    @property
    def ran(self) -> int:
        """Episodes played by this call."""
        return len(self.episodes)

    @property
    def failed(self) -> int:
        """Episodes of this call that failed."""
        return sum(e.status == "failed" for e in self.episodes)

    @property
    def turns(self) -> int:
        """Recommender turns played by this call."""
        return sum(e.n_turns for e in self.episodes)

    @property
    def success_rate(self) -> float:
        """Share of this call's successful episodes (0 when none ran)."""
        return sum(e.success for e in self.episodes) / self.ran if self.ran else 0.0

    @property
    def strict_success_rate(self) -> float:
        """Share of this call's episodes with an explicit acceptance."""
        return sum(e.strict_success for e in self.episodes) / self.ran if self.ran else 0.0

    @property
    def episodes_per_s(self) -> float:
        """Throughput of this call in episodes per second."""
        return self.ran / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def turns_per_s(self) -> float:
        """Throughput of this call in recommender turns per second."""
        return self.turns / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        """Return the figures as JSON-ready values."""
        return {
            "out_dir": str(self.out_dir),
            "engine": self.engine,
            "planned": self.planned,
            "already_done": self.already_done,
            "retried": self.retried,
            "ran": self.ran,
            "failed": self.failed,
            "turns": self.turns,
            "success_rate": round(self.success_rate, 4),
            "strict_success_rate": round(self.strict_success_rate, 4),
            "elapsed_s": round(self.elapsed_s, 3),
            "episodes_per_s": round(self.episodes_per_s, 3),
            "turns_per_s": round(self.turns_per_s, 3),
            "excluded_cases": len(self.excluded_cases),
        }


# --- planning ------------------------------------------------------------------------------------


def plan_episodes(
    cases: Sequence[EvalCase], episodes: int | None, seed: int, shuffle: bool = False
) -> tuple[list[EpisodePlan], list[str]]:
    """Return a run's episodes, and the ids of the cases without a target genre (left out)."""
    usable = [c for c in cases if has_goal(c)]
    excluded = [c.case_id for c in cases if not has_goal(c)]
    if not usable:
        raise ValueError("no case has a target genre; nothing to roll out")
    if shuffle:
        order = np.random.default_rng(seed).permutation(len(usable))
        usable = [usable[int(i)] for i in order]
    total = len(usable) if episodes is None else episodes
    return [EpisodePlan(usable[i % len(usable)], i // len(usable)) for i in range(total)], excluded


# --- one episode ---------------------------------------------------------------------------------


def run_episode(
    plan: EpisodePlan, context: RolloutContext, run_seed: int, digest: str = ""
) -> EpisodeRecord:
    """Play one episode through the rollout graph; an exception yields a failed record."""
    case = plan.case
    seed = episode_seed(run_seed, case.case_id, plan.index)
    graph_input = {"case_id": case.case_id, "episode_index": plan.index, "seed": seed}
    values: dict[str, Any] = {}
    status: str = "ok"
    error: str | None = None
    try:
        steps = episode_steps(context)
        for step in run_graph(rollout_graph, graph_input, context, context.engine, steps):
            values = step  # kept after each step: a failure still logs the turns played
    except Exception as exc:  # one episode's failure must not stop the batch
        status, error = "failed", f"{type(exc).__name__}: {exc}"
    turns = list(values.get("turns", []))
    return EpisodeRecord(
        episode_id=plan.episode_id(run_seed),
        case=case,
        persona_id=case.user_id,
        goal=goal_of(case).label,
        settings_digest=digest,
        seed=seed,
        turns=turns,
        success=bool(values.get("success", False)) and status == "ok",
        strict_success=bool(values.get("strict_success", False)) and status == "ok",
        n_turns=len(turns),
        status=status,  # type: ignore[arg-type]
        error=error,
    )


# --- the batch -----------------------------------------------------------------------------------


def run_rollouts(
    config: RolloutConfig,
    *,
    policy: PlannerPolicy | PolicyPlanner | None = None,
    progress: bool = True,
) -> RolloutSummary:
    """Play a batch of episodes into ``config.out``; return what this call did.

    `policy` rolls out an in-memory Planner (the RL loop's current policy) instead of
    ``config.planner``; its forward passes are batched across the concurrent episodes.
    """
    from rso.data.eval_cases import load_eval_cases

    if policy is not None:
        with registered_policy(policy) as spec:
            return _run(config, load_eval_cases(config.cases), spec, progress)
    return _run(config, load_eval_cases(config.cases), None, progress)


def _run(
    config: RolloutConfig, cases: list[EvalCase], memory_spec: str | None, progress: bool
) -> RolloutSummary:
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    episodes_path, manifest_path = out / EPISODES_FILE, out / MANIFEST_FILE
    settings = config.settings(in_memory_policy=memory_spec is not None)
    digest = settings_digest(settings)
    previous = _check_run_directory(config, episodes_path, manifest_path, settings, digest)
    context = config.rollout_context(memory_spec)
    plans, excluded = plan_episodes(cases, config.episodes, config.seed, config.shuffle_cases)
    started = _now()
    manifest = _manifest(config, settings, digest, context, previous, started, len(plans), excluded)
    _write_json(manifest_path, manifest)

    summary = RolloutSummary(
        out_dir=out,
        episodes_path=episodes_path,
        manifest_path=manifest_path,
        engine=context.engine,
        planned=len(plans),
        already_done=0,
        excluded_cases=excluded,
    )
    clock = time.perf_counter()
    status = "interrupted"
    with RolloutWriter(episodes_path) as writer:
        if config.resume and config.retry_failed:
            ids = [p.episode_id(config.seed) for p in plans]
            summary.retried = len(writer.set_aside_failed(ids, out / FAILED_FILE))
        todo = [p for p in plans if p.episode_id(config.seed) not in writer.finished]
        summary.already_done = len(plans) - len(todo)
        try:
            _play(config, context, todo, digest, writer, summary, progress)
            status = "finished"
        finally:
            summary.elapsed_s = time.perf_counter() - clock
            manifest.update(status=status, finished_at=_now(), last_call=summary.as_dict())
            _write_json(manifest_path, manifest)
    return summary


def _play(
    config: RolloutConfig,
    context: RolloutContext,
    todo: list[EpisodePlan],
    digest: str,
    writer: RolloutWriter,
    summary: RolloutSummary,
    progress: bool,
) -> None:
    from tqdm import tqdm

    bar = tqdm(total=len(todo), unit="ep", disable=not progress, dynamic_ncols=True)
    start = time.perf_counter()
    successes = 0

    background = _BackgroundWriter(writer)

    def finish(record: EpisodeRecord) -> None:
        nonlocal successes
        background.put(record)
        summary.episodes.append(record)
        successes += record.success
        bar.update(1)
        minutes = (time.perf_counter() - start) / 60
        bar.set_postfix(
            success=f"{successes / len(summary.episodes):.2f}",
            failed=summary.failed,
            ep_min=f"{len(summary.episodes) / minutes:.1f}" if minutes > 0 else "-",
            refresh=False,
        )

    try:
        if config.concurrency == 1 or len(todo) <= 1:
            for plan in todo:
                finish(run_episode(plan, context, config.seed, digest))
            return
        pool = futures.ThreadPoolExecutor(config.concurrency, thread_name_prefix="rollout")
        try:
            # A bounded window of submitted episodes keeps memory flat on long runs.
            pending: set[futures.Future[EpisodeRecord]] = set()
            for plan in todo:
                pending.add(pool.submit(run_episode, plan, context, config.seed, digest))
                if len(pending) >= 2 * config.concurrency:
                    done, pending = futures.wait(pending, return_when=futures.FIRST_COMPLETED)
                    for future in done:
                        finish(future.result())
            for future in futures.as_completed(pending):
                finish(future.result())
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    finally:
        bar.close()
        background.close()


class _BackgroundWriter:
    """Hands finished episodes to one writer thread, so fsync overlaps the next episodes.

    Records are written whole and in completion order, each flushed and fsynced before the next;
    a process killed meanwhile loses only queued episodes, which a resume plays again. A write
    error stops the writer and is raised by the next `put` or by `close`.
    """

    def __init__(self, writer: RolloutWriter) -> None:
        self._writer = writer
        self._queue: queue.Queue[EpisodeRecord | None] = queue.Queue()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._drain, name="rollout-writer", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while (record := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._writer.write(record)
                except BaseException as exc:  # handed to the main thread
                    self._error = exc

    def put(self, record: EpisodeRecord) -> None:
        """Queue one finished episode for writing."""
        self._raise_error()
        self._queue.put(record)

    def close(self) -> None:
        """Write every queued episode, stop the thread, and raise any write error."""
        self._queue.put(None)
        self._thread.join()
        self._raise_error()

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error


# --- run directory and manifest ------------------------------------------------------------------


def _check_run_directory(
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
        changes = _differences(previous.get("settings", {}), settings)
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


def _public_context(context: Context) -> dict[str, Any]:
    values = {f.name: getattr(context, f.name) for f in dataclasses.fields(context)}
    for name in _SECRET_FIELDS:
        values.pop(name, None)
    values.pop("seed", None)  # the run seed is recorded once, at the top
    return json.loads(json.dumps(values, default=str))


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


def _manifest(
    config: RolloutConfig,
    settings: dict[str, Any],
    digest: str,
    context: RolloutContext,
    previous: dict[str, Any] | None,
    started: str,
    planned: int,
    excluded: list[str],
) -> dict[str, Any]:
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
        "engine": context.engine,
        "concurrency": config.concurrency,
        "episodes_planned": planned,
        "excluded_cases": {"reason": "no target genre", "case_ids": excluded},
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


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    jsonio.write_json(path, data, indent=2, default=str)


__all__ = [
    "MEMORY_PREFIX",
    "EpisodePlan",
    "RolloutConfig",
    "RolloutSummary",
    "plan_episodes",
    "run_episode",
    "run_rollouts",
]
