"""The LLM implementation of the micro-level experts, as registered for ``experts="llm"``."""

from agents.actor import write_reply
from agents.fact_retriever import retrieve_facts
from agents.preference_reasoner import reason_preferences
from graph.experts import ExpertSet

EXPERTS = ExpertSet(
    reason_preferences=reason_preferences,
    retrieve_facts=retrieve_facts,
    write_reply=write_reply,
)
