"""Datasets: typed loaders that read the committed processed files, else the raw data."""

from rso.data.eval_cases import CASE_SETS, CaseSet, load_eval_cases
from rso.data.inspired import SPLITS, load_inspired, planner_samples
from rso.data.jsonl import DataFormatError
from rso.data.movies import load_movies, movies_by_id
from rso.data.personas import load_personas
from rso.data.rec_turns import (
    load_inspired_test_turns,
    load_inspired_train_mentions,
    load_redial_rec_turns,
)
from rso.data.redial import load_redial_dialogs
from rso.data.store import Source

__all__ = [
    "CASE_SETS",
    "SPLITS",
    "CaseSet",
    "DataFormatError",
    "Source",
    "load_eval_cases",
    "load_inspired",
    "load_inspired_test_turns",
    "load_inspired_train_mentions",
    "load_movies",
    "load_personas",
    "load_redial_rec_turns",
    "load_redial_dialogs",
    "movies_by_id",
    "planner_samples",
]
