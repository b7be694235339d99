"""Offline recommendation metrics (the standard CRS protocol) for the movie ranker and baselines.

Each (turn, target) pair is one sample: the target is a movie the human recommender suggested
next. Targets are linked to the knowledge base by title (unmatched ones are counted and left
out); targets the dialogue had already named are reported apart, since the ranker never returns
a named movie. Over the rest: Recall@1/10/50, MRR@50 and NDCG@10, each with a seeded bootstrap
95% interval over the pairs. Turns of dialogs the ranker trained on are left out and counted,
so a score never comes from a training dialogue.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Final

from evaluation.metrics import Interval, bootstrap
from retrieval.dialogue import from_context
from retrieval.fusion import Fusion
from retrieval.recommender import MovieRecommender, QueryMode
from rso.data.turn_file import TurnLine

#: A turn to score: context (oldest first, the seeker's last) and written targets.
EvalTurn = TurnLine

RECALL_KS: Final = (1, 10, 50)
#: Depth of every evaluated ranking (MRR is MRR@50).
DEPTH: Final = 50


@dataclass(frozen=True)
class RankingMetrics:
    """Recall@k, MRR@50 and NDCG@10 over (turn, target) pairs."""

    n: int
    recall: dict[str, Interval]
    mrr: Interval
    ndcg_10: Interval


def ranking_metrics(ranks: Sequence[int | None], seed: int = 0) -> RankingMetrics:
    """Metrics from each pair's 1-based rank (None: not in the ranking's top `DEPTH`)."""
    recall = {
        f"recall@{k}": bootstrap([1.0 if r is not None and r <= k else 0.0 for r in ranks], seed)
        for k in RECALL_KS
    }
    mrr = bootstrap([1.0 / r if r is not None else 0.0 for r in ranks], seed)
    ndcg = bootstrap(
        [1.0 / math.log2(r + 1) if r is not None and r <= 10 else 0.0 for r in ranks], seed
    )
    return RankingMetrics(len(ranks), recall, mrr, ndcg)


@dataclass
class SystemReport:
    """One system's metrics over the evaluated pairs."""

    name: str
    metrics: RankingMetrics


@dataclass
class RecommendationReport:
    """Every system's metrics, and how the turns and targets were counted."""

    n_turns: int = 0
    n_targets: int = 0
    #: Targets whose title matched no movie of the knowledge base (left out).
    n_unmatched: int = 0
    unmatched_examples: list[str] = field(default_factory=list)
    #: Targets the dialogue had already named (reported apart; never returned by the ranker).
    n_in_context: int = 0
    #: Turns left out because the ranker trained on their dialog.
    n_training_excluded: int = 0
    systems: list[SystemReport] = field(default_factory=list)

    @property
    def n_evaluated(self) -> int:
        """Pairs in the main figures: matched targets not named earlier in the dialogue."""
        return self.n_targets - self.n_unmatched - self.n_in_context

    def to_json(self) -> dict[str, Any]:
        """Return a dict for `rso.jsonio.dumps`."""
        return asdict(self) | {"n_evaluated": self.n_evaluated}


#: The baselines reported beside the ranker: (fusion, dense query).
def baselines() -> dict[str, tuple[Fusion, QueryMode]]:
    """Popularity, today's dense retrieval (last two utterances), co-mention only."""
    return {
        "popularity (training dialogues)": (Fusion.single("popularity"), "dialogue"),
        "dense retrieval, last two utterances": (Fusion.single("dense_dialogue"), "last_two"),
        "co-mention + popularity back-off": (Fusion.single("comention", "popularity"), "dialogue"),
    }


def evaluate(
    recommender: MovieRecommender,
    turns: Iterable[EvalTurn],
    match: Callable[[str], str | None],
    systems: Mapping[str, tuple[Fusion | None, QueryMode]] | None = None,
    seed: int = 0,
) -> RecommendationReport:
    """Rank every turn with each system (None fusion: the ranker's own) and score the pairs."""
    systems = systems or {"ranker": (None, "dialogue")}
    report = RecommendationReport()
    ranks: dict[str, list[int | None]] = {name: [] for name in systems}
    for turn in turns:
        if turn.dialog_id is not None and turn.dialog_id in recommender.training_dialogs:
            report.n_training_excluded += 1
            continue
        report.n_turns += 1
        dialogue = from_context(turn.context)
        evidence: dict[QueryMode, Any] = {}
        pending: list[str] = []
        for target in turn.targets:
            report.n_targets += 1
            kb_id = match(target)
            if kb_id is None:
                report.n_unmatched += 1
                if len(report.unmatched_examples) < 10:
                    report.unmatched_examples.append(target)
                continue
            pending.append(kb_id)
        if not pending:
            continue
        matrices: dict[QueryMode, Any] = {}
        for name, (fusion, mode) in systems.items():
            if mode not in evidence:
                evidence[mode] = recommender.evidence(dialogue, turn.summary, query=mode)
                matrices[mode] = recommender.features(evidence[mode])
            named = {m.kb_id for m in evidence[mode].mentioned}
            scores = (fusion or recommender.fusion).score(matrices[mode])
            # The coverage-ordered head is part of the ranker, not of the baselines.
            ranked = recommender.top(
                scores, evidence[mode], DEPTH, turn.exclude, cover_head=fusion is None
            )
            position = {r.kb_id: n for n, r in enumerate(ranked, start=1)}
            for kb_id in pending:
                if kb_id in named:
                    if name == next(iter(systems)):
                        report.n_in_context += 1
                    continue
                ranks[name].append(position.get(kb_id))
    report.systems = [SystemReport(name, ranking_metrics(ranks[name], seed)) for name in systems]
    return report
