"""Users' own workflows (`i2v workflows add`): checked once, then stored by name and content hash.

A folder per name holds each version as `<hash>.json` (the API graph, as POST /prompt takes
it) beside `<hash>.manifest.json`, and `current` names the newest. Versions are never
overwritten, so a job pinned to `name@hash` runs the graph it was submitted with even after
the user adds a changed one.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from i2v.backends.comfyui.bindings import ALIASES, apply_overrides, detect_bindings, parse_overrides
from i2v.backends.comfyui.catalog import LOADER_FOLDERS, NodeCatalog
from i2v.backends.comfyui.convert import ui_to_api
from i2v.backends.comfyui.graph import ApiGraph
from i2v.backends.comfyui.manifest import (
    Binding,
    ModelFile,
    Workflow,
    WorkflowManifest,
    canonical_name,
)
from i2v.backends.comfyui.validate import MAX_FPS, graph_errors
from i2v.backends.comfyui.workflows.manifests import MANIFESTS
from i2v.errors import ConfigError, InvalidParameter, NotFound, WorkflowInvalid
from i2v.media.atomic import atomic_outputs

NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,47}")
HASH_RE = re.compile(r"[0-9a-f]{16}")
HASH_LEN = 16  # 64 bits of SHA-256: plenty for the versions of one name, short to type
MAX_FRAMES = 4096  # RepeatImageBatch's and the core video nodes' own limit
MAX_SIDE = 1280  # the long side a bound width/height gets, as for the shipped workflows
SIDE_MULTIPLE = 8  # what every latent and image node takes
FORMAT = 1
CURRENT = "current"
_REQUIRED = (("image", "image"), ("positive", "prompt"))  # (param, the name --bind takes)
_TEXT, _INT = ("STRING",), ("INT",)
# The input kinds each parameter's value fits (an uploaded image's name is a COMBO choice).
KINDS: dict[str, tuple[str, ...]] = {
    "image": ("COMBO", "STRING"), "positive": _TEXT, "negative": _TEXT, "seed": _INT,
    "width": _INT, "height": _INT, "length": _INT, "fps": ("INT", "FLOAT"), "steps": _INT,
    "cfg": ("FLOAT",),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Added:
    workflow: Workflow
    new: bool  # false: this exact version was stored already
    versions: int  # how many versions of the name are stored now


def check_name(name: str) -> str:
    """The canonical form of a new workflow's name; a shipped one's name is refused."""
    canonical = canonical_name(name)
    if not NAME_RE.fullmatch(canonical):
        raise InvalidParameter(
            "--name",
            name,
            f"--name {name!r}: a workflow name is a letter, then letters, digits or _ (at most 48)",
        )
    if any(m.name == canonical for m in MANIFESTS):
        raise InvalidParameter(
            "--name", name, f"--name {name!r}: {canonical} is a shipped workflow; choose another"
        )
    return canonical


def models_in(graph: ApiGraph, urls: Mapping[str, str] | None = None) -> tuple[ModelFile, ...]:
    """The model files the graph's stock loaders name, with the download URLs the user gave
    (none: the servers must have the file already). A custom loader's file is not listed:
    readiness could not find it in any folder, but validating the graph against a server
    still names it when it is missing."""
    found: dict[tuple[str, str], ModelFile] = {}
    for node in graph.nodes.values():
        for input_name, value in node.inputs.items():
            folder = LOADER_FOLDERS.get((node.class_type, input_name))
            if folder is not None and isinstance(value, str) and value:  # "": an empty slot
                url = (urls or {}).get(value, "")
                found.setdefault((folder, value), ModelFile(value, folder, None, None, url))
    return tuple(found.values())


def _targets(bindings: Mapping[str, tuple[Binding, ...]]) -> dict[str, list[str]]:
    return {p: [f"{b.node_id}.{b.input_name}" for b in bound] for p, bound in bindings.items()}


def content_hash(
    graph: ApiGraph,
    bindings: Mapping[str, tuple[Binding, ...]],
    fps: int,
    model_urls: Mapping[str, str],
) -> str:
    """The version: the same graph bound differently is another workflow."""
    body = {"graph": graph.to_json(), "bindings": _targets(bindings), "fps": fps}
    if model_urls:  # where to download files from changes what a rented machine holds
        body["model_urls"] = dict(model_urls)
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:HASH_LEN]


def _literal(graph: ApiGraph, bindings: tuple[Binding, ...]) -> int | float | None:
    for b in bindings:
        value = graph.nodes[b.node_id].inputs.get(b.input_name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
    return None


def build(
    name: str,
    graph: ApiGraph,
    bindings: Mapping[str, tuple[Binding, ...]],
    fps: int,
    source: str,
    model_urls: Mapping[str, str],
) -> Workflow:
    """The workflow with its manifest; all but the bindings, fps and URLs is derived."""
    length = _literal(graph, bindings.get("length", ()))
    manifest = WorkflowManifest(
        name=name,
        version=content_hash(graph, bindings, fps, model_urls),
        title=f"{name}, added from {source}",
        family="custom",
        native_fps=fps,
        default_length=int(length) if length else min(fps * 5, MAX_FRAMES),
        length_multiple=1,  # a user's graph states no frame rule; its nodes check their own
        length_offset=0,
        side_multiple=SIDE_MULTIPLE,
        max_side=MAX_SIDE,
        max_length=MAX_FRAMES,
        models=models_in(graph, model_urls),
        bindings=dict(bindings),
        min_side=64,
    )
    return Workflow(manifest, graph)


def _frame_rate(
    fps: int | None,
    graph: ApiGraph,
    bindings: Mapping[str, tuple[Binding, ...]],
    catalog: NodeCatalog,
) -> int:
    """--fps, else the literal at the fps binding or at the graph's own frame-rate input."""
    if fps is not None:
        if not 1 <= fps <= MAX_FPS:
            raise InvalidParameter("--fps", fps, f"--fps {fps}: must be 1..{MAX_FPS}")
        return fps
    found = _literal(graph, bindings.get("fps") or detect_bindings(graph, catalog).get("fps", ()))
    if found is None or not float(found).is_integer() or not 1 <= found <= MAX_FPS:
        raise InvalidParameter(
            "--fps", found, "give --fps N: the frame rate the workflow's video is made at"
        )
    return int(found)


def _urls(items: Iterable[str], graph: ApiGraph) -> dict[str, str]:
    """--model-url FILE=URL: where a machine the fleet rents downloads a model file from."""
    names = sorted({m.name for m in models_in(graph)})
    urls: dict[str, str] = {}
    for item in items:
        name, eq, url = (part.strip() for part in item.partition("="))
        if not eq or not url.startswith(("https://", "http://")):
            raise InvalidParameter("--model-url", item, f"--model-url {item!r}: expected FILE=URL")
        if name not in names:
            raise InvalidParameter(
                "--model-url",
                item,
                f"--model-url {item!r}: the workflow loads no model {name!r}; "
                f"it loads {', '.join(names) or 'none'}",
            )
        urls[name] = url
    return urls


def prepare(
    name: str,
    raw: Any,
    binds: Iterable[str],
    fps: int | None,
    catalog: NodeCatalog,
    *,
    source: str,
    model_urls: Iterable[str] = (),
    strict: bool = False,
) -> tuple[Workflow, list[str]]:
    """Check a workflow a user adds: (the workflow, warnings), or InvalidParameter.

    Not `strict` (the packaged catalogue), node classes it does not know are only warned
    about, as custom nodes it cannot judge; `strict` (a server's catalogue) refuses them.
    """
    canonical = check_name(name)
    try:
        graph = ui_to_api(raw, catalog)
    except WorkflowInvalid as exc:
        detail = f" ({exc.node_errors[0].message})" if exc.node_errors else ""
        raise InvalidParameter("FILE", source, f"{source}: {exc.message}{detail}") from None
    bindings = apply_overrides(
        {}, parse_overrides(binds, flag="--bind"), graph, catalog=catalog, flag="--bind"
    )
    for param, given in _REQUIRED:
        if not bindings.get(param):
            found = detect_bindings(graph, catalog).get(param, ())
            hint = (
                f" (it looks like {given}={found[0].node_id}.{found[0].input_name})"
                if found
                else ""
            )
            raise InvalidParameter(
                "--bind", given, f"bind the {given}: --bind {given}=NODE_ID.INPUT{hint}"
            )
    _check_kinds(bindings, graph, catalog)
    rate = _frame_rate(fps, graph, bindings, catalog)
    workflow = build(canonical, graph, bindings, rate, source, _urls(model_urls, graph))
    filled = workflow.fill(workflow.default_params())
    errors = graph_errors(filled, catalog, server=None, ignore_models=not strict)
    unknown = [e for e in errors if e.kind == "missing_node_type"]
    lenient = not strict and unknown
    warnings = (
        [f"{e.message}: check it with `i2v workflows validate NAME --server URL`" for e in unknown]
        if lenient
        else []
    )
    # With classes it does not know, the catalogue cannot tell whether one of them saves.
    refused = [
        e for e in errors if not (lenient and e.kind in ("missing_node_type", "prompt_no_outputs"))
    ]
    if refused:
        more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
        raise InvalidParameter("FILE", source, f"{source}: {refused[0].message}{more}")
    return workflow, warnings


def _check_kinds(
    bindings: Mapping[str, tuple[Binding, ...]], graph: ApiGraph, catalog: NodeCatalog
) -> None:
    """Refuse a parameter bound to an input of another kind (a prompt into an fps)."""
    names: dict[str, str] = {v: k for k, v in ALIASES.items()}
    for param, bound in bindings.items():
        for b in bound:
            cls = graph.nodes[b.node_id].class_type
            spec = catalog.inputs(cls).get(b.input_name) if catalog.has(cls) else None
            if spec is not None and spec.kind not in KINDS[param]:
                given = names.get(param, param)
                raise InvalidParameter(
                    "--bind",
                    f"{given}={b.node_id}.{b.input_name}",
                    f"--bind {given}={b.node_id}.{b.input_name}: {cls}.{b.input_name} takes "
                    f"{spec.kind}, not a {given} ({' or '.join(KINDS[param])})",
                )


class UserWorkflows:
    """The store under one folder; every process pointed at the same folder sees the same."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _folder(self, name: str) -> Path | None:
        canonical = canonical_name(name)
        return self.root / canonical if NAME_RE.fullmatch(canonical) else None

    def add(self, workflow: Workflow, source: str) -> Added:
        m = workflow.manifest
        folder = self.root / m.name
        folder.mkdir(parents=True, exist_ok=True)
        graph_path, manifest_path = (
            folder / f"{m.version}.json",
            folder / f"{m.version}.manifest.json",
        )
        new = not manifest_path.exists()
        if new:
            body = {
                "format": FORMAT,
                "name": m.name,
                "version": m.version,
                "source": source,
                "fps": m.native_fps,
                "bindings": _targets(m.bindings),
                "model_urls": {f.name: f.url for f in m.models if f.url},
            }
            # The manifest appears last: its presence means the graph is complete.
            with atomic_outputs(manifest_path, graph_path) as (tmp_manifest, tmp_graph):
                tmp_graph.write_text(_dump(workflow.graph.to_json()), encoding="utf-8")
                tmp_manifest.write_text(_dump(body), encoding="utf-8")
        with atomic_outputs(folder / CURRENT) as (tmp,):
            tmp.write_text(f"{m.version}\n", encoding="utf-8")
        return Added(workflow, new, len(list(folder.glob("*.manifest.json"))))

    def has(self, name: str) -> bool:
        folder = self._folder(name)
        return folder is not None and (folder / CURRENT).is_file()

    def get(self, name: str, version: str | None = None) -> Workflow:
        """The newest version of `name`, or the exact `version` (its content hash)."""
        folder = self._folder(name)
        if folder is None or not self.has(name):
            raise NotFound(f"unknown workflow {name!r}")
        if version is not None and not HASH_RE.fullmatch(version):
            raise NotFound(f"workflow {folder.name} has no version {version!r}")
        wanted = version or (folder / CURRENT).read_text(encoding="utf-8").strip()
        if not (folder / f"{wanted}.manifest.json").is_file():
            raise NotFound(f"workflow {folder.name} has no version {wanted}")
        return self._load(folder, wanted)

    def _load(self, folder: Path, version: str) -> Workflow:
        where = folder / f"{version}.manifest.json"
        try:
            body = json.loads(where.read_text(encoding="utf-8"))
            graph = ApiGraph.from_json(json.loads((folder / f"{version}.json").read_text("utf-8")))
            bindings = {
                str(p): tuple(Binding(*t.rsplit(".", 1)) for t in targets)
                for p, targets in body["bindings"].items()
            }
            urls = {str(k): str(v) for k, v in body.get("model_urls", {}).items()}
            fps = int(body["fps"])
            workflow = build(folder.name, graph, bindings, fps, str(body["source"]), urls)
        except (OSError, ValueError, KeyError, TypeError, AttributeError, WorkflowInvalid) as exc:
            raise ConfigError(f"{where}: unreadable user workflow ({exc})") from None
        if workflow.manifest.version != version:
            raise ConfigError(f"{where}: the files were changed after `i2v workflows add`")
        return workflow

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            p.name for p in self.root.iterdir() if NAME_RE.fullmatch(p.name) and self.has(p.name)
        )

    def list(self) -> list[WorkflowManifest]:
        """The newest version of every stored workflow, by name."""
        return [self.get(name).manifest for name in self.names()]

    def remove(self, name: str) -> int:
        """Delete every version of `name`; how many there were."""
        folder = self._folder(name)
        if folder is None or not self.has(name):
            raise NotFound(f"unknown user workflow {name!r}")
        count = len(list(folder.glob("*.manifest.json")))
        shutil.rmtree(folder)
        return count


def _dump(value: object) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"
