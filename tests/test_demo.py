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


def test_the_demo_runs_the_tuned_actor_unless_told_or_served() -> None:
    from cli.commands.demo import actor_line, with_demo_adapter
    from graph.context import Context

    def adapter(choice: str, **settings: str) -> str | None:
        return with_demo_adapter(Context(**settings), choice).actor_adapter

    assert adapter("default") == "default"
    assert adapter("/tmp/a.gguf") == "/tmp/a.gguf"
    assert adapter("none") is None
    assert adapter("default", actor_adapter="/x.gguf") == "/x.gguf"  # the run's setting stands
    assert adapter("default", base_url="http://h/v1") is None  # a served Actor
    assert adapter("default", actor_base_url="http://h/v1") is None
    assert "tuned LoRA adapter (default)" in actor_line(Context(actor_adapter="default"))
    assert "untuned prompt" in actor_line(Context())
