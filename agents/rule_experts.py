"""The rule-based experts (``experts="rule"``): the three micro-level experts without an LLM.

Preference Reasoner, Fact Retriever and Actor for fast simulation, as graph nodes over `State`:

- Preference Reasoner: the seeker's likes, dislikes and rejected movies read from the whole
  dialogue (`agents.rule_preferences`), summarised in one sentence (`agents.rule_replies`).
- Fact Retriever: a genre- and people-filtered ranking of the knowledge base (no encoder,
  `agents.rule_ranking`), which keeps the current candidate while it still fits and never returns
  a rejected or already-seen movie; no known preference -> no movie.
- Actor: a per-strategy template filled with the movie's facts and the known preferences; with no
  movie, a question instead of a recommendation.

Which movie an earlier reply recommended (for "not for me" and for the current candidate) comes
from the state's ``recommended_history``.
"""

from __future__ import annotations

from typing import Any, Final

from langchain_core.messages import AIMessage
from langgraph.runtime import Runtime

from agents.dialogue_memory import current_movie, dialogue_of, preferences_of
from agents.fact_retriever import record_facts
from agents.rule_preferences import Preferences
from agents.rule_ranking import choose_movie, default_ranking
from agents.rule_replies import compose_reply, summarize_preferences
from graph.context import Context, context_from
from graph.experts import ExpertSet
from graph.state import State
from rso.data.movies import movies_by_id
from rso.strategies import Strategy

#: Without the Preference Reasoner (the ablation), the other rule experts know only the
#: preferences stated in the last two utterances, the retrieval query of method.md, instead of
#: those tracked over the whole dialogue (likes, dislikes, rejected movies).
NO_REASONER_WINDOW: Final = 2


def known_preferences(state: State, context: Context) -> Preferences:
    """Preferences the Retriever and Actor may use.

    The rule Retriever and Actor read the dialogue themselves; the Reasoner's contribution is
    that they may read all of it. Without it they see only `NO_REASONER_WINDOW` messages, so
    the ablation removes what the Reasoner provides rather than nothing.
    """
    dialogue = dialogue_of(state.messages, state.recommended_history)
    if context.use_reasoner:
        return preferences_of(dialogue)
    return preferences_of(dialogue[-NO_REASONER_WINDOW:])


def reason_preferences_node(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Rule Preference Reasoner node: the preference sentence from the whole dialogue."""
    prefs = preferences_of(dialogue_of(state.messages, state.recommended_history))
    return {"preferences": summarize_preferences(prefs, movies_by_id())}


def retrieve_facts_node(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Rule Fact Retriever node: ranked list, the chosen movie and its facts from the record."""
    context = context_from(runtime)
    movies = movies_by_id()
    prefs = known_preferences(state, context)
    ranking = list(default_ranking(prefs, context.top_k))
    current = current_movie(dialogue_of(state.messages, state.recommended_history))
    chosen = choose_movie(ranking, prefs, current)
    candidates = [kb_id for kb_id, _ in ranking[: context.n_candidates]]
    if chosen is not None and chosen not in candidates:
        candidates = [chosen, *candidates[: context.n_candidates - 1]]
    return {
        "retrieved": ranking,
        "candidates": candidates,
        "chosen_movie": chosen,
        "movie_facts": record_facts(movies[chosen]) if chosen else "",
    }


def write_reply_node(
    state: State, runtime: Runtime[Context], strategy: Strategy | None
) -> dict[str, Any]:
    """Rule Actor node: the strategy's template; the reply recommends the chosen movie."""
    movies = movies_by_id()
    prefs = known_preferences(state, context_from(runtime))
    movie = movies.get(state.chosen_movie) if state.chosen_movie else None
    reply = compose_reply(strategy, movie, prefs, movies)
    recommended = [movie.kb_id] if movie is not None else []
    message = AIMessage(reply, name="recommender")
    return {"reply": reply, "messages": [message], "recommended": recommended}


EXPERTS = ExpertSet(
    reason_preferences=reason_preferences_node,
    retrieve_facts=retrieve_facts_node,
    write_reply=write_reply_node,
)
