"""Concurrent turns on one session thread: every turn lands in the history, none is lost."""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage

from graph.builder import SessionBusyError, SessionGraph, open_session_graph
from graph.context import Context
from rso.locks import key_lock

#: Rule experts and a uniform Planner: a turn takes milliseconds and needs no model.
FAST = Context(experts="rule", planner_checkpoint="uniform", use_retriever=False)


def _turn(session: SessionGraph, thread_id: str, text: str) -> None:
    config = {"configurable": {"thread_id": thread_id}}
    session.invoke({"messages": [HumanMessage(text)]}, config, context=FAST)  # type: ignore[arg-type]


def _history(db: Path, thread_id: str) -> list[str]:
    with open_session_graph(db) as session:
        values = session.get_state({"configurable": {"thread_id": thread_id}}).values
    return [m.type for m in values.get("messages", [])]


def _assert_whole(history: list[str], turns: int) -> None:
    assert history == ["human", "ai"] * turns, history


@pytest.mark.usefixtures("world")
def test_concurrent_turns_on_one_thread_are_all_kept_threads(tmp_path: Path) -> None:
    db = tmp_path / "sessions.sqlite"
    lost = 0
    with open_session_graph(db) as session:
        for trial in range(100):
            n = 2 + trial % 3
            barrier = threading.Barrier(n)

            def play(i: int, thread_id: str = f"t{trial}", barrier: threading.Barrier = barrier):
                barrier.wait()
                _turn(session, thread_id, f"I like horror movies, take {i}")

            workers = [threading.Thread(target=play, args=(i,)) for i in range(n)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
            history = _history(db, f"t{trial}")
            lost += n - history.count("ai")
            _assert_whole(history, n)
    assert lost == 0


def _process_turn(db: str, thread_id: str, text: str, start: object) -> None:
    start.wait()  # type: ignore[attr-defined]
    with open_session_graph(db) as session:
        _turn(session, thread_id, text)


@pytest.mark.usefixtures("world")
def test_concurrent_turns_on_one_thread_are_all_kept_processes(tmp_path: Path) -> None:
    # Fork keeps the patched fixtures; each process opens its own connection, as `rso chat` does.
    forked = multiprocessing.get_context("fork")
    db = tmp_path / "sessions.sqlite"
    for trial in range(5):
        n = 2 + trial % 3
        start = forked.Barrier(n)
        workers = [
            forked.Process(target=_process_turn, args=(str(db), f"p{trial}", f"take {i}", start))
            for i in range(n)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=120)
            assert worker.exitcode == 0
        _assert_whole(_history(db, f"p{trial}"), n)


@pytest.mark.usefixtures("world")
def test_a_turn_waiting_too_long_is_refused_clearly(tmp_path: Path) -> None:
    db = tmp_path / "sessions.sqlite"
    with open_session_graph(db) as session:
        session.timeout_s = 0.2
        busy = "session 'busy' is busy with another turn"
        with (
            key_lock(db.with_name(db.name + ".locks"), "busy", timeout_s=1),
            pytest.raises(SessionBusyError, match=busy),
        ):
            _turn(session, "busy", "hello")
        _turn(session, "busy", "hello")  # once free, the turn runs
    assert _history(db, "busy") == ["human", "ai"]
