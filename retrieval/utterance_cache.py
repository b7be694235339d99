"""One embedding per text of a dialogue: texts already embedded are looked up, not embedded again.

A live dialogue adds one exchange a turn (the recommender's reply and the seeker's answer) and
re-reads all the earlier ones; the ranker's dense query is built from one vector per exchange
(`retrieval.dialogue.dialogue_vector`), so with this cache a turn embeds only its new exchange.
An LRU keyed by the exact text, shared by every dialogue of the process, safe across threads.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Final

import numpy as np

from retrieval.embedding import TextEmbedder, one_thread

#: Utterances kept: about 6 MB of float32 vectors of 384 dimensions.
DEFAULT_SIZE: Final = 4096


class UtteranceEmbeddings:
    """Embeds texts through `embedder`, each distinct text once while it stays in the LRU.

    ``maxsize=0`` disables the cache (every call embeds every text: the uncached path).
    """

    def __init__(self, embedder: TextEmbedder, maxsize: int = DEFAULT_SIZE) -> None:
        """Wrap `embedder`; keep at most `maxsize` vectors."""
        if maxsize < 0:
            raise ValueError(f"maxsize must be >= 0, got {maxsize}")
        self.embedder = embedder
        self.maxsize = maxsize
        self.hits = 0
        self.misses = 0
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """Return the number of cached vectors."""
        return len(self._vectors)

    def clear(self) -> None:
        """Forget every cached vector and reset the counters."""
        with self._lock:
            self._vectors.clear()
            self.hits = self.misses = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return unit vectors of `texts`, ``(len(texts), dim)``; only unseen texts are embedded."""
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for text in texts:
                vector = self._vectors.get(text)
                if vector is not None:
                    self._vectors.move_to_end(text)
                    found[text] = vector
        missing = list(dict.fromkeys(t for t in texts if t not in found))
        if missing:
            # One short batch: a second torch thread mostly spin-waits (see `one_thread`).
            with one_thread():
                fresh = np.asarray(self.embedder.embed(missing), dtype=np.float32)
            found.update(zip(missing, fresh, strict=True))
        with self._lock:
            self.hits += len(texts) - len(missing)
            self.misses += len(missing)
            if self.maxsize:
                for text in missing:
                    self._vectors[text] = found[text]
                while len(self._vectors) > self.maxsize:
                    self._vectors.popitem(last=False)
        if not texts:
            return np.zeros((0, self.embedder.dimension), dtype=np.float32)
        return np.stack([found[text] for text in texts])
