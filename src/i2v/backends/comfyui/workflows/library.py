"""The registry of shipped workflows, their API graphs, and the packaged node catalogue."""

from __future__ import annotations

import functools
import gzip
import json
import re
from importlib import resources

from i2v.backends.comfyui.catalog import NodeCatalog
from i2v.backends.comfyui.graph import ApiGraph
from i2v.backends.comfyui.manifest import Workflow, WorkflowManifest
from i2v.backends.comfyui.workflows.manifests import MANIFESTS
from i2v.errors import NotFound

PACKAGED_COMFYUI_VERSION = "0.3.64"
# /object_info recorded from a stock ComfyUI 0.3.64 with no models installed.
PACKAGED_OBJECT_INFO = f"object_info.{PACKAGED_COMFYUI_VERSION}.json.gz"
# Definitions of the few newer node classes the shipped workflows and their templates use,
# copied from ComfyUI's source: for converting only, never to claim a server has them.
NEWER_NODES = "object_info.newer.json"

WORKFLOWS: dict[str, WorkflowManifest] = {m.name: m for m in MANIFESTS}


def _read(name: str) -> bytes:
    return resources.files(__package__ or __name__).joinpath(name).read_bytes()


@functools.cache
def packaged_catalog() -> NodeCatalog:
    """The node catalogue of ComfyUI 0.3.64, for validating offline."""
    return NodeCatalog.from_json(json.loads(gzip.decompress(_read(PACKAGED_OBJECT_INFO))))


@functools.cache
def extended_catalog() -> NodeCatalog:
    """The packaged catalogue plus the newer node classes, for converting templates."""
    return packaged_catalog().merged(NodeCatalog.from_json(json.loads(_read(NEWER_NODES))))


def list_workflows() -> list[WorkflowManifest]:
    return sorted(WORKFLOWS.values(), key=lambda m: m.name)


@functools.cache
def _graph(file_name: str) -> ApiGraph:
    return ApiGraph.from_json(json.loads(_read(file_name)))


def get_workflow(name: str) -> Workflow:
    """The shipped workflow `name` (optionally "name.vN" for an exact version).

    Names are forgiving the way people write model names: "wan2.2-ti2v-5b" is wan22_ti2v_5b.
    """
    match = re.fullmatch(r"(.+?)(?:\.v(\d+))?", name.strip().lower())
    base = re.sub(r"[.\s]", "", match.group(1)).replace("-", "_") if match else name
    version = match.group(2) if match else None
    manifest = WORKFLOWS.get(base)
    if manifest is None or (version and version != str(manifest.version)):
        known = ", ".join(sorted(f"{m.name} (v{m.version})" for m in WORKFLOWS.values()))
        raise NotFound(f"unknown workflow {name!r}; known: {known}")
    return Workflow(manifest, _graph(manifest.graph_file))
