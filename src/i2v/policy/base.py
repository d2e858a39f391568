"""The content policy's shared types: ratings, refused categories, and what each check finds."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

POLICY_VERSION = "2026-12-07.1"  # bumped whenever a lexicon, threshold or rule changes


class Rating(StrEnum):
    """PG < PG-13 < R < X; R and X are mature."""

    PG = "PG"
    PG13 = "PG-13"
    R = "R"
    X = "X"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    @property
    def mature(self) -> bool:
        return self.rank >= _RANKS[Rating.R]

    @classmethod
    def parse(cls, text: str) -> Rating:
        wanted = text.strip().upper().replace("_", "-")
        for rating in cls:
            if wanted in (rating.value, rating.value.replace("-", "")):
                return rating
        raise ValueError(f"rating {text!r} is not one of: PG, PG-13, R, X")

    @staticmethod
    def highest(*ratings: Rating) -> Rating:
        return max(ratings, key=lambda r: r.rank, default=Rating.PG)


_RANKS = {Rating.PG: 0, Rating.PG13: 1, Rating.R: 2, Rating.X: 3}


class Category(StrEnum):
    """What is refused for every account on every backend."""

    MINORS = "minors"  # sexual content involving minors or childlike subjects
    NON_CONSENT = "non_consent"  # non-consensual sexual content
    REAL_PERSON = "real_person"  # sexual or nude content of a real, identifiable person


@dataclass(frozen=True, slots=True)
class TextVerdict:
    """What the text rules found: never the matched words, only rule ids."""

    rating: Rating
    prohibited: tuple[Category, ...]  # empty: nothing always-refused
    rules: tuple[str, ...]  # ids of the rules that fired, e.g. "sexual.explicit", "age.stated"


@dataclass(frozen=True, slots=True)
class ImageScore:
    classifier: str  # name and version, for the audit
    nsfw: float  # 0..1
    rating: Rating


class ImageClassifier(Protocol):
    name: str

    def score(self, rgb: NDArray[np.uint8]) -> ImageScore:
        """Rate one upright RGB picture, shape (height, width, 3)."""
        ...
