"""The tuned Actor: its input format, its training rows, the adapter setting and the Actor's use."""

from __future__ import annotations

import pytest

from agents.actor import write_reply
from agents.actor_format import merge_turns, tuned_prompt
from graph.context import Context, ContextError
from prompts.actor import GENERIC_INSTRUCTION, STRATEGY_INSTRUCTIONS, TUNED_TURNS
from rl.actor_data import ActorExample, build_example, choose_utterances, names_its_movie
from rso.data.movies import movies_by_id
from rso.data.records import InspiredDialog, Utterance
from rso.paths import DEFAULT_ACTOR_ADAPTER
from rso.strategies import STRATEGIES
from tests.fakes import ScriptedChatModel, patch_chat_model
from tests.world import runtime, state

KB_ID = "redial:100030"  # Friends with Benefits (2011), in the committed knowledge base
TITLE = "Friends with Benefits"


def _dialog(*utterances: tuple[str, str, str | None], dialog_id: str = "d1") -> InspiredDialog:
    return InspiredDialog(
        dialog_id=dialog_id,
        split="train",
        user_id="u",
        target_genres=[],
        utterances=[Utterance(speaker=s, text=t, strategy=g) for s, t, g in utterances],  # type: ignore[arg-type]
    )


def _titles(text: str) -> list[str]:
    return [KB_ID] if TITLE.lower() in text.lower() else []


def test_the_tuned_format_is_short_plain_text_with_strategy_movie_and_last_turns() -> None:
    movie = movies_by_id()[KB_ID]
    turns = [("Seeker", f"turn {i}") for i in range(10)]
    system, user = tuned_prompt("Credibility", turns, "The seeker likes comedy movies.", movie)
    assert system.startswith("You are a movie recommender. Strategy: Credibility.")
    assert STRATEGY_INSTRUCTIONS["Credibility"] in system
    assert user.startswith("Preferences: The seeker likes comedy movies.\nMovie: ")
    assert f"{TITLE} (2011)." in user and "directed by Will Gluck" in user
    assert movie.plot not in user  # the plot costs tokens: record facts only
    # consecutive seeker turns merge into one; at most TUNED_TURNS turns are shown
    assert user.endswith("Seeker: " + " ".join(f"turn {i}" for i in range(10)))
    assert "\n- " not in system + user  # no bullet list to copy


def test_the_tuned_format_without_movie_preferences_or_strategy() -> None:
    turns = [("Seeker", "a"), ("Recommender", "b"), ("Seeker", "c"), ("Recommender", "d")]
    turns += [("Seeker", "e")]
    system, user = tuned_prompt(None, turns, "", None)
    assert system == f"You are a movie recommender. Strategy: any. {GENERIC_INSTRUCTION}"
    assert user.splitlines()[:2] == ["Preferences: not known yet", "Movie: no movie yet"]
    assert user.count("\n") == 2 + TUNED_TURNS  # two fields, a blank line, the last turns
    assert "Seeker: a" not in user and user.endswith("Seeker: e")


def test_merge_turns_joins_one_speakers_utterances() -> None:
    merged = merge_turns([("Recommender", "Hi!"), ("Recommender", "Any genre?"), ("Seeker", "x")])
    assert merged == [("Recommender", "Hi! Any genre?"), ("Seeker", "x")]


def test_a_training_row_reads_what_came_before_the_utterance() -> None:
    dialog = _dialog(
        ("RECOMMENDER", "Hi there!", "No Strategy"),
        ("RECOMMENDER", "What do you like?", "Opinion Inquiry"),
        ("SEEKER", "I love comedy movies.", None),
        ("RECOMMENDER", f"You should see {TITLE}, it is hilarious.", "Personal Opinion"),
        ("SEEKER", "Sounds fun", None),
    )
    example = build_example(dialog, 3, _titles)
    assert example.strategy == "Personal Opinion"
    assert example.reply == f"You should see {TITLE}, it is hilarious."
    assert "Preferences: The seeker likes comedy movies." in example.user
    assert f"Movie: {TITLE} (2011)." in example.user  # the movie the utterance names
    assert example.user.endswith(
        "Recommender: Hi there! What do you like?\nSeeker: I love comedy movies."
    )
    row = example.chat_row()
    assert [m["role"] for m in row["prompt"]] == ["system", "user"]
    assert row["completion"] == [{"role": "assistant", "content": example.reply}]
    # a later reply about the same movie keeps it as the movie under discussion
    dialog.utterances.append(
        Utterance(speaker="RECOMMENDER", text="Enjoy it!", strategy="Encouragement")
    )
    assert f"Movie: {TITLE} (2011)." in build_example(dialog, 5, _titles).user


def test_rows_are_drawn_per_strategy_deterministically() -> None:
    utterances: list[tuple[str, str, str | None]] = [("SEEKER", "hello there", None)]
    for strategy in STRATEGIES:
        utterances += [("RECOMMENDER", f"{strategy} reply number {i}", strategy) for i in range(5)]
    utterances += [("RECOMMENDER", "x", "Credibility")]  # too short: left out
    dialogs = [_dialog(*utterances)]
    first = choose_utterances(dialogs, 2, seed=3)
    assert first == choose_utterances(dialogs, 2, seed=3)
    assert first != choose_utterances(dialogs, 2, seed=4)
    strategies = [dialogs[0].utterances[i].strategy for _, i in first]
    assert sorted(strategies) == sorted(list(STRATEGIES) * 2)
    # nothing before the first seeker turn is a row (no context to answer)
    opening = _dialog(("RECOMMENDER", "Hello how are you", "No Strategy"))
    assert choose_utterances([opening], 2, seed=0) == []


def test_unusable_rows_are_passed_over_and_the_next_ones_taken() -> None:
    utterances: list[tuple[str, str, str | None]] = [("SEEKER", "hello there", None)]
    utterances += [("RECOMMENDER", f"Credibility reply {i}", "Credibility") for i in range(5)]
    dialogs = [_dialog(*utterances)]
    odd = choose_utterances(dialogs, 2, seed=0, usable=lambda dialog, index: index % 2 == 1)
    assert len(odd) == 2 and all(index % 2 == 1 for _, index in odd)
    assert len(choose_utterances(dialogs, 9, seed=0, usable=lambda d, i: i % 2 == 1)) == 3


def _row(strategy: str, names: bool, movie: str | None = "m1") -> ActorExample:
    return ActorExample("d", 1, strategy, movie, "system", "user", "reply", names)  # type: ignore[arg-type]


def test_rows_about_the_movie_are_kept_only_when_the_human_names_it() -> None:
    assert names_its_movie(_row("Credibility", names=True))
    assert not names_its_movie(_row("Credibility", names=False))  # only the movie under discussion
    assert not names_its_movie(_row("Personal Opinion", names=False, movie=None))
    assert names_its_movie(_row("Opinion Inquiry", names=False))  # not a movie strategy


def test_the_adapter_setting_gives_only_the_actor_a_lora_server() -> None:
    context = Context(actor_adapter="default")
    assert context.llm("actor").lora_path == str(DEFAULT_ACTOR_ADAPTER)
    assert all(context.llm(role).lora_path is None for role in ("reasoner", "retriever", "seeker"))
    assert Context(actor_adapter="~/a.gguf").llm("actor").lora_path.endswith("/a.gguf")  # type: ignore[union-attr]
    assert Context(actor_adapter=None).llm("actor").lora_path is None
    assert Context(actor_adapter="none").llm("actor").lora_path is None
    # 'auto', the default: the shipped adapter on the embedded model, none on a served one.
    assert Context().llm("actor").lora_path == str(DEFAULT_ACTOR_ADAPTER)
    assert Context(base_url="http://127.0.0.1:1/v1").llm("actor").lora_path is None
    with pytest.raises(ContextError, match="'default' needs the embedded model"):
        Context(actor_adapter="default", actor_base_url="http://127.0.0.1:1/v1")
    with pytest.raises(ContextError, match="'default' needs the embedded model"):
        Context(actor_adapter="default", base_url="http://127.0.0.1:1/v1")


def test_the_actor_uses_the_tuned_format_when_the_adapter_is_set(monkeypatch, world) -> None:
    fake = ScriptedChatModel(script=["Have you seen The Conjuring? It is so creepy."])
    patch_chat_model(monkeypatch, fake)
    fields = {"preferences": "Likes horror.", "chosen_movie": "m2", "candidates": ["m2"]}
    update = write_reply(
        state("I like horror", **fields), runtime(actor_adapter="a.gguf"), "Credibility"
    )
    assert update["reply"] == "Have you seen The Conjuring? It is so creepy."
    system, user = fake.prompts[0][0].content, fake.prompt_text(0)
    assert system.startswith("You are a movie recommender. Strategy: Credibility.")
    assert "Preferences: Likes horror.\nMovie: The Conjuring" in user
    assert user.endswith("Seeker: I like horror")
