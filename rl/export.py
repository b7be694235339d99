"""Export logged rollouts as TRL-style rows, for fine-tuning further with TRL.

Two row kinds, both one row per recommender turn of a finished episode:
- "actor": conversational prompt/completion rows (TRL's standard format): ``prompt`` is the
  dialogue before the reply as chat messages (a system message carrying the strategy's
  instruction from `prompts.actor`, then the seeker as "user" and the recommender as
  "assistant"), ``completion`` the reply; plus strategy, reward and ids. With
  ``prompt_format="text"`` the prompt is the "Seeker: ... / Recommender: ..." text instead.
- "planner": ``state`` (the Planner's input text as logged), ``strategy``, ``return`` G_t
  (discounted with `gamma`, as in training), ``reward`` r_t, ``logprob`` and ids.

Failed episodes are left out and counted; the caller reports the count.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rl.returns import DEFAULT_GAMMA, discounted_returns
from rso.runs.directory import load_run
from rso.runs.records import EpisodeRecord, TurnRecord

RowKind = Literal["actor", "planner"]
PromptFormat = Literal["messages", "text"]
ExportFormat = Literal["jsonl", "datasets"]

_ROLES = {"Seeker": "user", "Recommender": "assistant"}


class MissingDatasetsError(RuntimeError):
    """The `datasets` package is needed for this export format but is not installed."""


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote."""

    path: Path
    rows: int
    episodes: int
    skipped_failed: int


def _instruction(turn: TurnRecord) -> str:
    from prompts.actor import GENERIC_INSTRUCTION, STRATEGY_INSTRUCTIONS

    return GENERIC_INSTRUCTION if turn.strategy is None else STRATEGY_INSTRUCTIONS[turn.strategy]


def actor_rows(
    episodes: Iterable[EpisodeRecord], prompt_format: PromptFormat = "messages"
) -> Iterator[dict[str, Any]]:
    """Yield one prompt/completion row per recommender turn of each finished episode."""
    if prompt_format not in ("messages", "text"):
        raise ValueError(f"unknown prompt format {prompt_format!r}; expected messages or text")
    for episode in episodes:
        if episode.status != "ok":
            continue
        for index, turn in enumerate(episode.turns):
            history = episode.dialogue(index)
            prompt: Any
            completion: Any
            if prompt_format == "messages":
                prompt = [{"role": "system", "content": _instruction(turn)}] + [
                    {"role": _ROLES[speaker], "content": text} for speaker, text in history
                ]
                completion = [{"role": "assistant", "content": turn.reply}]
            else:
                prompt = "\n".join(f"{s}: {' '.join(t.split())}" for s, t in history)
                prompt += "\nRecommender:"
                completion = " " + turn.reply
            yield {
                "prompt": prompt,
                "completion": completion,
                "strategy": turn.strategy,
                "reward": turn.reward,
                "episode_id": episode.episode_id,
                "turn": turn.turn,
                "success": episode.success,
            }


def planner_rows(
    episodes: Iterable[EpisodeRecord], gamma: float = DEFAULT_GAMMA
) -> Iterator[dict[str, Any]]:
    """Yield one state/strategy/return row per Planner decision of each finished episode."""
    for episode in episodes:
        if episode.status != "ok" or not episode.turns:
            continue
        returns = discounted_returns([t.reward for t in episode.turns], gamma).tolist()
        for turn, g in zip(episode.turns, returns, strict=True):
            if turn.strategy is None:
                raise ValueError(
                    f"episode {episode.episode_id} turn {turn.turn}: no strategy (Planner "
                    "ablated); this run has no Planner decisions to export"
                )
            yield {
                "state": turn.planner_input,
                "strategy": turn.strategy,
                "return": g,
                "reward": turn.reward,
                "logprob": turn.logprob,
                "episode_id": episode.episode_id,
                "turn": turn.turn,
                "success": episode.success,
            }


def export_trl(
    run: Path,
    out: Path,
    *,
    kind: RowKind = "actor",
    fmt: ExportFormat = "jsonl",
    prompt_format: PromptFormat = "messages",
    gamma: float = DEFAULT_GAMMA,
) -> ExportResult:
    """Write the rows of one run as JSONL, or as a `datasets` dataset saved to disk at `out`."""
    episodes = load_run(run)
    failed = sum(e.status != "ok" for e in episodes)
    if kind == "actor":
        rows = list(actor_rows(episodes, prompt_format))
    elif kind == "planner":
        rows = list(planner_rows(episodes, gamma))
    else:
        raise ValueError(f"unknown row kind {kind!r}; expected actor or planner")
    out = Path(out)
    if fmt == "jsonl":
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out, "w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    elif fmt == "datasets":
        try:
            import datasets
        except ImportError:
            raise MissingDatasetsError(
                "--format datasets needs the `datasets` package (pip install datasets); "
                "--format jsonl works without it and `datasets.load_dataset('json', ...)` "
                "reads the result"
            ) from None
        datasets.Dataset.from_list(rows).save_to_disk(str(out))
    else:
        raise ValueError(f"unknown export format {fmt!r}; expected jsonl or datasets")
    return ExportResult(
        path=out, rows=len(rows), episodes=len(episodes) - failed, skipped_failed=failed
    )
