"""Evaluation metrics over logged episodes, each with a seeded bootstrap 95% interval.

Definitions (method.md's protocol):
- SR: share of episodes with some turn reward > 0.7 within the first ``max_turns`` turns.
- strict SR: share of episodes with an explicit acceptance: the episode's ``strict_success`` flag,
  or a turn whose reward samples are in strict majority 1.0 ("accepted").
- AvgT: mean number of turns to success; a failed episode counts as ``max_turns`` (as a dialogue
  that ran to the limit), so a seeker leaving early never makes a run look faster.
- SR@t: share of episodes that succeeded within t turns, t = 1..max_turns.
- Recall@k on the final ranked list (the last turn's non-empty top-50): genre level, a hit when
  one of the top-k movies has the target genre (the paper's lenient recall); item level, when the
  goal is a target movie, a hit when it is among the top k.
- Strategy distribution over conversation progress: each turn falls in the bucket
  floor(B * turn / n_turns) of B equal progress buckets; shares per bucket.
- Persuasiveness: P = 1 - (true - after) / (true - pre) when after <= true and pre != true;
  after > true is over-persuasion and pre == true is uninformative, both counted apart; ratings
  a judge could not give are counted as missing.
- Credibility: mean 1-5 score per dialogue, then the mean over dialogues.

Only episodes with status "ok" enter the metrics; failed ones are counted (``n_failed``).
A metric with nothing to average (no "ok" episode, no scorable persuasiveness) is NaN in memory,
``null`` in metrics.json (`rso.jsonio`) and "n/a" in the reports.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Final

import numpy as np

from rso.modes import MAX_TURNS, SUCCESS_THRESHOLD
from rso.runs.records import EpisodeRecord
from rso.strategies import STRATEGIES

RECALL_KS: Final = (1, 5, 10)
N_BOOTSTRAP: Final = 1000


@dataclass(frozen=True)
class Interval:
    """A point estimate with its bootstrap 95% interval."""

    value: float
    low: float
    high: float
    n: int

    def __str__(self) -> str:
        """Format as "0.640 [0.550, 0.730]", or "n/a" when there was nothing to average."""
        if not math.isfinite(self.value):
            return "n/a"
        return f"{self.value:.3f} [{self.low:.3f}, {self.high:.3f}]"


def bootstrap(
    values: Sequence[float], seed: int = 0, n_boot: int = N_BOOTSTRAP, level: float = 0.95
) -> Interval:
    """Mean of `values` with a percentile bootstrap interval (seeded, so reports reproduce)."""
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return Interval(float("nan"), float("nan"), float("nan"), 0)
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, size=(n_boot, data.size))].mean(axis=1)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    point = float(data.mean())
    # Percentile bounds can miss the point estimate by rounding on tiny samples; clamp them.
    return Interval(point, min(float(low), point), max(float(high), point), int(data.size))


def success_turn(
    episode: EpisodeRecord, threshold: float = SUCCESS_THRESHOLD, max_turns: int = MAX_TURNS
) -> int | None:
    """Return the 1-based turn of the first reward above `threshold`, or None."""
    for turn in episode.turns[:max_turns]:
        if turn.reward > threshold:
            return turn.turn + 1
    return None


def is_strict_success(episode: EpisodeRecord, max_turns: int = MAX_TURNS) -> bool:
    """Return True for an explicit acceptance (flag, or a strict majority of 1.0 samples)."""
    if episode.strict_success:
        return True
    for turn in episode.turns[:max_turns]:
        accepted = sum(1 for s in turn.reward_samples if s >= 1.0)
        if turn.reward_samples and accepted * 2 > len(turn.reward_samples):
            return True
    return False


def final_ranking(episode: EpisodeRecord) -> list[str]:
    """Return the last non-empty ranked list of the episode (kb_ids, best first)."""
    for turn in reversed(episode.turns):
        if turn.top:
            return [kb_id for kb_id, _ in turn.top]
    return []


def recall_hit(episode: EpisodeRecord, k: int, genres_of: Callable[[str], set[str]]) -> bool:
    """Return whether the final top-k list hits the goal (genre or target movie)."""
    top = final_ranking(episode)[:k]
    kind, _, target = episode.goal.partition(":")
    if kind == "movie":
        return target in top
    if kind == "genre":
        return any(target in genres_of(kb_id) for kb_id in top)
    raise ValueError(f"episode {episode.episode_id}: unknown goal {episode.goal!r}")


def strategy_distribution(
    episodes: Sequence[EpisodeRecord], buckets: int = 5
) -> list[dict[str, float]]:
    """Share of each strategy per progress bucket (turns without a strategy are left out)."""
    counts = [Counter[str]() for _ in range(buckets)]
    for episode in episodes:
        n = len(episode.turns)
        for turn in episode.turns:
            if turn.strategy is None:
                continue
            bucket = min(buckets - 1, buckets * turn.turn // max(n, 1))
            counts[bucket][turn.strategy] += 1
    shares = []
    for counter in counts:
        total = sum(counter.values())
        shares.append({str(s): (counter[s] / total if total else 0.0) for s in STRATEGIES})
    return shares


@dataclass(frozen=True)
class Persuasiveness:
    """Aggregate persuasiveness with the excluded cases counted apart."""

    mean: Interval
    n_scored: int
    n_over_persuaded: int
    n_pre_equals_true: int
    n_missing: int


def persuasiveness_score(pre: int, after: int, true: int) -> float | None:
    """Return P for one dialogue, or None when it is excluded (after > true or pre == true)."""
    if pre == true or after > true:
        return None
    return 1.0 - (true - after) / (true - pre)


def aggregate_persuasiveness(
    ratings: Sequence[tuple[int | None, int | None, int | None]], seed: int = 0
) -> Persuasiveness:
    """Mean P over the dialogues where it is defined; the other cases are counted apart."""
    scores: list[float] = []
    over = same = missing = 0
    for pre, after, true in ratings:
        if pre is None or after is None or true is None:
            missing += 1
        elif pre == true:
            same += 1
        elif after > true:
            over += 1
        else:
            score = persuasiveness_score(pre, after, true)
            assert score is not None
            scores.append(score)
    return Persuasiveness(bootstrap(scores, seed), len(scores), over, same, missing)


def credibility_mean(per_dialogue: Sequence[Sequence[int | None]], seed: int = 0) -> Interval:
    """Mean per-dialogue credibility, then over dialogues (dialogues with no score skipped)."""
    means = []
    for scores in per_dialogue:
        known = [s for s in scores if s is not None]
        if known:
            means.append(sum(known) / len(known))
    return bootstrap(means, seed)


@dataclass
class RunMetrics:
    """Every metric of one run."""

    n_episodes: int
    n_failed: int
    sr: Interval
    strict_sr: Interval
    avg_turns: Interval
    sr_at_t: list[float]
    recall: dict[str, Interval]
    #: Episodes whose recall used an empty ranked list (they count as misses).
    n_without_ranking: int
    strategy_shares: list[dict[str, float]]
    persuasiveness: Persuasiveness | None = None
    credibility: Interval | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Return a dict for `rso.jsonio.dumps` (metrics without data are NaN, written as null)."""
        return asdict(self)


def compute_metrics(
    episodes: Sequence[EpisodeRecord],
    genres_of: Callable[[str], set[str]],
    *,
    max_turns: int = MAX_TURNS,
    threshold: float = SUCCESS_THRESHOLD,
    persuasion: Sequence[tuple[int | None, int | None, int | None]] | None = None,
    credibility: Sequence[Sequence[int | None]] | None = None,
    buckets: int = 5,
    seed: int = 0,
) -> RunMetrics:
    """Compute every metric of a run from its episodes (and optional judge ratings)."""
    ok = [e for e in episodes if e.status == "ok"]
    turns_to_success = [success_turn(e, threshold, max_turns) for e in ok]
    successes = [1.0 if t is not None else 0.0 for t in turns_to_success]
    strict = [1.0 if is_strict_success(e, max_turns) else 0.0 for e in ok]
    lengths = [float(t if t is not None else max_turns) for t in turns_to_success]
    sr_at_t = [
        (sum(1 for x in turns_to_success if x is not None and x <= t) / len(ok)) if ok else 0.0
        for t in range(1, max_turns + 1)
    ]
    recall = {
        f"recall@{k}": bootstrap(
            [1.0 if recall_hit(e, k, genres_of) else 0.0 for e in ok], seed + k
        )
        for k in RECALL_KS
    }
    return RunMetrics(
        n_episodes=len(ok),
        n_failed=len(episodes) - len(ok),
        sr=bootstrap(successes, seed),
        strict_sr=bootstrap(strict, seed + 1),
        avg_turns=bootstrap(lengths, seed + 2),
        sr_at_t=sr_at_t,
        recall=recall,
        n_without_ranking=sum(1 for e in ok if not final_ranking(e)),
        strategy_shares=strategy_distribution(ok, buckets),
        persuasiveness=aggregate_persuasiveness(persuasion, seed) if persuasion else None,
        credibility=credibility_mean(credibility, seed) if credibility else None,
    )


def genres_lookup(movies: Mapping[str, Any]) -> Callable[[str], set[str]]:
    """Return kb_id -> lowercased genre set over a movie mapping (unknown ids have none)."""
    cache = {kb_id: {g.lower() for g in movie.genres} for kb_id, movie in movies.items()}
    return lambda kb_id: cache.get(kb_id, set())
