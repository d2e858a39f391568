"""Users' own workflows: `i2v workflows add`, the store, and resolving them like shipped ones.

The CLI cases run in-process through `i2v.cli.app.run`, as a user's shell sees them: exit
code, one stderr line, and what ends up in the store.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from i2v.backends.comfyui.backend import ComfyBackend
from i2v.backends.comfyui.graph import ApiGraph
from i2v.backends.comfyui.manifest import Workflow
from i2v.backends.comfyui.user_workflows import UserWorkflows, models_in
from i2v.backends.comfyui.workflows import library
from i2v.cli.app import run
from i2v.config import load_settings
from i2v.domain.motion import Intensity, Motion
from i2v.domain.size import Size
from i2v.domain.spec import RenderSpec
from i2v.errors import ConfigError, InvalidParameter, NotFound
from i2v.fleet.provisioning import provisioning_script
from i2v.fleet.setup import shipped_needs

PREFIX = "i2v: error: "
BINDS = ("--bind", "image=1.image", "--bind", "prompt=6.value", "--bind", "frames=3.amount")


def still_graph(**changes: object) -> dict[str, object]:
    """A model-free graph of core nodes: the photo repeated into a clip, saved as an MP4."""
    graph: dict[str, object] = {
        "1": {"class_type": "LoadImage", "inputs": {"image": "example.png"}},
        "2": {"class_type": "ImageScale", "inputs": {"image": ["1", 0], "width": 512,
              "height": 896, "upscale_method": "lanczos", "crop": "center"}},
        "3": {"class_type": "RepeatImageBatch", "inputs": {"image": ["2", 0], "amount": 48}},
        "4": {"class_type": "CreateVideo", "inputs": {"images": ["3", 0], "fps": 24.0}},
        "5": {"class_type": "SaveVideo", "inputs": {"video": ["4", 0], "format": "mp4",
              "codec": "h264", "filename_prefix": "video/still"}},
        "6": {"class_type": "PrimitiveStringMultiline", "inputs": {"value": "a prompt"}},
    }  # fmt: skip
    graph.update(changes)
    return {k: v for k, v in graph.items() if v is not None}


@pytest.fixture
def store_dir(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("I2V_DATA_DIR", str(cli_env / "data"))
    return cli_env / "data" / "workflows"


def write(path: Path, body: object) -> Path:
    path.write_text(json.dumps(body) if not isinstance(body, str) else body)
    return path


def i2v(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = run([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def add(capsys: pytest.CaptureFixture[str], file: Path, *args: str) -> tuple[int, str, str]:
    return i2v(capsys, "workflows", "add", file, *args)


def test_add_stores_the_graph_and_a_manifest_by_content_hash(
    store_dir: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    file = write(tmp_path / "still.json", still_graph())
    code, out, err = add(capsys, file, "--name", "Still-Life", *BINDS)
    assert (code, err) == (0, "")
    key = out.split(":")[0]
    assert re.fullmatch(r"still_life@[0-9a-f]{16}", key)
    digest = key.split("@")[1]
    folder = store_dir / "still_life"
    names = {p.name for p in folder.iterdir()}
    assert names == {"current", f"{digest}.json", f"{digest}.manifest.json"}
    assert json.loads((folder / f"{digest}.json").read_text()) == still_graph()  # API format
    manifest = json.loads((folder / f"{digest}.manifest.json").read_text())
    assert manifest["bindings"] == {
        "image": ["1.image"], "positive": ["6.value"], "length": ["3.amount"]
    }  # fmt: skip
    assert manifest["fps"] == 24  # read off CreateVideo, as no --fps was given
    # The same content again is the same version; changed content is a new one, and both stay.
    assert add(capsys, file, "--name", "still_life", *BINDS)[1].startswith(f"{key}: unchanged")
    changed = write(tmp_path / "b.json", still_graph(**{"4": {"class_type": "CreateVideo",
                    "inputs": {"images": ["3", 0], "fps": 16.0}}}))  # fmt: skip
    code, out, _ = add(capsys, changed, "--name", "still_life", *BINDS)
    assert code == 0
    assert "2 version(s) stored" in out
    newer = out.split(":")[0]
    assert newer != key
    user_dir = store_dir
    assert library.get_workflow("still_life", user_dir=user_dir).manifest.key == newer
    pinned = library.get_workflow(key, user_dir=user_dir)
    assert pinned.manifest.native_fps == 24  # the old version runs as it was added
    assert library.get_workflow("Still-Life", user_dir=user_dir).manifest.name == "still_life"


@pytest.mark.parametrize(
    ("body", "args", "message"),
    [
        (still_graph(), ("--bind", "seed=9.seed"),
         "--bind seed=9.seed: the workflow has no node '9'"),
        (still_graph(), ("--bind", "frames=3.count"),
         "--bind frames=3.count: node 3 (RepeatImageBatch) has no input 'count'; it has amount"),
        (still_graph(), ("--bind", "prompt=4.fps"),
         "--bind prompt=4.fps: CreateVideo.fps takes FLOAT, not a prompt (STRING)"),
        (still_graph(), ("--bind", "seed=3.image"),
         "--bind seed=3.image: 3.image is linked from node 2; bind the input that holds"),
        (still_graph(), ("--bind", "colour=1.image"),
         "--bind colour=1.image: unknown parameter 'colour'"),
        (still_graph(), ("--bind", "nonsense"),
         "--bind 'nonsense': expected param=node_id.input_name"),
        (still_graph(), ("--fps", "0"), "--fps 0: must be 1..120"),
        (still_graph(**{"5": None}), (), "the workflow has no output node (such as SaveVideo)"),
        ("{not json", (), "is not JSON"),
        ([1, 2], (), "not a ComfyUI workflow"),
        ({"1": {"class_type": "LoadImage", "inputs": [1]}}, (), "malformed node"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_with_one_line_and_exit_2(
    store_dir: Path,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    body: object,
    args: tuple[str, ...],
    message: str,
) -> None:
    file = write(tmp_path / "wf.json", body)
    code, out, err = add(capsys, file, "--name", "mine", *BINDS[:4], *args)
    assert code == 2, err
    assert out == ""
    assert err.startswith(PREFIX)
    assert err.count("\n") == 1
    assert message in err
    assert not store_dir.exists()  # nothing half-stored


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--name", "wan2.2-ti2v-5b", *BINDS),
         "--name 'wan2.2-ti2v-5b': wan22_ti2v_5b is a shipped workflow; choose another"),
        (("--name", "../etc", *BINDS), "a workflow name is a letter, then letters, digits or _"),
        (("--name", "mine", "--bind", "image=1.image"),
         "bind the prompt: --bind prompt=NODE_ID.INPUT"),
        (("--name", "mine", "--bind", "prompt=6.value"),
         "bind the image: --bind image=NODE_ID.INPUT (it looks like image=1.image)"),
        (("--name", "mine", "--bind", "prompt=6.value", "--bind", "positive=6.value"),
         "--bind: prompt and positive are the same parameter; give one"),
    ],
)  # fmt: skip
def test_bad_names_and_missing_bindings_are_refused(
    store_dir: Path,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    args: tuple[str, ...],
    message: str,
) -> None:
    code, _, err = add(capsys, write(tmp_path / "wf.json", still_graph()), *args)
    assert code == 2
    assert err.count("\n") == 1, err
    assert message in err
    assert not store_dir.exists()


def test_custom_nodes_are_warned_about_and_refused_against_a_server_catalogue(
    store_dir: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    custom = {"class_type": "VHS_VideoCombine", "inputs": {"images": ["3", 0], "frame_rate": 24}}
    file = write(tmp_path / "wf.json", still_graph(**{"4": None, "5": custom}))
    code, _, err = add(capsys, file, "--name", "mine", *BINDS)
    assert code == 0  # custom nodes the packaged catalogue cannot judge
    assert "warning: node 5: node class VHS_VideoCombine does not exist" in err
    assert "i2v workflows validate NAME --server URL" in err
    info = Path(library.__file__).parent / library.PACKAGED_OBJECT_INFO  # as a server's
    code, _, err = add(capsys, file, "--name", "other", *BINDS, "--object-info", str(info))
    assert code == 2
    assert "node class VHS_VideoCombine does not exist" in err


def test_list_show_validate_and_remove_include_user_workflows(
    store_dir: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    loader = {"class_type": "UNETLoader", "inputs": {"unet_name": "mine.safetensors",
              "weight_dtype": "default"}}  # fmt: skip
    file = write(tmp_path / "wf.json", still_graph(**{"7": loader}))
    assert add(capsys, file, "--name", "mine", *BINDS)[0] == 0
    code, out, _ = i2v(capsys, "workflows", "list")
    assert code == 0
    assert re.search(r"wan22_ti2v_5b +v1 +wan ", out)
    assert re.search(r"\nmine +@[0-9a-f]{16} +custom \(user\) +24 +1 files\n", out)
    code, out, _ = i2v(capsys, "workflows", "show", "mine")
    assert "family         custom (user workflow)" in out
    assert "positive       6.value (PrimitiveStringMultiline)" in out
    assert "length         48 frames by default, at most 4096" in out
    assert "diffusion_models/mine.safetensors (size unknown)" in out
    code, out, _ = i2v(capsys, "workflows", "validate", "mine")
    assert code == 0
    assert "valid against ComfyUI 0.3.64 (packaged)" in out
    code, out, _ = i2v(capsys, "workflows", "remove", "mine")
    assert (code, out) == (0, "removed mine (1 version(s))\n")
    code, _, err = i2v(capsys, "workflows", "show", "mine")
    assert code == 1
    assert "unknown workflow 'mine'" in err
    code, _, err = i2v(capsys, "workflows", "remove", "wan22_ti2v_5b")
    assert code == 2
    assert "wan22_ti2v_5b is a shipped workflow; it cannot be removed" in err


def test_loader_models_are_detected_so_missing_ones_are_named(tmp_path: Path) -> None:
    graph = library.get_workflow("wan22_ti2v_5b").graph
    found = {(m.folder, m.name) for m in models_in(graph)}
    assert found == {(m.folder, m.name) for m in library.WORKFLOWS["wan22_ti2v_5b"].models}
    custom = {"class_type": "MyLoader", "inputs": {"ckpt": "a.safetensors"}}
    # A custom loader's folder is unknown, so readiness could never find its file there.
    assert models_in(ApiGraph.from_json(still_graph(**{"9": custom}))) == ()


def test_a_job_naming_a_user_workflow_pins_its_content_hash(
    store_dir: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    file = write(tmp_path / "wf.json", still_graph())
    key = add(capsys, file, "--name", "mine", *BINDS)[1].split(":")[0]
    backend = ComfyBackend(load_settings())
    spec = RenderSpec(Motion.ZOOM_IN, Intensity.NORMAL, Size(360, 640), 3, 24, workflow="mine")
    assert backend.prepare(spec).workflow == key
    graph = backend._workflow(key).fill(backend.params(spec, backend._workflow(key), "in.jpg"))
    assert graph.nodes["3"].inputs["amount"] == 72  # 3 s at the workflow's 24 fps
    assert graph.nodes["1"].inputs["image"] == "in.jpg"
    assert graph.nodes["4"].inputs["fps"] == 24.0  # unbound: the graph keeps its own
    with pytest.raises(InvalidParameter, match="workflow mine has no version 0000000000000000"):
        backend.prepare(replace(spec, workflow="mine@0000000000000000"))


def test_the_store_refuses_tampered_files_and_hostile_names(
    store_dir: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    key = add(capsys, write(tmp_path / "wf.json", still_graph()), "--name", "mine", *BINDS)[1]
    digest = key.split(":")[0].split("@")[1]
    edited = still_graph(**{"3": {"class_type": "RepeatImageBatch",
                         "inputs": {"image": ["2", 0], "amount": 4000}}})  # fmt: skip
    write(store_dir / "mine" / f"{digest}.json", edited)
    with pytest.raises(ConfigError, match="the files were changed after `i2v workflows add`"):
        library.get_workflow("mine", user_dir=store_dir)
    # A broken one does not hide the others from an unknown name's error.
    with pytest.raises(NotFound, match=r"known: .*wan22_ti2v_5b \(v1\), mine \(user\)$"):
        library.get_workflow("nope", user_dir=store_dir)
    store = UserWorkflows(tmp_path)
    with pytest.raises(NotFound):
        store.get("../../etc/passwd")
    with pytest.raises(NotFound):
        library.get_workflow("nope@../../x", user_dir=tmp_path)
    assert store.list() == []
    assert isinstance(library.get_workflow("wan22_ti2v_5b", user_dir=tmp_path), Workflow)


def test_the_fleet_knows_a_user_workflows_needs_and_downloads_only_what_has_a_url(
    store_dir: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    loaders = {
        "7": {"class_type": "UNETLoader", "inputs": {"unet_name": "mine.safetensors",
              "weight_dtype": "default"}},
        "8": {"class_type": "VAELoader", "inputs": {"vae_name": "vae.safetensors"}},
    }  # fmt: skip
    file = write(tmp_path / "wf.json", still_graph(**loaders))
    url = "https://example.org/mine.safetensors"
    for bad, message in (
        ("mine.safetensors", "--model-url 'mine.safetensors': expected FILE=URL"),
        (f"other.bin={url}", "loads no model 'other.bin'; it loads mine.safetensors, vae."),
    ):
        code, _, err = add(capsys, file, "--name", "mine", *BINDS, "--model-url", bad)
        assert code == 2
        assert message in err
    good = f"mine.safetensors={url}"
    code, _, err = add(capsys, file, "--name", "mine", *BINDS, "--model-url", good)
    assert code == 0, err
    assert shipped_needs("mine") is None  # without the folder, only shipped ones
    needs = shipped_needs("mine", user_dir=store_dir)
    assert needs is not None
    assert needs.nodes >= {"LoadImage", "SaveVideo", "UNETLoader"}
    assert {(m.folder, m.name, m.url) for m in needs.models} == {
        ("diffusion_models", "mine.safetensors", url), ("vae", "vae.safetensors", "")
    }  # fmt: skip
    script = provisioning_script(needs.models)
    part = "/workspace/ComfyUI/models/diffusion_models/mine.safetensors.part"
    assert f"curl -fL --retry 5 --retry-delay 5 -o {part} {url}" in script
    assert "vae.safetensors" not in script  # no URL: the machine's template must bring it


def ui_node(
    node_id: int,
    kind: str,
    inputs: list[tuple[str, str, int | None]],
    widgets: list[object],
    outputs: list[tuple[str, list[int]]] | None = None,
) -> dict[str, object]:
    sockets = [{"name": n, "type": t, "link": link} for n, t, link in inputs]
    made = [{"name": t, "type": t, "links": ls} for t, ls in outputs or []]
    return {"id": node_id, "type": kind, "mode": 0, "widgets_values": widgets,
            "inputs": sockets, "outputs": made}  # fmt: skip


def test_a_workflow_saved_by_the_editor_is_stored_in_the_api_format(
    store_dir: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    ui = {
        "nodes": [
            ui_node(1, "LoadImage", [], ["example.png", "image"], [("IMAGE", [1]), ("MASK", [])]),
            ui_node(2, "ImageScale", [("image", "IMAGE", 1)], ["lanczos", 512, 896, "center"],
                    [("IMAGE", [2])]),
            ui_node(3, "RepeatImageBatch", [("image", "IMAGE", 2)], [48], [("IMAGE", [3])]),
            ui_node(4, "CreateVideo", [("images", "IMAGE", 3), ("audio", "AUDIO", None)], [24.0],
                    [("VIDEO", [4])]),
            ui_node(5, "SaveVideo", [("video", "VIDEO", 4)], ["video/still", "mp4", "h264"]),
            ui_node(6, "PrimitiveStringMultiline", [], ["a prompt"], [("STRING", [])]),
            {"id": 7, "type": "Note", "mode": 0, "widgets_values": ["why this graph"]},
        ],
        "links": [[1, 1, 0, 2, 0, "IMAGE"], [2, 2, 0, 3, 0, "IMAGE"], [3, 3, 0, 4, 0, "IMAGE"],
                  [4, 4, 0, 5, 0, "VIDEO"]],
    }  # fmt: skip
    code, out, err = add(capsys, write(tmp_path / "ui.json", ui), "--name", "from_ui", *BINDS)
    assert code == 0, err
    stored = library.get_workflow(out.split(":")[0], user_dir=store_dir).graph
    assert ApiGraph.from_json(json.loads(json.dumps(still_graph()))) == stored  # the Note dropped
