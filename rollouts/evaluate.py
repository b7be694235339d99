"""Evaluate logged runs: metrics, the LLM judges (persuasiveness, credibility), reports.

`rso eval` is a thin front end to `evaluate_with_judges` and `write_comparison`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

from agents import judges
from agents.seeker import goal_from_case
from evaluation.metrics import RunMetrics, compute_metrics, genres_lookup
from evaluation.plots import plot_sr_at_t
from evaluation.report import metrics_table, write_report
from graph import models
from rso.data.movies import movies_by_id
from rso.data.personas import load_personas
from rso.modes import MAX_TURNS
from rso.runs.directory import MANIFEST_FILE, load_run, read_manifest
from rso.runs.records import EpisodeRecord

if TYPE_CHECKING:
    from graph.models import LLMSettings

#: When the LLM judges run: auto = only for runs with the LLM seeker.
JudgesMode = Literal["auto", "on", "off"]
#: The judges' per-episode ratings, written into the run directory.
JUDGES_FILE: Final = "judges.jsonl"

logger = logging.getLogger("rso.evaluate")


def _log(message: str) -> None:
    logger.info(message)


def evaluate_with_judges(
    run: Path,
    name: str,
    judges: JudgesMode,
    judge_settings: LLMSettings,
    *,
    max_turns: int | None = None,
    seed: int = 0,
    notify: Callable[[str], None] = _log,
) -> RunMetrics:
    """Compute one run's metrics (with the judges if asked) and write its report into it.

    `notify` receives the status lines (skipped judges, failed episodes, the summary).
    """
    if not run.is_dir():
        raise FileNotFoundError(f"{run} is not a run directory")
    episodes = load_run(run)
    manifest = _manifest(run)
    settings = manifest.get("settings", {})
    seeker = settings.get("seeker")
    turns = max_turns or int(settings.get("max_turns") or MAX_TURNS)
    use_judges = judges == "on" or (judges == "auto" and seeker == "llm")
    persuasion = credibility = None
    if use_judges:
        persuasion, credibility = run_judges(episodes, judge_settings, run / JUDGES_FILE)
    elif judges == "auto":
        notify(
            f"note: {name}: LLM judges (persuasiveness, credibility) skipped for a run with the "
            f"{seeker or 'unknown'} seeker; pass --judges on to run them"
        )
    metrics = compute_metrics(
        episodes,
        genres_lookup(movies_by_id()),
        max_turns=turns,
        persuasion=persuasion,
        credibility=credibility,
        seed=seed,
    )
    metrics.extra.update(
        {
            "run": str(run),
            "max_turns": turns,
            "judges": "run" if use_judges else "skipped",
            "settings_digest": manifest.get("settings_digest"),
        }
    )
    paths = write_report(name, metrics, run)
    if metrics.n_failed:
        notify(
            f"warning: {name}: {metrics.n_failed} failed episode(s) are left out of the metrics "
            "(their errors are in episodes.jsonl)"
        )
    notify(
        f"{name}: {metrics.n_episodes} episodes ({metrics.n_failed} failed): SR {metrics.sr}, "
        f"strict SR {metrics.strict_sr}, AvgT {metrics.avg_turns} -> {paths['report']}"
    )
    return metrics


def run_judges(
    episodes: Sequence[EpisodeRecord], settings: LLMSettings, log_path: Path
) -> tuple[list[tuple[int | None, int | None, int | None]], list[list[int | None]]]:
    """Rate every finished episode: persuasiveness of its last recommendation, credibility."""
    movies, personas = movies_by_id(), load_personas()
    model = models.load_chat_model(settings)
    persuasion: list[tuple[int | None, int | None, int | None]] = []
    credibility: list[list[int | None]] = []
    with log_path.open("w", encoding="utf-8") as log:
        for episode in (e for e in episodes if e.status == "ok"):
            dialogue = episode.dialogue()
            last = next((t for t in reversed(episode.turns) if t.recommended), None)
            ratings: tuple[int | None, int | None, int | None] = (None, None, None)
            if last is not None and last.recommended[0] in movies:
                scored = judges.persuasiveness(
                    dialogue,
                    movies[last.recommended[0]],
                    personas.get(episode.persona_id),
                    goal_from_case(episode.case),
                    settings,
                    model=model,
                )
                ratings = scored.values()
            mentions = [
                (t.reply, movies[t.recommended[0]])
                for t in episode.turns
                if t.recommended and t.recommended[0] in movies
            ]
            scores = [s.value for s in judges.credibility(mentions, settings, model=model)]
            persuasion.append(ratings)
            credibility.append(scores)
            line = {"episode_id": episode.episode_id, "persuasion": ratings, "credibility": scores}
            log.write(json.dumps(line) + "\n")
    return persuasion, credibility


def write_comparison(results: dict[str, RunMetrics], out: Path) -> str:
    """Write the side-by-side table (and an SR@t plot of every run); return the table."""
    table = "# Comparison\n\n" + metrics_table(results)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(table, encoding="utf-8")
    plot_sr_at_t({n: m.sr_at_t for n, m in results.items()}, out.with_suffix(".sr_at_t.png"))
    return table


def _manifest(run: Path) -> dict[str, Any]:
    path = run / MANIFEST_FILE
    return read_manifest(path) if path.exists() else {}
