"""Reply templates of the rule-based Actor: one per strategy with a movie, and questions without.

Placeholders: ``{title}`` (display title), ``{facts}`` (a fact sentence written from the movie's
record plus the first plot sentence; only Credibility and the generic reply state facts),
``{preference}`` (the seeker's known preference in words, "action movies").
"""

from types import MappingProxyType
from typing import Final

from rso.strategies import STRATEGIES, STRATEGY_GROUP, Strategy

#: A reply that recommends ``{title}`` under each strategy.
WITH_MOVIE: Final[MappingProxyType[Strategy, str]] = MappingProxyType(
    {
        "Credibility": "You might like {title}. {facts}",
        "Personal Opinion": "I think {title} is one of the best picks for {preference}; "
        "it's really well done.",
        "Personal Experience": "I watched {title} last year and couldn't stop thinking about it "
        "for days.",
        "Self Modeling": "I've seen {title} twice and I'd happily watch it again.",
        "Encouragement": "You have great taste! You should definitely give {title} a try.",
        "Similarity": "I love {preference} too! That's why {title} comes to mind.",
        "Offer Help": "I'm glad to help! How about {title}?",
        "Transparency": "Since you told me you like {preference}, I'm suggesting {title}.",
        "Preference Confirmation": "So you like {preference}, right? {title} might be one for "
        "you. What else do you enjoy?",
        "Opinion Inquiry": "What do you think of {title}? And what do you look for in a movie?",
        "Experience Inquiry": "Have you seen {title}? What did you watch recently that you liked?",
        "Rephrase Preference": "So you're looking for {preference}. Would {title} be your kind "
        "of thing, or is there more to it?",
        "Acknowledgment": "Great! {title} could be a fun one.",
        "No Strategy": "Oh, {title} is on my list too.",
    }
)

#: The reply of the ablated Planner (no strategy) with a movie.
GENERIC_WITH_MOVIE: Final = "I'd recommend {title}. {facts}"

#: Targeted questions of the elicitation strategies when there is no movie yet, by whether a
#: preference is already known.
QUESTION_FIRST: Final[MappingProxyType[Strategy, str]] = MappingProxyType(
    {
        "Preference Confirmation": "What kind of movie are you in the mood for today?",
        "Opinion Inquiry": "What do you look for in a good movie?",
        "Experience Inquiry": "What's a movie you watched recently and really enjoyed?",
        "Rephrase Preference": "Let me make sure I get it right: what sort of movie would you "
        "like?",
    }
)
QUESTION_MORE: Final[MappingProxyType[Strategy, str]] = MappingProxyType(
    {
        "Preference Confirmation": "So you like {preference}, right? Anything else you enjoy?",
        "Opinion Inquiry": "Besides {preference}, what makes a movie good for you?",
        "Experience Inquiry": "Which movie with {preference} did you enjoy most lately?",
        "Rephrase Preference": "So, {preference}. Is there anything else I should know?",
    }
)

#: What a non-elicitation strategy says before the generic question when it has no movie.
OPENER: Final[MappingProxyType[Strategy, str]] = MappingProxyType(
    {
        "Credibility": "I've watched a lot of movies, so I'm sure I can find you a good one.",
        "Personal Opinion": "I think there are so many great movies out right now.",
        "Personal Experience": "I went to the movies last weekend and loved it.",
        "Self Modeling": "I watch a movie almost every night myself.",
        "Encouragement": "Treating yourself to a movie is a great idea!",
        "Similarity": "I love finding a good movie too.",
        "Offer Help": "Hi! I'm glad to help you find a movie.",
        "Transparency": "I'll ask a couple of questions first so that I can recommend well.",
        "Acknowledgment": "Great!",
        "No Strategy": "Hi there, how's your day going?",
    }
)
#: Opener of the ablated Planner with no movie.
GENERIC_OPENER: Final = "I'd love to help you find a movie."

#: The generic question appended by the non-elicitation strategies, by whether a preference is
#: known (then the retriever found nothing new to suggest).
GENERIC_QUESTION_FIRST: Final = "What kind of movies do you like?"
GENERIC_QUESTION_MORE: Final = "I'm still looking for {preference}; anything else you like?"

#: How known preferences are put in words.
GENRE_PHRASE: Final = "{genre} movies"
PERSON_PHRASE: Final = "movies with {person}"
TITLE_PHRASE: Final = "movies like {title}"
PHRASE_JOINER: Final = " and "

#: The fact sentence written from a record; each part is used only when the record has it.
FACT_HEAD: Final = "It's {article} {genres} movie"
FACT_HEAD_NO_GENRE: Final = "It's a movie"
FACT_YEAR: Final = " from {year}"
FACT_DIRECTOR: Final = ", directed by {director}"
FACT_CAST: Final = ", starring {cast}"

#: The Preference Reasoner's sentence.
PREFERENCES_SUMMARY: Final = "The seeker likes {liked}."
PREFERENCES_DISLIKES: Final = " The seeker dislikes {disliked}."

_ELICITATION = {s for s in STRATEGIES if STRATEGY_GROUP[s] == "elicitation"}
if set(WITH_MOVIE) != set(STRATEGIES):  # one template per strategy, no more
    raise RuntimeError("prompts.rule_templates.WITH_MOVIE must cover exactly the 14 strategies")
if set(QUESTION_FIRST) != _ELICITATION or set(QUESTION_MORE) != _ELICITATION:
    raise RuntimeError("rule_templates questions must cover exactly the elicitation strategies")
if set(OPENER) != set(STRATEGIES) - _ELICITATION:
    raise RuntimeError("rule_templates.OPENER must cover exactly the non-elicitation strategies")
