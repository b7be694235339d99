"""Two turns of the real graph on the embedded SmolLM2 server, saved in a SQLite thread."""

from __future__ import annotations

import pytest
from langchain_core.messages import HumanMessage

from graph.builder import open_session_graph
from graph.context import Context
from rso.strategies import STRATEGIES

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]


def test_two_turns_on_the_embedded_model(tmp_path) -> None:
    from graph.llm_server import stop_embedded_server

    context = Context(seed=1)
    config = {"configurable": {"thread_id": "integration"}}
    db = tmp_path / "sessions.sqlite"
    try:
        with open_session_graph(db) as session:
            first = session.invoke({"messages": [HumanMessage("Hello.")]}, config, context=context)
        with open_session_graph(db) as session:  # a new connection: the thread comes from disk
            second = session.invoke(
                {"messages": [HumanMessage("I love scary horror movies with ghosts.")]},
                config,
                context=context,
            )
    finally:
        stop_embedded_server()
    for out in (first, second):
        assert out["reply"].strip()
        assert out["strategy"] in STRATEGIES
        assert sum(out["strategy_probs"].values()) == pytest.approx(1.0)
        for role in ("Seeker:", "Recommender:", "User:", "Assistant:"):
            assert role not in out["reply"]
    assert second["turn"] == 1
    assert len(second["messages"]) == 4
    assert len(second["retrieved"]) == 50
    # Every failure of the tiny model is either absent or logged with what was done instead.
    for record in second["fallbacks"]:
        assert record["failure"] and record["action"]
    if second["chosen_movie"] is not None:
        assert second["chosen_movie"] in [kb for kb, _ in second["retrieved"][:3]]
        assert 0 < len(second["movie_facts"].split()) < 100
    assert set(second["recommended"]) <= {kb for kb, _ in second["retrieved"][:3]}
