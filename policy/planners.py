"""The policies that can drive the Planner node in rollouts: baselines, checkpoints, live policies.

A run names its Planner with one string (``rso rollout --planner``, `RolloutConfig.planner`):

| planner          | what picks the strategy                                                   |
|------------------|---------------------------------------------------------------------------|
| ``sft``          | the committed warm-up Planner, ``models/planner-sft`` (the default)        |
| ``uniform``      | uniform random over the 14 strategies (no checkpoint)                     |
| ``majority``     | always the most frequent label of the INSPIRED train Planner samples      |
| ``none``         | no strategy: the Planner is ablated and the Actor uses its generic prompt |
| ``memory:<key>`` | an in-memory `PlannerPolicy` registered with `register_policy` (RL loop)  |
| any other value  | a Planner checkpoint directory                                             |

`context_overrides` turns the name into `graph.context.Context` settings: ``none`` switches
``use_planner`` off, ``uniform`` clears ``planner_checkpoint``, and every other name goes into
``planner_checkpoint``, where the Planner node resolves it with `planner_source`.

Forward passes of a neural policy are batched across concurrent episodes (`PolicyPlanner`):
callers that arrive while a batch runs wait and go together in the next one, so K concurrent
episodes cost about one forward pass of K dialogues instead of K passes of one.
"""

from __future__ import annotations

import itertools
import threading
import weakref
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol, get_args

from rso.paths import DEFAULT_PLANNER_DIR
from rso.strategies import STRATEGIES, Strategy

if TYPE_CHECKING:
    from policy.network import PlannerPolicy

#: The baseline planners that need no checkpoint.
BaselinePlanner = Literal["uniform", "majority", "none"]
BASELINE_PLANNERS: Final[tuple[BaselinePlanner, ...]] = get_args(BaselinePlanner)

#: The committed warm-up Planner (`rso.paths.DEFAULT_PLANNER_DIR`): every entry point's default.
SFT_PLANNER: Final = "sft"

#: Prefix of the name of an in-memory policy registered with `register_policy`.
MEMORY_PREFIX: Final = "memory:"


class PlannerSpecError(ValueError):
    """A planner name that is neither a baseline, a registered policy nor a checkpoint."""


class StrategySource(Protocol):
    """Anything that gives pi(. | dialogue) over `STRATEGIES` for a batch of dialogues."""

    def distributions(self, dialogues: Sequence[str]) -> list[list[float]]:
        """Return one distribution (14 floats, `STRATEGIES` order) per dialogue."""
        ...


@dataclass(frozen=True)
class UniformPlanner:
    """Every strategy equally likely."""

    def distributions(self, dialogues: Sequence[str]) -> list[list[float]]:
        """Return the uniform distribution for every dialogue."""
        return [[1.0 / len(STRATEGIES)] * len(STRATEGIES) for _ in dialogues]


@dataclass(frozen=True)
class FixedPlanner:
    """Always the same strategy (probability 1, so its log-prob is 0)."""

    strategy: Strategy

    def distributions(self, dialogues: Sequence[str]) -> list[list[float]]:
        """Return the one-hot distribution of `strategy` for every dialogue."""
        one_hot = [1.0 if s == self.strategy else 0.0 for s in STRATEGIES]
        return [list(one_hot) for _ in dialogues]


@dataclass
class _Request:
    dialogues: list[str]
    result: list[list[float]] | None = None
    error: BaseException | None = None
    done: bool = False


@dataclass(eq=False)
class PolicyPlanner:
    """A neural `PlannerPolicy`, its forward passes batched across concurrent callers.

    The policy is used as given (the caller decides train or eval mode); results are plain lists.
    """

    policy: PlannerPolicy
    #: Most dialogues in one forward pass.
    max_batch: int = 64
    #: Forward passes run and dialogues scored (for benchmarks and tests).
    passes: int = 0
    scored: int = 0
    _queue: list[_Request] = field(default_factory=list, repr=False)
    _busy: bool = field(default=False, repr=False)
    _cond: threading.Condition = field(default_factory=threading.Condition, repr=False)

    def distribution(self, dialogue: str) -> list[float]:
        """Return pi(. | dialogue)."""
        return self.distributions([dialogue])[0]

    def distributions(self, dialogues: Sequence[str]) -> list[list[float]]:
        """Return pi(. | dialogue) per dialogue; joins other callers' pending dialogues."""
        request = _Request(list(dialogues))
        with self._cond:
            self._queue.append(request)
            while self._busy and not request.done:
                self._cond.wait()
            if not request.done:
                self._busy = True  # this caller runs the next batch, its own request included
        if not request.done:
            self._run_batches(request)
        if request.error is not None:
            raise request.error
        assert request.result is not None
        return request.result

    def _run_batches(self, own: _Request) -> None:
        try:
            while not own.done:
                with self._cond:
                    batch = self._take_batch()
                self._score(batch)
                with self._cond:
                    self._cond.notify_all()
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()

    def _take_batch(self) -> list[_Request]:
        batch: list[_Request] = []
        size = 0
        while self._queue and (not batch or size + len(self._queue[0].dialogues) <= self.max_batch):
            request = self._queue.pop(0)
            batch.append(request)
            size += len(request.dialogues)
        return batch

    def _score(self, batch: list[_Request]) -> None:
        texts = [text for request in batch for text in request.dialogues]
        try:
            rows = [[float(p) for p in row] for row in self.policy.probabilities(texts).tolist()]
            self.passes += 1
            self.scored += len(texts)
        except BaseException as exc:  # every waiting caller gets the error, not a hang
            for request in batch:
                request.error, request.done = exc, True
            return
        offset = 0
        for request in batch:
            request.result = rows[offset : offset + len(request.dialogues)]
            offset += len(request.dialogues)
            request.done = True


# --- the most frequent strategy ------------------------------------------------------------------


def most_frequent_strategy(labels: Sequence[Strategy]) -> Strategy:
    """Return the most frequent label; ties go to the earlier strategy in `STRATEGIES`."""
    if not labels:
        raise ValueError("no strategy labels to count")
    counts = Counter(labels)
    return min(counts, key=lambda s: (-counts[s], STRATEGIES.index(s)))


@cache
def majority_strategy() -> Strategy:
    """Return the most frequent strategy of the INSPIRED train Planner samples."""
    from rso.data.inspired import planner_samples

    return most_frequent_strategy([sample.label for sample in planner_samples("train")])


# --- in-memory policies ---------------------------------------------------------------------------

_registry: dict[str, PolicyPlanner] = {}
_registry_lock = threading.Lock()
_keys = itertools.count(1)


def register_policy(policy: PlannerPolicy | PolicyPlanner, name: str | None = None) -> str:
    """Make a live policy reachable from the Planner node; return its planner name."""
    planner = policy if isinstance(policy, PolicyPlanner) else PolicyPlanner(policy)
    with _registry_lock:
        key = name or str(next(_keys))
        spec = MEMORY_PREFIX + key
        if spec in _registry and _registry[spec] is not planner:
            raise PlannerSpecError(f"planner {spec!r} is already registered")
        _registry[spec] = planner
    return spec


def unregister_policy(spec: str) -> None:
    """Forget a registered policy (unknown names are ignored)."""
    with _registry_lock:
        _registry.pop(spec, None)


@contextmanager
def registered_policy(policy: PlannerPolicy | PolicyPlanner) -> Iterator[str]:
    """Register a policy for the duration of a block; yields its planner name."""
    spec = register_policy(policy)
    try:
        yield spec
    finally:
        unregister_policy(spec)


# Concurrent episodes ask for the policy at the same moment on their first turn; without the
# lock each thread would load its own copy of the encoder before the cache is filled.
_load_lock = threading.Lock()


def load_policy(path: str) -> PlannerPolicy:
    """Load a Planner checkpoint once per path, in eval mode (dropout off)."""
    with _load_lock:
        return _load_policy(path)


@lru_cache(maxsize=4)
def _load_policy(path: str) -> PlannerPolicy:
    from policy.checkpoint import load_checkpoint  # lazy: torch and the encoder load on first use

    policy = load_checkpoint(path)
    policy.eval()
    return policy


# --- resolution ----------------------------------------------------------------------------------


#: One batching wrapper per loaded policy object (the loader caches the policies per path).
_wrappers: weakref.WeakKeyDictionary[Any, PolicyPlanner] = weakref.WeakKeyDictionary()


def _checkpoint_planner(path: str) -> PolicyPlanner:
    policy = load_policy(path)
    with _registry_lock:
        planner = _wrappers.get(policy)
        if planner is None:
            planner = _wrappers[policy] = PolicyPlanner(policy)
    return planner


def planner_source(spec: str) -> StrategySource:
    """Return the strategy source a Planner name stands for (``none`` has none)."""
    if spec == "uniform":
        return UniformPlanner()
    if spec == "majority":
        return FixedPlanner(majority_strategy())
    if spec == "none":
        raise PlannerSpecError("planner 'none' has no distribution: set use_planner=False")
    if spec == SFT_PLANNER:
        return _checkpoint_planner(str(DEFAULT_PLANNER_DIR))
    if spec.startswith(MEMORY_PREFIX):
        with _registry_lock:
            planner = _registry.get(spec)
        if planner is None:
            raise PlannerSpecError(
                f"no in-memory policy registered as {spec!r}; pass it to run_rollouts(policy=...)"
            )
        return planner
    return _checkpoint_planner(spec)


def context_overrides(spec: str) -> dict[str, Any]:
    """`Context` settings for a Planner name; a missing checkpoint directory is refused here."""
    if spec == "none":
        return {"use_planner": False, "planner_checkpoint": None}
    if spec == "uniform":
        return {"use_planner": True, "planner_checkpoint": None}
    if spec == SFT_PLANNER:
        return {"use_planner": True, "planner_checkpoint": str(DEFAULT_PLANNER_DIR)}
    if spec == "majority" or spec.startswith(MEMORY_PREFIX):
        return {"use_planner": True, "planner_checkpoint": spec}
    path = Path(spec).expanduser()
    if not path.exists():
        raise PlannerSpecError(
            f"planner {spec!r}: no such checkpoint; expected a checkpoint path or one of "
            f"{', '.join((SFT_PLANNER, *BASELINE_PLANNERS))}"
        )
    return {"use_planner": True, "planner_checkpoint": str(path)}
