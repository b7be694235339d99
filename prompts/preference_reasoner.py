"""Prompt of the Preference Reasoner: list the seeker's likes and dislikes in their own words.

Shaped for small models: a short instruction, three worked examples as earlier turns of the chat
(the model imitates answers better than it follows rules), and only the seeker's own words as
input, so that nothing the recommender said can be mistaken for a preference.
"""

from typing import Final

SYSTEM: Final = """You read what a movie seeker said and list their movie preferences.
List the genres, actors, directors, movies and moods they like, copying their own words, \
and what they dislike.
Greetings and small talk are not preferences: then both lists are empty."""

#: Worked examples, shown as earlier (seeker words, answer) turns of the chat. Their items are
#: never grounded in a real seeker's words, so an item copied from here is dropped.
EXAMPLES: Final[tuple[tuple[str, dict[str, list[str]]], ...]] = (
    ("Hi! How are you? I want to watch something tonight.", {"likes": [], "dislikes": []}),
    (
        "I really like scary movies, but I hate gore.",
        {"likes": ["scary movies"], "dislikes": ["gore"]},
    ),
    (
        "Anything with Tom Hanks. The last one I loved was Big.",
        {"likes": ["Tom Hanks", "Big"], "dislikes": []},
    ),
)

#: The user turn: everything the seeker said so far, oldest first.
USER: Final = "Seeker: {seeker_words}"

#: How the summary sentence is written from the lists (and read back on the next turn).
LIKES: Final = "Likes {items}"
DISLIKES: Final = "dislikes {items}"

#: After the seeker's words, when the model is asked again: the only phrases its lists may hold.
NAMED: Final = "Genres, people and movies they named: {phrases}"
