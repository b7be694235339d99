from __future__ import annotations

from cli.commands.demo import taste_verdict
from tests.world import BY_ID


def test_the_verdict_names_a_recommended_movie_of_a_wanted_genre(world) -> None:
    comedies = [kb for kb, movie in BY_ID.items() if "Comedy" in movie.genres]
    others = [kb for kb, movie in BY_ID.items() if not {"Comedy", "Romance"} & set(movie.genres)]
    assert comedies and others
    verdict = taste_verdict([others[0], comedies[0]], seed=3)
    assert verdict.startswith("seed 3: recommended " + BY_ID[comedies[0]].display_title)
    assert "(comedy, romance)" in verdict
    assert "no movie fitting" in taste_verdict([others[0]], seed=4)
    assert "no movie fitting" in taste_verdict([], seed=4)
