"""Ranking latency per turn: dialogues read turn by turn (as in a chat) and cold, cached or not.

Turns of one validation dialogue are ranked in order, as a live chat asks for them: with the
per-utterance cache each turn embeds only the utterances said since the previous one. The cold
setting forgets everything before each turn (a dialogue never seen). Each is timed against the
uncached path (every utterance embedded on every call) in the same run. When the ranker's query
encoder runs on ONNX Runtime, the turn-by-turn setting is also timed with the torch encoder.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from retrieval.dialogue import from_context
from retrieval.embedding import TextEmbedder
from retrieval.onnx_embedding import OnnxEmbedder
from retrieval.recommender import MovieRecommender
from retrieval.utterance_cache import DEFAULT_SIZE, UtteranceEmbeddings
from rso.data.turn_file import TurnLine


@dataclass
class Timings:
    """Wall and CPU seconds per ranked turn, and how many utterances were embedded."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    embedded: int = 0

    def ms(self, q: float, cpu: bool = False) -> float:
        """The `q`-th percentile in milliseconds."""
        return float(np.percentile(np.asarray(self.cpu if cpu else self.wall), q)) * 1e3


def dialogues(turns: Iterable[TurnLine], limit: int) -> list[list[TurnLine]]:
    """Group turns by dialog, each in turn order, until `limit` turns are taken."""
    grouped: dict[str | None, list[TurnLine]] = {}
    for turn in turns:
        grouped.setdefault(turn.dialog_id, []).append(turn)
    out: list[list[TurnLine]] = []
    taken = 0
    for group in grouped.values():
        if taken >= limit:
            break
        ordered = sorted(group, key=lambda t: t.turn_id or 0)[: limit - taken]
        out.append(ordered)
        taken += len(ordered)
    return out


def time_turns(
    ranker: MovieRecommender, groups: Sequence[Sequence[TurnLine]], *, cached: bool, cold: bool
) -> Timings:
    """Rank every turn (top 50); forget caches per dialogue, or before every turn when `cold`."""
    ranker.utterances = UtteranceEmbeddings(ranker.embedder, DEFAULT_SIZE if cached else 0)
    timings = Timings()
    for group in groups:
        ranker.forget()
        for turn in group:
            if cold:
                ranker.forget()
            dialogue = from_context(turn.context)
            misses = ranker.utterances.misses
            began, began_cpu = time.perf_counter(), time.process_time()
            ranker.recommend(dialogue, k=50)
            timings.wall.append(time.perf_counter() - began)
            # CPU seconds over all threads: the work itself, which waiting for a busy CPU hides.
            timings.cpu.append(time.process_time() - began_cpu)
            timings.embedded += ranker.utterances.misses - misses
    ranker.utterances = UtteranceEmbeddings(ranker.embedder)
    return timings


def latency_rows(ranker: MovieRecommender, turns: Sequence[TurnLine], limit: int) -> list[str]:
    """Markdown rows: p50/p95/p99 per turn in each setting, cached against uncached."""
    groups = dialogues(turns, limit)
    n = sum(len(g) for g in groups)
    ranker.embedder.embed(["warm up"])
    time_turns(ranker, groups[:3], cached=True, cold=False)  # first calls allocate
    settings = {
        "turn by turn": (time_turns(ranker, groups, cached=True, cold=False),
                         time_turns(ranker, groups, cached=False, cold=False)),
        "cold (each turn a new dialogue)": (time_turns(ranker, groups, cached=True, cold=True),
                                            time_turns(ranker, groups, cached=False, cold=True)),
    }  # fmt: skip
    rows = []
    for name, (cached, uncached) in settings.items():
        for label, t in (("cached", cached), ("uncached", uncached)):
            speedup = (
                f"; {uncached.ms(50) / t.ms(50):.2f}x the uncached wall p50, "
                f"{uncached.ms(50, cpu=True) / t.ms(50, cpu=True):.2f}x its CPU p50"
                if t is cached
                else ""
            )
            rows.append(
                f"| ranking latency per turn, {name}, {label} ({n} turns of {len(groups)} "
                f"dialogues; {t.embedded / n:.1f} exchanges embedded per turn) | "
                f"p50 {t.ms(50):.1f} ms, p95 {t.ms(95):.1f} ms, p99 {t.ms(99):.1f} ms "
                f"(CPU p50 {t.ms(50, cpu=True):.1f} ms, p95 {t.ms(95, cpu=True):.1f} ms)"
                f"{speedup} | p50 <= 10 ms |"
            )
    encoder, cached = ranker.embedder, settings["turn by turn"][0]
    if isinstance(encoder, OnnxEmbedder):
        base = encoder.base
        if encoder.student is not None:  # the artefacts stay the student's: the encoder's cost
            minilm = OnnxEmbedder(base, encoder.threads)
            label = "MiniLM's six layers as the query encoder, ONNX Runtime"
            rows.append(_swapped_row(ranker, groups, minilm, label, "the student above is", cached))
        label = f"MiniLM on torch in {base.precision}"
        rows.append(
            _swapped_row(ranker, groups, base, label, "the ranker's encoder above is", cached)
        )
        if encoder.threads > 1:
            one = OnnxEmbedder(base, threads=1, student=encoder.student)
            versus = f"{encoder.threads} threads above are"
            label = "ONNX Runtime on one thread"
            rows.append(_swapped_row(ranker, groups, one, label, versus, cached))
    return rows


def _timed_with(
    ranker: MovieRecommender, groups: Sequence[Sequence[TurnLine]], encoder: TextEmbedder
) -> Timings:
    """The turn-by-turn cached setting again with another query encoder; the ranker's is kept."""
    runtime = ranker.embedder
    ranker.embedder = encoder
    try:
        encoder.embed(["warm up"])
        return time_turns(ranker, groups, cached=True, cold=False)
    finally:
        ranker.embedder = runtime
        ranker.utterances = UtteranceEmbeddings(runtime)


def _swapped_row(
    ranker: MovieRecommender,
    groups: Sequence[Sequence[TurnLine]],
    encoder: TextEmbedder,
    label: str,
    versus: str,
    default: Timings,
) -> str:
    """One table row: the turn-by-turn cached setting with `encoder` as the query encoder.

    `versus` names what the ratio of this timing to `default` (the ranker's own) measures.
    """
    t = _timed_with(ranker, groups, encoder)
    n = sum(len(g) for g in groups)
    return (
        f"| ranking latency per turn, turn by turn, cached, {label} ({n} turns; {versus} "
        f"{t.ms(50) / default.ms(50):.2f}x faster at wall p50, "
        f"{t.ms(50, cpu=True) / default.ms(50, cpu=True):.2f}x at CPU p50) | "
        f"p50 {t.ms(50):.1f} ms, p95 {t.ms(95):.1f} ms, p99 {t.ms(99):.1f} ms "
        f"(CPU p50 {t.ms(50, cpu=True):.1f} ms) | p50 <= 10 ms |"
    )
