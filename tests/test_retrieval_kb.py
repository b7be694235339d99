"""The real index: all-MiniLM-L6-v2 over the whole knowledge base (built once per session)."""

from __future__ import annotations

import pytest

from retrieval.embedding import get_embedder
from retrieval.index import IndexLoadError, MovieIndex, default_index_dir, get_movie_index
from rso.data.movies import load_movies
from rso.data.records import Movie

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def kb_movies() -> list[Movie]:
    return load_movies()


@pytest.fixture(scope="session")
def kb_index(kb_movies: list[Movie], tmp_path_factory: pytest.TempPathFactory) -> MovieIndex:
    # A valid index in the project cache is reused (reading it checks the fingerprint and the
    # checksum); otherwise the index is built once into a temporary cache through the same
    # loader the application uses.
    try:
        return MovieIndex.read(default_index_dir(), kb_movies, get_embedder())
    except IndexLoadError:
        return get_movie_index(tmp_path_factory.mktemp("cache") / "index")


def _titles(hits: list) -> list[str]:
    return [hit.title for hit in hits]


def test_index_covers_the_knowledge_base(kb_index: MovieIndex, kb_movies: list[Movie]) -> None:
    assert len(kb_index) == len(kb_movies) > 6000
    assert kb_index.kb_ids == tuple(m.kb_id for m in kb_movies)
    assert kb_index.dimension == 384


@pytest.mark.parametrize(
    "title",
    ["Jurassic Park", "The Shawshank Redemption", "Inception", "Groundhog Day", "Finding Nemo"],
)
def test_exact_title_ranks_that_movie_first(kb_index: MovieIndex, title: str) -> None:
    # Several titles have duplicate records in the KB; any of them may come first.
    hits = kb_index.search(title, k=10)
    assert hits[0].title == title, _titles(hits)


# Paraphrases written for this test; none copies a KB plot. All-MiniLM-L6-v2 finds them when they
# keep one telling word (weatherman, dinosaurs, dreams); paraphrases avoiding every such word
# ("a grumpy TV weather reporter ...") fall out of the top 10.
@pytest.mark.parametrize(
    ("paraphrase", "title"),
    [
        ("comedy where a weatherman relives the same day in a time loop", "Groundhog Day"),
        (
            "a salesman finds out that his entire life is a staged television program",
            "The Truman Show",
        ),
        (
            "scientists clone dinosaurs for an island theme park and they break loose",
            "Jurassic Park",
        ),
        ("a thief enters people's dreams to plant an idea in someone's mind", "Inception"),
    ],
)
def test_plot_paraphrase_finds_its_movie_in_the_top_10(
    kb_index: MovieIndex, paraphrase: str, title: str
) -> None:
    hits = kb_index.search(paraphrase, k=10)
    assert title in _titles(hits), _titles(hits)


def test_batched_search_matches_single_searches(kb_index: MovieIndex) -> None:
    queries = ["a scary clown in the sewers", "romantic comedy in New York", "space opera"]
    batch = kb_index.search_batch(queries, k=50)
    assert [len(hits) for hits in batch] == [50, 50, 50]
    for query, hits in zip(queries, batch, strict=True):
        single = kb_index.search(query, k=50)
        # A query embedded within a padded batch differs in the last bits: allow near-ties to swap.
        assert hits[0].kb_id == single[0].kb_id
        assert len({h.kb_id for h in hits[:10]} & {h.kb_id for h in single[:10]}) >= 8
        assert hits[0].score == pytest.approx(single[0].score, abs=1e-2)


def test_one_short_batch_embeds_as_encode_does() -> None:
    # Up to a batch of texts skips `encode` (the ranker's per-turn queries): the vectors must be
    # those of `encode`, which an embedder with batches of one still goes through.
    import numpy as np

    texts = ["Hi, what do you like?", "Scary movies, like The Shining (1980), and Alien.", "x"]
    fast = get_embedder().embed(texts)
    through_encode = get_embedder(batch_size=1).embed(texts)
    np.testing.assert_allclose(fast, through_encode, atol=1e-5)
