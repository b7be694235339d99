"""Typed records for every dataset the project reads (raw loaders and processed files alike)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from rso.strategies import Strategy

Speaker = Literal["SEEKER", "RECOMMENDER"]
Split = Literal["train", "valid", "test"]
EvalDataset = Literal["inspired", "redial"]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Utterance(_Record):
    """One utterance of a dialog; recommender utterances of INSPIRED carry a strategy label."""

    speaker: Speaker
    text: str
    strategy: Strategy | None = None


class InspiredDialog(_Record):
    """An INSPIRED dialog with strategy labels (the RSO SFT release)."""

    dialog_id: str
    split: Split
    user_id: str
    #: The seeker's target genres; empty where the release gives none (the whole valid split).
    target_genres: list[str]
    utterances: list[Utterance]


class PlannerSample(_Record):
    """One supervised Planner example: the utterances before a recommender turn and its label."""

    dialog_id: str
    #: Position of the labelled utterance in its dialog (equals ``len(history)``).
    utterance_index: int
    history: list[Utterance]
    label: Strategy


class BigFive(_Record):
    """Big-Five personality scores (1-5, averaged items) from the INSPIRED survey."""

    extrovert: float
    agreeable: float
    conscientious: float
    neurotic: float
    open: float


class Persona(_Record):
    """A seeker persona: survey demographics joined with personality, when the user has one."""

    user_id: str
    age_group: str | None = None
    gender: str | None = None
    race: str | None = None
    degree: str | None = None
    job: str | None = None
    marital_status: str | None = None
    political_view: str | None = None
    religion: str | None = None
    big_five: BigFive | None = None
    #: Schwartz values (name -> score, 1-6), empty when the user has no personality row.
    values: dict[str, float] = Field(default_factory=dict)
    #: Decision style scores (1-6): rational versus emotional ("feeling") decision making.
    rational: float | None = None
    feeling: float | None = None


class EvalCase(_Record):
    """An RSO evaluation case: a persona and the target genres of one test dialog."""

    case_id: str
    dataset: EvalDataset
    dialog_id: str
    user_id: str
    target_genres: list[str]
    #: The movie the human recommender recommended last in the dialog, as the source writes it
    #: ("Title (Year)"): the hidden target of item-mode episodes; None when it cannot be told.
    target_movie: str | None = None


class RedialMessage(_Record):
    """One ReDial message with ``@movieId`` mentions resolved to titles."""

    speaker: Speaker
    text: str
    #: ReDial movie ids mentioned in this message, in order of appearance.
    movie_ids: list[str] = Field(default_factory=list)


class RedialFeedback(_Record):
    """The post-dialog questionnaire about one mentioned movie; None means "did not say"."""

    suggested_by_recommender: bool
    seen: bool | None = None
    liked: bool | None = None


class RedialDialog(_Record):
    """A ReDial dialog (the 1,000 iEvaLM held-out training dialogs)."""

    dialog_id: str
    messages: list[RedialMessage]
    #: ReDial movie id -> "Title (Year)" for every movie mentioned in the dialog.
    movie_mentions: dict[str, str]
    seeker_worker_id: int | None = None
    recommender_worker_id: int | None = None
    #: Questionnaire answers about the seeker, by movie id (empty when neither worker filled it).
    seeker_feedback: dict[str, RedialFeedback] = Field(default_factory=dict)


class RecTurn(_Record):
    """A recommendation turn of the offline protocol: the dialogue so far and the movies suggested.

    ``context`` holds the utterances oldest first, alternating speakers, the last one the
    seeker's (an empty string stands for a missing utterance); ``targets`` the movies the human
    recommender suggested next, written "Title (Year)" as in the source.
    """

    dataset: EvalDataset
    dialog_id: str
    turn_id: int
    context: list[str]
    targets: list[str]


class MovieMention(_Record):
    """A movie named in one utterance of a dialog, as written in the source ("Title (Year)")."""

    speaker: Speaker
    utterance: int
    title: str


class MovieDialog(_Record):
    """The movie mentions of one dialog in order (the input of co-mention statistics)."""

    dataset: EvalDataset
    split: Split
    dialog_id: str
    mentions: list[MovieMention]


class Movie(_Record):
    """A movie of the merged knowledge base; ``doc`` is the text that gets embedded."""

    kb_id: str
    title: str
    year: int | None = None
    genres: list[str] = Field(default_factory=list)
    directors: list[str] = Field(default_factory=list)
    cast: list[str] = Field(default_factory=list)
    writers: list[str] = Field(default_factory=list)
    plot: str = ""
    imdb_id: str | None = None
    redial_movie_id: str | None = None
    in_redial: bool = False
    in_inspired: bool = False
    tags: list[str] = Field(default_factory=list)
    doc: str

    @property
    def display_title(self) -> str:
        """Title with its year, "Heat (1995)"."""
        return f"{self.title} ({self.year})" if self.year else self.title
