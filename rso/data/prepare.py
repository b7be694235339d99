"""Build the compact processed files (and their README) from the raw datasets."""

from __future__ import annotations

import csv
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel

from rso.data.catalog import CATALOG, Dataset
from rso.data.jsonl import write_models
from rso.paths import processed_data_dir, raw_data_dir
from rso.strategies import STRATEGIES

SOURCES_TABLE: Final = "SOURCES.tsv"
README_NAME: Final = "README.md"


@dataclass
class PreparedFile:
    """What `prepare` wrote for one dataset."""

    dataset: Dataset
    path: Path
    measures: dict[str, int]
    notes: dict[str, int] = field(default_factory=dict)

    @property
    def size(self) -> int:
        """Size of the written file in bytes."""
        return self.path.stat().st_size


def prepare(out_dir: Path | None = None, raw_dir: Path | None = None) -> list[PreparedFile]:
    """Parse every raw source and write the processed files plus ``README.md`` into `out_dir`."""
    out_dir = out_dir or processed_data_dir()
    raw_dir = raw_dir or raw_data_dir()
    sources = read_sources(raw_dir / SOURCES_TABLE)
    for entry in CATALOG:
        # Fail before writing anything if a citation would be missing from the README.
        _cited(entry, sources)
    prepared: list[PreparedFile] = []
    for entry in CATALOG:
        parsed = entry.parse(raw_dir)
        path = out_dir / entry.file_name
        write_models(path, parsed.records)
        prepared.append(PreparedFile(entry, path, entry.measure(parsed.records), parsed.notes))
    readme = render_readme(prepared, sources)
    (out_dir / README_NAME).write_text(readme, encoding="utf-8")
    return prepared


def read_sources(path: Path) -> dict[str, dict[str, str]]:
    """Read the raw data's provenance table, by ``local_path``."""
    if not path.is_file():
        raise FileNotFoundError(f"provenance table not found: {path} (set RSO_RAW_DATA)")
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    return {row["local_path"]: row for row in rows}


def _cited(entry: Dataset, sources: dict[str, dict[str, str]]) -> list[dict[str, str]]:
    missing = [key for key in entry.sources if key not in sources]
    if missing:
        raise KeyError(f"{entry.key}: sources not listed in {SOURCES_TABLE}: {missing}")
    return [sources[key] for key in entry.sources]


def render_readme(prepared: list[PreparedFile], sources: dict[str, dict[str, str]]) -> str:
    """Render the processed data's README: sources and licenses, then each file's schema."""
    total = sum(p.size for p in prepared)
    lines = [
        "# Processed data",
        "",
        "Written by `rso data prepare` from the raw public datasets (`$RSO_RAW_DATA`); do not edit",
        "by hand. `rso data check` validates these files against the raw data and the counts",
        "below. Every file is gzip-compressed JSON Lines, one record a line, written with a fixed",
        "gzip timestamp so that re-running `prepare` reproduces the same bytes. The loaders in",
        "`rso.data` (`load_inspired`, `load_personas`, `load_eval_cases`, `load_redial_dialogs`,",
        "`planner_samples`, `load_movies`, `load_redial_rec_turns`, `load_inspired_test_turns`,",
        "`load_inspired_train_mentions`) read these files when present, else the raw data.",
        "",
        f"Total size: {total / 1e6:.1f} MB in {len(prepared)} files.",
        "",
        "## Sources and licenses",
        "",
        "The datasets: INSPIRED (Hayati et al., *INSPIRED: Toward Sociable Recommendation",
        "Dialog Systems*, EMNLP 2020), ReDial (Li et al., *Towards Deep Conversational",
        "Recommendations*, NeurIPS 2018; CC BY 4.0), as redistributed by iEvaLM (Wang et al.,",
        "EMNLP 2023), and the RSO release (Zhao et al., *Reinforced Strategy Optimization for",
        "Conversational Recommender Systems via Network-of-Experts*, 2025) for the",
        "strategy-labelled INSPIRED splits and the evaluation cases. The raw files used, with",
        "their origin and stated license:",
        "",
        "| raw file | repository | path | commit | license |",
        "|---|---|---|---|---|",
    ]
    used: list[str] = []
    for item in prepared:
        used.extend(k for k in item.dataset.sources if k not in used)
    for key in used:
        row = sources[key]
        commit = row["commit"][:12] if len(row["commit"]) == 40 else row["commit"]
        lines.append(
            f"| `{key}` | {row['source_repo']} | {_cell(row['source_path'])} | {commit} "
            f"| {_cell(row['license'])} |"
        )
    lines += [
        "",
        "## Files",
        "",
        "| file | records | counts | size |",
        "|---|---|---|---|",
    ]
    for item in prepared:
        counts = ", ".join(f"{name}: {value:,}" for name, value in item.measures.items())
        lines.append(
            f"| `{item.path.name}` | {item.dataset.record.__name__} | {counts} "
            f"| {item.size / 1e3:,.0f} kB |"
        )
    nested: list[type[BaseModel]] = []
    for item in prepared:
        lines += ["", f"### `{item.path.name}`", "", item.dataset.description, ""]
        lines += _schema(item.dataset.record, nested)
        built = ", ".join(f"`{k}`" for k in item.dataset.sources)
        lines += ["", f"Built from: {built}."]
        if item.notes:
            lines += ["", "Handled on purpose while parsing (counts):", ""]
            lines += [f"- {note}: {value:,}" for note, value in item.notes.items()]
    lines += ["", "### Nested records", ""]
    done: set[type[BaseModel]] = set()
    while nested:
        model = nested.pop(0)
        if model in done:
            continue
        done.add(model)
        lines += [f"`{model.__name__}`:", ""]
        lines += _schema(model, nested)
        lines.append("")
    lines += [
        "`Strategy` is one of the 14 INSPIRED recommender strategies: "
        + ", ".join(STRATEGIES)
        + ".",
        "",
        _RULES,
    ]
    return "\n".join(lines)


_RULES: Final = """## Rules applied while parsing

- INSPIRED: every recommender utterance must carry one of the 14 labels (any dataset
  spelling, through `parse_strategy`); seeker utterances carry `NaN`, stored as null. A
  malformed line, a missing field, an unknown label or a duplicate dialog id stops the run
  with the file and line. The valid split has no `genre_dict`; its `target_genres` are empty.
- Planner samples: one per recommender utterance with at least one utterance before it (the
  first utterance of every dialog is the recommender's, so each dialog gives one fewer sample
  than it has recommender utterances); the history is every earlier utterance.
- Personas: the demographic file has one row per dialog, so seekers with several dialogs have
  several rows; they are merged per field (the later row wins, a missing answer never erases
  an earlier one). Some rows slid a column or two (a lost answer, a stray checkbox value
  "on" or mood word); each question takes the first of the next three cells that is one of
  its answer options, otherwise it stays empty. Seekers without a personality row keep
  `big_five` null, `values` empty and no decision style.
- Evaluation cases: `case_id` is `<dataset>:<dialog_id>` ("redial:20001"); INSPIRED train
  and test ids never collide. The mapping file and the dialog file must agree on each id's
  user and genres. A dialog id repeated in a mapping file (none in the current data) would
  get `#<mapping line>` appended to stay unique. `inspired-train` cases come from the train
  dialogs. Cases without a target genre are kept (counted above); the simulator decides.
- Target movies of cases (`target_movie`, the hidden target of item-mode episodes): of the
  movies the human recommender named, the last one it brought up itself (a movie the seeker
  named first is the seeker's taste), from the UniCRS release's mentions, as written there.
  A case's dialog is found in that release by its text (lower-cased, letters and digits only);
  one INSPIRED train dialog differs and gets none. The RSO release gives ReDial test dialogs
  without speakers, so those cases get none.
- ReDial: the initiator is the seeker and the respondent the recommender (the ReDial
  datasheet; in these dialogs 96% of the movies the questionnaire marks as suggested by the
  recommender are first mentioned by the respondent). `@movieId` is replaced by the title
  from the dialog's own table, else from `movies_with_mentions.csv`; a mention with no title
  anywhere is an error. The questionnaire is the seeker's (initiator's) answers, else the
  recommender's; "did not say" is null. Movie ids join the knowledge base as
  `kb_id = "redial:<movieId>"` (all but a handful of the mentioned movies are in it).
- Recommendation turns: ReDial's are iEvaLM's as released (`rec` -> `targets`; the `entity`,
  `resp` and `template` fields are left out, since a ranker sees only the context). INSPIRED's
  come from the UniCRS release (movie mentions linked per utterance); its dialogs carry no id,
  so `dialog_id` is `<split>-<line>`. Titles stay as written: the ranker links them to the
  knowledge base with the title matcher. The validation split of the ranker is a salted hash
  of `dialog_id` (`rso.data.rec_turns.dialog_fold`), never a file.
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _schema(model: type[BaseModel], nested: list[type[BaseModel]]) -> list[str]:
    rows = []
    for name, info in model.model_fields.items():
        rows.append(f"- `{name}`: {_type_name(info.annotation, nested)}")
    return rows


def _type_name(annotation: Any, nested: list[type[BaseModel]]) -> str:
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if annotation is type(None):
        return "null"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        nested.append(annotation)
        return annotation.__name__
    if origin is typing.Literal:
        if set(args) == set(STRATEGIES):
            return "Strategy"
        return " \\| ".join(f'"{a}"' for a in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a, nested) for a in args)
    if origin is not None:
        inner = ", ".join(_type_name(a, nested) for a in args)
        return f"{origin.__name__}[{inner}]"
    return getattr(annotation, "__name__", str(annotation))
