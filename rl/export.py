"""Export logged rollouts as TRL-style rows, for fine-tuning further with TRL.

Three row kinds, from the finished episodes of a run:
- "actor": one prompt/completion row per recommender turn (TRL's standard format, for
  ``SFTTrainer``). The prompt is what the Actor read (`agents.actor.actor_prompt`): the system
  text with the strategy's instruction and rules, and the user text with the dialogue, the
  preference summary and the chosen movie's title and facts; the completion is the reply. A row
  whose reply names a movie its prompt does not hold is left out and counted, so that a model
  tuned on the rows is not taught to invent titles. Version-1 logs did not record the
  preferences, chosen movie or facts: their prompts name the movies the reply recommends.
  ``prompt_format="text"`` joins the two texts into one string.
- "planner": ``state`` (the Planner's input text as logged), ``strategy``, ``return`` G_t
  (discounted with `gamma`, as in training), ``reward`` r_t, ``logprob`` and ids.
- "pairs": preference rows (``prompt``, ``chosen``, ``rejected``; TRL's preference format, for
  ``DPOTrainer``) from turns that started from the same dialogue state with different rewards:
  the best-rewarded reply is chosen over each lower-rewarded one. The prompt is the dialogue
  alone, since the two replies were written under different strategies.

Failed episodes are left out and counted; the caller reports the count.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rl.returns import DEFAULT_GAMMA, discounted_returns
from rso.dialogue import format_dialogue
from rso.runs.directory import load_run
from rso.runs.records import EpisodeRecord, TurnRecord

RowKind = Literal["actor", "planner", "pairs"]
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
    #: Actor rows left out because the reply names a movie the prompt does not hold.
    skipped_ungrounded: int = 0


def actor_prompt_texts(episode: EpisodeRecord, index: int) -> tuple[str, str]:
    """Return the Actor's system and user texts for turn `index` of a logged episode."""
    from agents.actor import actor_prompt
    from graph.resources import movies

    turn = episode.turns[index]
    known = movies()
    movie: tuple[str, str] | None = None
    if turn.chosen_movie is not None and turn.chosen_movie in known:
        movie = (known[turn.chosen_movie].display_title, turn.movie_facts)
    elif turn.recommended:  # a version-1 record: what the reply names is all that is known
        titles = [known[k].display_title for k in turn.recommended if k in known]
        movie = ("\n".join(titles), "") if titles else None
    dialogue = format_dialogue(episode.dialogue(index))
    return actor_prompt(turn.strategy, dialogue, turn.preferences, movie)


def _grounded(turn: TurnRecord, prompt: str) -> bool:
    from graph.resources import movies

    known = movies()
    return all(k in known and known[k].display_title in prompt for k in turn.recommended)


def actor_rows(
    episodes: Iterable[EpisodeRecord],
    prompt_format: PromptFormat = "messages",
    skipped: list[int] | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield one prompt/completion row per grounded recommender turn of each finished episode.

    `skipped`, if given, gets one entry per turn left out as ungrounded.
    """
    if prompt_format not in ("messages", "text"):
        raise ValueError(f"unknown prompt format {prompt_format!r}; expected messages or text")
    for episode in episodes:
        if episode.status != "ok":
            continue
        for index, turn in enumerate(episode.turns):
            system, user = actor_prompt_texts(episode, index)
            if not _grounded(turn, system + "\n" + user):
                if skipped is not None:
                    skipped.append(turn.turn)
                continue
            prompt: Any
            completion: Any
            if prompt_format == "messages":
                prompt = [{"role": "system", "content": system}, {"role": "user", "content": user}]
                completion = [{"role": "assistant", "content": turn.reply}]
            else:
                prompt = f"{system}\n\n{user}\n"
                completion = turn.reply
            yield {
                "prompt": prompt,
                "completion": completion,
                "strategy": turn.strategy,
                "reward": turn.reward,
                "recommended": list(turn.recommended),
                "episode_id": episode.episode_id,
                "turn": turn.turn,
                "success": episode.success,
            }


def pair_rows(episodes: Iterable[EpisodeRecord]) -> Iterator[dict[str, Any]]:
    """Yield chosen/rejected rows from turns that share a dialogue state but not a reward."""
    by_state: dict[str, list[tuple[EpisodeRecord, int]]] = {}
    for episode in episodes:
        if episode.status != "ok":
            continue
        for index in range(len(episode.turns)):
            state = format_dialogue(episode.dialogue(index))
            by_state.setdefault(state, []).append((episode, index))
    for state in sorted(by_state):
        group = by_state[state]
        best_episode, best_index = max(group, key=lambda item: item[0].turns[item[1]].reward)
        best = best_episode.turns[best_index]
        history = best_episode.dialogue(best_index)
        prompt = [{"role": _ROLES[speaker], "content": text} for speaker, text in history]
        for episode, index in group:
            other = episode.turns[index]
            if other.reward >= best.reward:
                continue
            yield {
                "prompt": prompt,
                "chosen": [{"role": "assistant", "content": best.reply}],
                "rejected": [{"role": "assistant", "content": other.reply}],
                "chosen_reward": best.reward,
                "rejected_reward": other.reward,
                "chosen_strategy": best.strategy,
                "rejected_strategy": other.strategy,
                "chosen_episode_id": best_episode.episode_id,
                "rejected_episode_id": episode.episode_id,
                "turn": index,
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
    skipped: list[int] = []
    if kind == "actor":
        rows = list(actor_rows(episodes, prompt_format, skipped))
    elif kind == "planner":
        rows = list(planner_rows(episodes, gamma))
    elif kind == "pairs":
        rows = list(pair_rows(episodes))
    else:
        raise ValueError(f"unknown row kind {kind!r}; expected actor, planner or pairs")
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
        path=out,
        rows=len(rows),
        episodes=len(episodes) - failed,
        skipped_failed=failed,
        skipped_ungrounded=len(skipped),
    )
