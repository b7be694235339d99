"""Training rows of the tuned Actor: INSPIRED's human recommender utterances in the tuned format.

Each row is one labelled recommender utterance (the completion) under its strategy, with the
tuned format's input (`agents.actor_format`) built from what came before it: the preferences the
rule extractor reads in the preceding turns, the movie the utterance names (else the latest movie
named in the shown turns, else none) with its record facts, and the last turns. Rows are drawn
deterministically, the same number per strategy, so rare strategies are learnt too. Under the
strategies about the movie (`prompts.actor.MOVIE_STRATEGIES`) a row is kept only when the human
utterance names the movie it talks about: the Actor is asked to name the movie there, and rows
that only allude to it taught the tuned model to leave it out.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from itertools import islice
from pathlib import Path
from typing import Any, Final

from agents.actor_format import merge_turns, tuned_prompt
from agents.rule_preferences import DialogueTurn, extract_preferences
from agents.rule_replies import summarize_preferences
from prompts import actor as prompts
from retrieval.taste_words import default_vocabulary, find_people
from rso.data.inspired import load_inspired
from rso.data.movies import movies_by_id
from rso.data.records import InspiredDialog, Split
from rso.dialogue import RECOMMENDER, SEEKER
from rso.jsonio import dumps
from rso.strategies import STRATEGIES, Strategy

#: Human utterances shorter or longer than this many words are left out (greetings, monologues).
MIN_WORDS: Final = 2
MAX_WORDS: Final = 40
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class ActorExample:
    """One training row: the tuned format's input and the human recommender's utterance."""

    dialog_id: str
    index: int
    strategy: Strategy
    #: kb_id of the movie in the input (None: "no movie yet").
    movie: str | None
    system: str
    user: str
    reply: str
    #: Whether the reply itself names `movie` (else the movie is the one under discussion).
    reply_names_movie: bool = False

    def chat_row(self) -> dict[str, Any]:
        """Return the row in TRL's conversational prompt-completion format."""
        return {
            "prompt": [
                {"role": "system", "content": self.system},
                {"role": "user", "content": self.user},
            ],
            "completion": [{"role": "assistant", "content": self.reply}],
        }


def candidate_utterances(
    dialogs: Sequence[InspiredDialog],
) -> dict[Strategy, list[tuple[InspiredDialog, int]]]:
    """Labelled recommender utterances with a seeker turn before them, by strategy, in order."""
    found: dict[Strategy, list[tuple[InspiredDialog, int]]] = defaultdict(list)
    for dialog in dialogs:
        seen_seeker = False
        for index, utterance in enumerate(dialog.utterances):
            if utterance.speaker == "SEEKER":
                seen_seeker = True
                continue
            words = len(_WORD.findall(utterance.text))
            if utterance.strategy is None or not seen_seeker:
                continue
            if MIN_WORDS <= words <= MAX_WORDS:
                found[utterance.strategy].append((dialog, index))
    return found


def choose_utterances(
    dialogs: Sequence[InspiredDialog],
    per_strategy: int,
    seed: int,
    usable: Callable[[InspiredDialog, int], bool] = lambda dialog, index: True,
) -> list[tuple[InspiredDialog, int]]:
    """Up to `per_strategy` `usable` utterances of each strategy, drawn with `seed`, shuffled."""
    rng = random.Random(seed)
    chosen: list[tuple[InspiredDialog, int]] = []
    by_strategy = candidate_utterances(dialogs)
    for strategy in STRATEGIES:
        pool = by_strategy.get(strategy, [])
        order = rng.sample(pool, len(pool))
        chosen += islice((pick for pick in order if usable(*pick)), per_strategy)
    rng.shuffle(chosen)
    return chosen


def movies_named(text: str, find_titles: Callable[[str], list[str]]) -> list[str]:
    """kb_ids of the titles in `text`, without those that are part of a person's name there."""
    people = [p.casefold() for p in find_people(text, default_vocabulary())]
    movies = movies_by_id()
    return [
        kb_id
        for kb_id in find_titles(text)
        if kb_id in movies and not any(movies[kb_id].title.casefold() in p for p in people)
    ]


def build_example(
    dialog: InspiredDialog, index: int, find_titles: Callable[[str], list[str]]
) -> ActorExample:
    """Build the row of utterance `index` of `dialog` (a labelled recommender utterance)."""
    movies = movies_by_id()
    before = [
        (SEEKER if u.speaker == "SEEKER" else RECOMMENDER, u.text)
        for u in dialog.utterances[:index]
    ]
    turns: list[DialogueTurn] = [
        (speaker, text, tuple(movies_named(text, find_titles)) if speaker == RECOMMENDER else ())
        for speaker, text in merge_turns(before)
    ]
    prefs = extract_preferences(
        turns, default_vocabulary(), movies, lambda text: movies_named(text, find_titles)
    )
    target = dialog.utterances[index]
    named = movies_named(target.text, find_titles)
    names_movie = bool(named)
    if not named:  # the movie under discussion: the latest one the recommender named lately
        for _, _, recommended in reversed(turns[-prompts.TUNED_TURNS :]):
            if recommended:
                named = list(recommended)
                break
    movie = movies.get(named[0]) if named else None
    assert target.strategy is not None
    system, user = tuned_prompt(
        target.strategy,
        [(s, t) for s, t, _ in turns],
        summarize_preferences(prefs, movies),
        movie,
    )
    reply = " ".join(target.text.split())
    return ActorExample(
        dialog.dialog_id,
        index,
        target.strategy,
        movie.kb_id if movie else None,
        system,
        user,
        reply,
        names_movie,
    )


def names_its_movie(example: ActorExample) -> bool:
    """Tell whether a row may train: under a movie strategy, only if the reply names the movie."""
    return example.strategy not in prompts.MOVIE_STRATEGIES or example.reply_names_movie


def actor_examples(
    split: Split = "train", per_strategy: int = 60, seed: int = 0
) -> list[ActorExample]:
    """Build the rows of `split`: up to `per_strategy` usable utterances per strategy (`seed`)."""
    from retrieval.titles import get_title_matcher  # lazy: loads the title index

    matcher = get_title_matcher()
    built: dict[tuple[str, int], ActorExample] = {}

    def example(dialog: InspiredDialog, index: int) -> ActorExample:
        key = (dialog.dialog_id, index)
        if key not in built:
            built[key] = build_example(dialog, index, matcher.find_in_text)
        return built[key]

    picks = choose_utterances(
        load_inspired(split), per_strategy, seed, lambda d, i: names_its_movie(example(d, i))
    )
    return [example(dialog, index) for dialog, index in picks]


def write_examples(examples: Sequence[ActorExample], path: Path) -> None:
    """Write the rows as JSON lines (the chat format plus their source and strategy)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for example in examples:
            out.write(dumps(asdict(example) | example.chat_row()) + "\n")
