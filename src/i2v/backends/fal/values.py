"""fal's queue values: a request to checkpoint, its status and progress, its result."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

# A model's own progress in its logs: tqdm's "45%|####" or "step 9/20".
_PERCENT = re.compile(r"(\d{1,3})%\|")
_STEPS = re.compile(r"\b(\d+)\s*/\s*(\d+)\b")


class QueueState(StrEnum):
    IN_QUEUE = "IN_QUEUE"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"


class CancelOutcome(StrEnum):
    """fal's answers to PUT cancel (docs: queue/cancel), plus NOT_FOUND for its 404."""

    OK = "OK"  # a queued request, removed
    CANCELLATION_REQUESTED = "CANCELLATION_REQUESTED"  # a running one, signalled
    ALREADY_COMPLETED = "ALREADY_COMPLETED"
    NOT_FOUND = "NOT_FOUND"


@dataclass(frozen=True, slots=True)
class FalRequest:
    """A submitted request: all a backend checkpoints to follow, fetch or cancel it later."""

    endpoint_id: str
    request_id: str
    status_url: str
    response_url: str
    cancel_url: str


@dataclass(frozen=True, slots=True)
class Progress:
    """What a caller shows while it waits: "3 ahead", or the model's fraction done."""

    state: QueueState
    queue_position: int | None = None
    fraction: float | None = None  # 0..1 where the logs give it
    message: str | None = None  # the latest log line


@dataclass(frozen=True, slots=True)
class Status:
    state: QueueState
    queue_position: int | None
    logs: tuple[str, ...]
    failed: bool  # COMPLETED with `error` set: a failure, never "still running"


@dataclass(frozen=True, slots=True)
class FalFile:
    url: str
    content_type: str | None = None
    file_name: str | None = None
    file_size: int | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    duration: float | None = None
    num_frames: int | None = None


@dataclass(frozen=True, slots=True)
class FalResult:
    video: FalFile
    seed: int | None = None


ProgressFn = Callable[[Progress], None]


def number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def integer(value: object) -> int | None:
    found = number(value)
    return int(found) if found is not None else None


def progress_from_logs(logs: Sequence[str]) -> float | None:
    """The model's fraction done from its latest log line that states one."""
    for line in reversed(logs):
        if match := _PERCENT.search(line):
            return min(int(match[1]), 100) / 100
        match = _STEPS.search(line)
        if match and 0 < int(match[1]) <= int(match[2]):
            return int(match[1]) / int(match[2])
    return None


def progress_of(status: Status) -> Progress:
    return Progress(
        status.state,
        status.queue_position,
        progress_from_logs(status.logs) if status.state is not QueueState.IN_QUEUE else None,
        status.logs[-1] if status.logs else None,
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def result_of(body: Mapping[str, Any]) -> FalResult | None:
    """The result body's video (every i2v endpoint answers {"video": File, "seed"?}), or None."""
    video = body.get("video")
    if not isinstance(video, Mapping) or not isinstance(video.get("url"), str):
        return None
    return FalResult(
        FalFile(
            url=str(video["url"]),
            content_type=_text(video.get("content_type")),
            file_name=_text(video.get("file_name")),
            file_size=integer(video.get("file_size")),
            width=integer(video.get("width")),
            height=integer(video.get("height")),
            fps=number(video.get("fps")),
            duration=number(video.get("duration")),
            num_frames=integer(video.get("num_frames")),
        ),
        seed=integer(body.get("seed")),
    )
