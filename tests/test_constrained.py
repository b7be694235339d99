"""Constrained decoding: option grammars, schema length bounds and the token budgets they need."""

from __future__ import annotations

import pytest
from pydantic import BaseModel


def test_choice_grammar_allows_exactly_the_options() -> None:
    from graph.constrained import choice_grammar, constrained_to
    from graph.models import LLMSettings

    assert choice_grammar(["A) yes", 'B) "no"']) == 'root ::= "A) yes" | "B) \\"no\\""'
    with pytest.raises(ValueError):
        choice_grammar([])
    embedded = LLMSettings(extra_body={"top_k": 20})
    constrained = constrained_to(embedded, ["A) yes", "B) no"])
    assert constrained.extra_body == {"top_k": 20, "grammar": 'root ::= "A) yes" | "B) no"'}
    assert embedded.extra_body == {"top_k": 20}  # the settings given are not changed
    served = LLMSettings(base_url="http://127.0.0.1:8000/v1")
    assert constrained_to(served, ["A) yes"]) is served


def test_structured_answers_are_bounded_in_the_schema_only() -> None:
    from agents.fact_retriever import MAX_FACTS_CHARS, MoviePick
    from agents.judges import REASON_CHARS, WatchIntention
    from agents.preference_reasoner import MAX_ANSWER_ITEMS, MAX_ITEM_CHARS, PreferenceLists
    from graph.constrained import schema_bounds

    assert schema_bounds() == {}
    likes = PreferenceLists.model_json_schema()["properties"]["likes"]
    assert likes["maxItems"] == MAX_ANSWER_ITEMS and likes["items"]["maxLength"] == MAX_ITEM_CHARS
    assert MoviePick.model_json_schema()["properties"]["facts"]["maxLength"] == MAX_FACTS_CHARS
    reasoning = WatchIntention.model_json_schema()["properties"]["reasoning"]
    assert reasoning["maxLength"] == REASON_CHARS
    # A server that ignores the bounds may answer longer: the answer is still accepted.
    long = PreferenceLists(likes=["x" * 100] * 10, dislikes=[])
    assert len(long.likes) == 10
    assert MoviePick(choice="Up", facts="word " * 200).facts


def test_each_role_budget_lets_its_bounded_answer_end() -> None:
    from agents.fact_retriever import pick_schema
    from agents.judges import CredibilityScore, WatchIntention
    from agents.preference_grounding import MAX_NAMED
    from agents.preference_reasoner import MAX_NAMED_CHARS, PreferenceLists, named_lists
    from graph.constrained import answer_token_bound
    from graph.context import Context
    from rso.data.movies import movies_by_id

    longest_titles = sorted(movies_by_id().values(), key=lambda m: -len(m.title))[:3]
    context = Context()
    budgets: dict[str, tuple[int, type[BaseModel]]] = {
        "reasoner": (context.reasoner_max_tokens, PreferenceLists),
        "reasoner, second ask": (
            context.reasoner_max_tokens,
            named_lists([f"{i:02d}".ljust(MAX_NAMED_CHARS, "x") for i in range(MAX_NAMED)]),
        ),
        "retriever": (context.retriever_max_tokens, pick_schema(longest_titles)),
        "intention judge": (context.judge_max_tokens, WatchIntention),
        "credibility judge": (context.judge_max_tokens, CredibilityScore),
    }
    for role, (budget, schema) in budgets.items():
        bound = answer_token_bound(schema.model_json_schema())
        assert bound is not None, role
        assert budget >= bound, f"{role}: budget {budget} < {bound} tokens of a bounded answer"
    assert answer_token_bound({"type": "string"}) is None  # no maxLength: unbounded
    unbounded_list = {"type": "array", "items": {"type": "string", "maxLength": 4}}
    assert answer_token_bound(unbounded_list) is None
    assert answer_token_bound({"type": "string", "maxLength": 10}) == 5 + 4
