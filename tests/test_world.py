"""The offline world of the graph tests behaves as the tests that use it assume."""

from __future__ import annotations

from retrieval.titles import TitleMatcher
from tests.world import MOVIES, FakeIndex


def test_fake_index_ranks_by_overlap() -> None:
    hits = FakeIndex().search("a scary horror movie with a haunted farmhouse", k=3)
    assert [h.kb_id for h in hits][0] == "m2"
    assert [h.rank for h in hits] == [1, 2, 3]


def test_title_matcher_over_the_fixtures_restricts_to_candidates() -> None:
    matcher = TitleMatcher(MOVIES)
    assert matcher.find_in_text("Try Heat or Alien.", ["m1"]) == ["m1"]
    assert matcher.find_in_text("Try Heat (1995) or Alien (1979).") == ["m4", "m1"]
