"""The policy decision: what the text and image checks found, against what the job may be."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from i2v.errors import PolicyRefused
from i2v.policy.base import POLICY_VERSION, Category, ImageScore, Rating, TextVerdict
from i2v.policy.nsfw import rule_for

Stage = Literal["submission", "output"]  # before anything runs, or on the finished clip's frames
Field = Literal["prompt", "image", "rating", "backend", "output"]

MATURE = "mature"  # the refusal category of anything rated above what is allowed

# Said to users in place of the category's id; never the words that matched.
_CATEGORY_TEXT = {
    Category.MINORS: "sexual content involving minors or childlike subjects",
    Category.NON_CONSENT: "non-consensual sexual content",
    Category.REAL_PERSON: "sexual or nude content of a real, identifiable person",
}


@dataclass(frozen=True, slots=True)
class PolicyRequest:
    text: TextVerdict
    images: tuple[ImageScore, ...] = ()  # the input picture(s) or, at "output", sampled frames
    requested: Rating = Rating.PG13  # the job's own `rating`
    mature_granted: bool = False  # an admin's grant on the account
    hosted: bool = False  # the route includes a hosted backend, where mature never runs
    stage: Stage = "submission"


@dataclass(frozen=True, slots=True)
class PolicyDecision:
    allowed: bool
    rating: Rating  # the highest any check found
    category: str | None  # a Category value, or "mature"; None when allowed
    field: Field | None  # the input to change; None when allowed
    reason: str  # a sentence for the user: what was found and what to do
    rules: tuple[str, ...]  # text rule ids, then image rules such as "image.nsfw>=0.8"
    images: tuple[ImageScore, ...]
    version: str = POLICY_VERSION

    def error(self) -> PolicyRefused:
        if self.allowed or self.category is None or self.field is None:
            raise ValueError("an allowed decision has no error")
        return PolicyRefused(
            self.reason, field=self.field, category=self.category, rating=self.rating.value
        )


def decide(request: PolicyRequest) -> PolicyDecision:
    """Refuse what is never allowed, then a mature rating the account has no grant for, then
    anything rated above the job's rating, then mature on a hosted backend; otherwise allow.
    The first rule that refuses gives the reason."""
    text, images = request.text, request.images
    image_rating = Rating.highest(*(score.rating for score in images))
    found = Rating.highest(text.rating, image_rating)
    image_rules = (rule_for(score.rating) for score in images)
    rules = tuple(dict.fromkeys([*text.rules, *(rule for rule in image_rules if rule)]))

    def refused(category: str, field: Field, reason: str) -> PolicyDecision:
        return PolicyDecision(False, found, category, field, reason, rules, images)

    if text.prohibited:
        category = text.prohibited[0]
        return refused(
            category.value,
            "prompt",
            f"refused: {_CATEGORY_TEXT[category]} is never allowed, on any account or backend;"
            " remove it from the prompt",
        )
    requested, granted = request.requested, request.mature_granted
    if requested.mature and not granted:
        return refused(
            MATURE,
            "rating",
            f"rating {requested} needs an admin's mature grant on this account; ask an admin"
            " for one, or set rating to PG-13 or lower",
        )
    if found.rank > requested.rank:
        # Named after the check that rated it highest; the prompt where both agree.
        blamed: Field = "prompt" if text.rating.rank >= image_rating.rank else _image_field(request)
        grant = " (needs an admin's mature grant)" if found.mature and not granted else ""
        hosted = " and choose a local or ComfyUI backend" if found.mature and request.hosted else ""
        return refused(
            MATURE,
            blamed,
            f"rated {found}: the {blamed} goes beyond what this job allows (up to {requested});"
            f" set rating to {found}{grant}{hosted} to allow it",
        )
    # Found above requested is refused above, so a mature finding here means a mature request.
    if request.hosted and requested.mature:
        return refused(
            MATURE,
            "backend",
            f"rating {requested} never runs on a hosted backend;"
            " choose a local or ComfyUI backend, or set rating to PG-13 or lower",
        )
    reason = f"rated {found}: allowed (this job allows up to {requested})"
    return PolicyDecision(True, found, None, None, reason, rules, images)


def _image_field(request: PolicyRequest) -> Field:
    return "output" if request.stage == "output" else "image"
