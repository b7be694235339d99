"""Batch rollouts: many simulated episodes, run concurrently, logged to a resumable run directory.

    summary = run_rollouts(RolloutConfig(out=Path("runs/uniform"), planner="uniform"))

A run directory holds ``episodes.jsonl`` (one schema-versioned `EpisodeRecord` a line, appended
and fsynced per finished episode by `RolloutWriter`) and ``manifest.json`` (settings and their
digest, model names, planner, seed, git commit, package versions, start and end times), and after
a resume that retried failed episodes, ``failed.jsonl`` (their earlier failed records).

Episodes: episode ``i`` plays case ``i mod C`` (C usable cases, in file order or shuffled by the
seed) with episode index ``i div C``, so asking for more episodes than cases cycles through them
with new indices, and a longer run extends a shorter one with the same ids. Each episode's seed
derives from the run seed, the case and the index (`rso.data.cases.episode_seed`), never from the
order in which threads finish, so a fast-mode run is reproducible at any concurrency.

Resume: episodes finished "ok" are skipped, a torn last line is cut off, and a run whose manifest
holds different settings is refused unless ``force``. Failed episodes of the plan are played again
(unless ``retry_failed`` is off): their records move from ``episodes.jsonl`` to ``failed.jsonl``
first (`RolloutWriter.set_aside_failed`), so ``episodes.jsonl`` keeps holding each episode once,
its latest attempt, and every earlier failed attempt stays in ``failed.jsonl``. Concurrency, the
engine and the number of episodes may change between resumes; they do not change any episode's
result (a neural Planner's logged probabilities may differ in the last float bits, about 1e-7,
with the batch its forward pass shared; the strategies drawn from them do not). An exception
inside an episode (an LLM failure, say) is logged as a failed episode with its error and the
batch goes on; the turns played before the failure are kept.
"""

from __future__ import annotations

import concurrent.futures as futures
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from graph.episode_context import RolloutContext
from policy.planners import registered_policy
from rollouts.config import RolloutConfig
from rollouts.dispatch import Dispatcher, Job
from rollouts.fleet import ServerFleet
from rollouts.manifest import build_manifest, check_run_directory, now, write_manifest
from rollouts.plan import plan_episodes, run_episode
from rollouts.summary import RolloutSummary
from rso.data.records import EvalCase
from rso.runs.directory import EPISODES_FILE, FAILED_FILE, MANIFEST_FILE
from rso.runs.records import EpisodeRecord, settings_digest
from rso.runs.writer import RolloutWriter

if TYPE_CHECKING:
    from policy.network import PlannerPolicy
    from policy.planners import PolicyPlanner


def run_rollouts(
    config: RolloutConfig,
    *,
    policy: PlannerPolicy | PolicyPlanner | None = None,
    policy_version: int | None = None,
    progress: bool = True,
) -> RolloutSummary:
    """Play a batch of episodes into ``config.out``; return what this call did.

    `policy` rolls out an in-memory Planner (the RL loop's current policy) instead of
    ``config.planner``; its forward passes are batched across the concurrent episodes, and
    every record carries `policy_version` (the RL loop's update count). With the Ray engine the
    policy's weights go to the workers once per call, through the object store.
    """
    from rso.data.eval_cases import load_eval_cases

    cases = load_eval_cases(config.cases)
    if policy is not None:
        with registered_policy(policy) as spec:
            return _run(config, cases, _Memory(spec, policy, policy_version), progress)
    return _run(config, cases, None, progress)


@dataclass(frozen=True)
class _Memory:
    """An in-memory Planner a run plays: its registered name, itself, and its version."""

    spec: str
    policy: PlannerPolicy | PolicyPlanner
    version: int | None


def _run(
    config: RolloutConfig, cases: list[EvalCase], memory: _Memory | None, progress: bool
) -> RolloutSummary:
    memory_spec = memory.spec if memory is not None else None
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    episodes_path, manifest_path = out / EPISODES_FILE, out / MANIFEST_FILE
    settings = config.settings(in_memory_policy=memory_spec is not None)
    digest = settings_digest(settings)
    previous = check_run_directory(config, episodes_path, manifest_path, settings, digest)
    context = config.rollout_context(memory_spec)
    plans, excluded = plan_episodes(
        cases, config.episodes, config.seed, config.shuffle_cases, config.goal
    )
    started = now()
    manifest = build_manifest(
        config, settings, digest, context, previous, started, len(plans), excluded
    )
    write_manifest(manifest_path, manifest)
    urls = config.fleet_urls
    fleet = ServerFleet(urls, (previous or {}).get("servers")) if urls else None

    summary = RolloutSummary(
        out_dir=out,
        episodes_path=episodes_path,
        manifest_path=manifest_path,
        engine=manifest["engine"],
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
        version = memory.version if memory is not None else None
        dispatcher = Dispatcher(todo, config.seed, digest, fleet, version)
        try:
            _play(config, context, memory, dispatcher, writer, summary, progress)
            status = "finished"
        finally:
            summary.elapsed_s = time.perf_counter() - clock
            summary.replayed = dispatcher.replayed
            manifest.update(status=status, finished_at=now(), last_call=summary.as_dict())
            if fleet is not None:
                manifest["servers"] = fleet.report()
            write_manifest(manifest_path, manifest)
    return summary


def _play(
    config: RolloutConfig,
    context: RolloutContext,
    memory: _Memory | None,
    dispatcher: Dispatcher,
    writer: RolloutWriter,
    summary: RolloutSummary,
    progress: bool,
) -> None:
    from tqdm import tqdm

    bar = tqdm(total=len(dispatcher), unit="ep", disable=not progress, dynamic_ncols=True)
    start = time.perf_counter()
    successes = failures = 0  # running counts: the summary's properties re-read every record

    background = _BackgroundWriter(writer)

    def finish(record: EpisodeRecord | None) -> None:
        nonlocal successes, failures
        if record is None:  # played again: the attempt was not the episode's last
            return
        background.put(record)
        summary.episodes.append(record)
        successes += record.success
        failures += record.status == "failed"
        bar.update(1)
        minutes = (time.perf_counter() - start) / 60
        bar.set_postfix(
            success=f"{successes / len(summary.episodes):.2f}",
            failed=failures,
            ep_min=f"{len(summary.episodes) / minutes:.1f}" if minutes > 0 else "-",
            refresh=False,
        )

    try:
        if config.on_ray:
            from rollouts.ray_engine import play_on_ray

            policy = (memory.spec, memory.policy) if memory is not None else None
            play_on_ray(config, context, dispatcher, finish, policy)
        else:
            _play_in_threads(config, context, dispatcher, finish)
    finally:
        bar.close()
        background.close()


def _play_in_threads(
    config: RolloutConfig,
    context: RolloutContext,
    dispatcher: Dispatcher,
    finish: Callable[[EpisodeRecord | None], None],
) -> None:
    def attempt(job: Job) -> EpisodeRecord:
        return run_episode(
            job.plan,
            context,
            config.seed,
            dispatcher.digest,
            server=job.server,
            policy_version=dispatcher.policy_version,
        )

    if config.concurrency == 1 or len(dispatcher) <= 1:
        while (job := dispatcher.next_job()) is not None:
            finish(dispatcher.settle(job, attempt(job)))
        return
    pool = futures.ThreadPoolExecutor(config.concurrency, thread_name_prefix="rollout")
    try:
        # A bounded window of submitted episodes keeps memory flat on long runs.
        pending: dict[futures.Future[EpisodeRecord], Job] = {}
        while pending or len(dispatcher):
            while len(pending) < 2 * config.concurrency:
                job = dispatcher.next_job()
                if job is None:
                    break
                pending[pool.submit(attempt, job)] = job
            done, _ = futures.wait(pending, return_when=futures.FIRST_COMPLETED)
            for future in done:
                finish(dispatcher.settle(pending.pop(future), future.result()))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


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
