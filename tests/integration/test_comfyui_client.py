"""ComfyClient against the fake ComfyUI: refusals, following a run, cancelling a run.

The fake answers with the recorded shapes of ComfyUI 0.3.64; faults are injected in it.
"""

from __future__ import annotations

import io
import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from i2v.backends.comfyui.client import ComfyClient
from i2v.backends.comfyui.events import PromptState, RunTracker
from i2v.backends.comfyui.graph import ApiGraph
from i2v.errors import WorkflowInvalid
from tests.fakes.comfyui import FakeComfyUI, fake_comfyui_fixture  # noqa: F401

pytestmark = pytest.mark.integration

DATA = Path(__file__).parents[1] / "data" / "comfyui"


def recording(name: str) -> Any:
    return json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), "red").save(buffer, "PNG")
    return buffer.getvalue()


def refusal(fake: FakeComfyUI, name: str) -> WorkflowInvalid:
    graph = ApiGraph.from_json(recording(name)["request_prompt"])
    with ComfyClient(fake.url) as client:
        client.upload_image(png(), "input.png")
        with pytest.raises(WorkflowInvalid) as caught:
            client.submit(graph, client_id="c", prompt_id=str(uuid.uuid4()))
    return caught.value


REFUSED = [
    "err_invalid_combo",
    "err_invalid_type",
    "err_invalid_value_below_min",
    "err_link_to_missing_node",
    "err_link_type_mismatch",
    "err_missing_image_file",
    "err_missing_required_input",
    "err_two_invalid_inputs",
]


SHOWN = {
    "err_invalid_value_below_min": "(RepeatImageBatch) amount: Value 0 smaller than min of 1",
    "err_invalid_combo": "upscale_method: Value not in list ('foo' not in ['nearest-exact',",
    "err_invalid_type": "Failed to convert an input value to a INT value (abc, invalid literal",
    "err_missing_image_file": "Custom validation failed for node (Invalid image file: does_not",
    "err_missing_required_input": "node 2 (ImageScale) width: Required input is missing",
    "err_unknown_node": "Cannot execute because node NoSuchNode does not exist. (Node ID '#3')",
}


@pytest.mark.parametrize(("name", "shown"), SHOWN.items())
def test_a_refusal_says_what_is_wrong_and_where(
    fake_comfyui: FakeComfyUI, name: str, shown: str
) -> None:
    assert shown in refusal(fake_comfyui, name).message


@pytest.mark.parametrize("name", REFUSED)
def test_a_refusal_keeps_comfyuis_message_and_details(fake_comfyui: FakeComfyUI, name: str) -> None:
    error = refusal(fake_comfyui, name)
    recorded = recording(name)["body"]["node_errors"]
    assert len(error.node_errors) == sum(len(entry["errors"]) for entry in recorded.values())
    for entry in recorded.values():
        for item in entry["errors"]:
            assert item["message"] in error.message
            # The details lose only the input's name, which the message shows before them.
            tail = item["details"].removeprefix(item["extra_info"].get("input_name", ""))
            assert tail.lstrip(" ,:-") in error.message


def recorded_prompt(name: str) -> Any:
    rec = recording(name)
    return rec["history"][rec["prompt_id"]]["prompt"][2]


def test_polling_returns_as_soon_as_it_sees_the_end(fake_comfyui: FakeComfyUI) -> None:
    fake = fake_comfyui
    fake.faults.http_500["/ws"] = 10**6  # the socket never opens: polling alone
    graph = ApiGraph.from_json(recorded_prompt("run_webm"))
    prompt_id = str(uuid.uuid4())
    tracker = RunTracker.for_graph(prompt_id, fake.url, graph.to_json())
    slept_when_finished: list[bool] = []

    def sleep(seconds: float) -> None:
        slept_when_finished.append(tracker.finished)
        time.sleep(seconds)

    with ComfyClient(fake.url, sleep=sleep) as client:
        client.upload_image(png(), "input.png")
        client.submit(graph, client_id="c", prompt_id=prompt_id)
        client.follow(tracker, "c", timeout_s=30, on_progress=lambda _: None)
    assert tracker.state is PromptState.SUCCEEDED
    assert tracker.outputs
    assert slept_when_finished  # it did poll, with the run under way
    assert not any(slept_when_finished)  # and returned once it saw the end, without a nap


def test_cancel_stops_a_prompt_that_starts_while_it_acts(fake_comfyui: FakeComfyUI) -> None:
    fake = fake_comfyui
    fake.pause()  # pending, until the fake starts it right behind the client's back
    fake.faults.hang_prompt = True  # and once running it runs until interrupted
    graph = ApiGraph.from_json(recorded_prompt("run_webm"))
    prompt_id = str(uuid.uuid4())
    with ComfyClient(fake.url) as client:
        client.upload_image(png(), "input.png")
        client.submit(graph, client_id="c", prompt_id=prompt_id)
        assert client.state(prompt_id) is PromptState.PENDING
        fake.faults.start_pending_after_queue_read = True
        client.cancel(prompt_id, deadline=time.monotonic() + 10)
        # Reading the queue first, it deleted a prompt no longer pending and interrupted
        # nothing, since the prompt was not running when it looked: left running for good.
        assert client.state(prompt_id) in (PromptState.UNKNOWN, PromptState.FAILED)
    fake.wait_idle(timeout=2)
    entry = fake.history(prompt_id)
    if prompt_id in fake.executed_prompts:
        assert entry is not None
        assert entry["status"]["messages"][-1][0] == "execution_interrupted"
    else:
        assert entry is None


def test_cancel_repeats_an_interrupt_the_server_dropped(fake_comfyui: FakeComfyUI) -> None:
    fake = fake_comfyui
    fake.faults.hang_prompt = True
    graph = ApiGraph.from_json(recorded_prompt("run_webm"))
    prompt_id = str(uuid.uuid4())
    with ComfyClient(fake.url) as client:
        client.upload_image(png(), "input.png")
        client.submit(graph, client_id="c", prompt_id=prompt_id)
        while client.state(prompt_id) is not PromptState.RUNNING:
            time.sleep(0.01)
        fake.faults.interrupt_lands_before_start = True
        client.cancel(prompt_id, deadline=time.monotonic() + 10)
        assert client.state(prompt_id) is PromptState.FAILED
    entry = fake.history(prompt_id)
    assert entry is not None
    assert entry["status"]["messages"][-1][0] == "execution_interrupted"


def test_cancel_removes_a_pending_prompt(fake_comfyui: FakeComfyUI) -> None:
    fake = fake_comfyui
    fake.pause()
    graph = ApiGraph.from_json(recorded_prompt("run_webm"))
    prompt_id = str(uuid.uuid4())
    with ComfyClient(fake.url) as client:
        client.upload_image(png(), "input.png")
        client.submit(graph, client_id="c", prompt_id=prompt_id)
        client.cancel(prompt_id, deadline=time.monotonic() + 10)
        assert client.state(prompt_id) is PromptState.UNKNOWN
    fake.resume()
    fake.wait_idle()
    assert fake.executed_prompts == []
