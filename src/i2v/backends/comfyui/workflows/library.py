"""The registry of workflows (shipped, and users' own), their graphs, and the node catalogue."""

from __future__ import annotations

import functools
import gzip
import json
import re
from importlib import resources
from pathlib import Path

from i2v.backends.comfyui.catalog import NodeCatalog
from i2v.backends.comfyui.graph import ApiGraph
from i2v.backends.comfyui.manifest import Workflow, WorkflowManifest, canonical_name
from i2v.backends.comfyui.user_workflows import UserWorkflows
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


def list_workflows(user_dir: Path | None = None) -> list[WorkflowManifest]:
    """The shipped workflows, then (with `user_dir`) the newest version of each user's own."""
    shipped = sorted(WORKFLOWS.values(), key=lambda m: m.name)
    return shipped + (UserWorkflows(user_dir).list() if user_dir is not None else [])


@functools.cache
def _graph(file_name: str) -> ApiGraph:
    return ApiGraph.from_json(json.loads(_read(file_name)))


def get_workflow(name: str, *, user_dir: Path | None = None) -> Workflow:
    """The shipped workflow `name` (optionally "name.vN" for an exact version), or with
    `user_dir`, the user's own workflow `name` (optionally "name@<content hash>").

    Names are forgiving the way people write model names: "wan2.2-ti2v-5b" is wan22_ti2v_5b.
    """
    text = name.strip().lower()
    user_name, at, digest = text.partition("@")
    match = None if at else re.fullmatch(r"(.+?)(?:\.v(\d+))?", text)
    base = canonical_name(match.group(1) if match else user_name)
    version = match.group(2) if match else None
    manifest = WORKFLOWS.get(base)
    if manifest is not None and not at and version in (None, str(manifest.version)):
        return Workflow(manifest, _graph(manifest.graph_file))
    store = UserWorkflows(user_dir) if user_dir is not None else None
    if store is not None and manifest is None and version is None and store.has(base):
        return store.get(base, digest or None)
    known = sorted(f"{m.name} ({m.label})" for m in WORKFLOWS.values())
    known += [f"{user} (user)" for user in store.names()] if store is not None else []
    raise NotFound(f"unknown workflow {name!r}; known: {', '.join(known)}")
