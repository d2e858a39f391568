"""The policy decision: the rules by example, then every combination of their inputs."""

from __future__ import annotations

import itertools

import pytest

from i2v.errors import PolicyRefused
from i2v.policy.base import POLICY_VERSION, Category, ImageScore, Rating, TextVerdict
from i2v.policy.decide import MATURE, PolicyDecision, PolicyRequest, Stage, decide

PG, PG13, R, X = Rating.PG, Rating.PG13, Rating.R, Rating.X
NSFW = {PG: 0.01, PG13: 0.3, R: 0.6, X: 0.9}


def text(rating: Rating = PG, *prohibited: Category) -> TextVerdict:
    rules = ("sexual.explicit",) if rating.mature else ()
    return TextVerdict(rating, prohibited, rules + tuple(f"always.{c}" for c in prohibited))


def scored(*ratings: Rating) -> tuple[ImageScore, ...]:
    return tuple(ImageScore("fake 1", NSFW[r], r) for r in ratings)


def request(
    prompt: TextVerdict | None = None,
    images: tuple[ImageScore, ...] = (),
    requested: Rating = PG13,
    *,
    granted: bool = False,
    hosted: bool = False,
    stage: Stage = "submission",
) -> PolicyRequest:
    return PolicyRequest(prompt or text(), images, requested, granted, hosted, stage)


# -- by example ------------------------------------------------------------------------------


def test_the_defaults() -> None:
    plain = PolicyRequest(text(PG))
    assert (plain.requested, plain.mature_granted, plain.hosted, plain.stage) == (
        PG13,
        False,
        False,
        "submission",
    )
    decision = decide(plain)
    assert decision == PolicyDecision(
        True, PG, None, None, "rated PG: allowed (this job allows up to PG-13)", (), ()
    )
    assert decision.version == POLICY_VERSION


@pytest.mark.parametrize(
    ("req", "allowed", "rating", "category", "field"),
    [
        # Nothing found: allowed at the default rating, on any backend.
        (request(text(PG), scored(PG)), True, PG, None, None),
        (request(text(PG13), scored(PG), hosted=True), True, PG13, None, None),
        # Always refused: for a granted account asking for X, and on every backend.
        (request(text(X, Category.MINORS), (), X, granted=True), False, X, "minors", "prompt"),
        (request(text(PG, Category.NON_CONSENT)), False, PG, "non_consent", "prompt"),
        (request(text(R, Category.REAL_PERSON), hosted=True), False, R, "real_person", "prompt"),
        # Above what the job asked for: refused as mature, naming the input that rated it.
        (request(text(R)), False, R, MATURE, "prompt"),
        (request(text(PG), scored(PG, X)), False, X, MATURE, "image"),
        (request(text(PG), scored(X), stage="output"), False, X, MATURE, "output"),
        (request(text(PG13), scored(PG13), PG), False, PG13, MATURE, "prompt"),
        (request(text(R), scored(X), R, granted=True), False, X, MATURE, "image"),
        (request(text(X), scored(X), R, granted=True), False, X, MATURE, "prompt"),
        # Mature asked for without the account's grant: the rating field is at fault.
        (request(text(PG), (), R), False, PG, MATURE, "rating"),
        (request(text(X), scored(X), X), False, X, MATURE, "rating"),
        # Granted, but a hosted backend never runs mature, asked for or found.
        (request(text(PG), (), R, granted=True, hosted=True), False, PG, MATURE, "backend"),
        (request(text(X), scored(R), X, granted=True, hosted=True), False, X, MATURE, "backend"),
        # Granted and not hosted: mature runs.
        (request(text(R), scored(X), X, granted=True), True, X, None, None),
        (request(text(PG), scored(R), R, granted=True, stage="output"), True, R, None, None),
    ],
)
def test_rules(
    req: PolicyRequest, allowed: bool, rating: Rating, category: str | None, field: str | None
) -> None:
    decision = decide(req)
    assert (decision.allowed, decision.rating, decision.category, decision.field) == (
        allowed,
        rating,
        category,
        field,
    )


def test_reasons_say_what_was_found_and_what_to_do() -> None:
    def reason(req: PolicyRequest) -> str:
        return decide(req).reason

    assert reason(request(text(R))) == (
        "rated R: the prompt goes beyond what this job allows (up to PG-13);"
        " set rating to R (needs an admin's mature grant) to allow it"
    )
    assert reason(request(text(PG), scored(X), R, granted=True, hosted=True)) == (
        "rated X: the image goes beyond what this job allows (up to R);"
        " set rating to X and choose a local or ComfyUI backend to allow it"
    )
    assert reason(request(text(PG), scored(PG13), PG, stage="output")) == (
        "rated PG-13: the output goes beyond what this job allows (up to PG);"
        " set rating to PG-13 to allow it"
    )
    assert reason(request(text(PG), (), X)) == (
        "rating X needs an admin's mature grant on this account; ask an admin for one,"
        " or set rating to PG-13 or lower"
    )
    assert reason(request(text(PG), (), R, granted=True, hosted=True)) == (
        "rating R never runs on a hosted backend; choose a local or ComfyUI backend,"
        " or set rating to PG-13 or lower"
    )
    assert reason(request(text(R, Category.MINORS))) == (
        "refused: sexual content involving minors or childlike subjects is never allowed,"
        " on any account or backend; remove it from the prompt"
    )


def test_rules_and_scores_are_kept_for_the_audit() -> None:
    images = scored(PG, X, X, PG13)
    decision = decide(request(text(R), images, X, granted=True))
    assert decision.rules == ("sexual.explicit", "image.nsfw>=0.8", "image.nsfw>=0.2")
    assert decision.images == images
    refused = decide(request(text(PG, Category.MINORS), scored(R)))
    assert refused.rules == ("always.minors", "image.nsfw>=0.5")


def test_the_error_carries_the_field_category_and_rating() -> None:
    error = decide(request(text(PG), scored(X), stage="output")).error()
    assert isinstance(error, PolicyRefused)
    assert (error.field, error.category, error.rating) == ("output", MATURE, "X")
    assert error.code == "content_refused"
    assert error.message.startswith("rated X: the output")


def test_an_allowed_decision_has_no_error() -> None:
    with pytest.raises(ValueError, match="allowed"):
        decide(request()).error()


# -- every combination -----------------------------------------------------------------------

STAGES: tuple[Stage, ...] = ("submission", "output")

CASES = list(
    itertools.product(
        Rating,  # the text's rating
        [(), (Category.MINORS,), (Category.REAL_PERSON, Category.NON_CONSENT)],
        [(), (PG,), (PG13, R), (X, PG)],  # image ratings
        Rating,  # requested
        [False, True],  # granted
        [False, True],  # hosted
        STAGES,
    )
)


def expected(
    found: Rating,
    text_rating: Rating,
    prohibited: tuple[Category, ...],
    requested: Rating,
    granted: bool,
    hosted: bool,
    image_field: str,
) -> tuple[str, str] | None:
    """(category, field) of the refusal, in the order the rules apply; None: allowed."""
    if prohibited:
        return prohibited[0].value, "prompt"
    if requested.mature and not granted:
        return MATURE, "rating"
    if found.rank > requested.rank:
        return MATURE, "prompt" if text_rating == found else image_field
    if hosted and (requested.mature or found.mature):
        return MATURE, "backend"
    return None


def test_every_combination() -> None:
    assert len(CASES) == 4 * 3 * 4 * 4 * 2 * 2 * 2
    for text_rating, prohibited, image_ratings, requested, granted, hosted, stage in CASES:
        images = scored(*image_ratings)
        req = PolicyRequest(
            text(text_rating, *prohibited), images, requested, granted, hosted, stage
        )
        decision = decide(req)
        found = Rating.highest(text_rating, *image_ratings)
        image_field = "output" if stage == "output" else "image"
        refusal = expected(found, text_rating, prohibited, requested, granted, hosted, image_field)
        case = (req, decision)

        assert decision.rating is found, case
        assert decision.images == images, case
        assert decision.version == POLICY_VERSION, case
        assert decision.allowed is (refusal is None), case
        if refusal is None:
            assert (decision.category, decision.field) == (None, None), case
            # What is allowed never passes the job's rating, an ungranted account or a host.
            assert found.rank <= requested.rank, case
            assert not (found.mature or requested.mature) or (granted and not hosted), case
            continue
        assert (decision.category, decision.field) == refusal, case
        error = decision.error()
        assert (error.category, error.field, error.rating) == (*refusal, found.value), case
        # The reason names the rating or category, never a rule id (the words behind it).
        assert not any(rule in decision.reason for rule in decision.rules), case
        assert decision.reason.startswith(opening(*refusal, found, requested)), case
        if prohibited:
            assert DESCRIBED[prohibited[0]] in decision.reason, case


def opening(category: str, field: str, found: Rating, requested: Rating) -> str:
    if category != MATURE:
        return "refused: "
    if field == "rating":
        return f"rating {requested} needs an admin's mature grant"
    if field == "backend":
        return f"rating {requested} never runs on a hosted backend"
    return f"rated {found}: the {field} goes beyond"


DESCRIBED = {
    Category.MINORS: "sexual content involving minors",
    Category.NON_CONSENT: "non-consensual sexual content",
    Category.REAL_PERSON: "a real, identifiable person",
}
