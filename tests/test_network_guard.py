"""The session guard of tests/conftest.py: loopback connections work, any other host is refused."""

from __future__ import annotations

import socket

import httpx
import pytest

from tests.conftest import NetworkAccessError


def test_a_remote_address_is_refused_before_any_packet_is_sent() -> None:
    # 203.0.113.0/24 is reserved for documentation: nothing would answer there anyway.
    with pytest.raises(NetworkAccessError, match=r"203\.0\.113\.7.*loopback servers only"):
        socket.create_connection(("203.0.113.7", 80), timeout=1)
    with (
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock,
        pytest.raises(NetworkAccessError),
    ):
        sock.connect_ex(("203.0.113.7", 443))


def test_an_http_client_cannot_reach_a_remote_host() -> None:
    with pytest.raises(NetworkAccessError):
        httpx.get("http://203.0.113.7/", timeout=1)


def test_loopback_connections_still_work() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
            peer, _ = server.accept()
            with peer:
                client.sendall(b"ping")
                assert peer.recv(4) == b"ping"
        with socket.create_connection(("localhost", port), timeout=5):
            server.accept()[0].close()
