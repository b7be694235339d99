"""`rso index build` and `rso index search` on the fixture knowledge base (no model needed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

import retrieval.embedding
import rso.data.movies
from cli.commands.index import register
from retrieval.index import INDEX_FILE, META_FILE
from tests.test_retrieval import HashingEmbedder, make_movie

MOVIES = [
    make_movie("m:1", "Star Wars", 1977, "A farm boy joins rebels and a wizard against an empire."),
    make_movie("m:2", "Finding Nemo", 2003, "A clownfish father searches the ocean for his son."),
    make_movie("m:3", "Heat", 1995, "A detective hunts a crew of bank robbers in Los Angeles."),
]


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> typer.Typer:
    embedder = HashingEmbedder()
    monkeypatch.setenv("RSO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(rso.data.movies, "load_movies", lambda: MOVIES)
    monkeypatch.setattr(retrieval.embedding, "get_embedder", lambda **_: embedder)
    app = typer.Typer()
    register(app)
    return app


def _run(app: typer.Typer, *args: str) -> Any:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def test_build_then_up_to_date_then_forced(cli: typer.Typer, tmp_path: Path) -> None:
    first = _run(cli, "index", "build", "--cache-dir", str(tmp_path))
    assert first.exit_code == 0, first.output
    assert "built index of 3 movies" in first.output
    assert (tmp_path / "index" / INDEX_FILE).is_file()
    assert (tmp_path / "index" / META_FILE).is_file()
    again = _run(cli, "index", "build", "--cache-dir", str(tmp_path))
    assert "index up to date: 3 movies" in again.output
    forced = _run(cli, "index", "build", "--force", "--cache-dir", str(tmp_path))
    assert "built index of 3 movies" in forced.output


def test_exported_vectors_make_the_next_fresh_build_skip_embedding(
    cli: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _run(cli, "index", "build", "--cache-dir", str(tmp_path / "a"))
    assert "from embedded vectors (float32)" in first.output
    export = _run(cli, "index", "build", "--export-embeddings", "--cache-dir", str(tmp_path / "a"))
    assert export.exit_code == 0, export.output
    assert "wrote the float32 doc vectors of 3 movies as float16" in export.output
    assert (tmp_path / "data" / "embeddings" / "movies.npy").is_file()
    fresh = _run(cli, "index", "build", "--cache-dir", str(tmp_path / "b"))
    assert "from shipped vectors (float32, stored as float16)" in fresh.output
    again = _run(cli, "index", "build", "--cache-dir", str(tmp_path / "b"))
    assert "index up to date" in again.output and "shipped vectors" in again.output
    # A changed knowledge base: the shipped vectors no longer fit, and the output says why.
    changed = [*MOVIES[:-1], MOVIES[-1].model_copy(update={"doc": "A new description."})]
    monkeypatch.setattr(rso.data.movies, "load_movies", lambda: changed)
    stale = _run(cli, "index", "build", "--cache-dir", str(tmp_path / "c"))
    assert "knowledge base changed since they were exported" in stale.output
    assert "from embedded vectors (float32)" in stale.output
    monkeypatch.setattr(rso.data.movies, "load_movies", lambda: MOVIES)
    # --force embeds every doc again, whatever is shipped.
    forced = _run(cli, "index", "build", "--force", "--cache-dir", str(tmp_path / "b"))
    assert "from embedded vectors (float32)" in forced.output


def test_build_reports_why_it_rebuilds(cli: typer.Typer, tmp_path: Path) -> None:
    _run(cli, "index", "build", "--cache-dir", str(tmp_path))
    (tmp_path / "index" / INDEX_FILE).write_bytes(b"damaged")
    result = _run(cli, "index", "build", "--cache-dir", str(tmp_path))
    assert "rebuilding:" in result.output and "checksum" in result.output
    assert "built index of 3 movies" in result.output


def test_search_prints_json_and_table(cli: typer.Typer, tmp_path: Path) -> None:
    result = _run(cli, "index", "search", "bank robbers detective", "-k", "2", "--json",
                  "--cache-dir", str(tmp_path))  # fmt: skip
    assert result.exit_code == 0, result.output
    hits = json.loads(result.output)
    assert [h["rank"] for h in hits] == [1, 2]
    assert hits[0]["kb_id"] == "m:3" and hits[0]["title"] == "Heat"
    assert set(hits[0]) == {"rank", "kb_id", "title", "score"}
    table = _run(cli, "index", "search", "clownfish", "-k", "1", "--cache-dir", str(tmp_path))
    assert "Finding Nemo (2003)" in table.output and "m:2" in table.output


def test_search_rejects_k_below_one(cli: typer.Typer, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["index", "search", "x", "-k", "0"])
    assert result.exit_code != 0
