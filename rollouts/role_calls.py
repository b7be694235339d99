"""Every LLM role on one fixed context, through the real expert functions: one `RoleRecord`.

The inputs are fixed so that each role is measured alone: the Fact Retriever and the Actor read
the rule experts' preference summary and chosen movie (deterministic, grounded), never the LLM
Preference Reasoner's, so a better Reasoner does not move the Actor's figures. The Actor is asked
for the strategy the human recommender used next (the gold label), so the human utterances'
agreement with the tagger is the comparable reference.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace as replace_fields
from typing import Any, Final

import numpy as np
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langgraph.runtime import Runtime

from agents import rule_experts
from agents.actor import FACTS_REPLY_ACTION, FIXED_REPLY_ACTION, TITLED_DRAFT_ACTION, write_reply
from agents.fact_retriever import retrieve_facts
from agents.judges import rate_intention
from agents.preference_reasoner import reason_preferences
from agents.reply_text import clean_reply, drop_unfounded_people, leaks_instructions
from agents.rewarder import LABEL_SCORES, score_turn
from agents.seeker import seeker_reply
from agents.seeker_acts import SeekerAct, act_score
from agents.seeker_goal import SeekerGoal
from evaluation.role_metrics import ROLES, CallStats, Role, RoleContext, RoleRecord
from evaluation.strategy_tagger import StrategyTagger
from graph import models, resources
from graph.context import Context
from graph.state import State
from prompts import seeker as seeker_templates
from retrieval.taste_words import default_vocabulary, find_genres, find_people
from rso.data.records import Persona
from rso.dialogue import RECOMMENDER, SEEKER

#: The recommending turn of the Rewarder's exchanges (fixed input, not an Actor reply).
RECOMMENDATION_LINE: Final = "You might enjoy {title}. Would you like to hear more about it?"
#: Seeker acts of the Rewarder's exchanges and the act seeker's utterances for them.
JUDGED_ACTS: Final[dict[SeekerAct, tuple[str, ...]]] = {
    "accept": seeker_templates.ACCEPT,
    "interested": seeker_templates.INTERESTED_FACTS,
    "reject": seeker_templates.REJECT,
    "not_interested": seeker_templates.OFF_TARGET,
    "ask_about_movie": seeker_templates.ASK_FACTS,
}
#: Genre of the seeker's goal when the dialog names none.
DEFAULT_GENRE: Final = "drama"


@contextmanager
def observed(record: RoleRecord, role: str) -> Iterator[list[models.CallRecord]]:
    """Collect the LLM calls of the block into `record.calls[role]`, with their wall time."""
    seen: list[models.CallRecord] = []
    start = time.perf_counter()
    with models.observe_calls(seen.append):
        yield seen
    stats = record.calls.setdefault(role, CallStats())
    structured = [c for c in seen if c.kind == "structured"]
    stats.calls += 1
    stats.seconds += time.perf_counter() - start
    stats.structured += len(structured)
    stats.structured_first_ok += sum(c.ok and c.attempts == 1 for c in structured)
    stats.structured_ok += sum(c.ok for c in structured)


def messages_of(turns: list[tuple[str, str]]) -> list[AnyMessage]:
    """Return (speaker, text) turns as the graph's chat messages."""
    return [
        HumanMessage(text) if speaker == SEEKER else AIMessage(text, name="recommender")
        for speaker, text in turns
    ]


def said_terms(text: str) -> set[str]:
    """Genres, people and titles (kb_ids) named in `text`."""
    vocabulary = default_vocabulary()
    return {
        *(f"genre:{g}" for g in find_genres(text, vocabulary)),
        *(f"person:{p}" for p in find_people(text, vocabulary)),
        *(f"title:{t}" for t in resources.title_matcher().find_in_text(text)),
    }


def goal_of(context: RoleContext) -> SeekerGoal:
    """Return the seeker's goal: the dialog's first target genre."""
    genre = context.target_genres[0] if context.target_genres else DEFAULT_GENRE
    return SeekerGoal(genre=genre.strip().lower())


def evaluate_context(
    context: RoleContext,
    settings: Context,
    tagger: StrategyTagger,
    persona: Persona | None,
    *,
    rewarder_samples: int = 3,
    seed: int = 0,
    roles: frozenset[Role] = frozenset(ROLES),
) -> RoleRecord:
    """Run the LLM `roles` on one context and record what each did (the others stay None)."""
    record = RoleRecord(context_id=context.context_id, gold_strategy=context.gold_strategy)
    runtime: Runtime[Context] = Runtime(context=settings)
    seekers = [text for speaker, text in context.turns if speaker == SEEKER]
    state = State(
        messages=messages_of(context.turns),
        turn=sum(speaker == RECOMMENDER for speaker, _ in context.turns),
        seeker_text=seekers[-1],
    )
    if "reasoner" in roles:
        _reasoner(record, state, runtime, " ".join(seekers))
    # Fixed inputs of the Retriever and the Actor: the rule experts' summary and movie.
    fixed = replace_fields(state, **rule_experts.reason_preferences_node(state, runtime))
    fixed = replace_fields(
        fixed, **_without_ranking(rule_experts.retrieve_facts_node(fixed, runtime))
    )
    ranked = _retriever(record, fixed, runtime) if "retriever" in roles else fixed.candidates
    if "actor" in roles:
        _actor(record, fixed, runtime, context, tagger)
    if "seeker" in roles:
        with observed(record, "seeker"):
            turns = [*context.turns, (RECOMMENDER, context.human_reply)]
            reply = seeker_reply(turns, goal_of(context), persona, settings.llm("seeker"))
        record.seeker_parsed = reply.fallback is None
    # The exchanges judged need a movie: the rule experts' choice, else the ranker's first pick.
    movie_id = fixed.chosen_movie or (ranked[0] if ranked else None)
    if movie_id is not None and "rewarder" in roles:
        _rewarder(record, context, settings, movie_id, rewarder_samples, seed)
        with observed(record, "judge"):
            movie = resources.movies()[movie_id]
            score = rate_intention("pre", movie, persona, goal_of(context), settings.llm("judge"))
        record.judge_structured = score.source == "structured"
    return record


def _without_ranking(update: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in update.items() if k in ("candidates", "chosen_movie", "movie_facts")}


def _reasoner(record: RoleRecord, state: State, runtime: Runtime[Context], said: str) -> None:
    with observed(record, "reasoner"):
        update = reason_preferences(state, runtime)
    record.reasoner_accepted = "preferences" in update
    summary = update.get("preferences") or ""
    record.reasoner_summary = summary
    if record.reasoner_accepted:
        record.reasoner_none_known = not summary
    terms = said_terms(said)
    record.reasoner_grounded = bool(terms & said_terms(summary)) if terms else None


def _retriever(record: RoleRecord, state: State, runtime: Runtime[Context]) -> list[str]:
    """Record the Retriever's choice and facts; return the ranker's candidates."""
    with observed(record, "retriever") as calls:
        update = retrieve_facts(state, runtime)
    candidates: list[str] = update.get("candidates", [])
    if not calls:
        return candidates  # no known preference: the Retriever was not asked to choose
    failures = [f["failure"] for f in update.get("fallbacks", [])]
    if not calls[-1].ok:
        record.retriever_valid_choice = False
        return candidates
    record.retriever_declined = update.get("chosen_movie") is None
    wrong_choice = any("names no candidate" in failure for failure in failures)
    record.retriever_valid_choice = not wrong_choice
    if not record.retriever_declined:
        record.retriever_facts_accepted = len(failures) == int(wrong_choice)
    return candidates


def _actor(
    record: RoleRecord,
    state: State,
    runtime: Runtime[Context],
    context: RoleContext,
    tagger: StrategyTagger,
) -> None:
    with observed(record, "actor") as calls:
        update = write_reply(state, runtime, context.gold_strategy)
    reply: str = update["reply"]
    drafts = [c.raw for c in calls if c.kind == "text"]
    words = reply.split()
    record.actor_reply = reply
    record.actor_words = len(words)
    record.actor_echo = leaks_instructions(reply)
    record.actor_draft_echo = leaks_instructions(drafts[0]) if drafts else None
    actions = {f["action"] for f in update.get("fallbacks", [])}
    record.actor_fallback = bool(actions & {FIXED_REPLY_ACTION, FACTS_REPLY_ACTION})
    if state.chosen_movie is not None:
        # A title put in front of a draft, or a template that names it, is not the model's.
        templated = record.actor_fallback or TITLED_DRAFT_ACTION in actions
        record.actor_names_movie = not templated and state.chosen_movie in update.get(
            "recommended", []
        )
        movie = resources.movies().get(state.chosen_movie)
        if drafts and movie is not None:
            said = [str(m.content) for m in state.messages if not isinstance(m, AIMessage)]
            first, _ = clean_reply(drafts[0])
            _, wrong = drop_unfounded_people(first, movie, said, resources.vocabulary())
            record.actor_draft_invents_people = bool(wrong)
    record.actor_label, record.human_label = tagger.predict([reply, context.human_reply])


def _rewarder(
    record: RoleRecord,
    context: RoleContext,
    settings: Context,
    movie_id: str,
    samples: int,
    seed: int,
) -> None:
    rng = np.random.default_rng([seed, zlib.crc32(context.context_id.encode())])
    acts = list(JUDGED_ACTS)
    act = acts[int(rng.integers(len(acts)))]
    variants = JUDGED_ACTS[act]
    title = resources.movies()[movie_id].title
    said = variants[int(rng.integers(len(variants)))].format(title=title)
    exchange = [
        *context.turns,
        (RECOMMENDER, RECOMMENDATION_LINE.format(title=title)),
        (SEEKER, said),
    ]
    with observed(record, "rewarder"):
        verdict = score_turn(exchange, settings.llm("rewarder"), samples=samples)
    target = act_score(act)
    agreeing = [LABEL_SCORES[label] == target for label in verdict.labels]
    record.rewarder_act = act
    record.rewarder_samples = len(verdict.labels)
    record.rewarder_parsed = len(verdict.labels) - len(verdict.parse_failures)
    record.rewarder_agreeing = sum(agreeing)
    record.rewarder_majority_agrees = sum(agreeing) * 2 > len(agreeing)
