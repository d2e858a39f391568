"""How the dashboard words and formats what the services return: money, times, progress,
an ETA, what to do after a failure, and the create page's values for "again with changes"."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import urlencode

from i2v.domain.size import ASPECT_PRESETS
from i2v.services.job_view import JobView

MIN_PROGRESS_FOR_ETA = 0.03  # below this, an estimate from the elapsed time is noise

# What to do after a failure, by the error's code; anything else gets DEFAULT_ADVICE.
ADVICE = {
    "content_refused": "Change the prompt or the picture: the content policy refused it.",
    "invalid_parameter": "Change the settings named above, then try again.",
    "backend_unavailable": "Pick another model or backend: this one cannot run here now.",
    "daily_budget_exceeded": "Your daily budget for hosted models is spent: try tomorrow, "
    "use the local renderer, or ask an admin to raise it.",
    "hosted_unavailable": "The hosted service is busy or failing: try again in a few minutes.",
    "server_unreachable": "The GPU server could not be reached: try again in a few minutes.",
    "no_capacity": "No GPU was free: try again later, or pick another backend.",
    "out_of_memory": "The GPU ran out of memory: try a shorter clip or a lower resolution.",
    "run_timed_out": "It took too long: try a shorter clip, or again later.",
    "start_timeout": "The hosted service did not start it in time: try again later.",
    "interrupted": "The run was interrupted: try again.",
    "input_removed": "The uploaded picture has expired: start again with the picture.",
}
DEFAULT_ADVICE = "Try again, perhaps with changes. If it keeps failing, tell an admin the job id."


def money(usd: Decimal | float | None) -> str:
    if usd is None:
        return "unknown"
    amount = Decimal(str(usd))
    if amount == 0:
        return "free"
    if amount < Decimal("0.01"):
        return f"${amount.normalize():f}"
    return f"${amount.quantize(Decimal('0.01')):f}"


def dollars(usd: Decimal | float | None) -> str:
    """An amount as set or spent: "$2.50", "$0.0042", "$0" (never "free", as `money` says)."""
    if usd is None:
        return "none"
    amount = Decimal(str(usd))
    cents = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if amount == 0:
        return "$0"
    return f"${cents:f}" if amount == cents or abs(amount) >= 1 else f"${amount.normalize():f}"


def age(moment: datetime | None, now: datetime | None = None) -> str:
    """How long ago: "5 min 02 s", "3 h 10 min"."""
    if moment is None:
        return ""
    return seconds_text(((now or datetime.now(UTC)) - moment).total_seconds())


def when(moment: datetime | None) -> str:
    return "" if moment is None else f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def seconds_text(seconds: float | None) -> str:
    if seconds is None:
        return ""
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole} s"
    minutes, rest = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def percent(fraction: float) -> int:
    return max(0, min(100, int(fraction * 100)))


def eta_seconds(job: JobView, now: datetime | None = None) -> float | None:
    """Time left if the rest goes at the pace so far (progress since the job started)."""
    if job.state.terminal or job.started_at is None or job.progress < MIN_PROGRESS_FOR_ETA:
        return None
    elapsed = ((now or datetime.now(UTC)) - job.started_at).total_seconds()
    if elapsed <= 0 or job.progress >= 1:
        return None
    return elapsed * (1 - job.progress) / job.progress


def advice(code: str | None) -> str:
    return ADVICE.get(code or "", DEFAULT_ADVICE)


def aspect_of(size: str | None) -> str | None:
    """The aspect preset whose size this is (a job stores its size, not the preset)."""
    for name, preset in ASPECT_PRESETS.items():
        if str(preset) == size:
            return name
    return None


def again_query(job: JobView) -> str:
    """The create page's query for "again with changes": the job's words and settings,
    never its picture (the user picks that again)."""
    render: dict[str, Any] = job.spec.get("render", {})
    values = {
        "prompt": job.spec.get("original_prompt") or render.get("prompt", ""),
        "model": job.model or "",
        "backend": job.spec.get("backend") or "",
        "aspect": aspect_of(render.get("size")) or "",
        "duration": _number(render.get("duration_s")),
        "rating": job.spec.get("rating") or "",
        "caption": _caption_choice(job.spec.get("captions") or {}),
        "from": job.id,
    }
    return urlencode({k: v for k, v in values.items() if v})


def _number(value: object) -> str:
    if not isinstance(value, (int, float)):
        return ""
    return f"{value:g}"


def _caption_choice(captions: dict[str, str]) -> str:
    platforms = set(captions)
    if {"instagram", "tiktok"} <= platforms:
        return "both"
    return next(iter(platforms), "")


FILTERS: dict[str, Callable[..., Any]] = {
    "money": money,
    "dollars": dollars,
    "age": age,
    "when": when,
    "seconds": seconds_text,
    "percent": percent,
}
