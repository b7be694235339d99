"""Every processed dataset in one table: its file, record type, raw sources, counts to expect."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel

from rso.data import eval_cases, inspired, personas, rec_turns, redial
from rso.data.movies import PROCESSED_KB, RAW_KB, load_raw_movies
from rso.data.records import (
    EvalCase,
    InspiredDialog,
    Movie,
    MovieDialog,
    Persona,
    RecTurn,
    RedialDialog,
    Split,
)
from rso.data.store import Parsed


@dataclass(frozen=True)
class Dataset:
    """One processed file: how to build it from the raw data and what it must contain."""

    key: str
    file_name: str
    record: type[BaseModel]
    description: str
    #: `local_path` keys of the raw data's SOURCES.tsv that this file is built from.
    sources: tuple[str, ...]
    parse: Callable[[Path | None], Parsed[Any]]
    measure: Callable[[Sequence[Any]], dict[str, int]]
    #: Figures the released data must reproduce, by measure name.
    expected: dict[str, int]


def _measure_inspired(dialogs: Sequence[InspiredDialog]) -> dict[str, int]:
    return {
        "dialogs": len(dialogs),
        "recommender utterances": sum(
            u.speaker == "RECOMMENDER" for d in dialogs for u in d.utterances
        ),
        "planner samples": len(inspired.planner_samples_from(list(dialogs))),
    }


def _measure_personas(records: Sequence[Persona]) -> dict[str, int]:
    return {
        "seekers": len(records),
        "with personality": sum(p.big_five is not None for p in records),
    }


def _measure_cases(cases: Sequence[EvalCase]) -> dict[str, int]:
    return {
        "cases": len(cases),
        "unique case ids": len({c.case_id for c in cases}),
        "with target movie": sum(c.target_movie is not None for c in cases),
    }


def _measure_redial(dialogs: Sequence[RedialDialog]) -> dict[str, int]:
    return {"dialogs": len(dialogs), "messages": sum(len(d.messages) for d in dialogs)}


def _measure_turns(turns: Sequence[RecTurn]) -> dict[str, int]:
    return {
        "turns": len(turns),
        "dialogs": len({t.dialog_id for t in turns}),
        "targets": sum(len(t.targets) for t in turns),
    }


def _measure_mentions(dialogs: Sequence[MovieDialog]) -> dict[str, int]:
    return {"dialogs": len(dialogs), "mentions": sum(len(d.mentions) for d in dialogs)}


def _measure_movies(movies: Sequence[Movie]) -> dict[str, int]:
    return {"movies": len(movies), "with plot": sum(bool(m.plot) for m in movies)}


_INSPIRED_EXPECTED: Final[dict[Split, dict[str, int]]] = {
    "train": {"dialogs": 801, "recommender utterances": 14_662, "planner samples": 13_861},
    "valid": {"dialogs": 99, "recommender utterances": 1_860, "planner samples": 1_761},
    "test": {"dialogs": 99, "recommender utterances": 1_764, "planner samples": 1_665},
}
_INSPIRED_SOURCES: Final = ("inspired/rso_sft/inspired-{train,valid,test}.jsonl",)
_REDIAL_TURN_SOURCES: Final = (
    "redial/ievalm/ (valid_data_processed.jsonl, kg.json, entity2id.json, relation2id.json, "
    "item_ids.json)"
)
_UNICRS_INSPIRED_SOURCES: Final = (
    "inspired/unicrs_format/{train,valid,test}_data_dbpedia.jsonl, dbpedia_subkg.json, "
    "entity2id.json, item_ids.json, relation2id.json"
)
_SURVEY_SOURCES: Final = ("inspired/original/survey_data/seeker_{demographic,personality}.tsv",)


def _inspired_dataset(split: Split) -> Dataset:
    return Dataset(
        key=f"inspired-{split}",
        file_name=inspired.processed_inspired_name(split),
        record=InspiredDialog,
        description=(
            f"INSPIRED {split} dialogs with a strategy label on every recommender utterance "
            '(`QUOTATION_MARK` decoded to `"`, seeker labels `NaN` -> null).'
        ),
        sources=_INSPIRED_SOURCES,
        parse=lambda raw_dir: inspired.parse_inspired(split, raw_dir),
        measure=_measure_inspired,
        expected=_INSPIRED_EXPECTED[split],
    )


def _cases_dataset(
    name: eval_cases.CaseSet, count: int, with_target: int, sources: tuple[str, ...]
) -> Dataset:
    return Dataset(
        key=f"eval-{name}",
        file_name=eval_cases.processed_cases_name(name),
        record=EvalCase,
        description=(
            f"`{name}` cases: seeker persona id, target genres and the movie the human "
            "recommender recommended last (`rso.data.case_targets`), one per dialog."
        ),
        sources=sources,
        parse=lambda raw_dir: eval_cases.parse_eval_cases(name, raw_dir),
        measure=_measure_cases,
        expected={"cases": count, "unique case ids": count, "with target movie": with_target},
    )


CATALOG: Final[tuple[Dataset, ...]] = (
    *(_inspired_dataset(split) for split in inspired.SPLITS),
    Dataset(
        key="personas",
        file_name=personas.PROCESSED_PERSONAS,
        record=Persona,
        description=(
            "One seeker persona per survey user: demographics joined by user id with Big-Five "
            "scores, Schwartz values and decision style (empty for users without a "
            "personality row)."
        ),
        sources=_SURVEY_SOURCES,
        parse=personas.parse_personas,
        measure=_measure_personas,
        expected={"seekers": 894, "with personality": 889},
    ),
    _cases_dataset(
        "inspired-test",
        99,
        88,
        (
            "rso_eval/inspired/dialog_ids2user_id_and_genre_dict.jsonl",
            "rso_eval/inspired/inspired-test.jsonl",
            _UNICRS_INSPIRED_SOURCES,
        ),
    ),
    _cases_dataset(
        "redial-test",
        198,
        0,
        (
            "rso_eval/redial/dialog_ids2user_id_and_genre_dict.jsonl",
            "rso_eval/redial/redial-test.jsonl",
        ),
    ),
    _cases_dataset("inspired-train", 801, 750, (*_INSPIRED_SOURCES, _UNICRS_INSPIRED_SOURCES)),
    Dataset(
        key="redial-dialogs",
        file_name=redial.PROCESSED_REDIAL,
        record=RedialDialog,
        description=(
            "ReDial dialogs with speaker roles (initiator = seeker), `@movieId` mentions "
            'replaced by "Title (Year)", and the seeker questionnaire per movie.'
        ),
        sources=(
            "redial/ievalm/ (valid_data.jsonl, id2info.json)",
            "redial/original/movies_with_mentions.csv",
        ),
        parse=redial.parse_redial_dialogs,
        measure=_measure_redial,
        expected={"dialogs": 1_000, "messages": 12_395},
    ),
    Dataset(
        key="redial-rec-turns",
        file_name=rec_turns.PROCESSED_REDIAL_TURNS,
        record=RecTurn,
        description=(
            "ReDial recommendation turns (iEvaLM's offline protocol): the utterances so far "
            '(movies written "Title (Year)") and the movies the recommender suggested next. '
            "The movie ranker trains and validates on them, split by `dialog_id`."
        ),
        sources=(_REDIAL_TURN_SOURCES,),
        parse=rec_turns.parse_redial_rec_turns,
        measure=_measure_turns,
        expected={"turns": 2_716, "dialogs": 985, "targets": 3_595},
    ),
    Dataset(
        key="inspired-test-rec-turns",
        file_name=rec_turns.PROCESSED_INSPIRED_TEST_TURNS,
        record=RecTurn,
        description=(
            "INSPIRED test turns where the recommender names a movie (consecutive utterances of "
            "one speaker merged): the ranker's cross-dataset evaluation set."
        ),
        sources=(_UNICRS_INSPIRED_SOURCES,),
        parse=lambda raw_dir: rec_turns.parse_inspired_rec_turns("test", raw_dir),
        measure=_measure_turns,
        expected={"turns": 256, "dialogs": 92, "targets": 291},
    ),
    Dataset(
        key="inspired-train-mentions",
        file_name=rec_turns.PROCESSED_INSPIRED_MENTIONS,
        record=MovieDialog,
        description=(
            "The movies named in each INSPIRED training dialog, with speaker and utterance: "
            "co-mention and popularity counts for the movie ranker."
        ),
        sources=(_UNICRS_INSPIRED_SOURCES,),
        parse=lambda raw_dir: rec_turns.parse_inspired_mentions("train", raw_dir),
        measure=_measure_mentions,
        expected={"dialogs": 801, "mentions": 4_113},
    ),
    Dataset(
        key="movies",
        file_name=PROCESSED_KB,
        record=Movie,
        description="The movie knowledge base; `doc` is the one-paragraph text that gets embedded.",
        sources=(
            str(RAW_KB),
            "movie_kb/redial_ievalm/id2info.json",
            "movie_kb/movielens/ml25m_movies_w_keywords.csv",
            "movie_kb/inspired_cfcrs/",
            "movie_kb/dbpedia_llmkb/",
        ),
        parse=lambda raw_dir: Parsed(load_raw_movies(raw_dir)),
        measure=_measure_movies,
        expected={"movies": 6_991, "with plot": 6_500},
    ),
)


def dataset(key: str) -> Dataset:
    """Return the catalog entry named `key` ("inspired-train", "personas", "movies", ...)."""
    for entry in CATALOG:
        if entry.key == key:
            return entry
    raise KeyError(f"no dataset {key!r}; known: {', '.join(d.key for d in CATALOG)}")
