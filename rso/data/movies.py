"""The movie knowledge base: raw merged KB -> `Movie` records, and the processed copy."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from rso.data.jsonl import DataFormatError, iter_json_lines
from rso.data.records import Movie
from rso.data.store import Source, load_records
from rso.paths import raw_data_dir

RAW_KB = Path("movie_kb") / "merged_movie_kb.jsonl"
PROCESSED_KB = "movies.jsonl.gz"


def _clean(values: Any) -> list[str]:
    return [v.strip() for v in (values or []) if isinstance(v, str) and v.strip()]


def load_raw_movies(raw_dir: Path | None = None) -> list[Movie]:
    """Parse ``movie_kb/merged_movie_kb.jsonl`` from the raw data directory."""
    path = (raw_dir or raw_data_dir()) / RAW_KB
    if not path.is_file():
        raise FileNotFoundError(f"movie knowledge base not found: {path} (set RSO_RAW_DATA)")
    movies: list[Movie] = []
    seen: set[str] = set()
    for number, obj in iter_json_lines(path):
        try:
            movie = Movie(
                kb_id=obj["kb_id"],
                title=obj["title"],
                year=obj.get("year"),
                genres=_clean(obj.get("genres")),
                directors=_clean(obj.get("directors")),
                cast=_clean(obj.get("cast")),
                writers=_clean(obj.get("writers")),
                plot=(obj.get("plot") or "").strip(),
                imdb_id=obj.get("imdb_id"),
                redial_movie_id=obj.get("redial_movie_id"),
                in_redial=bool(obj.get("in_redial")),
                in_inspired=bool(obj.get("in_inspired")),
                tags=_clean(obj.get("ml_tags")),
                doc=obj["doc"],
            )
        except KeyError as exc:
            raise DataFormatError(path, number, f"missing field {exc.args[0]!r}") from None
        except ValidationError as exc:
            raise DataFormatError(path, number, str(exc.errors()[0]["msg"])) from None
        if movie.kb_id in seen:
            raise DataFormatError(path, number, f"duplicate kb_id {movie.kb_id!r}")
        seen.add(movie.kb_id)
        movies.append(movie)
    return movies


def load_movies(path: Path | None = None, source: Source = "auto") -> list[Movie]:
    """Load the processed knowledge base (``data/movies.jsonl.gz``), falling back to the raw KB."""
    if path is None:
        return load_records(PROCESSED_KB, Movie, load_raw_movies, source)
    return load_records(path.name, Movie, load_raw_movies, source, data_dir=path.parent)


@lru_cache(maxsize=1)
def movies_by_id() -> dict[str, Movie]:
    """Return the cached ``kb_id -> Movie`` map of the default knowledge base."""
    return {m.kb_id: m for m in load_movies()}
