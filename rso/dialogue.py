"""The dialogue as text: speaker names and the one "Seeker: ..." / "Recommender: ..." formatting.

The Planner reads this text, and every prompt that shows the conversation uses the same lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

#: Speaker names of the dialogue as the Planner and the prompts read it.
SEEKER: Final = "Seeker"
RECOMMENDER: Final = "Recommender"

#: The seeker's first message in every simulated episode.
OPENING: Final = "Hello."

_SPEAKERS: Final = {"seeker": SEEKER, "recommender": RECOMMENDER}


def format_dialogue(turns: Sequence[tuple[str, str]]) -> str:
    """Write (speaker, text) turns as "Seeker: ..." / "Recommender: ..." lines, oldest first."""
    lines = []
    for number, (speaker, text) in enumerate(turns):
        role = _SPEAKERS.get(speaker.strip().lower())
        if role is None:
            raise ValueError(
                f"turn {number}: unknown speaker {speaker!r}; expected Seeker or Recommender"
            )
        # Newlines inside an utterance would read as a new turn to the model.
        lines.append(f"{role}: {' '.join(text.split())}")
    return "\n".join(lines)
