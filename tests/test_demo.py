from __future__ import annotations

import pytest

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


def test_the_tuned_actor_runs_on_the_embedded_model_unless_told_or_served() -> None:
    from cli.commands.chat import actor_line
    from cli.commands.demo import with_demo_adapter
    from graph.context import Context, ContextError

    def in_use(choice: str | None = None, **settings: str) -> str | None:
        return with_demo_adapter(Context(**settings), choice).actor_adapter_in_use

    assert Context().actor_adapter == "auto" and in_use() == "default"
    assert in_use("/tmp/a.gguf") == "/tmp/a.gguf"
    assert in_use("none") is None and in_use(None, actor_adapter="none") is None
    assert in_use(None, actor_adapter="/x.gguf") == "/x.gguf"  # the run's setting stands
    assert in_use(None, base_url="http://h/v1") is None  # 'auto' on a served Actor: untuned
    assert in_use(None, actor_base_url="http://h/v1") is None
    with pytest.raises(ContextError, match="needs the embedded model"):
        in_use("default", base_url="http://h/v1")  # named explicitly: refused
    assert Context().llm("actor").lora_path is not None
    assert Context(actor_adapter="none").llm("actor").lora_path is None
    assert Context().llm("reasoner").lora_path is None
    assert "tuned LoRA adapter (default)" in actor_line(Context())
    assert "untuned prompt" in actor_line(Context(actor_adapter=None))
