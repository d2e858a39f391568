"""Bar charts drawn on the server as inline SVG: no script, and only presentation attributes
(`fill`, `font-size`), which the strict CSP (`style-src 'self'`) allows where it refuses
`style=` attributes.

Each bar is a row: its label above it, the bar, and its value after the bar's end, in a
320-unit-wide picture that the stylesheet scales to the page (one unit is about a CSS pixel on
a 360 px phone).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

WIDTH = 320
BAR_SPACE = 236  # the longest bar; the rest of the row is for its value
ROW = 44  # units per row: the label, then the bar
LABEL_BASELINE = 15
BAR_TOP = 21
BAR_HEIGHT = 16
VALUE_GAP = 5
MIN_BAR = 2  # a value above zero is always visible
MAX_LABEL_CHARS = 40


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: str  # as the page says it, e.g. "$1.25"
    label_y: int
    bar_y: int
    length: float
    value_x: float
    value_y: int


@dataclass(frozen=True, slots=True)
class BarChart:
    title: str
    bars: tuple[Bar, ...]
    width: int
    height: int
    bar_height: int

    @property
    def summary(self) -> str:
        """The chart in words, for screen readers (its <desc>)."""
        return "; ".join(f"{bar.label}: {bar.value}" for bar in self.bars)


def _label(text: str) -> str:
    return text if len(text) <= MAX_LABEL_CHARS else text[: MAX_LABEL_CHARS - 1] + "…"


def bar_chart(
    title: str, items: Sequence[tuple[str, Decimal]], shown: Callable[[Decimal], str]
) -> BarChart:
    """Horizontal bars for (label, value) pairs, in their order, scaled to the largest."""
    top = max((value for _, value in items), default=Decimal(0))
    bars = []
    for row, (label, value) in enumerate(items):
        length = 0.0
        if top > 0 and value > 0:
            length = max(MIN_BAR, round(float(value / top) * BAR_SPACE, 1))
        y = row * ROW
        bars.append(
            Bar(
                label=_label(label),
                value=shown(value),
                label_y=y + LABEL_BASELINE,
                bar_y=y + BAR_TOP,
                length=length,
                value_x=length + VALUE_GAP,
                value_y=y + BAR_TOP + BAR_HEIGHT - 3,
            )
        )
    return BarChart(title, tuple(bars), WIDTH, max(1, len(bars)) * ROW, BAR_HEIGHT)
