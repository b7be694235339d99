"""Which episode plays next, on which LLM server, and what becomes of each attempt.

Both engines (the threads of `rollouts.runner`, the Ray actors of `rollouts.ray_engine`) take
their episodes from one `Dispatcher` and hand every outcome back to it, so the rules are the same
everywhere: episodes go out in plan order; with a fleet each is pinned to a server; a failure on
a server that no longer answers, or a worker lost mid-episode, sends the episode back to the
queue (played again first), at most `MAX_ATTEMPTS` times in all, after which it is recorded as
failed with its cause. Whatever comes out of `settle` or `lost` is final and is written once.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from rollouts.fleet import ServerFleet
from rollouts.plan import EpisodePlan, episode_record
from rso.runs.records import EpisodeRecord

#: Attempts of one episode before a lost worker or a dead server counts as its failure.
MAX_ATTEMPTS: Final = 3


@dataclass(frozen=True)
class Job:
    """One attempt at an episode: the plan, its pinned server (None: the run's own), the try."""

    plan: EpisodePlan
    server: str | None
    attempt: int


class Dispatcher:
    """The queue of a batch's episodes and the bookkeeping of their attempts."""

    def __init__(
        self,
        todo: Iterable[EpisodePlan],
        run_seed: int,
        digest: str,
        fleet: ServerFleet | None = None,
        policy_version: int | None = None,
    ) -> None:
        self._queue: deque[tuple[EpisodePlan, int]] = deque((p, 1) for p in todo)
        self._seed = run_seed
        self.digest = digest
        self.fleet = fleet
        self.policy_version = policy_version
        #: Attempts sent back to the queue (lost workers, dead servers).
        self.replayed = 0

    def __len__(self) -> int:
        """Return the number of attempts waiting to be handed out."""
        return len(self._queue)

    def next_job(self) -> Job | None:
        """Hand out the next attempt (replays first), pinned to a server; None when none waits."""
        if not self._queue:
            return None
        plan, attempt = self._queue.popleft()
        server = None
        if self.fleet is not None:
            server = self.fleet.acquire(plan.episode_id(self._seed))
        return Job(plan, server, attempt)

    def settle(self, job: Job, record: EpisodeRecord) -> EpisodeRecord | None:
        """Take an attempt's record; return it when final, None when the episode plays again."""
        if job.server is None or self.fleet is None:
            return record
        self.fleet.release(job.server)
        if record.status == "failed" and not self.fleet.check(job.server, record.error or ""):
            return self._again(job, f"LLM server {job.server} stopped answering: {record.error}")
        return record

    def lost(self, job: Job, cause: str) -> EpisodeRecord | None:
        """Take an attempt whose worker died: play it again, or return its failed record."""
        if job.server is not None and self.fleet is not None:
            self.fleet.release(job.server)
        return self._again(job, cause)

    def _again(self, job: Job, cause: str) -> EpisodeRecord | None:
        live = self.fleet is None or bool(self.fleet.live)
        if job.attempt < MAX_ATTEMPTS and live:
            # Replays go first: an episode's attempts stay close together in time.
            self._queue.appendleft((job.plan, job.attempt + 1))
            self.replayed += 1
            return None
        error = f"{cause} (attempt {job.attempt} of {MAX_ATTEMPTS})"
        return episode_record(job.plan, self._seed, self.digest, {}, error, self.policy_version)
