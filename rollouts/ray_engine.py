"""The Ray engine of `rso rollout --engine ray`: episodes played by a pool of Ray actors.

Each actor (`EpisodeWorker`) is one process that compiles the graphs and loads the Planner, the
index and the ranker once, then plays up to ``concurrency`` episodes at a time in its threads,
for as many batches as the driver sends it: the pool outlives one `run_rollouts` call (the RL
loop and the benchmark reuse it) and goes with the Ray connection when the process exits. The
driver stays the single writer of the run directory: actors return records, never write them.

Scheduling: the driver takes attempts from the run's `Dispatcher` and sends them to the actor
with the fewest calls in flight, keeping at most ``2 * concurrency`` calls in flight per actor
(the next is already queued when one finishes). A call carries one episode, or in the LLM-free
fast mode `FAST_EPISODES_PER_CALL` of them, whose few milliseconds each are about what a Ray call
costs. An actor that dies takes its in-flight attempts with it: the dispatcher plays them again
(bounded), a fresh actor takes the dead one's place, and the batch goes on. An in-memory Planner
(the RL loop's) reaches the actors through the object store once per `play_on_ray` (one RL
update), not once per episode: its config and weights, which each actor loads into the network
it keeps (the trainer's feature cache stays on the driver, so a worker runs the whole network at
every decision).

Without ``ray_address`` a local Ray instance starts on first use, on loopback, and stops when the
process exits; with one (``auto``, ``host:port``) the pool joins that cluster, whose nodes must
have this project installed. A process already connected to Ray (a test, a notebook) is used as
it is.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from graph.episode_context import RolloutContext
from rollouts.config import RolloutConfig
from rollouts.dispatch import Dispatcher, Job
from rollouts.plan import EpisodePlan, run_episode
from rso.runs.records import EpisodeRecord

if TYPE_CHECKING:
    from policy.network import PlannerPolicy
    from policy.planners import PolicyPlanner

#: Ray's switch that keeps a local instance on loopback (read when ``ray`` is first imported).
_LOOPBACK_SWITCH: Final = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


class EpisodeWorker:
    """One Ray actor's state: compiled graphs and loaded resources, reused for every episode."""

    def __init__(self) -> None:
        import graph.episode  # noqa: F401 - compiles the graphs once, in this process

        #: spec -> (the object-store id of the weights it holds, the network).
        self._policies: dict[str, tuple[str, PlannerPolicy]] = {}
        self._policy_lock = threading.Lock()

    def pid(self) -> int:
        """Return the actor's process id."""
        return os.getpid()

    def play(
        self,
        plans: list[tuple[EpisodePlan, str | None]],
        context: RolloutContext,
        run_seed: int,
        digest: str,
        policy_version: int | None,
        policy: tuple[str, list[Any]] | None = None,
    ) -> list[EpisodeRecord]:
        """Play episodes one after another, each pinned to its server (`run_episode`).

        `policy`: the driver's name of an in-memory Planner and, in a list (so Ray hands over
        the reference, not the object), its weights in the object store, fetched here once.
        """
        if policy is not None:
            self._load_policy(policy[0], policy[1][0])
        return [
            run_episode(
                plan, context, run_seed, digest, server=server, policy_version=policy_version
            )
            for plan, server in plans
        ]

    def _load_policy(self, spec: str, ref: Any) -> None:
        import ray

        from policy.network import PlannerPolicy
        from policy.planners import MEMORY_PREFIX, register_policy, unregister_policy

        with self._policy_lock:  # the actor's threads all start on the same new version
            held = self._policies.get(spec)
            if held is not None and held[0] == ref.hex():
                return
            config, weights = ray.get(ref)
            network = held[1] if held is not None and held[1].config == config else None
            if network is None:
                network = PlannerPolicy(config)  # once per actor: later versions load in place
            network.load_state_dict(weights)
            network.eval()
            unregister_policy(spec)
            register_policy(network, spec.removeprefix(MEMORY_PREFIX))
            self._policies[spec] = (ref.hex(), network)


def policy_weights(policy: PlannerPolicy | PolicyPlanner) -> tuple[Any, dict[str, Any]]:
    """Return what a worker rebuilds a Planner from: its config and its weights, on the CPU."""
    from policy.planners import PolicyPlanner

    network = policy.policy if isinstance(policy, PolicyPlanner) else policy
    state = {name: tensor.detach().cpu() for name, tensor in network.state_dict().items()}
    return network.config, state


@dataclass
class _Pool:
    """Live actors of one Ray session, for one (workers, concurrency) shape."""

    workers: int
    concurrency: int
    session: str
    actors: list[Any] = field(default_factory=list)
    #: Actors started in all, replacements of dead ones included.
    started: int = 0

    def new_actor(self) -> Any:
        import ray

        self.started += 1
        remote = ray.remote(EpisodeWorker).options(
            max_concurrency=self.concurrency, max_restarts=0, num_cpus=1
        )
        return remote.remote()


_pool: _Pool | None = None
_pool_lock = threading.Lock()


def connect(address: str | None, workers: int) -> None:
    """Connect this process to Ray: the cluster at `address`, else a local loopback instance."""
    if address is None:
        os.environ.setdefault(_LOOPBACK_SWITCH, "0")
    try:
        import ray
    except ImportError:
        raise ValueError("--engine ray needs Ray: pip install 'rso-crs[distributed]'") from None

    if ray.is_initialized():
        return
    if address is None:
        # Enough CPUs for every actor even on a small machine: the actors mostly wait on I/O
        # in LLM mode, and the pool is the only Ray work of the process.
        cpus = max(os.cpu_count() or 1, workers)
        ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
    else:
        ray.init(address=address, log_to_driver=False)
    atexit.register(shutdown)


def shutdown() -> None:
    """Stop the pool's actors and disconnect from Ray (a local instance stops with it)."""
    global _pool
    import ray

    with _pool_lock:
        _pool = None
    if ray.is_initialized():
        ray.shutdown()


def _session() -> str:
    import ray

    context = ray.get_runtime_context()
    return f"{context.get_node_id()}/{context.get_job_id()}"


def pool_for(config: RolloutConfig) -> _Pool:
    """Return the live pool of `config`'s shape, starting (or reshaping) it when needed."""
    global _pool
    import ray

    connect(config.ray_address, config.workers)
    with _pool_lock:
        session = _session()
        pool = _pool
        if pool is None or pool.session != session or pool.concurrency != config.concurrency:
            if pool is not None and pool.session == session:
                for actor in pool.actors:
                    ray.kill(actor)
            pool = _Pool(config.workers, config.concurrency, session)
        while len(pool.actors) < config.workers:
            pool.actors.append(pool.new_actor())
        for actor in pool.actors[config.workers :]:
            ray.kill(actor)
        del pool.actors[config.workers :]
        pool.workers = config.workers
        _pool = pool
        return pool


def worker_pids() -> list[int]:
    """Process ids of the current pool's actors (empty without a pool)."""
    import ray

    pool = _pool
    return [] if pool is None else list(ray.get([a.pid.remote() for a in pool.actors]))


#: Episodes per call to an actor in the fast mode: an LLM-free episode takes a few milliseconds,
#: about what one Ray call costs, so calls carry several; an LLM episode goes alone, so each
#: starts as soon as an actor's slot is free.
FAST_EPISODES_PER_CALL: Final = 16


def episodes_per_call(config: RolloutConfig) -> int:
    """Return how many episodes one call to an actor plays (one after another)."""
    return FAST_EPISODES_PER_CALL if config.fast else 1


def play_on_ray(
    config: RolloutConfig,
    context: RolloutContext,
    dispatcher: Dispatcher,
    finish: Callable[[EpisodeRecord | None], None],
    policy: tuple[str, PlannerPolicy | PolicyPlanner] | None = None,
) -> None:
    """Play every attempt of `dispatcher` on the pool; hand each outcome to `finish`."""
    import ray
    from ray.exceptions import RayActorError, RayTaskError

    if not len(dispatcher):
        return  # a finished run resumed: no need to start Ray
    pool = pool_for(config)
    shared_context = ray.put(context)
    shipped = (policy[0], [ray.put(policy_weights(policy[1]))]) if policy is not None else None
    in_flight: dict[Any, tuple[list[Job], int, Any]] = {}
    per_actor = [0] * len(pool.actors)
    window = 2 * config.concurrency
    size = episodes_per_call(config)
    try:
        while in_flight or len(dispatcher):
            while len(dispatcher):
                slot = min(range(len(pool.actors)), key=per_actor.__getitem__)
                if per_actor[slot] >= window:
                    break
                jobs = [job for _ in range(size) if (job := dispatcher.next_job()) is not None]
                actor = pool.actors[slot]
                ref = actor.play.remote(
                    [(job.plan, job.server) for job in jobs],
                    shared_context,
                    config.seed,
                    dispatcher.digest,
                    dispatcher.policy_version,
                    shipped,
                )
                in_flight[ref] = (jobs, slot, actor)
                per_actor[slot] += 1
            [ready], _ = ray.wait(list(in_flight), num_returns=1)
            jobs, slot, actor = in_flight.pop(ready)
            per_actor[slot] -= 1
            try:
                records = ray.get(ready)
            except RayActorError as exc:
                for job in jobs:
                    finish(dispatcher.lost(job, _cause(exc)))
                if pool.actors[slot] is actor:  # the first of its lost calls replaces it
                    ray.kill(actor)
                    pool.actors[slot] = pool.new_actor()
                continue
            except RayTaskError as exc:  # the call itself failed (e.g. a record not sent back)
                for job in jobs:
                    finish(dispatcher.lost(job, _cause(exc)))
                continue
            for job, record in zip(jobs, records, strict=True):
                finish(dispatcher.settle(job, record))
    except BaseException:
        # Ctrl-C or a failed write: the episodes still queued on the actors are abandoned (a
        # resume plays them), and the actors are restarted so the next call starts clean.
        for ref in in_flight:
            ray.cancel(ref, force=True)
        stop_pool()
        raise


def stop_pool() -> None:
    """Stop the pool's actors (freeing their CPUs); the next call starts a new pool."""
    global _pool
    import ray

    with _pool_lock:
        if _pool is not None:
            for actor in _pool.actors:
                ray.kill(actor)
        _pool = None


def _cause(exc: BaseException) -> str:
    first = str(exc).strip().splitlines()
    return f"Ray worker lost: {type(exc).__name__}: {first[0] if first else ''}"[:500]
