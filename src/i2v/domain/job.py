"""Jobs as the service sees them: states, and the stored, versioned job spec."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from i2v.domain.spec import RenderSpec, render_from_json, render_json


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


SPEC_VERSION = 1


@dataclass(frozen=True, slots=True)
class JobSpec:
    """Everything a worker needs to run a job; stored as JSON in the jobs table."""

    render: RenderSpec
    backend: str
    input_key: str  # the normalised input image in the blob store
    input_sha256: str
    use_cache: bool = True  # False: render afresh even when a stored result matches
    # The route decided at submission, tried in order (`backend` is what was asked: a
    # backend's name or "auto"); empty in specs stored before routing: just `backend`.
    candidates: tuple[str, ...] = ()
    # The last frame to reach, stored like the input (render.end_frame says one is given).
    end_input_key: str | None = None
    end_input_sha256: str | None = None
    music_key: str | None = None  # the music under the video, stored like the pictures
    # The words (render.prompt is what the model is sent): the prompt as typed, how it was
    # enhanced ("rules", "llm" or "as_typed"; None in specs from before the enhancer), the
    # rating the job asked for (None: the default), and its captions per platform.
    original_prompt: str | None = None
    enhanced_by: str | None = None
    rating: str | None = None
    captions: tuple[tuple[str, str], ...] = ()

    @property
    def route(self) -> tuple[str, ...]:
        return self.candidates or (self.backend,)

    @property
    def input_keys(self) -> tuple[str, ...]:
        """Every upload of this job in the blob store (pictures, music), sorted: locks taken
        in this order cannot deadlock."""
        keys = {self.input_key, self.end_input_key, self.music_key}
        return tuple(sorted(key for key in keys if key is not None))

    def to_json(self) -> dict[str, Any]:
        render = render_json(self.render)
        data: dict[str, Any] = {
            "version": SPEC_VERSION,
            "render": render,
            "backend": self.backend,
            "input_key": self.input_key,
            "input_sha256": self.input_sha256,
            "use_cache": self.use_cache,
            "candidates": list(self.candidates),
        }
        if self.end_input_key is not None:
            data["end_input_key"] = self.end_input_key
            data["end_input_sha256"] = self.end_input_sha256
        if self.music_key is not None:
            data["music_key"] = self.music_key
        # Each only when set: specs without them hash as they did before they existed.
        for name in ("original_prompt", "enhanced_by", "rating"):
            if getattr(self, name) is not None:
                data[name] = getattr(self, name)
        if self.captions:
            data["captions"] = dict(self.captions)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JobSpec:
        return cls(
            render=render_from_json(dict(data["render"])),
            backend=str(data["backend"]),
            input_key=str(data["input_key"]),
            input_sha256=str(data["input_sha256"]),
            use_cache=bool(data.get("use_cache", True)),
            candidates=tuple(str(name) for name in data.get("candidates", ())),
            end_input_key=data.get("end_input_key"),
            end_input_sha256=data.get("end_input_sha256"),
            music_key=data.get("music_key"),
            original_prompt=data.get("original_prompt"),
            enhanced_by=data.get("enhanced_by"),
            rating=data.get("rating"),
            captions=tuple((str(k), str(v)) for k, v in data.get("captions", {}).items()),
        )
