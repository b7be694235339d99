"""Recall@k of the hidden target in item-mode episodes: the movie ranker against what it replaced.

Reads the logged episodes of an item-mode run (``rso rollout --goal item``). For every episode it
rebuilds the dialogue before each recommender turn that recommended a movie, and before the
episode's last turn, and ranks the knowledge base there with the project's ranker and with the
baselines of `evaluation.recommendation` (the dense retrieval of the last two utterances that the
ranker replaced, and popularity). The hidden target is the one relevant movie; the Preference
Reasoner's summary logged for that turn goes with the dialogue, as in the graph. As in the
offline protocol, a target the dialogue already names is counted apart (the ranker never returns
a named movie), so a turn after the recommender named the target scores nothing.

    .venv/bin/python bench/item_recall.py runs/item-rule-act [--no-write] [--json FILE]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Final

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.results import write_section  # noqa: E402
from evaluation.recommendation import RecommendationReport, baselines, evaluate  # noqa: E402
from rso import jsonio  # noqa: E402
from rso.data.turn_file import TurnLine  # noqa: E402
from rso.runs.directory import episodes_file, read_manifest  # noqa: E402
from rso.runs.records import EpisodeRecord, read_episodes  # noqa: E402

SECTION: Final = "Item-mode Recall@k"
RANKER: Final = "ranker"
#: The baselines of `evaluation.recommendation.baselines` reported beside the ranker.
BASELINES: Final = ("dense retrieval, last two utterances", "popularity (training dialogues)")
KS: Final = (1, 10, 50)
_GOAL_PREFIX: Final = "movie:"


def target_of(episode: EpisodeRecord) -> str | None:
    """Return an episode's hidden target kb id (item mode), or None for a genre goal."""
    return (
        episode.goal.removeprefix(_GOAL_PREFIX) if episode.goal.startswith(_GOAL_PREFIX) else None
    )


def turn_lines(episode: EpisodeRecord, target: str, turns: Iterable[int]) -> list[TurnLine]:
    """The dialogue before each of `turns` as a turn to rank, the target its one movie."""
    return [
        TurnLine(
            context=[text for _, text in episode.dialogue(before_turn=t)],
            targets=[target],
            turn_id=f"{episode.episode_id}:{t}",
            summary=episode.turns[t].preferences or None,
        )
        for t in turns
    ]


def item_turns(episodes: Sequence[EpisodeRecord]) -> tuple[list[TurnLine], list[TurnLine]]:
    """Return the turns to rank: before every recommending turn, and before each last turn."""
    recommending: list[TurnLine] = []
    last: list[TurnLine] = []
    for episode in episodes:
        target = target_of(episode)
        if target is None or episode.status != "ok" or not episode.turns:
            continue
        recommended = [t for t, turn in enumerate(episode.turns) if turn.recommended]
        recommending += turn_lines(episode, target, recommended)
        last += turn_lines(episode, target, [len(episode.turns) - 1])
    return recommending, last


def _cells(report: RecommendationReport, name: str) -> list[str]:
    metrics = next(s.metrics for s in report.systems if s.name == name)
    return [f"{metrics.recall[f'recall@{k}'].value:.3f}" for k in KS]


def recall_table(at_recommendation: RecommendationReport, at_last: RecommendationReport) -> str:
    """One markdown table: each system's Recall@1/10/50 at both kinds of turn."""
    at = [f"R@{k} rec. turns" for k in KS] + [f"R@{k} last turn" for k in KS]
    lines = [
        f"| system | {' | '.join(at)} |",
        "|---|" + "---:|" * (2 * len(KS)),
    ]
    for system in at_recommendation.systems:
        cells = _cells(at_recommendation, system.name) + _cells(at_last, system.name)
        lines.append(f"| {system.name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run_settings(run: Path) -> str:
    """The run as `rso rollout` options, from its manifest."""
    settings = read_manifest(run)["settings"]
    names = ("cases", "seeker", "experts", "planner", "goal", "seed")
    return " ".join(f"--{name} {settings.get(name, 'genre')}" for name in names)


def counts(report: RecommendationReport) -> str:
    """How many pairs were scored and how many the dialogue had already named."""
    return (
        f"{report.n_evaluated} scored, {report.n_in_context} already named in the dialogue, "
        f"{report.n_unmatched} not in the knowledge base"
    )


def main(argv: list[str] | None = None) -> None:
    """Score the runs' item-mode episodes and write the section of bench/RESULTS.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="item-mode run directories")
    parser.add_argument("--no-write", action="store_true", help="do not touch bench/RESULTS.md")
    parser.add_argument("--json", type=Path, help="also write the reports as JSON here")
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap intervals")
    args = parser.parse_args(argv)

    from retrieval.recommender_default import get_recommender
    from rso.data.movies import movies_by_id

    episodes = [e for run in args.runs for e in read_episodes(episodes_file(run))]
    recommending, last = item_turns(episodes)
    if not last:
        raise SystemExit("no finished item-mode episode (goal movie:<kb_id>) in the runs")
    kb = movies_by_id()
    known = baselines()
    systems: dict[str, Any] = {RANKER: (None, "dialogue"), **{b: known[b] for b in BASELINES}}
    recommender = get_recommender()

    def match(kb_id: str) -> str | None:
        return kb_id if kb_id in kb else None

    reports = [evaluate(recommender, t, match, systems, args.seed) for t in (recommending, last)]
    runs = " ".join(str(run) for run in args.runs)
    n_episodes = len({t.turn_id.rsplit(":", 1)[0] for t in last if isinstance(t.turn_id, str)})
    text = "\n".join(
        [
            f"Command: `.venv/bin/python bench/item_recall.py {runs}` ({platform.machine()}, "
            f"{os.cpu_count()} CPUs). The dialogue before each recommender turn that recommended a "
            "movie, and before each episode's last turn, ranked again by each system; the hidden "
            f"target is the one relevant movie. {n_episodes} item-mode episodes; recommendation "
            f"turns: {counts(reports[0])}; last turns: {counts(reports[1])}.",
            "",
            *(f"- `{run}`: `rso rollout {run_settings(run)}`" for run in args.runs),
            "",
            recall_table(*reports),
        ]
    )
    print(text)
    if not args.no_write:
        write_section(SECTION, text)
    if args.json:
        figures = {"recommendation_turns": reports[0].to_json(), "last_turn": reports[1].to_json()}
        args.json.write_text(jsonio.dumps(figures, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
