"""Recorded ComfyUI runs, replayed into the run tracker: state, progress, outputs and errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from i2v.backends.comfyui.events import PromptState, RunTracker, execution_error
from i2v.errors import ExecutionFailed, Interrupted, OutOfMemory

DATA = Path(__file__).resolve().parent.parent / "data" / "comfyui"
SERVER = "http://gpu-1:8188"


def recording(name: str) -> dict[str, Any]:
    return dict(json.loads((DATA / f"{name}.json").read_text()))


def replay(name: str) -> tuple[RunTracker, list[float]]:
    run = recording(name)
    prompt_id = run["prompt_id"]
    graph = run["history"][prompt_id]["prompt"][2]
    tracker = RunTracker.for_graph(prompt_id, SERVER, graph)
    seen: list[float] = []
    for item in run["ws"]:
        if isinstance(item["msg"], dict) and tracker.handle(item["msg"]):
            seen.append(tracker.fraction)
    return tracker, seen


def test_a_successful_video_run() -> None:
    tracker, seen = replay("run_mp4")
    assert tracker.state is PromptState.SUCCEEDED
    assert tracker.error is None
    assert [(o.filename, o.subfolder, o.type, o.animated) for o in tracker.outputs] == [
        ("i2v_test_00001_.mp4", "video", "output", True)
    ]
    assert tracker.outputs[0].is_video
    assert seen == sorted(seen), "progress never goes backwards"
    assert seen[-1] == 1.0


def test_sampler_steps_move_progress_within_a_node() -> None:
    tracker, seen = replay("run_slow_progress")
    assert tracker.state is PromptState.SUCCEEDED
    assert len(set(seen)) >= 5  # each of the 5 steps shows
    assert seen == sorted(seen)


@pytest.mark.parametrize(
    ("name", "node_type", "exception_type"),
    [
        ("run_err_broken_unet_junk", "UNETLoader", "safetensors._safetensors_rust.SafetensorError"),
        ("run_err_runtime_corrupt_image", "LoadImage", "PIL.UnidentifiedImageError"),
        *[
            (path.stem, None, None)
            for path in sorted(DATA.glob("run_err_*.json"))
            if path.stem not in ("run_err_broken_unet_junk", "run_err_runtime_corrupt_image")
        ],
    ],
)
def test_execution_errors_are_typed_with_the_traceback_kept_aside(
    name: str, node_type: str | None, exception_type: str | None
) -> None:
    tracker, _ = replay(name)
    assert tracker.state is PromptState.FAILED
    error = tracker.error
    assert isinstance(error, ExecutionFailed)
    recorded = next(
        item["msg"]["data"]
        for item in recording(name)["ws"]
        if isinstance(item["msg"], dict) and item["msg"].get("type") == "execution_error"
    )
    node_type = node_type or recorded["node_type"]
    exception_type = exception_type or recorded["exception_type"]
    assert (error.node_type, error.exception_type, error.server) == (
        node_type,
        exception_type,
        SERVER,
    )
    assert error.traceback
    assert "execution.py" in error.traceback
    assert "execution.py" not in error.message  # users never see the traceback
    assert node_type in error.message
    assert not error.retryable


def test_the_history_says_the_same_as_the_socket() -> None:
    for name in ("run_mp4", "run_err_broken_unet_junk", "run_interrupt"):
        run = recording(name)
        prompt_id = run["prompt_id"]
        entry = run["history"][prompt_id]
        from_socket, _ = replay(name)
        from_history = RunTracker.for_graph(prompt_id, SERVER, entry["prompt"][2])
        from_history.apply_history(entry)
        assert from_history.state is from_socket.state
        assert type(from_history.error) is type(from_socket.error)
        assert [o.filename for o in from_history.outputs] == [
            o.filename for o in from_socket.outputs
        ]


def test_an_interrupt() -> None:
    tracker, _ = replay("run_interrupt")
    assert tracker.state is PromptState.FAILED
    assert isinstance(tracker.error, Interrupted)


def test_out_of_memory_is_retryable_on_a_bigger_gpu() -> None:
    error = execution_error(
        {
            "node_id": "3",
            "node_type": "KSampler",
            "exception_type": "torch.OutOfMemoryError",
            "exception_message": "Allocation on device 0 would exceed allowed memory.",
            "traceback": ["..."],
        },
        server=SERVER,
        prompt_id="p",
    )
    assert isinstance(error, OutOfMemory)
    assert error.retryable


def test_messages_of_other_prompts_and_unattributed_ones_change_nothing() -> None:
    tracker = RunTracker.for_graph("mine", SERVER, {"1": {"class_type": "LoadImage"}})
    assert not tracker.handle({"type": "execution_success", "data": {"prompt_id": "theirs"}})
    # After a reconnect ComfyUI may send `executing` with no prompt_id.
    assert not tracker.handle({"type": "executing", "data": {"node": "1"}})
    assert tracker.state is PromptState.PENDING
