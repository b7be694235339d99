"""The hidden target movie of a case: the last movie its human recommender brought up."""

from __future__ import annotations

import json
from pathlib import Path

from rso.data.case_targets import dialogue_key, last_recommended, recommended_by_dialogue

DIALOGUE = [
    ("RECOMMENDER", "Hi! What kind of movies do you like?", []),
    ("SEEKER", 'I loved "Deadpool (2016)".', ["Deadpool (2016)"]),
    ("RECOMMENDER", "Deadpool is great! Have you seen Zombieland (2009)?", ["Deadpool (2016)"]),
    ("SEEKER", "No.", []),
    ("RECOMMENDER", "Try Zombieland or Superbad.", ["Zombieland (2009)", "Superbad (2007)"]),
    ("SEEKER", "Deadpool again, maybe.", ["Deadpool (2016)"]),
    ("RECOMMENDER", "Deadpool it is, or Superbad.", ["Deadpool (2016)"]),
]


def test_the_target_is_the_last_movie_the_recommender_brought_up() -> None:
    # Deadpool is named last, but the seeker named it first: Superbad is the recommendation.
    assert last_recommended(DIALOGUE) == "Superbad (2007)"


def test_a_dialogue_whose_recommender_names_only_the_seekers_movies_has_no_target() -> None:
    seeker_only = [
        ("SEEKER", "I like Heat (1995).", ["Heat (1995)"]),
        ("RECOMMENDER", "Heat is a classic.", ["Heat (1995)"]),
    ]
    assert last_recommended(seeker_only) is None
    assert last_recommended([("RECOMMENDER", "Hello!", [])]) is None


def test_dialogues_are_found_by_their_text_whatever_the_punctuation_and_quoting() -> None:
    assert dialogue_key(["Hi!", "I loved QUOTATION_MARKHeatQUOTATION_MARK."]) == dialogue_key(
        ["hi", ' I loved "Heat" ']
    )


def test_targets_are_read_from_the_unicrs_release(tmp_path: Path) -> None:
    folder = tmp_path / "inspired" / "unicrs_format"
    folder.mkdir(parents=True)
    lines = [
        [
            {"role": "RECOMMENDER", "text": "Hi!", "movie": []},
            {"role": "SEEKER", "text": "A comedy please.", "movie": []},
            {"role": "RECOMMENDER", "text": "Superbad (2007)!", "movie": ["Superbad (2007)"]},
        ],
        [
            {"role": "SEEKER", "text": "I like Heat.", "movie": ["Heat (1995)"]},
            {"role": "RECOMMENDER", "text": "Heat is good.", "movie": ["Heat (1995)"]},
        ],
    ]
    (folder / "test_data_dbpedia.jsonl").write_text("\n".join(json.dumps(d) for d in lines))
    targets = recommended_by_dialogue("test", tmp_path)
    assert targets == {
        dialogue_key(["Hi!", "A comedy please.", "Superbad (2007)!"]): "Superbad (2007)",
        dialogue_key(["I like Heat.", "Heat is good."]): None,
    }
