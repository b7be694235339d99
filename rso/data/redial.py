"""ReDial dialogs (iEvaLM's 1,000 held-out training dialogs) with movie mentions resolved."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any, Final

from rso.data.jsonl import DataFormatError, iter_json_lines
from rso.data.records import RedialDialog, RedialFeedback, RedialMessage, Speaker
from rso.data.store import Parsed, Source, load_records, raw_file
from rso.data.validate import require

RAW_DIALOGS: Final = Path("redial") / "ievalm" / "valid_data.jsonl"
RAW_MOVIE_NAMES: Final = Path("redial") / "original" / "movies_with_mentions.csv"
PROCESSED_REDIAL: Final = "redial-dialogs.jsonl.gz"
MENTION: Final = re.compile(r"@(\d+)")

NOTE_TITLE_FALLBACK: Final = "mentions titled from movies_with_mentions.csv"
NOTE_NO_QUESTIONNAIRE: Final = "dialogs without questionnaire answers"
NOTE_UNTITLED_UNUSED: Final = "untitled movie-table entries never mentioned in the text (dropped)"


def normalise_title(title: str) -> str:
    """Collapse the doubled spaces ReDial leaves before the year ("Heat  (1995)")."""
    return " ".join(title.split())


def parse_redial_dialogs(
    raw_dir: Path | None = None, path: Path | None = None
) -> Parsed[RedialDialog]:
    """Parse the raw ReDial dialogs, resolving every ``@movieId`` to "Title (Year)".

    Roles: ReDial's initiator is the movie seeker and the respondent the recommender (the
    dataset's datasheet says so, and in these dialogs 96% of the movies the questionnaire marks
    as suggested by the recommender are first mentioned by the respondent).
    """
    path = path or raw_file(RAW_DIALOGS, raw_dir)
    fallback: dict[str, str] | None = None
    notes = {NOTE_TITLE_FALLBACK: 0, NOTE_NO_QUESTIONNAIRE: 0, NOTE_UNTITLED_UNUSED: 0}
    dialogs: list[RedialDialog] = []
    seen: dict[str, int] = {}

    def title_of(movie_id: str, mentions: dict[str, str | None], line: int) -> str:
        nonlocal fallback
        title = mentions.get(movie_id)
        if title:
            return normalise_title(title)
        # A few mentions are missing from (or empty in) the dialog's own table; the ReDial movie
        # list names every movie id.
        if fallback is None:
            fallback = _movie_names(raw_file(RAW_MOVIE_NAMES, raw_dir))
        if movie_id not in fallback:
            raise DataFormatError(path, line, f"movie @{movie_id} has no title anywhere")
        notes[NOTE_TITLE_FALLBACK] += 1
        return fallback[movie_id]

    for line, obj in iter_json_lines(path):
        dialog_id = require(obj, "conversationId", str, path, line)
        if dialog_id in seen:
            first = seen[dialog_id]
            raise DataFormatError(
                path, line, f"duplicate conversationId {dialog_id!r} (first on line {first})"
            )
        seen[dialog_id] = line
        seeker = require(obj, "initiatorWorkerId", int, path, line)
        recommender = require(obj, "respondentWorkerId", int, path, line)
        mentions = require(obj, "movieMentions", dict, path, line)
        raw_messages = require(obj, "messages", list, path, line)
        if not raw_messages:
            raise DataFormatError(path, line, "field 'messages' is empty")
        titles: dict[str, str] = {}
        messages: list[RedialMessage] = []
        for index, message in enumerate(raw_messages):
            where = f"messages[{index}]"
            if not isinstance(message, dict):
                raise DataFormatError(path, line, f"{where} should be an object")
            text = require(message, "text", str, path, line, where)
            sender = require(message, "senderWorkerId", int, path, line, where)
            speaker: Speaker
            if sender == seeker:
                speaker = "SEEKER"
            elif sender == recommender:
                speaker = "RECOMMENDER"
            else:
                raise DataFormatError(
                    path, line, f"{where}.senderWorkerId {sender} is neither worker of the dialog"
                )
            movie_ids = MENTION.findall(text)
            for movie_id in movie_ids:
                if movie_id not in titles:
                    titles[movie_id] = title_of(movie_id, mentions, line)
            messages.append(
                RedialMessage(speaker=speaker, text=_resolve(text, titles), movie_ids=movie_ids)
            )
        for movie_id, title in mentions.items():
            if movie_id in titles:
                continue
            if title is None:
                # A table row with no title that no message refers to carries no information.
                notes[NOTE_UNTITLED_UNUSED] += 1
                continue
            titles[movie_id] = title_of(movie_id, mentions, line)
        feedback = _feedback(obj, path, line)
        notes[NOTE_NO_QUESTIONNAIRE] += not feedback
        dialogs.append(
            RedialDialog(
                dialog_id=dialog_id,
                messages=messages,
                movie_mentions=titles,
                seeker_worker_id=seeker,
                recommender_worker_id=recommender,
                seeker_feedback=feedback,
            )
        )
    return Parsed(dialogs, notes)


def load_redial_dialogs(source: Source = "auto") -> list[RedialDialog]:
    """Load the 1,000 ReDial dialogs with speakers and movie titles resolved."""
    return load_records(
        PROCESSED_REDIAL, RedialDialog, lambda: parse_redial_dialogs().records, source
    )


def _resolve(text: str, titles: dict[str, str]) -> str:
    return MENTION.sub(lambda m: titles[m.group(1)], text)


def _movie_names(path: Path) -> dict[str, str]:
    names: dict[str, str] = {}
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        if not {"movieId", "movieName"} <= set(reader.fieldnames or []):
            raise DataFormatError(path, 1, "missing column movieId or movieName")
        for row in reader:
            names[row["movieId"].strip()] = normalise_title(row["movieName"])
    return names


def _feedback(obj: dict[str, Any], path: Path, line: int) -> dict[str, RedialFeedback]:
    # Both workers answered the same questions about the seeker; prefer the seeker's own answers
    # and fall back to the recommender's. An empty questionnaire is stored as a list in the file.
    for key in ("initiatorQuestions", "respondentQuestions"):
        answers = obj.get(key)
        if isinstance(answers, dict) and answers:
            return {
                movie_id: _one_feedback(value, f"{key}.{movie_id}", path, line)
                for movie_id, value in answers.items()
            }
        if answers not in (None, [], {}):
            raise DataFormatError(path, line, f"field {key!r} should be an object")
    return {}


def _one_feedback(value: Any, where: str, path: Path, line: int) -> RedialFeedback:
    if not isinstance(value, dict):
        raise DataFormatError(path, line, f"{where} should be an object")
    suggested = require(value, "suggested", int, path, line, where)
    seen = require(value, "seen", int, path, line, where)
    liked = require(value, "liked", int, path, line, where)
    if suggested not in (0, 1) or seen not in (0, 1, 2) or liked not in (0, 1, 2):
        raise DataFormatError(path, line, f"{where}: answers outside 0/1/2: {value}")
    # 2 is ReDial's "did not say".
    return RedialFeedback(
        suggested_by_recommender=bool(suggested),
        seen=None if seen == 2 else bool(seen),
        liked=None if liked == 2 else bool(liked),
    )
