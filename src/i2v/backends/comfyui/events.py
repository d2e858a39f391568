"""ComfyUI's run messages and history, read into one prompt's state, progress and outputs.

Pure: the client feeds it websocket messages or /history entries and asks what they mean.
The same failure arrives as an `execution_error` message or as a history status message,
so both routes go through one mapping into the error tree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from i2v.errors import BackendError, ExecutionFailed, Interrupted, OutOfMemory

BACKEND = "comfyui"
# Nodes that report sampler steps through `progress`; each counts as its steps in progress.
SAMPLERS = frozenset({"KSampler", "KSamplerAdvanced", "SamplerCustom", "SamplerCustomAdvanced"})
DEFAULT_STEPS = 20
VIDEO_SUFFIXES = (".mp4", ".webm", ".mov", ".mkv", ".webp", ".gif", ".png")
# How ComfyUI words a CUDA out-of-memory (torch's own exception types and its message).
_OOM_TYPES = ("OutOfMemoryError", "torch.cuda.OutOfMemoryError", "torch.OutOfMemoryError")
_OOM_TEXT = ("out of memory", "allocation on device")


class PromptState(StrEnum):
    UNKNOWN = "unknown"  # neither queued nor in history: never sent, or lost in a restart
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class OutputFile:
    node_id: str
    filename: str
    subfolder: str
    type: str
    animated: bool

    @property
    def is_video(self) -> bool:
        return self.animated or self.filename.lower().endswith(VIDEO_SUFFIXES[:4])


def execution_error(data: Mapping[str, Any], *, server: str, prompt_id: str) -> BackendError:
    """An `execution_error` (or `execution_interrupted`) payload as a typed error."""
    node_id = str(data.get("node_id") or "") or None
    node_type = str(data.get("node_type") or "") or None
    exception_type = str(data.get("exception_type") or "")
    message = str(data.get("exception_message") or "").strip()
    if exception_type.endswith(_OOM_TYPES) or any(t in message.lower() for t in _OOM_TEXT):
        return OutOfMemory(
            f"the GPU ran out of memory in {node_type} (node {node_id})",
            backend=BACKEND,
            server=server,
            prompt_id=prompt_id,
        )
    traceback = data.get("traceback")
    text = "".join(traceback) if isinstance(traceback, list) else str(traceback or "")
    short = message.splitlines()[0] if message else "no message"
    return ExecutionFailed(
        f"{node_type} (node {node_id}) failed: {exception_type or 'error'}: {short}",
        node_id=node_id,
        node_type=node_type,
        exception_type=exception_type or None,
        traceback=text or None,
        backend=BACKEND,
        server=server,
        prompt_id=prompt_id,
    )


def interrupted(data: Mapping[str, Any], *, server: str, prompt_id: str) -> Interrupted:
    node = data.get("node_type") or data.get("node_id") or "a node"
    return Interrupted(
        f"the run was interrupted at {node}", backend=BACKEND, server=server, prompt_id=prompt_id
    )


def outputs_of(raw: Mapping[str, Any]) -> tuple[OutputFile, ...]:
    """Files from a history entry's `outputs` (videos come under `images` with `animated`)."""
    found: list[OutputFile] = []
    for node_id, output in raw.items():
        if not isinstance(output, Mapping):
            continue
        animated = any(output.get("animated") or ())
        for key in ("images", "gifs", "videos"):  # `gifs`: Video Helper Suite's key
            for item in output.get(key) or ():
                if isinstance(item, Mapping) and "filename" in item:
                    found.append(
                        OutputFile(
                            node_id=str(node_id),
                            filename=str(item["filename"]),
                            subfolder=str(item.get("subfolder", "")),
                            type=str(item.get("type", "output")),
                            animated=animated or key != "images",
                        )
                    )
    return tuple(found)


@dataclass
class RunTracker:
    """Follows one prompt through its messages; progress weighs samplers by their steps."""

    prompt_id: str
    server: str
    node_weights: dict[str, int]  # node id -> units of work (sampler steps, else 1)
    state: PromptState = PromptState.PENDING
    error: BackendError | None = None
    outputs: list[OutputFile] = field(default_factory=list)
    _done: set[str] = field(default_factory=set)
    _current: str | None = None
    _current_fraction: float = 0.0

    @classmethod
    def for_graph(cls, prompt_id: str, server: str, graph: Mapping[str, Any]) -> RunTracker:
        weights = {}
        for node_id, node in graph.items():
            steps = node.get("inputs", {}).get("steps") if isinstance(node, Mapping) else None
            is_sampler = isinstance(node, Mapping) and node.get("class_type") in SAMPLERS
            weights[str(node_id)] = (
                int(steps) if is_sampler and isinstance(steps, int) and steps > 0 else 1
            )
            if is_sampler and weights[str(node_id)] == 1:
                weights[str(node_id)] = DEFAULT_STEPS
        return cls(prompt_id=prompt_id, server=server, node_weights=weights)

    @property
    def finished(self) -> bool:
        return self.state in (PromptState.SUCCEEDED, PromptState.FAILED)

    @property
    def fraction(self) -> float:
        total = sum(self.node_weights.values()) or 1
        done: float = sum(self.node_weights.get(n, 0) for n in self._done)
        if self._current is not None and self._current not in self._done:
            done += self.node_weights.get(self._current, 1) * self._current_fraction
        return min(1.0, done / total)

    def handle(self, message: Mapping[str, Any]) -> bool:
        """Apply one websocket message; True if it concerned this prompt."""
        kind = message.get("type")
        data = message.get("data")
        if not isinstance(data, Mapping) or data.get("prompt_id") != self.prompt_id:
            # Includes `executing` without a prompt_id, which a reconnect may bring: it
            # cannot be attributed, so it changes nothing.
            return False
        where = {"server": self.server, "prompt_id": self.prompt_id}
        if kind == "execution_start":
            self.state = PromptState.RUNNING
        elif kind == "execution_cached":
            self._done.update(str(n) for n in data.get("nodes") or ())
        elif kind == "executing":
            node = data.get("node")
            if self._current is not None:
                self._done.add(self._current)
            self._current = None if node is None else str(node)
            self._current_fraction = 0.0
            if node is not None:
                self.state = PromptState.RUNNING
        elif kind == "progress":
            maximum = data.get("max") or 0
            if maximum and str(data.get("node")) == self._current:
                self._current_fraction = min(1.0, float(data.get("value", 0)) / float(maximum))
        elif kind == "executed":
            self.outputs.extend(outputs_of({str(data.get("node")): data.get("output") or {}}))
        elif kind == "execution_success":
            self._done.update(self.node_weights)
            self.state = PromptState.SUCCEEDED
        elif kind == "execution_error":
            self.error = execution_error(data, **where)
            self.state = PromptState.FAILED
        elif kind == "execution_interrupted":
            self.error = interrupted(data, **where)
            self.state = PromptState.FAILED
        return True

    def apply_history(self, entry: Mapping[str, Any]) -> None:
        """Take a /history entry as the final word (after a dropped socket, or to confirm)."""
        status = entry.get("status") or {}
        outputs = outputs_of(entry.get("outputs") or {})
        if status.get("status_str") == "success" and status.get("completed", True):
            self.outputs = list(outputs)
            self._done.update(self.node_weights)
            self.state = PromptState.SUCCEEDED
            return
        if status.get("status_str") == "error":
            self.error = self._error_from_messages(status.get("messages") or ())
            self.state = PromptState.FAILED

    def _error_from_messages(self, messages: Sequence[Any]) -> BackendError:
        where = {"server": self.server, "prompt_id": self.prompt_id}
        for item in messages:
            if isinstance(item, Sequence) and len(item) == 2 and isinstance(item[1], Mapping):
                if item[0] == "execution_error":
                    return execution_error(item[1], **where)
                if item[0] == "execution_interrupted":
                    return interrupted(item[1], **where)
        return ExecutionFailed("the run failed without saying why", backend=BACKEND, **where)
