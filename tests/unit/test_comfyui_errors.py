"""Every recorded ComfyUI refusal maps to the right typed error, through the real client.

The recorded status and body are served by an httpx transport, so the client's own parsing
and mapping run exactly as against a server.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from i2v.backends.comfyui.client import ComfyClient
from i2v.backends.comfyui.graph import ApiGraph
from i2v.errors import BackendError, ModelNotInstalled, ServerUnreachable, WorkflowInvalid

DATA = Path(__file__).resolve().parent.parent / "data" / "comfyui"
SERVER = "http://gpu-1:8188"
GRAPH = ApiGraph.from_json({"1": {"class_type": "LoadImage", "inputs": {"image": "x.png"}}})
RECORDINGS = sorted(path.stem for path in DATA.glob("err_*.json"))
EXPECTED: dict[str, type[BackendError]] = {
    "err_model_missing_ckpt": ModelNotInstalled,
    "err_model_missing_wan22": ModelNotInstalled,
    "err_invalid_json_body": ServerUnreachable,  # a 500 in text/plain: the server's trouble
}


def refusal(name: str) -> BackendError:
    recorded: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text())
    body = recorded["body"]
    content = body.encode() if isinstance(body, str) else json.dumps(body).encode()

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(recorded["status"], content=content)

    client = ComfyClient(SERVER, transport=httpx.MockTransport(answer))
    with client, pytest.raises(BackendError) as caught:
        client.submit(GRAPH, client_id="c", prompt_id="p")
    return caught.value


def test_every_recording_is_covered() -> None:
    assert len(RECORDINGS) >= 17


@pytest.mark.parametrize("name", RECORDINGS)
def test_a_recorded_refusal_is_typed(name: str) -> None:
    error = refusal(name)
    assert type(error) is EXPECTED.get(name, WorkflowInvalid)
    assert (error.backend, error.server, error.prompt_id) == ("comfyui", SERVER, "p")
    if isinstance(error, WorkflowInvalid):
        assert not error.retryable  # a bad workflow fails the same everywhere
        recorded = json.loads((DATA / f"{name}.json").read_text())["body"]
        body = json.loads(recorded) if isinstance(recorded, str) else recorded
        listed = sum(len(entry["errors"]) for entry in body["node_errors"].values())
        assert len(error.node_errors) == listed
        for node_error in error.node_errors:
            assert node_error.node_id in error.message
    else:
        assert error.retryable  # elsewhere: another server may have the model, or be up


def test_missing_models_are_named_with_their_folders_and_the_server() -> None:
    error = refusal("err_model_missing_wan22")
    assert isinstance(error, ModelNotInstalled)
    assert {folder for folder, _ in error.missing} == {"vae", "text_encoders", "diffusion_models"}
    names = ", ".join(name for _, name in error.missing)
    assert error.message == f"models {names} are not installed on {SERVER}"
    single = refusal("err_model_missing_ckpt")
    assert isinstance(single, ModelNotInstalled)
    assert single.message == f"model {single.model} is not installed on {SERVER}"
    assert single.folder == "checkpoints"
