"""The LLM simulated seeker: a persona from the INSPIRED survey, a goal, and a leak guard.

The seeker opens every episode with "Hello." and then answers each recommender turn. Its goal is
the case's first target genre (the paper's protocol) or, in the item-level mode, a hidden target
movie that it describes but must never name. Because a small model does not always keep that
secret, every reply passes `guard_leaks` before it is shown: sentences that fuzzy-match the
target's title are removed, and a reply with nothing left becomes a safe generic one.

Leak threshold: a sentence leaks when rapidfuzz ``partial_ratio`` between the normalised title
(casefolded, punctuation removed, a leading article dropped) and the normalised sentence is at
least `LEAK_THRESHOLD` (85: one or two typos or a missing word in a three-word title still match,
unrelated sentences score well below). Titles shorter than `SHORT_TITLE_CHARS` normalised
characters ("Up", "Heat") match too many ordinary words by partial ratio, so for them a sentence
leaks only when it contains the title as whole words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from langchain_core.messages import HumanMessage, SystemMessage
from rapidfuzz import fuzz

from agents.reply_text import cut_at_role_name, drop_half_sentence
from agents.rewarder import Conversation, conversation_turns
from agents.seeker_goal import SeekerGoal
from prompts import seeker as prompts
from rso.data.records import EvalCase, Movie, Persona
from rso.dialogue import OPENING, format_dialogue

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from graph.models import LLMSettings

#: Minimum rapidfuzz partial_ratio (0-100) between title and sentence for a leak.
LEAK_THRESHOLD: Final = 85.0
#: Titles with fewer normalised characters than this are matched as whole words instead.
SHORT_TITLE_CHARS: Final = 5
#: Big-Five scores (1-5) at or above this are "high", at or below LOW_TRAIT "low".
HIGH_TRAIT: Final = 3.67
LOW_TRAIT: Final = 2.33
#: rational - feeling (1-5 each) >= this is a rational style; <= minus this, an emotional one.
STYLE_MARGIN: Final = 1.0
#: Schwartz values named as most and least important.
N_VALUES: Final = 2

#: Persona block for a case whose seeker has no survey row.
NO_PERSONA: Final = "No personal details are known; behave like an ordinary movie fan."

_SENTENCE = re.compile(r"(?<=[.!?\u2026])[\"'\u201d\u2019)\]]*\s+")
_ARTICLE = re.compile(r"^(?:the|a|an)\s+")


def normalise(text: str) -> str:
    """Casefold, turn punctuation into spaces and collapse whitespace."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.casefold()).split())


def _title_forms(title: str) -> list[str]:
    base = normalise(title)
    forms = {base, _ARTICLE.sub("", base)}
    return [f for f in forms if f]


def sentence_leaks(sentence: str, title: str) -> bool:
    """Return True when a sentence names the title, loosely (see the module docstring)."""
    text = normalise(sentence)
    if not text:
        return False
    for form in _title_forms(title):
        if len(form) < SHORT_TITLE_CHARS:
            if re.search(rf"\b{re.escape(form)}\b", text):
                return True
        elif fuzz.partial_ratio(form, text) >= LEAK_THRESHOLD:
            return True
    return False


def guard_leaks(reply: str, title: str) -> tuple[str, list[str]]:
    """Remove the sentences naming `title`; return the reply shown and the removed sentences."""
    sentences = [s.strip() for s in _SENTENCE.split(reply.strip()) if s.strip()]
    kept = [s for s in sentences if not sentence_leaks(s, title)]
    removed = [s for s in sentences if s not in kept]
    if not kept:
        return prompts.SAFE_REPLY, removed
    return " ".join(kept), removed


def _level(score: float) -> str:
    if score >= HIGH_TRAIT:
        return "high"
    if score <= LOW_TRAIT:
        return "low"
    return "moderate"


def persona_text(persona: Persona) -> str:
    """Describe a persona in words: demographics, Big-Five levels, values and decision style."""
    demographic_parts = [
        f"Gender: {persona.gender}" if persona.gender else "",
        f"age group: {persona.age_group}" if persona.age_group else "",
        f"ethnicity: {persona.race}" if persona.race else "",
        f"education: {persona.degree}" if persona.degree else "",
        f"occupation: {persona.job}" if persona.job else "",
        f"marital status: {persona.marital_status}" if persona.marital_status else "",
        f"political view: {persona.political_view}" if persona.political_view else "",
        f"religion: {persona.religion}" if persona.religion else "",
    ]
    demographics = "; ".join(p for p in demographic_parts if p) or "No demographics known"
    if persona.big_five is not None:
        traits = []
        for key, name in prompts.TRAIT_NAMES.items():
            level = _level(getattr(persona.big_five, key))
            high, low = prompts.TRAIT_ADJECTIVES[key]
            adjectives = {"high": f" ({high})", "low": f" ({low})"}.get(level, "")
            traits.append(f"{level} {name}{adjectives}")
        trait_text = ", ".join(traits) + "."
    else:
        trait_text = "not known."
    values_text = ""
    if persona.values:
        ranked = sorted(persona.values.items(), key=lambda kv: (-kv[1], kv[0]))
        top = [name for name, _ in ranked[:N_VALUES]]
        bottom = [name for name, _ in ranked[-N_VALUES:]][::-1]
        values_text = (
            f"Values that matter most to you: {', '.join(top)}; least: {', '.join(bottom)}."
        )
    style = prompts.BALANCED_STYLE
    if persona.rational is not None and persona.feeling is not None:
        margin = persona.rational - persona.feeling
        if margin >= STYLE_MARGIN:
            style = prompts.RATIONAL_STYLE
        elif margin <= -STYLE_MARGIN:
            style = prompts.EMOTIONAL_STYLE
    text = prompts.PERSONA.format(
        demographics=demographics + ".", traits=trait_text, values=values_text, style=style
    )
    return "\n".join(line for line in text.splitlines() if line.strip())


def goal_from_case(case: EvalCase, target: Movie | None = None) -> SeekerGoal:
    """Return the seeker's goal for a case: its first target genre, or a hidden target movie."""
    if target is not None:
        return SeekerGoal(target=target)
    genres = [g.strip().lower() for g in case.target_genres if g.strip()]
    if not genres:
        raise ValueError(
            f"case {case.case_id!r} has no target genre; give it a target movie or skip it"
        )
    return SeekerGoal(genre=genres[0], other_genres=tuple(dict.fromkeys(genres[1:])))


def target_description(movie: Movie) -> str:
    """Describe a target movie for the seeker's prompt without its title."""
    lines = []
    if movie.genres:
        lines.append(f"Genres: {', '.join(g.lower() for g in movie.genres)}")
    if movie.year:
        lines.append(f"Released: {movie.year}")
    if movie.directors:
        lines.append(f"Directed by: {', '.join(movie.directors[:2])}")
    if movie.cast:
        lines.append(f"Starring: {', '.join(movie.cast[:3])}")
    if movie.plot:
        # The plot often names the film; the model must not see the title anywhere.
        plot = re.sub(re.escape(movie.title), "the film", movie.plot, flags=re.IGNORECASE)
        lines.append(f"Story: {plot}")
    return "\n".join(lines)


def goal_text(goal: SeekerGoal) -> str:
    """Return the goal block of the seeker's prompt."""
    if goal.target is not None:
        return prompts.MOVIE_GOAL.format(description=target_description(goal.target))
    return prompts.GENRE_GOAL.format(genre=goal.genre)


def seeker_messages(
    dialogue: Conversation, goal: SeekerGoal, persona: Persona | None
) -> list[SystemMessage | HumanMessage]:
    """Build the seeker's prompt: persona and goal, then the dialogue so far."""
    persona_block = persona_text(persona) if persona is not None else NO_PERSONA
    return [
        SystemMessage(prompts.SYSTEM.format(persona=persona_block, goal=goal_text(goal))),
        HumanMessage(prompts.USER.format(dialogue=format_dialogue(conversation_turns(dialogue)))),
    ]


@dataclass(frozen=True)
class SeekerReply:
    """One reply of the LLM seeker, with what the guards changed."""

    #: The reply shown to the recommender.
    text: str
    #: The model's reply before post-processing.
    raw: str
    #: Sentences removed because they named the hidden target movie.
    leaked: list[str] = field(default_factory=list)
    #: Why a safe reply replaced the model's (empty or fully leaked), else None.
    fallback: str | None = None


def seeker_reply(
    dialogue: Conversation,
    goal: SeekerGoal | str,
    persona: Persona | None,
    settings: LLMSettings,
    *,
    model: BaseChatModel | None = None,
) -> SeekerReply:
    """Write the seeker's next reply to the dialogue so far (messages or (speaker, text) turns).

    A plain string goal is a target genre.
    """
    from graph import models

    if isinstance(goal, str):
        goal = SeekerGoal(genre=goal.strip().lower())
    if not dialogue:
        return SeekerReply(text=OPENING, raw=OPENING)
    model = model or models.load_chat_model(settings)
    raw = models.text_call(model, seeker_messages(dialogue, goal, persona), settings.max_retries)
    text = drop_half_sentence(" ".join(cut_at_role_name(raw).strip().strip('"').split()))
    leaked: list[str] = []
    if goal.target is not None and text:
        text, leaked = guard_leaks(text, goal.target.title)
        if text == prompts.SAFE_REPLY and leaked:
            return SeekerReply(text, raw, leaked, "every sentence named the target movie")
    if not text:
        return SeekerReply(prompts.SAFE_REPLY, raw, leaked, "empty reply")
    return SeekerReply(text, raw, leaked)
