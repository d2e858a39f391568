"""The words features' shared types: model families, enhanced prompts, captions, a chat model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal, Protocol


class Family(StrEnum):
    """How a model was trained to read a prompt; the enhancer writes one way per family."""

    WAN = "wan"
    LTX = "ltx"
    HUNYUAN = "hunyuan"
    COGVIDEOX = "cogvideox"
    HOSTED = "hosted"  # Kling, Hailuo, Seedance, Veo, Luma, PixVerse: one generic style
    LOCAL = "local"  # the CPU renderer reads only the camera move


class Platform(StrEnum):
    INSTAGRAM = "instagram"
    TIKTOK = "tiktok"


EnhanceSource = Literal["rules", "llm", "as_typed"]


@dataclass(frozen=True, slots=True)
class EnhanceRequest:
    prompt: str  # as the user typed it
    family: Family
    image_sha256: str = ""  # picks phrase variants, so one picture and prompt give one result
    image_jpeg: bytes | None = None  # for a chat model that reads images (I2V_LLM_IMAGES)


@dataclass(frozen=True, slots=True)
class Enhanced:
    original: str
    prompt: str  # what the model is sent
    negative_prompt: str | None  # the family's default, where it takes one
    family: Family
    source: EnhanceSource
    notes: tuple[str, ...] = ()  # told to the user, e.g. "no motion found in the prompt; ..."


@dataclass(frozen=True, slots=True)
class Caption:
    platform: Platform
    hook: str
    body: tuple[str, ...]  # one or two searchable lines
    call_to_action: str
    hashtags: tuple[str, ...]  # with their '#'
    disclosure: str
    text: str  # the whole caption, ready to paste
    source: Literal["template", "llm"] = "template"
    notes: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Literal["system", "user", "assistant"]
    text: str
    image_jpeg: bytes | None = None  # sent as a data: URL part, for models that read images


class ChatModel(Protocol):
    """One chat completion; raises `LlmError` (retryable or not) on any failure."""

    def complete(self, messages: Sequence[ChatMessage], *, max_tokens: int) -> str: ...
