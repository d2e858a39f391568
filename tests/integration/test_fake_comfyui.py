"""The fake ComfyUI answers as the real server did in the recordings under tests/data/comfyui.

Each recording is replayed against the fake and compared with what the real ComfyUI 0.3.64
sent. Only what the recordings themselves show to be variable is normalised away: prompt ids,
client ids, timestamps, queue numbers, tracebacks, the order of sets (`executed`,
`current_outputs`) and the server's install path in messages.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from PIL import Image
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.fakes.comfyui import FakeComfyUI, fake_comfyui_fixture  # noqa: F401

pytestmark = pytest.mark.integration

DATA = Path(__file__).parents[1] / "data" / "comfyui"
CLIENT = "test-client"
Json = dict[str, Any]
HTTP = httpx.Client(timeout=10)  # one client: a new one per request costs ~50 ms of TLS setup


@pytest.fixture(scope="module", autouse=True)
def _close_http() -> Iterator[None]:
    yield
    HTTP.close()


def recording(name: str) -> Any:
    with (DATA / f"{name}.json").open(encoding="utf-8") as f:
        return json.load(f)


def recorded_prompt(rec: Json) -> Json:
    return rec["history"][rec["prompt_id"]]["prompt"][2]  # type: ignore[no-any-return]


def png(color: str = "red", size: tuple[int, int] = (300, 200)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


def upload(fake: FakeComfyUI, name: str, data: bytes, **fields: str) -> httpx.Response:
    files = {"image": (name, data, "image/png")}
    return HTTP.post(f"{fake.url}/upload/image", files=files, data=fields)


def submit(fake: FakeComfyUI, prompt: Json, client_id: str = CLIENT, **extra: Any) -> str:
    r = HTTP.post(f"{fake.url}/prompt", json={"prompt": prompt, "client_id": client_id, **extra})
    assert r.status_code == 200, r.text
    return str(r.json()["prompt_id"])


@contextmanager
def listen(fake: FakeComfyUI, client_id: str = CLIENT) -> Iterator[ClientConnection]:
    with connect(f"ws://127.0.0.1:{fake.port}/ws?clientId={client_id}") as ws:
        yield ws


def collect(
    ws: ClientConnection, prompt_id: str, on_message: Callable[[Json], None] | None = None
) -> list[Json]:
    """Every message up to this prompt's final `executing` with node null."""
    messages = []
    while True:
        message = json.loads(ws.recv(timeout=10))
        messages.append(message)
        if on_message is not None:
            on_message(message)
        data = message["data"]
        if message["type"] == "executing" and data == {"node": None, "prompt_id": prompt_id}:
            return messages


def drain(ws: ClientConnection) -> list[str]:
    """The types of the messages that arrive until the socket falls quiet."""
    types = []
    with contextlib.suppress(TimeoutError):
        while True:
            types.append(json.loads(ws.recv(timeout=0.2))["type"])
    return types


def wait_closed(ws: ClientConnection) -> None:
    while True:
        ws.recv(timeout=5)


def normalise(value: Any, prompt_id: str, replace: dict[str, str] | None = None) -> Any:
    """Blank what the recordings show to vary from run to run."""
    text = json.dumps(value).replace(prompt_id, "PID")
    for old, new in (replace or {}).items():
        text = text.replace(old, new)

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            out: Json = {}
            for key, item in node.items():
                if key in ("timestamp", "sid", "client_id"):
                    out[key] = "*"
                elif key == "traceback":
                    out[key] = "<frames>"
                elif key in ("executed", "current_outputs"):
                    out[key] = sorted(item)
                else:
                    out[key] = walk(item)
            return out
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    return walk(json.loads(text))


def history_entry(fake: FakeComfyUI, prompt_id: str) -> Json:
    r = HTTP.get(f"{fake.url}/history/{prompt_id}")
    assert r.status_code == 200
    entry: Json = r.json()[prompt_id]
    entry["prompt"][0] = "NUMBER"
    return entry


# -- POST /prompt validation --------------------------------------------------------------


ERR_WITH_PROMPT = sorted(
    p.stem for p in DATA.glob("err_*.json") if "request_prompt" in recording(p.stem)
)


@pytest.mark.parametrize("name", ERR_WITH_PROMPT)
def test_validation_error_matches_recording(fake_comfyui: FakeComfyUI, name: str) -> None:
    rec = recording(name)
    assert upload(fake_comfyui, "input.png", png()).status_code == 200
    r = HTTP.post(f"{fake_comfyui.url}/prompt", json={"prompt": rec["request_prompt"]})
    assert r.status_code == rec["status"]
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    assert r.json() == rec["body"]


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("err_no_prompt_key", b'{"client_id": "x"}'),
        ("err_prompt_empty", b'{"prompt": {}}'),
        ("err_prompt_is_list", b'{"prompt": []}'),
        ("err_invalid_json_body", b"{not json"),
    ],
)
def test_bad_prompt_body_matches_recording_byte_for_byte(
    fake_comfyui: FakeComfyUI, name: str, body: bytes
) -> None:
    rec = recording(name)
    r = HTTP.post(f"{fake_comfyui.url}/api/prompt", content=body)
    assert (r.status_code, r.text) == (rec["status"], rec["body"])


def test_caller_chosen_prompt_id_is_not_checked_for_duplicates(fake_comfyui: FakeComfyUI) -> None:
    prompt = recorded_prompt(recording("run_webm"))
    upload(fake_comfyui, "input.png", png())
    first = submit(fake_comfyui, prompt, prompt_id="my-own-prompt-id-123")
    second = submit(fake_comfyui, prompt, prompt_id="my-own-prompt-id-123")
    assert first == second == "my-own-prompt-id-123"
    fake_comfyui.wait_idle()
    assert fake_comfyui.executed_prompts == [first, first]


# -- full runs ----------------------------------------------------------------------------


def _setup_run(fake: FakeComfyUI, name: str) -> None:
    if name == "run_subfolder":
        upload(fake, "green.png", png("green"), subfolder="jobs/abc")
    elif name == "run_err_runtime_corrupt_image":
        upload(fake, "junk.png", b"this is not an image")
    else:
        upload(fake, "input.png", png())
    if name == "run_err_broken_unet_junk":
        fake.installed_models["diffusion_models"] = ["wan2.2_ti2v_5B_fp16.safetensors"]
        fake.faults.execution_error_on = "UNETLoader"
    if name == "run_interrupt_core_only":
        fake.node_delay_s = 0.2


def _warm_cache(fake: FakeComfyUI, prompt: Json, cached: list[str]) -> None:
    """Run the recording's cached nodes once, so the fake's cache holds what the real one did."""
    warm = {node: prompt[node] for node in cached}
    warm["warm"] = {"class_type": "PreviewImage", "inputs": {"images": [cached[-1], 0]}}
    submit(fake, warm, client_id="warm-up")
    fake.wait_idle()


RUNS = [
    "run_mp4",
    "run_webm",
    "run_apng",
    "run_subfolder",
    "run_err_runtime_corrupt_image",
    "run_err_broken_unet_junk",
    "run_interrupt_core_only",
]


@pytest.mark.parametrize("name", RUNS)
def test_run_matches_recording(fake_comfyui: FakeComfyUI, name: str) -> None:
    fake = fake_comfyui
    rec = recording(name)
    prompt = recorded_prompt(rec)
    recorded = [m["msg"] for m in rec["ws"] if "msg" in m]
    cached = next(m["data"]["nodes"] for m in recorded if m["type"] == "execution_cached")
    _setup_run(fake, name)
    if cached:
        _warm_cache(fake, prompt, cached)

    def interrupt_during_node_3(message: Json) -> None:
        if name == "run_interrupt_core_only" and message["data"].get("node") == "3":
            r = HTTP.post(f"{fake.url}/interrupt", json={"prompt_id": prompt_id})
            assert (r.status_code, r.content) == (200, b"")

    with listen(fake) as ws:
        prompt_id = submit(fake, prompt)
        messages = collect(ws, prompt_id, interrupt_during_node_3)

    paths = {str(fake.dirs["input"]): "/app/ComfyUI/input"}
    assert normalise(messages, prompt_id, paths) == normalise(recorded, rec["prompt_id"])
    recorded_entry = rec["history"][rec["prompt_id"]]
    recorded_entry["prompt"][0] = "NUMBER"
    assert normalise(history_entry(fake, prompt_id), prompt_id, paths) == normalise(
        recorded_entry, rec["prompt_id"]
    )
    for view in rec["views"]:
        r = HTTP.get(f"{fake.url}/view", params=view["params"])
        assert r.status_code == view["status"]
        assert r.headers["content-type"] == view["content_type"]
        assert r.headers["content-disposition"] == view["content_disposition"]
        assert r.content[:4].hex() == view["magic"][:8]  # the container's signature


def test_saved_video_is_real_and_sized_from_the_graph(fake_comfyui: FakeComfyUI) -> None:
    rec = recording("run_mp4")
    upload(fake_comfyui, "input.png", png())
    submit(fake_comfyui, recorded_prompt(rec))
    fake_comfyui.wait_idle()
    path = fake_comfyui.dirs["output"] / "video" / "i2v_test_00001_.mp4"
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        # 256x256 from ImageScale, 4 images x RepeatImageBatch(4), CreateVideo's 8 fps
        assert (stream.codec_context.name, stream.width, stream.height) == ("h264", 256, 256)
        assert (len(frames), stream.average_rate) == (16, Fraction(8))
        assert frames[0].format.name == "yuv420p"


def test_large_video_is_scaled_down_for_speed(fake_comfyui: FakeComfyUI) -> None:
    latent = {"width": 1280, "height": 704, "length": 5, "batch_size": 1}
    prompt: Json = {
        "1": {"class_type": "EmptyHunyuanLatentVideo", "inputs": latent},
        "2": {"class_type": "VAELoader", "inputs": {"vae_name": "pixel_space"}},
        "3": {"class_type": "VAEDecode", "inputs": {"samples": ["1", 0], "vae": ["2", 0]}},
        "4": {"class_type": "CreateVideo", "inputs": {"images": ["3", 0], "fps": 12.0}},
        "5": {
            "class_type": "SaveVideo",
            "inputs": {"video": ["4", 0], "filename_prefix": "big/clip", "format": "auto"},
        },
    }
    prompt["5"]["inputs"]["codec"] = "auto"  # SaveVideo's inputs are all required
    prompt_id = submit(fake_comfyui, prompt)
    fake_comfyui.wait_idle()
    image = history_entry(fake_comfyui, prompt_id)["outputs"]["5"]["images"][0]
    assert (image["subfolder"], image["filename"]) == ("big", "clip_00001_.mp4")
    with av.open(str(fake_comfyui.dirs["output"] / "big" / "clip_00001_.mp4")) as container:
        stream = container.streams.video[0]
        count = sum(1 for _ in container.decode(stream))
        # 1280x704 scaled by 0.4 to even sides; frames and fps as the graph says
        assert (stream.width, stream.height, count) == (512, 280, 5)
        assert stream.average_rate == Fraction(12)


WAN22 = recording("err_model_missing_wan22")["request_prompt"]
WAN22_MODELS = {
    "diffusion_models": ["wan2.2_ti2v_5B_fp16.safetensors"],
    "text_encoders": ["umt5_xxl_fp8_e4m3fn_scaled.safetensors"],
    "vae": ["wan2.2_vae.safetensors"],
}


def test_sampler_reports_progress_like_the_recording(tmp_path: Path) -> None:
    """Per step: progress_state then progress, values 1..steps, as run_slow_progress.json."""
    rec = [m["msg"] for m in recording("run_slow_progress")["ws"] if "msg" in m]
    start = next(i for i, m in enumerate(rec) if m["data"].get("node") == "6")
    recorded_steps = [m["type"] for m in rec[start + 1 : start + 12]]
    assert recorded_steps == ["progress_state", "progress"] * 5 + ["progress_state"]
    with FakeComfyUI(tmp_path, installed_models=WAN22_MODELS) as fake:
        upload(fake, "input.png", png())
        with listen(fake) as ws:
            prompt_id = submit(fake, WAN22)
            messages = collect(ws, prompt_id)
        start = next(i for i, m in enumerate(messages) if m["data"].get("node") == "9")
        steps = messages[start + 1 : start + 10]
        assert [m["type"] for m in steps] == ["progress_state", "progress"] * 4 + ["progress_state"]
        assert [m["data"]["value"] for m in steps if m["type"] == "progress"] == [1, 2, 3, 4]
        assert {m["data"]["max"] for m in steps if m["type"] == "progress"} == {4}
        assert steps[-1]["data"]["nodes"]["9"]["state"] == "finished"
        output = history_entry(fake, prompt_id)["outputs"]["12"]
        assert output == {
            "images": [
                {"filename": "wan22_i2v_00001_.mp4", "subfolder": "video", "type": "output"}
            ],
            "animated": [True],
        }
        with av.open(str(fake.dirs["output"] / "video" / "wan22_i2v_00001_.mp4")) as container:
            stream = container.streams.video[0]
            count = sum(1 for _ in container.decode(stream))
            # Wan22ImageToVideoLatent 320x256, length 9; CreateVideo 24 fps
            assert (stream.width, stream.height, count) == (320, 256, 9)
            assert stream.average_rate == Fraction(24)


# -- models, uploads, files ---------------------------------------------------------------


def test_installed_models_drive_loader_lists(tmp_path: Path) -> None:
    with FakeComfyUI(tmp_path, installed_models=WAN22_MODELS) as fake:
        info = HTTP.get(f"{fake.url}/object_info").json()
        assert info["UNETLoader"]["input"]["required"]["unet_name"][0] == [
            "wan2.2_ti2v_5B_fp16.safetensors"
        ]
        assert info["VAELoader"]["input"]["required"]["vae_name"][0] == [
            "wan2.2_vae.safetensors",
            "pixel_space",
        ]
        assert info["CheckpointLoaderSimple"]["input"]["required"]["ckpt_name"][0] == []
        fake.installed_models["checkpoints"] = ["b.safetensors", "a.ckpt", "notes.txt"]
        one = HTTP.get(f"{fake.url}/api/object_info/CheckpointLoaderSimple").json()
        assert one["CheckpointLoaderSimple"]["input"]["required"]["ckpt_name"][0] == [
            "a.ckpt",
            "b.safetensors",
        ]
        assert HTTP.get(f"{fake.url}/models/checkpoints").json() == ["a.ckpt", "b.safetensors"]
        assert "diffusion_models" in HTTP.get(f"{fake.url}/models").json()
        assert HTTP.get(f"{fake.url}/models/unet").status_code == 404  # a legacy alias, no key
        assert HTTP.get(f"{fake.url}/object_info/NoSuchNode").json() == {}
        upload(fake, "input.png", png())
        submit(fake, WAN22)  # the same graph err_model_missing_wan22 rejected is now valid


def test_object_info_is_the_recorded_catalogue(fake_comfyui: FakeComfyUI) -> None:
    recorded = recording("object_info")
    served = HTTP.get(f"{fake_comfyui.url}/object_info").json()
    assert served.keys() == recorded.keys()
    assert served["KSampler"] == recorded["KSampler"]
    assert served["LoadImage"]["input"]["required"]["image"] == [[], {"image_upload": True}]


def test_upload_renames_and_shows_in_load_image(fake_comfyui: FakeComfyUI) -> None:
    fake = fake_comfyui
    first = upload(fake, "input.png", png("red"))
    assert (first.status_code, first.json()) == (200, recording("upload_image")["body"])
    assert upload(fake, "input.png", png("red")).json()["name"] == "input.png"  # same bytes
    assert upload(fake, "input.png", png("blue")).json()["name"] == "input (1).png"
    assert upload(fake, "input.png", png("green")).json()["name"] == "input (2).png"
    again = upload(fake, "input.png", png("white"), overwrite="true")
    assert again.json()["name"] == "input.png"
    upload(fake, "junk.png", b"not checked at upload")
    upload(fake, "deep.png", png(), subfolder="jobs/x")
    r = HTTP.post(f"{fake.url}/upload/image", files={"other": ("a.png", png(), "image/png")})
    assert r.status_code == 400
    listed = HTTP.get(f"{fake.url}/object_info/LoadImage").json()
    images = listed["LoadImage"]["input"]["required"]["image"][0]
    assert images == ["input (1).png", "input (2).png", "input.png", "junk.png"]
    assert fake.uploads["input.png"] == png("white")
    assert fake.uploads["jobs/x/deep.png"] == png()


def test_view_guards_paths_and_serves_ranges(fake_comfyui: FakeComfyUI) -> None:
    fake = fake_comfyui
    upload(fake, "input.png", png())
    (fake.dirs["output"] / "sub").mkdir()
    (fake.dirs["output"] / "sub" / "a.mp4").write_bytes(bytes(range(256)))
    view = f"{fake.url}/view"
    r = HTTP.get(view, params={"filename": "a.mp4", "subfolder": "sub", "type": "output"})
    assert (r.status_code, r.headers["content-type"], len(r.content)) == (200, "video/mp4", 256)
    ranged = HTTP.get(
        view, params={"filename": "a.mp4", "subfolder": "sub"}, headers={"Range": "bytes=10-19"}
    )
    assert ranged.status_code == 206
    assert ranged.headers["content-range"] == "bytes 10-19/256"
    assert ranged.content == bytes(range(10, 20))
    assert HTTP.get(view, params={"filename": "input.png", "type": "input"}).status_code == 200
    assert HTTP.get(view, params={"filename": "input.png [input]"}).status_code == 200
    assert HTTP.get(view, params={"filename": "missing.mp4"}).status_code == 404
    assert HTTP.get(view).status_code == 404
    assert HTTP.get(view, params={"filename": "a.mp4", "type": "models"}).status_code == 400
    assert HTTP.get(view, params={"filename": "../a.mp4"}).status_code == 400
    assert HTTP.get(view, params={"filename": "a.mp4", "subfolder": "../x"}).status_code == 403


# -- queue, interrupt, websocket ----------------------------------------------------------


def _wait_running(fake: FakeComfyUI, prompt_id: str) -> None:
    deadline = time.monotonic() + 5
    while prompt_id not in fake.executed_prompts:
        assert time.monotonic() < deadline, "prompt never started"
        time.sleep(0.005)


def test_queue_matches_recording(fake_comfyui: FakeComfyUI) -> None:
    """One running, two pending: a caller-chosen id, and a `front` one that jumps the heap."""
    fake = fake_comfyui
    upload(fake, "input.png", png())
    prompt = recorded_prompt(recording("run_webm"))
    fake.faults.hang_prompt = True
    running = submit(fake, prompt, client_id="c1")
    _wait_running(fake, running)
    own = submit(fake, prompt, client_id="c2", prompt_id="my-own-prompt-id-123")
    front = submit(fake, prompt, client_id="c2", front=True)
    queue = HTTP.get(f"{fake.url}/queue").json()
    rec = recording("queue_busy")
    assert queue.keys() == rec.keys()
    shape = [[len(item), item[3].keys()] for item in rec["queue_running"] + rec["queue_pending"]]
    items = queue["queue_running"] + queue["queue_pending"]
    assert [[len(i), i[3].keys()] for i in items] == shape
    assert [i[4] for i in items] == [["4"]] * 3  # outputs_to_execute: the SaveWEBM node
    assert [item[1] for item in queue["queue_running"]] == [running]
    assert [item[1] for item in queue["queue_pending"]] == [front, own]
    assert queue["queue_pending"][0][0] < 0 < queue["queue_pending"][1][0]  # as recorded
    assert HTTP.post(f"{fake.url}/queue", json={"delete": [own]}).status_code == 200
    assert [i[1] for i in HTTP.get(f"{fake.url}/queue").json()["queue_pending"]] == [front]
    HTTP.post(f"{fake.url}/queue", json={"clear": True})
    assert HTTP.get(f"{fake.url}/queue").json()["queue_pending"] == []
    assert HTTP.get(f"{fake.url}/history/{own}").json() == {}  # unknown looks like queued
    HTTP.post(f"{fake.url}/interrupt", content=b"")  # an empty body interrupts globally
    fake.wait_idle()
    assert history_entry(fake, running)["status"]["status_str"] == "error"
    assert fake.executed_prompts == [running]


def test_pause_keeps_prompts_pending(fake_comfyui: FakeComfyUI) -> None:
    upload(fake_comfyui, "input.png", png())
    fake_comfyui.pause()
    prompt_id = submit(fake_comfyui, recorded_prompt(recording("run_webm")))
    time.sleep(0.05)
    queue = HTTP.get(f"{fake_comfyui.url}/queue").json()
    assert ([i[1] for i in queue["queue_pending"]], queue["queue_running"]) == ([prompt_id], [])
    fake_comfyui.resume()
    fake_comfyui.wait_idle()
    assert fake_comfyui.history_ids() == [prompt_id]


def test_a_prompt_can_start_right_after_a_queue_read(fake_comfyui: FakeComfyUI) -> None:
    fake = fake_comfyui
    upload(fake, "input.png", png())
    fake.pause()
    fake.faults.hang_prompt = True
    prompt_id = submit(fake, recorded_prompt(recording("run_webm")))
    fake.faults.start_pending_after_queue_read = True
    read = HTTP.get(f"{fake.url}/queue").json()
    assert [item[1] for item in read["queue_pending"]] == [prompt_id]  # as it was
    now = HTTP.get(f"{fake.url}/queue").json()
    assert [item[1] for item in now["queue_running"]] == [prompt_id]  # as it is
    assert now["queue_pending"] == []
    assert not fake.faults.start_pending_after_queue_read  # one-shot
    HTTP.post(f"{fake.url}/interrupt", json={"prompt_id": prompt_id})
    fake.wait_idle()


def test_an_interrupt_can_land_before_the_run_begins(fake_comfyui: FakeComfyUI) -> None:
    fake = fake_comfyui
    upload(fake, "input.png", png())
    fake.faults.hang_prompt = True
    prompt_id = submit(fake, recorded_prompt(recording("run_webm")))
    _wait_running(fake, prompt_id)
    fake.faults.interrupt_lands_before_start = True
    HTTP.post(f"{fake.url}/interrupt", json={"prompt_id": prompt_id})  # lost
    time.sleep(0.1)
    assert [item[1] for item in HTTP.get(f"{fake.url}/queue").json()["queue_running"]] == [
        prompt_id
    ]
    assert not fake.faults.interrupt_lands_before_start  # one-shot
    HTTP.post(f"{fake.url}/interrupt", json={"prompt_id": prompt_id})
    fake.wait_idle()
    assert history_entry(fake, prompt_id)["status"]["status_str"] == "error"


def test_interrupt_takes_effect_only_on_the_running_prompt(fake_comfyui: FakeComfyUI) -> None:
    fake = fake_comfyui
    upload(fake, "input.png", png())
    fake.faults.hang_prompt = True
    with listen(fake) as ws:
        prompt_id = submit(fake, recorded_prompt(recording("run_webm")))
        _wait_running(fake, prompt_id)
        r = HTTP.post(f"{fake.url}/interrupt", json={"prompt_id": "not-running"})
        assert (r.status_code, r.content) == (200, b"")
        time.sleep(0.05)
        assert fake.history_ids() == []
        HTTP.post(f"{fake.url}/api/interrupt", json={"prompt_id": prompt_id})
        messages = collect(ws, prompt_id)
    interrupted = next(m for m in messages if m["type"] == "execution_interrupted")
    recorded = recording("run_interrupt")["history"]
    recorded_status = next(iter(recorded.values()))["status"]
    recorded_message = recorded_status["messages"][-1]
    assert interrupted["data"].keys() == recorded_message[1].keys()
    assert [m["type"] for m in messages[-3:]] == ["execution_interrupted", "status", "executing"]
    status = history_entry(fake, prompt_id)["status"]
    assert (status["status_str"], status["completed"]) == ("error", False)


def test_messages_reach_only_the_prompts_client(fake_comfyui: FakeComfyUI) -> None:
    fake = fake_comfyui
    upload(fake, "input.png", png())
    with listen(fake, "other") as other, listen(fake, CLIENT) as stale, listen(fake) as mine:
        prompt_id = submit(fake, recorded_prompt(recording("run_webm")))
        messages = collect(mine, prompt_id)
        time.sleep(0.05)
        # status and progress_state are broadcast by the real server; the rest is targeted
        assert set(drain(other)) == {"status", "progress_state"}
        # the second socket with the same clientId took over: the first hears nothing more
        assert drain(stale) == ["status"]
    assert messages[0] == {
        "type": "status",
        "data": {"status": {"exec_info": {"queue_remaining": 0}}, "sid": CLIENT},
    }


def test_origin_check_and_record(fake_comfyui: FakeComfyUI) -> None:
    fake = fake_comfyui
    evil = {"Origin": "http://evil.example"}
    assert HTTP.post(f"{fake.url}/prompt", json={}, headers=evil).status_code == 403
    with pytest.raises(InvalidStatus) as rejected:
        connect(f"ws://127.0.0.1:{fake.port}/ws?clientId=x", additional_headers=evil)
    assert rejected.value.response.status_code == 403
    same = {"Origin": fake.url}
    assert HTTP.get(f"{fake.url}/queue", headers=same).status_code == 200
    assert HTTP.get(f"{fake.url}/queue").status_code == 200
    assert fake.origin_headers_seen == ["http://evil.example", "http://evil.example", fake.url]


def test_dropped_socket_and_reconnect_mid_run(fake_comfyui: FakeComfyUI) -> None:
    fake = fake_comfyui
    upload(fake, "input.png", png())
    fake.faults.drop_socket_after_messages = 3
    fake.node_delay_s = 0.1
    with listen(fake) as ws:
        prompt_id = submit(fake, recorded_prompt(recording("run_webm")))
        with pytest.raises(ConnectionClosed):
            collect(ws, prompt_id)
    with listen(fake) as ws:
        hello, resumed = json.loads(ws.recv(timeout=5)), json.loads(ws.recv(timeout=5))
        rest = collect(ws, prompt_id)
    rec = [m["msg"] for m in recording("ws_reconnect_and_global_interrupt")]
    assert hello["data"].keys() == rec[0]["data"].keys()
    # as recorded: the node being executed, without prompt_id or display_node
    assert (resumed["type"], resumed["data"].keys()) == ("executing", rec[1]["data"].keys())
    assert rest[-1] == {"type": "executing", "data": {"node": None, "prompt_id": prompt_id}}


def test_execution_error_and_out_of_memory(fake_comfyui: FakeComfyUI) -> None:
    fake = fake_comfyui
    upload(fake, "input.png", png())
    prompt = recorded_prompt(recording("run_webm"))
    recorded = recording("run_err_runtime_corrupt_image")
    recorded_error = next(m["msg"] for m in recorded["ws"] if m["msg"]["type"] == "execution_error")
    fake.faults.execution_error_on = "3"
    fake.faults.out_of_memory_on = "RepeatImageBatch"
    with listen(fake) as ws:
        prompt_id = submit(fake, prompt)
        messages = collect(ws, prompt_id)
    error = next(m["data"] for m in messages if m["type"] == "execution_error")
    assert error.keys() == recorded_error["data"].keys()
    assert (error["node_id"], error["exception_type"]) == ("3", "torch.OutOfMemoryError")
    assert error["exception_message"].startswith("Allocation on device \n")
    assert error["current_inputs"]["amount"] == [12]
    assert [m["type"] for m in messages[-3:]] == ["execution_error", "status", "executing"]
    assert "execution_success" not in {m["type"] for m in messages}
    fake.faults.out_of_memory_on = None
    fake.faults.execution_error = ("RuntimeError", "boom\n")
    submit(fake, prompt)
    fake.wait_idle()
    last = history_entry(fake, fake.history_ids()[-1])["status"]
    assert (last["status_str"], last["messages"][-1][1]["exception_message"]) == ("error", "boom\n")


def test_injected_500s_then_recovery(fake_comfyui: FakeComfyUI) -> None:
    fake = fake_comfyui
    fake.faults.http_500 = {"/history/{prompt_id}": 2, "/queue": 1, "/ws": 1}
    with pytest.raises(InvalidStatus) as refused:
        connect(f"ws://127.0.0.1:{fake.port}/ws?clientId=x")
    assert refused.value.response.status_code == 500
    with listen(fake, "x") as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "status"
    body = recording("err_invalid_json_body")["body"]
    for _ in range(2):
        r = HTTP.get(f"{fake.url}/api/history/abc")
        assert (r.status_code, r.text) == (500, body)
    assert HTTP.get(f"{fake.url}/history/abc").json() == {}
    assert HTTP.get(f"{fake.url}/queue").status_code == 500
    assert HTTP.get(f"{fake.url}/queue").status_code == 200


def test_restart_loses_queue_and_history(fake_comfyui: FakeComfyUI) -> None:
    fake = fake_comfyui
    upload(fake, "input.png", png())
    prompt = recorded_prompt(recording("run_webm"))
    done = submit(fake, prompt)
    fake.wait_idle()
    fake.faults.hang_prompt = True
    url = fake.url
    with listen(fake) as ws:
        hung = submit(fake, prompt)
        _wait_running(fake, hung)
        pending = submit(fake, prompt)
        fake.restart()
        with pytest.raises(ConnectionClosed):
            wait_closed(ws)
    assert fake.url == url
    assert HTTP.get(f"{url}/history").json() == {}
    assert HTTP.get(f"{url}/queue").json() == {"queue_running": [], "queue_pending": []}
    assert fake.history_ids() == []
    assert fake.executed_prompts == [done, hung]
    assert pending not in fake.executed_prompts
    fake.faults.hang_prompt = False
    again = submit(fake, prompt)  # the server works again
    fake.wait_idle()
    assert history_entry(fake, again)["status"]["status_str"] == "success"


def test_a_restart_can_take_a_while(fake_comfyui: FakeComfyUI) -> None:
    fake = fake_comfyui
    upload(fake, "input.png", png())
    fake.pause()
    pending = submit(fake, recorded_prompt(recording("run_webm")))
    started = time.monotonic()
    fake.restart(down_s=0.5)
    with pytest.raises(httpx.ConnectError):  # nothing listens while it restarts
        HTTP.get(f"{fake.url}/queue")
    while True:
        with contextlib.suppress(httpx.ConnectError):
            queue = HTTP.get(f"{fake.url}/queue").json()
            break
        assert time.monotonic() - started < 10, "the fake did not come back"
        time.sleep(0.02)
    assert time.monotonic() - started >= 0.5
    assert queue == {"queue_running": [], "queue_pending": []}  # the restart lost it
    assert HTTP.get(f"{fake.url}/history/{pending}").json() == {}


def test_system_stats_shape(tmp_path: Path) -> None:
    recorded = recording("system_stats")
    with FakeComfyUI(tmp_path, vram_total=80 << 30, vram_free=10 << 30) as fake:
        stats = HTTP.get(f"{fake.url}/system_stats").json()
    assert stats["system"].keys() == recorded["system"].keys()
    assert stats["system"]["comfyui_version"] == "0.3.64"
    (device,) = stats["devices"]
    assert device.keys() == recorded["devices"][0].keys()
    assert (device["type"], device["vram_total"], device["vram_free"]) == (
        "cuda",
        80 << 30,
        10 << 30,
    )
