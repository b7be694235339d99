"""``rso index build`` and ``rso index search``: the cached FAISS index of movie descriptions."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli.commands import fail

if TYPE_CHECKING:
    from rso.data.records import Movie

index_app = typer.Typer(
    help="Build and query the dense index of movie descriptions (all-MiniLM-L6-v2 + FAISS).",
    no_args_is_help=True,
)

CacheDirOption = Annotated[
    Path | None,
    typer.Option(
        "--cache-dir",
        help="Cache root; the index goes in its index/ folder (default: $RSO_CACHE_DIR, .cache/).",
    ),
]


def _index_dir(cache_root: Path | None) -> Path:
    from retrieval.index import default_index_dir

    return cache_root.expanduser() / "index" if cache_root else default_index_dir()


def _load_movies() -> list[Movie]:
    from rso.data.jsonl import DataFormatError
    from rso.data.movies import load_movies

    try:
        return load_movies()
    except (DataFormatError, FileNotFoundError) as exc:
        raise fail(str(exc)) from None


@index_app.command("build")
def build_command(
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Rebuild even if the cached index is up to date, embedding every doc."
        ),
    ] = False,
    cache_dir: CacheDirOption = None,
    progress: Annotated[
        bool, typer.Option("--progress", help="Show an embedding progress bar.")
    ] = False,
    export_embeddings: Annotated[
        bool,
        typer.Option(
            "--export-embeddings",
            help="Also write the doc vectors, embedded in float32, to data/embeddings/ "
            "(embeds every doc unless the cached index already holds exactly those).",
        ),
    ] = False,
) -> None:
    """Build and save the index, unless an up-to-date one is cached.

    A new index takes the shipped document vectors (data/embeddings/) when they match the
    knowledge base and the embedding model; otherwise, or with --force, it embeds every doc.
    """
    from retrieval.doc_vectors import default_vectors_dir, write_shipped_vectors
    from retrieval.embedding import EmbeddingError, get_embedder
    from retrieval.index import IndexLoadError, MovieIndex

    directory = _index_dir(cache_dir)
    movies = _load_movies()
    overrides = {"precision": "float32"} if export_embeddings else {}
    started = time.perf_counter()
    try:
        embedder = get_embedder(show_progress=progress, **overrides)
        index = None
        if not force:
            try:
                index = MovieIndex.read(directory, movies, embedder)
            except IndexLoadError as exc:
                if exc.kind != "missing":
                    typer.echo(f"rebuilding: {exc}", err=True)
            else:
                typer.echo(
                    f"index up to date: {len(index):,} movies, {embedder.model_id}, "
                    f"{index.documents.describe()}, {directory}"
                )
        fresh = index is None
        if index is None or (export_embeddings and index.documents.origin != "embedded"):
            if export_embeddings or force:
                index = MovieIndex.build(movies, embedder)
            else:
                index = MovieIndex.create(
                    movies,
                    embedder,
                    on_unusable=lambda why: typer.echo(f"embedding every movie: {why}", err=True),
                )
            index.save(directory)
    except EmbeddingError as exc:
        raise fail(str(exc)) from None
    if fresh:
        typer.echo(
            f"built index of {len(index):,} movies with {embedder.model_id} from "
            f"{index.documents.describe()} in {time.perf_counter() - started:.1f} s: {directory}"
        )
    if export_embeddings:
        out = write_shipped_vectors(
            default_vectors_dir(), movies, embedder, index.document_vectors()
        )
        typer.echo(f"wrote the float32 doc vectors of {len(index):,} movies as float16 to {out}")


@index_app.command("search")
def search_command(
    query: Annotated[str, typer.Argument(help="Free text: a title, a plot, a preference.")],
    k: Annotated[int, typer.Option("-k", "--top-k", min=1, help="Number of movies to show.")] = 10,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON list of {rank, kb_id, title, score}.")
    ] = False,
    cache_dir: CacheDirOption = None,
) -> None:
    """Print the movies whose descriptions best match QUERY (builds the index if needed)."""
    from retrieval.embedding import EmbeddingError, get_embedder
    from retrieval.index import MovieIndex

    movies = _load_movies()
    try:
        index = MovieIndex.load(_index_dir(cache_dir), movies, get_embedder())
        hits = index.search(query, k)
    except EmbeddingError as exc:
        raise fail(str(exc)) from None
    if as_json:
        rows = [
            {"rank": h.rank, "kb_id": h.kb_id, "title": h.title, "score": round(h.score, 6)}
            for h in hits
        ]
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    by_id = {m.kb_id: m for m in movies}
    for hit in hits:
        typer.echo(
            f"{hit.rank:>3}  {hit.score:.3f}  {hit.kb_id:<28}  {by_id[hit.kb_id].display_title}"
        )


def register(app: typer.Typer) -> None:
    """Add the ``index`` group to the ``rso`` app."""
    app.add_typer(index_app, name="index")
