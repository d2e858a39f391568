"""What a request to a fal endpoint costs, from the manifest's price rule: pure arithmetic."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from i2v.backends.fal.manifest import (
    BasePlusExtra,
    EndpointManifest,
    PerSecond,
    PerToken,
    PerVideo,
)
from i2v.backends.fal.mapping import duration_for, resolution_for
from i2v.models.request import ModelRequest

_PRECISION = Decimal("0.0001")  # a hundredth of a cent: per-token prices are fine-grained


@dataclass(frozen=True, slots=True)
class Quote:
    usd: Decimal
    read_on: dt.date  # when fal's prices were read; they change


def _matches(want: object, got: object) -> bool:
    return want is None or want == got


def price(manifest: EndpointManifest, request: ModelRequest) -> Quote | None:
    """The price of the request, or None where fal's price for it is not known to i2v.

    Validates the request the way the mapping does, so a refused request is never quoted.
    """
    seconds = duration_for(manifest, request)
    resolution = resolution_for(manifest, request)
    rule = manifest.price.rule
    usd: Decimal | None = None
    if isinstance(rule, PerSecond) and seconds is not None:
        usd = next(
            (
                r.usd_per_second * seconds
                for r in rule.rates
                if _matches(r.resolution, resolution) and _matches(r.audio, request.audio)
            ),
            None,
        )
    elif isinstance(rule, PerVideo):
        usd = next(
            (
                r.usd
                for r in rule.rates
                if _matches(r.resolution, resolution)
                and _matches(r.duration, seconds)
                and _matches(r.audio, request.audio)
            ),
            None,
        )
    elif isinstance(rule, BasePlusExtra) and seconds is not None:
        extra = max(0, seconds - rule.base_seconds)
        usd = rule.base_usd + rule.usd_per_extra_second * extra
    elif isinstance(rule, PerToken) and seconds is not None and resolution is not None:
        size = rule.frame_sizes.get(resolution)
        if size is not None:
            tokens = Decimal(size[0] * size[1] * rule.fps * seconds) / 1024
            usd = tokens * rule.usd_per_million_tokens / 1_000_000
    if usd is None:
        return None
    return Quote(usd.quantize(_PRECISION), manifest.price.read_on)


def price_from(manifest: EndpointManifest) -> Quote | None:
    """The cheapest price among the endpoint's offered choices, for listings."""
    durations = manifest.duration.allowed or (None,)
    resolutions = manifest.resolution.allowed if manifest.resolution else (None,)
    quotes = [
        q
        for d in durations
        for r in resolutions
        if (q := price(manifest, _probe(d, r))) is not None
    ]
    return min(quotes, key=lambda q: q.usd, default=None)


def _probe(duration: int | None, resolution: str | None) -> ModelRequest:
    return ModelRequest(image_url="", prompt="", duration_s=duration, resolution=resolution)


def describe(manifest: EndpointManifest) -> str:
    """The price rule in words, with the date it was read."""
    rule = manifest.price.rule
    if rule is None:
        text = "not known"
    elif isinstance(rule, PerSecond):
        text = ", ".join(
            f"${r.usd_per_second}/s{_when(r.resolution, None, r.audio)}" for r in rule.rates
        )
    elif isinstance(rule, PerVideo):
        text = ", ".join(f"${r.usd}{_when(r.resolution, r.duration, r.audio)}" for r in rule.rates)
    elif isinstance(rule, BasePlusExtra):
        text = (
            f"${rule.base_usd} for {rule.base_seconds} s, "
            f"+${rule.usd_per_extra_second} per further second"
        )
    else:
        text = (
            f"${rule.usd_per_million_tokens} per million tokens "
            f"(width*height*{rule.fps} fps*seconds/1024)"
        )
    return f"{text} (read {manifest.price.read_on.isoformat()})"


def _when(resolution: str | None, duration: int | None, audio: bool | None) -> str:
    parts = [resolution] if resolution else []
    parts += [f"{duration} s"] if duration is not None else []
    parts += [] if audio is None else ["with audio" if audio else "no audio"]
    return f" ({', '.join(parts)})" if parts else ""
