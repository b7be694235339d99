"""A fleet of OpenAI-compatible LLM servers shared by a batch of episodes.

Each episode is pinned to one server for its whole life (its prompts share prefixes, so the
server's prefix cache serves it), and a new episode goes to the live server with the fewest
episodes in flight (the first listed on a tie, so a run with one episode at a time is
reproducible). A server that an episode's failure points at is health-checked (``GET /models``);
one that does not answer is taken out of rotation, and the episodes it failed are played again
on the others.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any, Final

import httpx

#: Seconds a health check waits for ``GET /models``.
HEALTH_TIMEOUT_S: Final = 5.0


def parse_base_urls(text: str | Iterable[str] | None) -> tuple[str, ...]:
    """Return the base URLs of a comma-separated list (or a sequence), each checked, no repeats."""
    if text is None:
        return ()
    items = text.split(",") if isinstance(text, str) else list(text)
    urls: list[str] = []
    for item in (i.strip().rstrip("/") for i in items):
        if not item:
            continue
        if not item.startswith(("http://", "https://")):
            raise ValueError(f"base URL must start with http:// or https://, got {item!r}")
        if item not in urls:
            urls.append(item)
    return tuple(urls)


def server_answers(url: str, timeout_s: float = HEALTH_TIMEOUT_S) -> bool:
    """Whether an OpenAI-compatible server answers ``GET {url}/models`` with a success."""
    try:
        return httpx.get(f"{url}/models", timeout=timeout_s).is_success
    except httpx.HTTPError:
        return False


class ServerFleet:
    """Which server plays which episode, how many each has in flight, and which were removed."""

    def __init__(self, urls: Iterable[str], previous: Mapping[str, Any] | None = None) -> None:
        self.urls = tuple(urls)
        if not self.urls:
            raise ValueError("a fleet needs at least one base URL")
        self._in_flight = dict.fromkeys(self.urls, 0)
        self.removed: dict[str, str] = {}
        #: episode id -> the server that played its latest attempt (kept across resumes).
        self.played_on: dict[str, str] = dict((previous or {}).get("episodes", {}))
        self._lock = threading.Lock()

    @property
    def live(self) -> list[str]:
        """The servers still in rotation, in the order listed."""
        return [u for u in self.urls if u not in self.removed]

    def acquire(self, episode_id: str) -> str:
        """Pin an episode to the live server with the fewest in flight; return its URL."""
        with self._lock:
            live = self.live
            if not live:
                raise RuntimeError(f"no LLM server left in rotation: {self.removed}")
            url = min(live, key=lambda u: self._in_flight[u])
            self._in_flight[url] += 1
            self.played_on[episode_id] = url
            return url

    def release(self, url: str) -> None:
        """Count an episode on `url` as ended (finished, failed, or lost with its worker)."""
        with self._lock:
            self._in_flight[url] -= 1

    def check(self, url: str, reason: str) -> bool:
        """Health-check `url` after a failure; take it out of rotation unless it answers."""
        if url in self.removed:
            return False
        if server_answers(url):
            return True
        with self._lock:
            self.removed.setdefault(url, reason)
        return False

    def report(self) -> dict[str, Any]:
        """Return the manifest's account of the fleet: servers, removed ones, each episode's."""
        return {
            "urls": list(self.urls),
            "removed": dict(self.removed),
            "episodes": dict(sorted(self.played_on.items())),
        }
