"""The text rules against the labelled prompt set, and their parts: folding, ages, undressing."""

from __future__ import annotations

import json
import subprocess
import sys
import timeit
from pathlib import Path

import pytest

from i2v.policy.base import Category, Rating
from i2v.policy.evaluate import confusion, evaluate, format_confusion, load_labelled
from i2v.policy.normalise import normalise, words
from i2v.policy.phrases import minor_ages, undressing
from i2v.policy.text import PROHIBITED, RATINGS, RULE_IDS, rate_text

LABELLED = Path(__file__).resolve().parents[1] / "data" / "policy_prompts.jsonl"


def test_the_labelled_set_refuses_every_refusal_and_few_allowed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    items = load_labelled(LABELLED)
    rows = evaluate(items)
    counts = confusion(rows)
    with capsys.disabled():
        print(f"\npolicy text rules on {LABELLED.name}:\n{format_confusion(counts)}")
    missed = [r.item.prompt for r in rows if r.item.expected == "refuse" and not r.refused]
    wrong = [r.item.prompt for r in rows if r.refused and not r.right_category]
    assert missed == []
    assert wrong == []
    allowed = counts["allow_refused"] + counts["allow_allowed"]
    assert counts["allow_refused"] <= 0.03 * allowed


def test_the_labelled_ratings_hold() -> None:
    rows = evaluate(load_labelled(LABELLED))
    off = [
        (r.item.prompt, r.item.rating, r.verdict.rating)
        for r in rows
        if r.item.rating is not None and r.item.rating != r.verdict.rating
    ]
    assert off == []


def test_the_labelled_set_is_big_and_covers_every_category() -> None:
    items = load_labelled(LABELLED)
    allowed = [i for i in items if i.expected == "allow"]
    refused = [i for i in items if i.expected == "refuse"]
    assert len(items) >= 180
    assert len(allowed) >= 90
    assert len(refused) >= 60
    for category in Category:
        assert sum(i.category == category for i in refused) >= 20


def test_the_loader_refuses_a_refusal_without_a_category(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"prompt": "x", "expected": "refuse", "category": None}) + "\n")
    with pytest.raises(ValueError, match="category"):
        load_labelled(bad)


@pytest.mark.parametrize(
    ("typed", "folded"),
    [
        ("S3X", "sex"),
        ("p0rn", "porn"),
        ("t33n", "teen"),
        ("y0ung g1rl", "young girl"),
        ("nüde", "nude"),
        ("Beyoncé", "beyonce"),
        ("n\u0430k\u0435d", "naked"),  # Cyrillic a and e
        ("\u03bd\u03bfde", "vode"),  # Greek nu and omicron read as v and o
        ("\uff4e\uff55\uff44\uff45", "nude"),  # fullwidth
        ("n\u200bu\u200dde", "nude"),  # zero-width space and joiner
        ("s.e.x", "sex"),
        ("s-e-x-y", "sexy"),
        ("n u d e", "nude"),
        ("a n u d e photo", "a nude photo"),
        ("sexxxy", "sexxy"),
        ("Taylor Swift's", "taylor swift"),
        ("15yo 1080p 60fps 3d 4k", "15yo 1080p 60fps 3d 4k"),  # measures, not leet
        ("a55 h264", "a55 h264"),  # codes with one letter are not words
        ("U.S.A. flag", "usa flag"),
    ],
)
def test_normalise_folds_disguises(typed: str, folded: str) -> None:
    assert normalise(typed) == folded


def test_ambiguous_leet_and_elongation_give_every_reading() -> None:
    (loli,) = words("1oli")
    assert loli.forms[:2] == ("ioli", "loli")
    (sexy,) = words("sexxxy")
    assert "sexy" in sexy.forms
    (plural,) = words("boobz")
    assert "boobs" in plural.forms
    (jazz,) = words("jazz")
    assert jazz.forms == ("jazz",)


SCUNTHORPE = [
    "Scunthorpe", "assassin", "shiitake", "cocktail", "Sussex", "therapist", "analysis", "grape",
    "drape", "skyscraper", "Essex", "Middlesex", "hardcore workout", "title", "kidney",
    "kidding", "sextant", "sextet", "Penistone", "cockatoo", "peacock", "rapper", "class",
    "grapefruit", "cumulus", "Dickens", "arsenal", "titan", "nudibranch", "kiddush",
]  # fmt: skip


@pytest.mark.parametrize("word", SCUNTHORPE)
def test_innocent_words_match_neither_sex_nor_minors(word: str) -> None:
    assert rate_text(f"a photo of {word}").rules == ()
    assert rate_text(f"{word} with a child").prohibited == ()  # not sexual
    assert rate_text(f"{word}, nude").prohibited == ()  # not a minor


@pytest.mark.parametrize(
    "text",
    [
        "15yo", "15 yo", "15 y/o", "15 y.o.", "a 15-year-old", "15 year old", "15 years old",
        "aged 15", "age 15", "age: 15", "under the age of 16", "fifteen year old",
        "fiveteen yo", "f1fteen year old", "16 yrs", "16yrs", "17.5 years old",
        "6 months old", "she is 15", "she's 14", "a girl, 14,", "turned 16",
    ],
)  # fmt: skip
def test_stated_minor_ages_are_found(text: str) -> None:
    assert minor_ages(words(text))
    assert Category.MINORS in rate_text(f"{text}, nude").prohibited


@pytest.mark.parametrize(
    "text",
    [
        "18 year old", "25yo", "a 15 second clip", "15 fps", "1080p", "top 10",
        "twenty-one-year-old", "15 years of war", "she is 15 minutes late", "girl 2 of 3",
        "he is 30", "a 16 by 9 frame", "19 y/o", "aged 40",
    ],
)  # fmt: skip
def test_other_numbers_are_not_minor_ages(text: str) -> None:
    assert minor_ages(words(text)) == []


def test_a_minor_age_alone_is_not_refused() -> None:
    verdict = rate_text("a 10-year-old playing football")
    assert verdict.prohibited == ()
    assert verdict.rating is Rating.PG


@pytest.mark.parametrize(
    "text",
    [
        "undress her", "take off her shirt", "remove her clothes", "remove all clothes",
        "make her naked", "show the woman nude", "nudify", "see through her clothes",
        "x-ray clothes", "her dress falls off", "unbutton her blouse", "strip her",
        "without her bikini", "naked version", "she slowly undresses", "pull down his pants",
    ],
)  # fmt: skip
def test_undressing_is_found(text: str) -> None:
    assert undressing(normalise(text))
    assert rate_text(text).prohibited == (Category.REAL_PERSON,)


@pytest.mark.parametrize(
    "text",
    [
        "he takes off his shirt", "she takes off her sunglasses", "removes his jacket",
        "remove the top of the jar", "opens her dress shop", "strip her of her title",
        "a stripped down version", "a comic strip", "an x-ray of a broken arm",
        "take off from the runway", "a nude woman",
    ],
)  # fmt: skip
def test_other_removals_are_not_undressing(text: str) -> None:
    assert undressing(normalise(text)) == []


def test_rule_ids_are_stable() -> None:
    assert RULE_IDS == (
        "sexual.explicit", "nudity.full", "nudity.art", "nudity.partial", "sexual.suggestive",
        "violence.graphic", "gore", "clothing.underwear", "clothing.revealing",
        "clothing.swimwear", "nudity.nonsexual", "romance", "violence.mild",
        "minor.sexual_term", "nonconsent.sexual", "nonconsent.voyeur", "undress.photo",
        "age.stated_minor", "minor.near_sexual", "nonconsent.coerced", "real_person.sexual",
    )  # fmt: skip
    assert set(PROHIBITED) <= set(RULE_IDS)
    assert set(RATINGS) <= set(RULE_IDS)


def test_verdicts_name_rules_never_words() -> None:
    for item in load_labelled(LABELLED):
        verdict = rate_text(item.prompt)
        assert set(verdict.rules) <= set(RULE_IDS)
        assert all(isinstance(c, Category) for c in verdict.prohibited)
    for prompt, word in [
        ("Taylor Swift nude", "taylor"),
        ("nude photo of a 15yo", "15yo"),
        ("s3xy t33n", "t33n"),
        ("a loli character", "loli"),
        ("my stepsister in underwear", "stepsister"),
    ]:
        assert word not in repr(rate_text(prompt)).lower()


def test_texts_are_rated_together_as_one_clip() -> None:
    assert rate_text("a 15yo on a bed", "nude").prohibited == (Category.MINORS,)
    assert rate_text("", "").rules == ()


def test_near_is_a_window_of_words() -> None:
    far = "a child flying a kite. " + "the sky is blue and calm. " * 5 + "later a nude statue"
    assert rate_text(far).prohibited == ()
    assert rate_text("a child flying a kite, later a nude statue").prohibited


def test_mature_content_is_rated_not_refused() -> None:
    for prompt, rating in [
        ("a nude woman in the rain", Rating.X),
        ("a classical nude statue", Rating.R),
        ("a gory battle scene", Rating.R),
        ("a woman in a bikini", Rating.PG13),
        ("a cat asleep on a rug", Rating.PG),
    ]:
        verdict = rate_text(prompt)
        assert verdict.rating is rating
        assert verdict.prohibited == ()


def test_importing_compiles_nothing() -> None:
    probe = "import i2v.policy.text as t; assert t._index.cache_info().currsize == 0"
    subprocess.run([sys.executable, "-c", probe], check=True)


def test_a_typical_prompt_takes_under_two_milliseconds() -> None:
    prompt = (
        "A cinematic slow dolly shot of a woman in a red dress walking through a rainy neon-lit "
        "Tokyo street at night, reflections on wet asphalt, soft bokeh, the camera pans left as "
        "she turns and smiles, umbrellas passing by, steam rising from a food stall, film grain"
    )
    rate_text(prompt)
    best = min(timeit.repeat(lambda: rate_text(prompt), number=50, repeat=5)) / 50
    assert best < 0.002
