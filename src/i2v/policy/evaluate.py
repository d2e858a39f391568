"""A labelled prompt set: loaded, rated, and counted as a confusion matrix for tests and bench."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from i2v.policy.base import Category, Rating, TextVerdict
from i2v.policy.text import rate_text

Expected = Literal["allow", "refuse"]


@dataclass(frozen=True, slots=True)
class Labelled:
    prompt: str
    expected: Expected
    category: Category | None  # what a refusal must name; None for allowed prompts
    rating: Rating | None  # the highest rating expected, where the label says one
    note: str


@dataclass(frozen=True, slots=True)
class Outcome:
    item: Labelled
    verdict: TextVerdict

    @property
    def refused(self) -> bool:
        return bool(self.verdict.prohibited)

    @property
    def right_category(self) -> bool:
        """A refusal names the labelled category (an allowed prompt has none to name)."""
        return self.item.category is None or self.item.category in self.verdict.prohibited


def load_labelled(path: Path) -> tuple[Labelled, ...]:
    """One JSON object a line: prompt, expected, category, rating, note; blank lines skipped."""
    items = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        expected = row["expected"]
        if expected not in ("allow", "refuse"):
            raise ValueError(f"{path}:{number}: expected must be allow or refuse")
        category = Category(row["category"]) if row.get("category") else None
        if (expected == "refuse") != (category is not None):
            raise ValueError(f"{path}:{number}: a refusal names a category, an allow none")
        rating = Rating.parse(row["rating"]) if row.get("rating") else None
        items.append(Labelled(row["prompt"], expected, category, rating, row.get("note", "")))
    return tuple(items)


def evaluate(
    items: Iterable[Labelled], rate: Callable[[str], TextVerdict] = rate_text
) -> tuple[Outcome, ...]:
    return tuple(Outcome(item, rate(item.prompt)) for item in items)


def confusion(rows: Iterable[Outcome]) -> dict[str, int]:
    """Counts of expected x actual ("refuse_allowed": should refuse, was allowed), and how
    many refusals named the wrong category."""
    counts = dict.fromkeys(
        ("refuse_refused", "refuse_allowed", "allow_refused", "allow_allowed", "wrong_category"),
        0,
    )
    for row in rows:
        actual = "refused" if row.refused else "allowed"
        counts[f"{row.item.expected}_{actual}"] += 1
        if row.refused and not row.right_category:
            counts["wrong_category"] += 1
    return counts


def format_confusion(counts: dict[str, int]) -> str:
    """The matrix as a small table, expected down the side, actual across."""
    return "\n".join(
        (
            f"{'expected':<16}{'refused':>9}{'allowed':>9}",
            f"{'refuse':<16}{counts['refuse_refused']:>9}{counts['refuse_allowed']:>9}",
            f"{'allow':<16}{counts['allow_refused']:>9}{counts['allow_allowed']:>9}",
            f"wrong category: {counts['wrong_category']}",
        )
    )
