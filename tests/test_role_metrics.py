"""Role metrics on a scripted fake model: known answers give known scores; contexts; resume."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import BaseMessage

from agents import rule_experts
from evaluation.role_metrics import (
    RoleContext,
    RoleRecord,
    dialog_contexts,
    format_table,
    role_contexts,
    summarise,
)
from graph.context import Context
from rollouts import roles
from rollouts.role_calls import JUDGED_ACTS, evaluate_context
from rso.data.records import InspiredDialog, Utterance
from tests.fakes import ScriptedChatModel, patch_chat_model

#: One structured answer that fits every schema (extra keys are ignored by each).
EVERY_FIELD = {
    "reasoning": "The seeker said so.",
    "likes": ["horror movies"],
    "dislikes": [],
    "choice": "The Conjuring",
    "facts": "The Conjuring is a 2013 horror mystery by James Wan.",
    "rating": 4,
}
ACT_LETTERS = {
    "accept": "E",
    "interested": "D",
    "reject": "A",
    "not_interested": "B",
    "ask_about_movie": "C",
}
ACTOR_REPLY = "You might like The Conjuring. It is a paranormal horror mystery by James Wan."
WORLD_INPUTS = {
    "candidates": ["m2", "m1", "m5"],
    "chosen_movie": "m2",
    "movie_facts": "The Conjuring (2013) is a horror movie by James Wan.",
}


class LabelByWord:
    """A stand-in tagger: "Conjuring" reads as Personal Opinion, anything else as Credibility."""

    info: dict[str, Any] = {"test": {"accuracy": 1.0}}

    def predict(self, texts: list[str]) -> list[str]:
        return ["Personal Opinion" if "Conjuring" in t else "Credibility" for t in texts]


def fake_model(
    structured: Any = EVERY_FIELD, actor: Callable[[], str] = lambda: ACTOR_REPLY
) -> ScriptedChatModel:
    """One fake for every role: structured calls get `structured`, text calls answer by role.

    The Actor's drafts come from `actor`, one call each.
    """
    fake = ScriptedChatModel()

    def answer(messages: list[BaseMessage]) -> Any:
        request = fake.requests[-1]
        if "response_format" in request or "tools" in request:
            return structured
        system = str(messages[0].content)
        prompt = "\n".join(str(m.content) for m in messages)
        if "Has the seeker accepted" in system:
            for act, variants in JUDGED_ACTS.items():
                fragments = [max(v.split("{title}"), key=len) for v in variants]
                if any(f in prompt.split("Seeker:")[-1] for f in fragments):
                    return f"{ACT_LETTERS[act]})"
            return "I cannot tell."
        if "looking for a movie" in system:
            return "Sounds good, what is it about?"
        return actor()

    fake.default = answer
    return fake


@pytest.fixture(name="fixed_inputs")
def fixed_inputs_fixture(monkeypatch: pytest.MonkeyPatch, world: Any) -> None:
    """The rule experts' summary and movie, taken from the tiny world."""
    monkeypatch.setattr(
        rule_experts, "reason_preferences_node", lambda state, runtime: {"preferences": "horror"}
    )
    monkeypatch.setattr(rule_experts, "retrieve_facts_node", lambda state, runtime: WORLD_INPUTS)


def context(gold: str = "Personal Opinion", human: str = "I loved The Conjuring!") -> RoleContext:
    return RoleContext(
        context_id=f"d:{gold}",
        dialog_id="d",
        index=1,
        turns=[("Seeker", "Hi! I love horror movies, anything scary.")],
        gold_strategy=gold,  # type: ignore[arg-type]
        human_reply=human,
        target_genres=["horror"],
        user_id="u",
    )


def settings() -> Context:
    return Context(llm_max_retries=0, planner_checkpoint=None, actor_adapter=None)


def test_known_answers_give_known_scores(monkeypatch, fixed_inputs) -> None:
    patch_chat_model(monkeypatch, fake_model())
    records = [
        evaluate_context(context(), settings(), LabelByWord(), None, rewarder_samples=3),  # type: ignore[arg-type]
        evaluate_context(
            context("Credibility", "It won an Oscar."),
            settings(),
            LabelByWord(),  # type: ignore[arg-type]
            None,
            rewarder_samples=3,
        ),
    ]
    first = records[0]
    assert first.reasoner_accepted and "horror" in (first.reasoner_summary or "")
    assert first.reasoner_grounded is True and first.reasoner_none_known is False
    assert first.retriever_valid_choice and not first.retriever_declined
    assert first.retriever_facts_accepted is True
    assert first.actor_reply == ACTOR_REPLY and first.actor_names_movie is True
    assert first.actor_echo is False and first.actor_fallback is False
    assert first.seeker_parsed is True and first.judge_structured is True
    assert first.rewarder_samples == 3 and first.rewarder_parsed == 3
    summary = summarise(records)
    assert summary["reasoner"]["accepted"] == {"share": 1.0, "n": 2}
    assert summary["retriever"]["valid_choice"]["share"] == 1.0
    assert summary["actor"]["strategy_adherence"] == {"share": 0.5, "n": 2}
    assert summary["actor"]["human_agreement"] == {"share": 1.0, "n": 2}
    assert summary["actor"]["words"]["mean"] == len(ACTOR_REPLY.split())
    assert summary["rewarder"]["agreement_with_act_judge"] == {"share": 1.0, "n": 6}
    # Reasoner, Retriever and judge: one structured call each per context, all valid at once.
    assert summary["structured_calls"] == {"valid_first_attempt": 1.0, "valid": 1.0, "n": 6}
    assert summary["calls"]["actor"]["calls"] == 2
    table = format_table(summary)
    assert "strategy adherence" in table and "0.500" in table


def test_malformed_structured_answers_score_zero(monkeypatch, fixed_inputs) -> None:
    patch_chat_model(monkeypatch, fake_model(structured="no JSON here"))
    record = evaluate_context(context(), settings(), LabelByWord(), None, rewarder_samples=1)  # type: ignore[arg-type]
    assert record.reasoner_accepted is False and record.reasoner_grounded is False
    assert record.reasoner_none_known is None
    assert record.retriever_valid_choice is False and record.retriever_facts_accepted is None
    assert record.judge_structured is False
    summary = summarise([record])
    assert summary["structured_calls"] == {"valid_first_attempt": 0.0, "valid": 0.0, "n": 3}


def test_template_fallback_and_echo_are_counted(monkeypatch, fixed_inputs) -> None:
    from prompts.actor import RULES

    echo = " ".join(RULES)
    patch_chat_model(monkeypatch, fake_model(actor=lambda: echo))
    record = evaluate_context(context(), settings(), LabelByWord(), None)  # type: ignore[arg-type]
    assert record.actor_draft_echo is True
    assert record.actor_echo is False  # the Actor's own guard removed the echo
    assert record.actor_fallback is True, record.actor_reply  # and a template was sent instead


def test_small_talk_is_accepted_as_no_preference_known_yet(monkeypatch, fixed_inputs) -> None:
    fake = fake_model()
    patch_chat_model(monkeypatch, fake)
    small_talk = context().model_copy(update={"turns": [("Seeker", "hey! what's up?")]})
    tagger: Any = LabelByWord()
    records = [
        evaluate_context(c, settings(), tagger, None, roles=frozenset({"reasoner"}))
        for c in (small_talk, context())
    ]
    assert len(fake.prompts) == 1  # the model was asked about the preference only
    none, known = records
    assert none.reasoner_accepted and none.reasoner_summary == "" and none.reasoner_none_known
    assert none.reasoner_grounded is None  # the seeker named no genre, person or title
    assert known.reasoner_accepted and known.reasoner_none_known is False
    summary = summarise(records)
    assert summary["reasoner"]["accepted"] == {"share": 1.0, "n": 2}
    assert summary["reasoner"]["none_known"] == {"share": 0.5, "n": 2}
    assert "accepted, no preference known yet" in format_table(summary)


def test_contexts_follow_a_seeker_turn_and_draws_are_seeded() -> None:
    dialog = InspiredDialog(
        dialog_id="d",
        split="test",
        user_id="u",
        target_genres=["comedy"],
        utterances=[
            Utterance(speaker="RECOMMENDER", text="Hi!", strategy="No Strategy"),
            Utterance(speaker="SEEKER", text="Hello, I like comedies."),
            Utterance(speaker="RECOMMENDER", text="Great!", strategy="Acknowledgment"),
            Utterance(speaker="RECOMMENDER", text="Seen Airplane?", strategy="Experience Inquiry"),
            Utterance(speaker="SEEKER", text="Yes."),
            Utterance(speaker="RECOMMENDER", text="Unlabelled."),
        ],
    )
    (only,) = dialog_contexts(dialog)
    assert only.context_id == "d:2" and only.gold_strategy == "Acknowledgment"
    assert only.turns == [("Recommender", "Hi!"), ("Seeker", "Hello, I like comedies.")]
    first, again = role_contexts(5, seed=3), role_contexts(5, seed=3)
    assert [c.context_id for c in first] == [c.context_id for c in again]
    assert [c.context_id for c in role_contexts(5, seed=4)] != [c.context_id for c in first]
    assert [c.context_id for c in role_contexts(2, seed=3)] == [c.context_id for c in first[:2]]


def test_summary_of_nothing_is_not_a_number() -> None:
    summary = summarise([RoleRecord(context_id="x")])
    assert summary["reasoner"]["accepted"] == {"share": None, "n": 0}
    assert "n/a" in format_table(summary)


def test_evaluation_resumes_and_refuses_other_settings(
    monkeypatch, fixed_inputs, tmp_path: Path
) -> None:
    fake = fake_model()
    patch_chat_model(monkeypatch, fake)
    monkeypatch.setattr(roles, "load_tagger", lambda directory: LabelByWord())
    config = roles.RolesConfig(out=tmp_path, contexts=2, context={"llm_max_retries": 0})
    report = roles.evaluate_roles(config)
    assert report["contexts"] == 2
    requests = len(fake.prompts)
    lines = (tmp_path / roles.RECORDS_FILE).read_text().splitlines()
    (tmp_path / roles.RECORDS_FILE).write_text(lines[0] + "\n" + lines[1][:10])  # torn write
    again = roles.evaluate_roles(config)
    assert len(fake.prompts) > requests  # the torn context ran again, the other did not
    assert again["reasoner"] == report["reasoner"]
    with pytest.raises(ValueError, match="other settings"):
        roles.evaluate_roles(roles.RolesConfig(out=tmp_path, contexts=2, seed=1))


def test_only_the_roles_asked_are_called(monkeypatch, fixed_inputs) -> None:
    fake = fake_model()
    patch_chat_model(monkeypatch, fake)
    record = evaluate_context(
        context(),
        settings(),
        LabelByWord(),
        None,
        roles=frozenset({"actor"}),  # type: ignore[arg-type]
    )
    assert set(record.calls) == {"actor"}
    assert record.actor_label == "Personal Opinion" and record.actor_names_movie is True
    assert record.reasoner_accepted is None and record.retriever_valid_choice is None
    assert record.seeker_parsed is None and record.rewarder_samples is None
    summary = summarise([record])
    assert summary["actor"]["strategy_adherence"] == {"share": 1.0, "n": 1}
    assert summary["reasoner"]["accepted"] == {"share": None, "n": 0}


def test_the_roles_asked_are_part_of_the_settings(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="roles must be some of"):
        roles.RolesConfig(out=tmp_path, roles=("actor", "planner"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="roles must be some of"):
        roles.RolesConfig(out=tmp_path, roles=())
    actor_only = roles.RolesConfig(out=tmp_path, roles=("actor",)).settings()
    assert actor_only["roles"] == ["actor"]
    assert roles.RolesConfig(out=tmp_path).settings()["roles"] == sorted(roles.ROLES)


def test_a_title_put_in_front_by_the_fallback_is_not_the_actor_naming_the_movie(
    monkeypatch, fixed_inputs
) -> None:
    patch_chat_model(monkeypatch, fake_model(actor=lambda: "It is a great film."))
    record = evaluate_context(context(), settings(), LabelByWord(), None)  # type: ignore[arg-type]
    assert record.actor_reply is not None and record.actor_reply.endswith(": It is a great film.")
    assert record.actor_names_movie is False and record.actor_fallback is False


def test_a_first_draft_with_another_movies_cast_is_counted(monkeypatch, fixed_inputs) -> None:
    drafts = iter(["The Conjuring stars Al Pacino.", ACTOR_REPLY, ACTOR_REPLY])
    patch_chat_model(monkeypatch, fake_model(actor=drafts.__next__))
    run = Context(llm_max_retries=1, planner_checkpoint=None, actor_adapter=None)
    tagger: Any = LabelByWord()
    actor_only: Any = frozenset({"actor"})
    record = evaluate_context(context(), run, tagger, None, roles=actor_only)
    assert record.actor_draft_invents_people is True
    assert record.actor_reply == ACTOR_REPLY and record.actor_names_movie is True
    clean = evaluate_context(context(), settings(), tagger, None, roles=actor_only)
    assert clean.actor_draft_invents_people is False
    summary = summarise([record, clean])
    assert summary["actor"]["draft_invents_people"] == {"share": 0.5, "n": 2}
    assert "first draft puts people in the movie wrongly" in format_table(summary)


def test_a_template_that_names_the_movie_is_not_the_actor_naming_it(
    monkeypatch, fixed_inputs
) -> None:
    invented = "The Conjuring won nine Academy Awards and grossed billions worldwide."
    patch_chat_model(monkeypatch, fake_model(actor=lambda: invented))
    tagger: Any = LabelByWord()
    actor_only: Any = frozenset({"actor"})
    record = evaluate_context(context("Credibility"), settings(), tagger, None, roles=actor_only)
    assert (record.actor_reply or "").startswith("The Conjuring (2013) is a horror, mystery movie")
    assert record.actor_fallback is True and record.actor_names_movie is False
