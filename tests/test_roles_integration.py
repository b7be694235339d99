"""`rso eval roles` on the real embedded SmolLM2 server, one context: what the metrics promise."""

from __future__ import annotations

import pytest

from rollouts.roles import REPORT_FILE, RolesConfig, evaluate_roles

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]


def test_role_metrics_on_the_embedded_model(tmp_path) -> None:
    from graph.llm_server import stop_embedded_server

    try:
        report = evaluate_roles(RolesConfig(out=tmp_path, contexts=1, rewarder_samples=1))
    finally:
        stop_embedded_server()
    assert report["contexts"] == 1 and (tmp_path / REPORT_FILE).exists()
    # Structured calls are grammar-constrained on the embedded server (forced tool calls).
    assert report["structured_calls"]["n"] >= 2
    assert report["structured_calls"]["valid"] >= 0.5
    # The Actor's guard removes echoed instructions from what is sent, whatever the draft did.
    assert report["actor"]["echo"] == {"share": 0.0, "n": 1}
    assert report["actor"]["strategy_adherence"]["n"] == 1
    assert report["seeker"]["parsed"]["n"] == 1
    assert report["rewarder"]["parsed_samples"]["n"] == 1
    for role in ("reasoner", "retriever", "actor", "seeker", "rewarder", "judge"):
        assert report["calls"][role]["calls"] == 1
        assert report["calls"][role]["seconds_per_call"] > 0
