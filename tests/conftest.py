"""Fixtures shared by the test modules, and a guard that keeps the unit tests off the network."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from retrieval.taste_words import Vocabulary
from retrieval.titles import TitleMatcher
from tests.world import BY_ID, MOVIES, FakeIndex, FakeRecommender


class NetworkAccessError(RuntimeError):
    """A test tried to reach a host other than this machine."""


def _is_loopback(address: Any) -> bool:
    """Whether a socket address stays on this machine (loopback IP, "localhost", a Unix path)."""
    if not isinstance(address, tuple):
        return True  # AF_UNIX paths and abstract names never leave the machine
    host = address[0]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False  # any other host name would need a lookup and a remote peer


@pytest.fixture(autouse=True, scope="session")
def no_network() -> Iterator[None]:
    """Refuse every outgoing connection except to loopback, for the whole session."""
    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex

    def check(address: Any) -> None:
        if not _is_loopback(address):
            raise NetworkAccessError(
                f"connection to {address!r} refused by tests/conftest.py: unit tests reach "
                "loopback servers only (an embedded model server, a fake)"
            )

    def connect(self: socket.socket, address: Any) -> None:
        check(address)
        original_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        check(address)
        return original_connect_ex(self, address)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", connect)
        patch.setattr(socket.socket, "connect_ex", connect_ex)
        yield


@pytest.fixture(name="world")
def world_fixture(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeIndex]:
    """Patch the knowledge base, the FAISS index and the title matcher with the tiny world."""
    from graph import resources

    index = FakeIndex()
    matcher = TitleMatcher(MOVIES)
    monkeypatch.setattr(resources, "movies", lambda: BY_ID)
    monkeypatch.setattr(resources, "movie_index", lambda: index)
    monkeypatch.setattr(resources, "title_matcher", lambda: matcher)
    vocabulary = Vocabulary.build(MOVIES)
    monkeypatch.setattr(resources, "vocabulary", lambda: vocabulary)
    monkeypatch.setattr(resources, "recommender", lambda: FakeRecommender(index, matcher))
    yield index
