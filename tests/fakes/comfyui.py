"""A fake ComfyUI server for tests: the HTTP and websocket protocol of ComfyUI 0.3.64.

It speaks the protocol recorded from a real server in `tests/data/comfyui/` (see the
`run_*.json` and `err_*.json` recordings): the same routes, status codes, JSON bodies,
websocket messages in the same order, the same queue and history, real video files for
/view. It runs no models: every node "runs" for `node_delay_s`, samplers report one
`progress` per step, and save nodes write a small generated video. `fake.faults` injects the
failures a client must survive (500s, dropped sockets, node errors, OOM, hangs, restarts).

    with FakeComfyUI(tmp_path, installed_models={"vae": ["wan2.2_vae.safetensors"]}) as fake:
        httpx.post(f"{fake.url}/prompt", json={"prompt": graph, "client_id": "me"})
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import ipaddress
import itertools
import json
import mimetypes
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlsplit

import pytest
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from tests.fakes.comfyui_exec import Killed, Run
from tests.fakes.comfyui_validate import (
    MODEL_FOLDERS,
    Catalogue,
    Json,
    load_catalogue,
    model_files,
    validate_prompt,
)
from tests.fakes.serving import Served, free_port

GIB = 1 << 30
SERVER_ERROR = "500 Internal Server Error\n\nServer got itself in trouble"  # aiohttp's 500 body
SENSITIVE_EXTRA_DATA_KEYS = ("auth_token_comfy_org", "api_key_comfy_org")
FEATURE_FLAGS = {"supports_preview_metadata": True, "max_upload_size": 104857600}


@dataclass
class Faults:
    """Failure injection; every knob is off by default except where noted."""

    # Route template ("/prompt", "/history/{prompt_id}", "/ws", ...) -> 500s still to answer.
    http_500: dict[str, int] = field(default_factory=dict)
    # Close the running prompt's socket after it got this many of the run's messages (status
    # not counted). One-shot: it resets to None, so the client's reconnect stays up.
    drop_socket_after_messages: int | None = None
    # The real server always does this on a reconnect mid-run (ws_*reconnect*.json): on by
    # default; switch off to get no `executing` at all on reconnect.
    reconnect_executing_without_prompt_id: bool = True
    # Node id or class_type that raises: loaders as a corrupt .safetensors does
    # (run_err_broken_*.json), other nodes a RuntimeError; `execution_error` overrides that.
    execution_error_on: str | None = None
    execution_error: tuple[str, str] | None = None  # (exception_type, exception_message)
    out_of_memory_on: str | None = None  # node id or class_type: torch.OutOfMemoryError
    step_delay_s: float = 0.0  # per sampler step, for slow progress
    hang_prompt: bool = False  # the first node to run waits until interrupted
    # One-shot: the next GET /queue that lists a pending prompt is answered with the queue as
    # it was, but the first pending prompt has started by the time the answer arrives (even
    # while paused): the race that a client acting on what it read from /queue loses.
    start_pending_after_queue_read: bool = False
    # One-shot: the next interrupt aimed at a running prompt lands just before its run
    # begins, where the real server's execute() resets the flag: it is lost.
    interrupt_lands_before_start: bool = False


def _json(data: Any, status: int = 200) -> Response:
    # aiohttp's json_response: json.dumps defaults, so bodies match the recordings byte for byte.
    return Response(json.dumps(data), status, media_type="application/json; charset=utf-8")


def _empty(status: int = 200) -> Response:
    return Response(b"", status, media_type="application/octet-stream")


def _is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def origin_allowed(headers: Mapping[str, str]) -> bool:
    """server.py's origin_only_middleware: a loopback Host must match the Origin's host."""
    host, origin = headers.get("host"), headers.get("origin")
    if host is None or origin is None:
        return True
    host_domain: str | None = host.lower()
    parsed = urlparse(origin)
    origin_domain: str | None = parsed.netloc.lower()
    host_parsed = urlsplit(f"//{host_domain}")
    loopback = _is_loopback(host_parsed.hostname)
    if parsed.port is None:
        host_domain = host_parsed.hostname
    if host_parsed.port is None:
        origin_domain = parsed.hostname
    return not (loopback and host_domain and origin_domain and host_domain != origin_domain)


class _Server:
    """One life of the server process: queue, history, sockets, cache. restart() makes a new one."""

    def __init__(self, fake: FakeComfyUI) -> None:
        self.fake = fake
        self.cond = threading.Condition(threading.RLock())
        self.queue: list[tuple[float, int, tuple[Any, ...]]] = []
        self.running: dict[int, tuple[Any, ...]] = {}
        self.history: dict[str, Json] = {}
        self.number, self.task_counter, self.order = 0, 0, itertools.count()
        self.sockets: dict[str, WebSocket] = {}
        self.client_id: str | None = None
        self.last_node_id: str | None = None
        self.interrupt = threading.Event()
        self.take_one = False  # the worker takes the next prompt even while paused
        self.cache: set[str] = set()
        self.dead = False
        self.loop: asyncio.AbstractEventLoop | None = None
        self.outbox: asyncio.Queue[tuple[str, Json, str | None]] | None = None
        self.run_messages = 0
        self.dropped: set[int] = set()  # ids of sockets closed by drop_socket_after_messages
        self.worker = threading.Thread(target=self.work, daemon=True, name="fake-comfyui-worker")
        routes: list[Route | WebSocketRoute] = []
        for prefix in ("", "/api"):
            for path, handler, method in self.handlers():
                routes.append(Route(prefix + path, self.guard(path, handler), methods=[method]))
            routes.append(WebSocketRoute(prefix + "/ws", self.websocket))
        self.app = Starlette(
            routes=routes,
            lifespan=self.lifespan,
            exception_handlers={HTTPException: self.http_error},  # type: ignore[dict-item]
        )

    # -- plumbing -------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> Any:
        self.loop, self.outbox = asyncio.get_running_loop(), asyncio.Queue()
        publisher = asyncio.create_task(self.publish())
        yield
        publisher.cancel()

    def emit(self, event: str, data: Json, sid: str | None = None) -> None:
        """server.send_sync, callable from any thread; sid None broadcasts to every socket."""
        if self.loop is None or self.outbox is None or self.dead:
            return
        with contextlib.suppress(RuntimeError):  # the loop is gone: a restart is under way
            self.loop.call_soon_threadsafe(self.outbox.put_nowait, (event, data, sid))

    async def publish(self) -> None:
        assert self.outbox is not None
        while True:
            event, data, sid = await self.outbox.get()
            text = json.dumps({"type": event, "data": data})
            if sid is None:
                targets = list(self.sockets.items())
            else:
                targets = [(sid, self.sockets[sid])] if sid in self.sockets else []
            if event == "execution_start":
                self.run_messages = 0
            for target, ws in targets:
                with contextlib.suppress(Exception):  # send_socket_catch_exception
                    await ws.send_text(text)
                limit = self.fake.faults.drop_socket_after_messages
                if target != self.client_id or event == "status" or limit is None:
                    continue
                self.run_messages += 1
                if self.run_messages >= limit:
                    # The server forgets a dropped socket at once, so that the client's
                    # reconnect with the same clientId is not unregistered by this one's end.
                    self.fake.faults.drop_socket_after_messages = None
                    self.sockets.pop(target, None)
                    self.dropped.add(id(ws))
                    with contextlib.suppress(Exception):
                        await ws.close(code=1011)

    def queue_info(self) -> Json:
        with self.cond:
            return {"exec_info": {"queue_remaining": len(self.queue) + len(self.running)}}

    def queue_updated(self) -> None:
        self.emit("status", {"status": self.queue_info()})

    async def http_error(self, request: Request, exc: HTTPException) -> Response:
        return PlainTextResponse(f"{exc.status_code}: {exc.detail}", exc.status_code)

    def guard(self, template: str, handler: Callable[[Request], Any]) -> Callable[..., Any]:
        """Origin check, Origin recording and injected 500s, then aiohttp's 500 on any exception."""

        async def endpoint(request: Request) -> Response:
            origin = request.headers.get("origin")
            if origin is not None:
                self.fake.origin_headers_seen.append(origin)
            if not origin_allowed(request.headers):
                return _empty(403)
            faults = self.fake.faults.http_500
            path = request.url.path.removeprefix("/api")
            for key in (template, path):
                if faults.get(key, 0) > 0:
                    faults[key] -= 1
                    return PlainTextResponse(SERVER_ERROR, 500)
            try:
                response: Response = await handler(request)
            except Exception:
                return PlainTextResponse(SERVER_ERROR, 500)
            return response

        return endpoint

    # -- websocket ------------------------------------------------------------------------

    async def websocket(self, ws: WebSocket) -> None:
        origin = ws.headers.get("origin")
        if origin is not None:
            self.fake.origin_headers_seen.append(origin)
        if not origin_allowed(ws.headers):
            await ws.close()  # before accept: the handshake is answered 403
            return
        if self.fake.faults.http_500.get("/ws", 0) > 0:
            self.fake.faults.http_500["/ws"] -= 1
            await ws.send_denial_response(PlainTextResponse(SERVER_ERROR, 500))
            return
        await ws.accept()
        sid = ws.query_params.get("clientId", "") or uuid.uuid4().hex
        self.sockets.pop(sid, None)  # a second socket with this id silently takes over
        self.sockets[sid] = ws
        try:
            status = {"status": self.queue_info(), "sid": sid}
            await ws.send_text(json.dumps({"type": "status", "data": status}))
            reconnect = self.fake.faults.reconnect_executing_without_prompt_id
            if self.client_id == sid and self.last_node_id is not None and reconnect:
                await ws.send_text(
                    json.dumps({"type": "executing", "data": {"node": self.last_node_id}})
                )
            first = True
            while True:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                with contextlib.suppress(ValueError, AttributeError):
                    data = json.loads(message.get("text") or "")
                    if first and data.get("type") == "feature_flags":
                        reply = {"type": "feature_flags", "data": FEATURE_FLAGS}
                        await ws.send_text(json.dumps(reply))
                    first = False
        except Exception:  # a broken socket just ends the session, as in aiohttp
            pass
        finally:
            # As on the real server: pops the id even if a newer socket has taken it over.
            if id(ws) in self.dropped:
                self.dropped.discard(id(ws))
            else:
                self.sockets.pop(sid, None)

    # -- queue and execution --------------------------------------------------------------

    def put(self, item: tuple[Any, ...]) -> None:
        with self.cond:
            heapq.heappush(self.queue, (item[0], next(self.order), item))
            self.queue_updated()
            self.cond.notify_all()

    def work(self) -> None:
        while True:
            with self.cond:
                while not self.dead and (
                    not self.queue or not (self.fake._unpaused.is_set() or self.take_one)
                ):
                    self.cond.wait(0.05)
                if self.dead:
                    return
                item = heapq.heappop(self.queue)[2]
                self.take_one = False
                item_id, self.task_counter = self.task_counter, self.task_counter + 1
                self.running[item_id] = item
                self.queue_updated()
            run = Run(self, item)
            self.fake.executed_prompts.append(run.prompt_id)
            try:
                success = run.execute()
            except Killed:
                return
            with self.cond:
                self.running.pop(item_id)
                status = {"status_str": "success" if success else "error", "completed": success,
                          "messages": [list(m) for m in run.messages]}  # fmt: skip
                self.history[run.prompt_id] = {
                    "prompt": list(item), "outputs": run.ui, "status": status, "meta": run.meta,
                }  # fmt: skip
                self.queue_updated()
            run.send("executing", {"node": None, "prompt_id": run.prompt_id})

    def start_next(self) -> None:
        """Have the worker take the next pending prompt now, and wait until it runs."""
        with self.cond:
            prompt_id = self.queue[0][2][1]
            self.take_one = True
            self.cond.notify_all()
            while prompt_id not in (item[1] for item in self.running.values()):
                self.cond.wait(0.01)

    def kill(self) -> None:
        with self.cond:
            self.dead = True
            self.cond.notify_all()

    # -- HTTP routes ----------------------------------------------------------------------

    def handlers(self) -> list[tuple[str, Callable[[Request], Any], str]]:
        return [
            ("/prompt", self.post_prompt, "POST"),
            ("/prompt", self.get_prompt, "GET"),
            ("/queue", self.get_queue, "GET"),
            ("/queue", self.post_queue, "POST"),
            ("/interrupt", self.post_interrupt, "POST"),
            ("/history", self.get_history, "GET"),
            ("/history", self.post_history, "POST"),
            ("/history/{prompt_id}", self.get_history_item, "GET"),
            ("/upload/image", self.upload_image, "POST"),
            ("/view", self.view, "GET"),
            ("/system_stats", self.system_stats, "GET"),
            ("/object_info", self.object_info, "GET"),
            ("/object_info/{node_class}", self.object_info_node, "GET"),
            ("/models", self.models, "GET"),
            ("/models/{folder}", self.models_folder, "GET"),
            ("/embeddings", self.embeddings, "GET"),
            ("/features", self.features, "GET"),
            ("/free", self.free, "POST"),
        ]

    async def post_prompt(self, request: Request) -> Response:
        # Written like server.py's post_prompt so that odd bodies fail the same way.
        json_data = json.loads(await request.body())
        if "number" in json_data:
            number = float(json_data["number"])
        else:
            number = self.number
            if "front" in json_data and json_data["front"]:  # noqa: RUF019 - json_data may be a list
                number = -number
            self.number += 1
        if "prompt" not in json_data:
            missing = {"type": "no_prompt", "message": "No prompt provided",
                       "details": "No prompt provided", "extra_info": {}}  # fmt: skip
            return _json({"error": missing, "node_errors": {}}, 400)
        prompt = json_data["prompt"]
        prompt_id = str(json_data.get("prompt_id", uuid.uuid4()))
        targets = json_data.get("partial_execution_targets")
        valid, error, outputs, node_errors = validate_prompt(prompt, targets, self.fake.catalogue)
        extra_data = json_data.get("extra_data", {})
        if "client_id" in json_data:
            extra_data["client_id"] = json_data["client_id"]
        for key in SENSITIVE_EXTRA_DATA_KEYS:  # kept out of the queue and history
            extra_data.pop(key, None)
        if not valid:
            return _json({"error": error, "node_errors": node_errors}, 400)
        self.put((number, prompt_id, prompt, extra_data, outputs))
        return _json({"prompt_id": prompt_id, "number": number, "node_errors": node_errors})

    async def get_prompt(self, request: Request) -> Response:
        return _json(self.queue_info())

    async def get_queue(self, request: Request) -> Response:
        with self.cond:  # pending in heap order, as the real server lists it
            running = [list(item) for item in self.running.values()]
            pending = [list(entry[2]) for entry in self.queue]
        if pending and self.fake.faults.start_pending_after_queue_read:
            self.fake.faults.start_pending_after_queue_read = False
            self.start_next()
        return _json({"queue_running": running, "queue_pending": pending})

    async def post_queue(self, request: Request) -> Response:
        json_data = json.loads(await request.body())
        with self.cond:
            if "clear" in json_data and json_data["clear"]:  # noqa: RUF019 - may be a list
                self.queue = []
                self.queue_updated()
            for prompt_id in json_data["delete"] if "delete" in json_data else []:  # noqa: SIM401
                index = next((i for i, e in enumerate(self.queue) if e[2][1] == prompt_id), None)
                if index is not None:
                    self.queue.pop(index)
                    heapq.heapify(self.queue)
                    self.queue_updated()
        return _empty()

    async def post_interrupt(self, request: Request) -> Response:
        try:
            json_data = json.loads(await request.body())
        except json.JSONDecodeError:
            json_data = {}
        prompt_id = json_data.get("prompt_id")
        with self.cond:
            running = [item[1] for item in self.running.values()]
        if prompt_id in running and self.fake.faults.interrupt_lands_before_start:
            self.fake.faults.interrupt_lands_before_start = False
        elif not prompt_id or prompt_id in running:  # a targeted one only hits a running one
            self.interrupt.set()
        return _empty()

    async def get_history(self, request: Request) -> Response:
        max_items = request.query_params.get("max_items")
        limit = int(max_items) if max_items is not None else None
        offset = int(request.query_params.get("offset", -1))
        with self.cond:
            if offset < 0 and limit is not None:
                offset = len(self.history) - limit
            items = list(self.history.items())[max(offset, 0) :]
        return _json(dict(items[:limit] if limit is not None else items))

    async def get_history_item(self, request: Request) -> Response:
        prompt_id = request.path_params["prompt_id"]
        with self.cond:
            entry = self.history.get(prompt_id)
            return _json({prompt_id: entry} if entry is not None else {})

    async def post_history(self, request: Request) -> Response:
        json_data = json.loads(await request.body())
        with self.cond:
            if json_data.get("clear"):
                self.history.clear()
            for prompt_id in json_data.get("delete", []):
                self.history.pop(prompt_id, None)
        return _empty()

    async def upload_image(self, request: Request) -> Response:
        form = await request.form()
        image, overwrite = form.get("image"), form.get("overwrite")
        kind = form.get("type")
        kind = "input" if kind is None else kind
        if not image:
            return _empty(400)
        if not isinstance(image, UploadFile) or not isinstance(kind, str):
            raise TypeError("image is not a file")  # aiohttp: AttributeError, so a 500
        upload_dir = str(self.fake.dirs[kind])  # another type: KeyError, a 500 as for real
        filename = image.filename
        if not filename:
            return _empty(400)
        subfolder = str(form.get("subfolder", ""))
        folder = os.path.join(upload_dir, os.path.normpath(subfolder))
        path = os.path.abspath(os.path.join(folder, filename))
        if os.path.commonpath((upload_dir, path)) != upload_dir:
            return _empty(400)
        os.makedirs(folder, exist_ok=True)
        data = await image.read()
        stem, ext = os.path.splitext(filename)
        duplicate = False
        if overwrite not in ("true", "1"):  # same name, other bytes: "x (1).png"
            i = 1
            while os.path.exists(path):
                if Path(path).read_bytes() == data:
                    duplicate = True
                    break
                filename = f"{stem} ({i}){ext}"
                path = os.path.join(folder, filename)
                i += 1
        if not duplicate:
            Path(path).write_bytes(data)
        self.fake.uploads[f"{subfolder}/{filename}" if subfolder else filename] = data
        return _json({"name": filename, "subfolder": subfolder, "type": kind})

    async def view(self, request: Request) -> Response:
        query = request.query_params
        if "filename" not in query:
            return _empty(404)
        filename = query["filename"]
        output_dir: str | None = None
        annotated = next(
            (k for k in ("output", "input", "temp") if filename.endswith(f"[{k}]")), None
        )
        if annotated is not None:  # "x.png [output]"
            filename, output_dir = filename[: -len(annotated) - 3], str(self.fake.dirs[annotated])
        if not filename or filename[0] == "/" or ".." in filename:
            return _empty(400)
        if output_dir is None:
            kind = query.get("type", "output")
            if kind not in self.fake.dirs:
                return _empty(400)
            output_dir = str(self.fake.dirs[kind])
        if "subfolder" in query:
            full = os.path.join(output_dir, query["subfolder"])
            if os.path.commonpath((os.path.abspath(full), output_dir)) != output_dir:
                return _empty(403)
            output_dir = full
        filename = os.path.basename(filename)
        file = os.path.join(output_dir, filename)
        if not os.path.isfile(file):
            return _empty(404)
        content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        if content_type in ("text/html", "text/html-sandboxed", "application/xhtml+xml",
                            "text/javascript", "text/css"):  # fmt: skip
            content_type = "application/octet-stream"
        headers = {"Content-Disposition": f'filename="{filename}"'}
        return FileResponse(file, headers=headers, media_type=content_type)

    async def system_stats(self, request: Request) -> Response:
        fake = self.fake
        system = {
            "os": os.name, "ram_total": 64 * GIB, "ram_free": 60 * GIB,
            "comfyui_version": "0.3.64", "required_frontend_version": "1.27.10",
            "installed_templates_version": "0.1.95", "required_templates_version": "0.1.95",
            "python_version": sys.version, "pytorch_version": "2.8.0+cu128",
            "embedded_python": False,
            "argv": ["main.py", "--listen", "127.0.0.1", "--port", str(fake.port)],
        }  # fmt: skip
        device = {
            "name": fake.device_name, "type": "cuda", "index": 0,
            "vram_total": fake.vram_total, "vram_free": fake.vram_free,
            "torch_vram_total": fake.torch_vram_total, "torch_vram_free": fake.torch_vram_free,
        }  # fmt: skip
        return _json({"system": system, "devices": [device]})

    async def object_info(self, request: Request) -> Response:
        return _json(self.fake.catalogue.all())

    async def object_info_node(self, request: Request) -> Response:
        node_class = request.path_params["node_class"]
        info = self.fake.catalogue.info(node_class)
        return _json({node_class: info} if info is not None else {})

    async def models(self, request: Request) -> Response:
        return _json(list(MODEL_FOLDERS))

    async def models_folder(self, request: Request) -> Response:
        folder = request.path_params["folder"]
        if folder not in MODEL_FOLDERS:  # also "unet"/"clip": legacy names are no keys
            return _empty(404)
        if folder == "configs":  # shipped with ComfyUI
            return _json(
                load_catalogue()["CheckpointLoader"]["input"]["required"]["config_name"][0]
            )
        return _json(model_files(self.fake.installed_models, folder))

    async def embeddings(self, request: Request) -> Response:
        return _json([])

    async def features(self, request: Request) -> Response:
        return _json(FEATURE_FLAGS)

    async def free(self, request: Request) -> Response:
        if json.loads(await request.body()).get("free_memory"):
            self.cache.clear()
        return _empty()


class FakeComfyUI:
    """A fake ComfyUI on 127.0.0.1, served by uvicorn in a background thread."""

    def __init__(
        self,
        root: Path,
        *,
        installed_models: Mapping[str, list[str]] | None = None,
        vram_total: int = 24 * GIB,
        vram_free: int = 23 * GIB,
        device_name: str = "cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync",
        node_delay_s: float = 0.01,
    ) -> None:
        self.dirs = {kind: (root / kind).resolve() for kind in ("input", "output", "temp")}
        for folder in self.dirs.values():
            folder.mkdir(parents=True, exist_ok=True)
        # Mutable: what a test adds here shows in /object_info and /models at once.
        self.installed_models = {k: list(v) for k, v in (installed_models or {}).items()}
        self.catalogue = Catalogue(self.installed_models, self.dirs)
        self.faults = Faults()
        self.vram_total, self.vram_free, self.device_name = vram_total, vram_free, device_name
        self.torch_vram_total, self.torch_vram_free = 0, 0
        self.node_delay_s = node_delay_s
        self.uploads: dict[str, bytes] = {}
        self.executed_prompts: list[str] = []  # ids whose execution started: "ran once"
        self.origin_headers_seen: list[str] = []
        self.port = free_port()
        self._unpaused = threading.Event()
        self._unpaused.set()
        self._server: _Server | None = None
        self._served: Served | None = None
        self._coming_back: threading.Timer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def server(self) -> _Server:
        assert self._server is not None, "the fake is not running"
        return self._server

    def __enter__(self) -> FakeComfyUI:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        server = _Server(self)
        self._served = Served(
            server.app, self.port, "fake ComfyUI",
            ws="websockets-sansio", lifespan="on", timeout_graceful_shutdown=1,
        )  # fmt: skip
        self._served.start()
        self._server = server
        server.worker.start()

    def stop(self) -> None:
        if self._coming_back is not None:  # a restart under way stays down
            self._coming_back.cancel()
            self._coming_back.join()
            self._coming_back = None
        if self._server is not None:
            self._server.kill()
        if self._served is not None:
            self._served.stop()
        if self._server is not None:
            self._server.worker.join(5)
        self._server = self._served = None

    def restart(self, down_s: float = 0.0) -> None:
        """A server restart: queue, history, cache and running prompt lost, sockets closed.

        `down_s`: how long nothing listens on the port (a real ComfyUI took 10-15 s); the
        fake then comes back in the background, so this returns as soon as it is down.
        """
        self.stop()
        if down_s <= 0:
            self.start()
            return
        self._coming_back = threading.Timer(down_s, self.start)
        self._coming_back.daemon = True
        self._coming_back.start()

    def pause(self) -> None:
        """Stop taking prompts off the queue (a running one finishes), so they stay pending."""
        self._unpaused.clear()

    def resume(self) -> None:
        self._unpaused.set()

    def history_ids(self) -> list[str]:
        with self.server.cond:
            return list(self.server.history)

    def history(self, prompt_id: str) -> Json | None:
        with self.server.cond:
            return self.server.history.get(prompt_id)

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until nothing is queued or running."""
        deadline = time.monotonic() + timeout
        while self.server.queue_info()["exec_info"]["queue_remaining"]:
            if time.monotonic() > deadline:
                raise TimeoutError("fake ComfyUI still busy")
            time.sleep(0.005)


@pytest.fixture(name="fake_comfyui")
def fake_comfyui_fixture(tmp_path: Path) -> Iterator[FakeComfyUI]:
    """A running fake ComfyUI with no models installed and an empty input folder.

    Import `fake_comfyui_fixture` (the fixture is named `fake_comfyui`): importing it under
    the name the tests take as an argument makes ruff report F811 on every test.
    """
    with FakeComfyUI(tmp_path / "comfyui") as fake:
        yield fake


fake_comfyui = fake_comfyui_fixture  # the same fixture under the name the brief documents
