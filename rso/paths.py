"""Where raw data, processed data and caches live; every path can be overridden by environment."""

from __future__ import annotations

from pathlib import Path

from rso.env import CACHE_DIR, DATA_DIR, RAW_DATA

#: The repository root (the project is installed in editable mode from it).
REPO_ROOT = Path(__file__).resolve().parents[1]

#: The committed supervised (warm-up) Planner checkpoint: the recommender's default policy.
DEFAULT_PLANNER_DIR = REPO_ROOT / "models" / "planner-sft"

#: The committed LoRA adapter of the tuned Actor (llama.cpp GGUF) and its card.
DEFAULT_ACTOR_ADAPTER_DIR = REPO_ROOT / "models" / "actor-lora"
DEFAULT_ACTOR_ADAPTER = DEFAULT_ACTOR_ADAPTER_DIR / "actor-lora.gguf"
#: The committed student query encoder of the ranker (three distilled layers of MiniLM).
DEFAULT_QUERY_ENCODER_DIR = REPO_ROOT / "models" / "query-encoder"
#: The `RSO_ACTOR_ADAPTER` value naming the committed adapter.
DEFAULT_ADAPTER_NAME = "default"
#: The `RSO_ACTOR_ADAPTER` default: the committed adapter when the Actor runs on the embedded
#: model, no adapter when it is served (a served model's adapters are the server's business).
AUTO_ADAPTER_NAME = "auto"
#: The `RSO_ACTOR_ADAPTER` value of the untuned Actor (as is None).
NO_ADAPTER_NAME = "none"


def raw_data_dir() -> Path:
    """Return the raw datasets folder: ``$RSO_RAW_DATA``, else ``../shared/data``."""
    env = RAW_DATA.get()
    if env:
        return Path(env).expanduser()
    for candidate in (REPO_ROOT.parent / "shared" / "data", Path.cwd().parent / "shared" / "data"):
        if candidate.is_dir():
            return candidate
    return REPO_ROOT.parent / "shared" / "data"


def processed_data_dir() -> Path:
    """Return the committed processed data folder: ``$RSO_DATA_DIR`` or ``data/``."""
    return Path(DATA_DIR.get() or REPO_ROOT / "data").expanduser()


def cache_dir() -> Path:
    """Return the cache of rebuildable artifacts (indexes): ``$RSO_CACHE_DIR`` or ``.cache/``."""
    path = Path(CACHE_DIR.get() or REPO_ROOT / ".cache").expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def actor_adapter_path(value: str) -> Path:
    """Resolve an Actor adapter setting: "default" is the committed adapter, else a file path."""
    return DEFAULT_ACTOR_ADAPTER if value == DEFAULT_ADAPTER_NAME else Path(value).expanduser()
