"""HTTP and websocket client for one ComfyUI server: upload, submit, follow, fetch, cancel.

Every call has a deadline. No Origin header is ever sent: ComfyUI answers 403 to a /prompt
or /ws whose Origin does not match its Host. The prompt id is the caller's, so after a crash
the same id finds the earlier run (in the queue or the history) instead of running twice.
"""

from __future__ import annotations

import functools
import json
import math
import ssl
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from websockets.exceptions import InvalidHandshake, WebSocketException
from websockets.sync.client import ClientConnection, connect

from i2v.backends.comfyui.catalog import LOADER_FOLDERS, NodeCatalog, model_folder
from i2v.backends.comfyui.events import BACKEND, OutputFile, PromptState, RunTracker
from i2v.backends.comfyui.graph import ApiGraph
from i2v.errors import (
    BackendError,
    BackendProtocolError,
    ModelNotInstalled,
    NodeError,
    ServerUnreachable,
    WorkflowInvalid,
)

Clock = Callable[[], float]
Sleep = Callable[[float], None]
ProgressFn = Callable[[float], None]
POLL_S = 1.0  # /history polling while the socket is down, and the socket's read timeout
CANCEL_POLL_S = 0.1  # between checks that a cancelled prompt stopped
CHUNK = 1 << 20


@dataclass(slots=True)
class _RunDeadline:
    """A run's time limit, counted from when its prompt is first seen executing: time spent
    waiting for a GPU or in the server's queue is not the run's (each run ahead of it has a
    limit of its own, so the wait is bounded too)."""

    seconds: float
    clock: Clock
    ends: float = math.inf

    def passed(self, tracker: RunTracker) -> bool:
        if self.ends == math.inf and tracker.state is PromptState.RUNNING:
            self.ends = self.clock() + self.seconds
        return self.clock() >= self.ends


@functools.cache
def verifying_tls() -> ssl.SSLContext:
    """The process's one TLS context for https:// servers, made on first use: loading the CA
    bundle took 18-42 ms, more than every other call a job makes to its server."""
    return httpx.create_ssl_context()


@dataclass(frozen=True, slots=True)
class Uploaded:
    name: str
    subfolder: str
    type: str


@dataclass(frozen=True, slots=True)
class Device:
    name: str
    vram_total: int
    vram_free: int


@dataclass(frozen=True, slots=True)
class SystemStats:
    comfyui_version: str | None
    devices: tuple[Device, ...]


@dataclass(frozen=True, slots=True)
class Readiness:
    missing_nodes: tuple[str, ...]
    missing_models: tuple[tuple[str, str], ...]  # (models folder, file name)

    @property
    def ready(self) -> bool:
        return not self.missing_nodes and not self.missing_models

    @classmethod
    def of(
        cls, catalog: NodeCatalog, nodes: Iterable[str], models: Iterable[tuple[str, str]]
    ) -> Readiness:
        """What `catalog` lacks of `nodes` and of `models` (folder, file name): a model counts
        as present when a loader's combo list offers it, as a prompt is validated."""
        missing_nodes = tuple(sorted(n for n in set(nodes) if not catalog.has(n)))
        missing_models = []
        for folder, name in models:
            loaders = [key for key, where in LOADER_FOLDERS.items() if where == folder]
            offered = {
                option
                for class_type, input_name in loaders
                if catalog.has(class_type)
                for option in catalog.combo(class_type, input_name) or ()
            }
            if name not in offered:
                missing_models.append((folder, name))
        return cls(missing_nodes, tuple(missing_models))


def _reason(item: Mapping[str, Any], input_name: object = None) -> str:
    """ComfyUI's `message` with its `details`: either alone may be the useful half.

    "Value 0 smaller than min of 1" comes with the details "amount", while "Value not in
    list" comes with "upscale_method: 'foo' not in [...]". The input's name, which the
    caller shows already, is dropped from the front of the details.
    """
    message = str(item.get("message") or "").strip()
    details = str(item.get("details") or "").strip()
    if isinstance(input_name, str) and input_name and details.startswith(input_name):
        details = details[len(input_name) :].lstrip(" ,:-")
    if not details or details in message:
        return message
    return f"{message} ({details})" if message else details


@dataclass(frozen=True, slots=True)
class QueueState:
    running: tuple[str, ...]
    pending: tuple[str, ...]


class ComfyClient:
    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._timeout_s = timeout_s
        self._clock, self._sleep = clock, sleep
        self._https = urlsplit(self.base_url).scheme == "https"
        # Plain HTTP never uses a TLS context; a bare one loads no CA bundle (0.1 ms) and,
        # trusting no one, could verify no server if it ever were used.
        self._http = httpx.Client(
            base_url=self.base_url,
            transport=transport,
            timeout=timeout_s,
            verify=verifying_tls() if self._https else ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT),
        )

    def __enter__(self) -> ComfyClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # ---- plain HTTP -------------------------------------------------------------------

    def _request(
        self, method: str, path: str, *, prompt_id: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise self._unreachable(f"{method} {path} timed out ({exc})", prompt_id) from exc
        except httpx.TransportError as exc:
            raise self._unreachable(f"{method} {path} failed: {exc}", prompt_id) from exc
        if response.status_code >= 500:
            message = f"{method} {path} answered {response.status_code}"
            raise self._unreachable(message, prompt_id)
        return response

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise BackendProtocolError(
                f"{self.base_url}: {response.request.url.path} answered non-JSON "
                f"({response.status_code})",
                backend=BACKEND,
                server=self.base_url,
            ) from None

    def _unreachable(self, message: str, prompt_id: str | None = None) -> ServerUnreachable:
        return ServerUnreachable(
            f"ComfyUI at {self.base_url}: {message}",
            backend=BACKEND,
            server=self.base_url,
            prompt_id=prompt_id,
        )

    def system_stats(self) -> SystemStats:
        body = self._json(self._request("GET", "/system_stats"))
        system = body.get("system") or {}
        devices = tuple(
            Device(str(d.get("name", "")), int(d.get("vram_total", 0)), int(d.get("vram_free", 0)))
            for d in body.get("devices") or ()
        )
        return SystemStats(system.get("comfyui_version"), devices)

    def object_info(self) -> NodeCatalog:
        return NodeCatalog.from_json(self._json(self._request("GET", "/object_info")))

    def readiness(
        self, required_nodes: Iterable[str], models: Iterable[tuple[str, str]]
    ) -> Readiness:
        """Whether this server can run a workflow: it answers, has the nodes and the models.

        `models` are (folder, file name) pairs; a model counts as present when its loader's
        combo list offers it, which is what a prompt will be validated against.
        """
        self.system_stats()
        return Readiness.of(self.object_info(), required_nodes, models)

    def upload_image(self, data: bytes, name: str) -> Uploaded:
        """Upload under `name`; the same bytes keep the name, so a repeat is harmless."""
        files = {"image": (name, data, "application/octet-stream")}
        response = self._request("POST", "/upload/image", files=files, data={"type": "input"})
        if response.status_code != 200:
            raise BackendProtocolError(
                f"{self.base_url}: uploading {name} answered {response.status_code}",
                backend=BACKEND,
                server=self.base_url,
            )
        body = self._json(response)
        return Uploaded(str(body["name"]), str(body.get("subfolder", "")), str(body["type"]))

    def submit(self, graph: ApiGraph, *, client_id: str, prompt_id: str) -> None:
        body = {"prompt": graph.to_json(), "client_id": client_id, "prompt_id": prompt_id}
        response = self._request("POST", "/prompt", json=body, prompt_id=prompt_id)
        if response.status_code == 200:
            return
        raise self._refusal(self._json(response), graph, prompt_id)

    def _refusal(self, body: Any, graph: ApiGraph, prompt_id: str) -> BackendError:
        """A 400 from /prompt as a typed error: a missing model, or an invalid workflow."""
        where = {"backend": BACKEND, "server": self.base_url, "prompt_id": prompt_id}
        error = body.get("error") if isinstance(body, Mapping) else None
        found: list[NodeError] = []
        for node_id, entry in (body.get("node_errors") or {}).items():
            for item in entry.get("errors") or ():
                extra = item.get("extra_info") or {}
                found.append(
                    NodeError(
                        node_id=str(node_id),
                        class_type=str(entry.get("class_type", "")),
                        input_name=extra.get("input_name"),
                        kind=str(item.get("type", "")),
                        message=_reason(item, extra.get("input_name")),
                        received=extra.get("received_value"),
                    )
                )
        missing = [
            (folder, str(e.received))
            for e in found
            if e.kind == "value_not_in_list"
            and (folder := model_folder(e.class_type, e.input_name or "", e.received))
        ]
        if missing:
            return ModelNotInstalled(missing, **where)
        summary = "; ".join(
            f"node {e.node_id} ({e.class_type}) {e.input_name or ''}: {e.message}".replace(
                " :", ":"
            )
            for e in found
        ) or (_reason(error) if isinstance(error, Mapping) else None)
        return WorkflowInvalid(
            f"ComfyUI at {self.base_url} refused the workflow: {summary or body}",
            node_errors=tuple(found),
            **where,
        )

    def history(self, prompt_id: str) -> Mapping[str, Any] | None:
        """The history entry of `prompt_id`, or None (queued, running, or unknown alike)."""
        body = self._json(self._request("GET", f"/history/{prompt_id}"))
        entry = body.get(prompt_id) if isinstance(body, Mapping) else None
        return entry if isinstance(entry, Mapping) else None

    def queue(self) -> QueueState:
        body = self._json(self._request("GET", "/queue"))

        def ids(items: Any) -> tuple[str, ...]:
            return tuple(str(item[1]) for item in items or () if len(item) > 1)

        return QueueState(ids(body.get("queue_running")), ids(body.get("queue_pending")))

    def state(self, prompt_id: str) -> PromptState:
        """Where `prompt_id` is now; /history alone cannot tell queued from unknown."""
        entry = self.history(prompt_id)
        if entry is not None:
            status = (entry.get("status") or {}).get("status_str")
            return PromptState.FAILED if status == "error" else PromptState.SUCCEEDED
        queue = self.queue()
        if prompt_id in queue.running:
            return PromptState.RUNNING
        if prompt_id in queue.pending:
            return PromptState.PENDING
        return PromptState.UNKNOWN

    def cancel(self, prompt_id: str, *, deadline: float) -> None:
        """Stop the prompt wherever it is, then check that it stopped.

        It is deleted from the queue and then interrupted, both aimed at it alone, without
        reading the queue first: one that starts between a read and the action would be
        neither. A server also drops an interrupt that lands just before the run begins, and
        heeds one only between nodes, so both are sent again until the prompt is neither
        pending nor running, or `deadline` passes (a BackendError: it is still running).
        """
        while True:
            self._request("POST", "/queue", json={"delete": [prompt_id]}, prompt_id=prompt_id)
            self._request("POST", "/interrupt", json={"prompt_id": prompt_id}, prompt_id=prompt_id)
            if self.state(prompt_id) not in (PromptState.PENDING, PromptState.RUNNING):
                return
            if self._clock() >= deadline:
                raise BackendError(
                    f"ComfyUI at {self.base_url}: prompt {prompt_id} still runs after a cancel",
                    backend=BACKEND,
                    server=self.base_url,
                    prompt_id=prompt_id,
                )
            self._sleep(max(0.0, min(CANCEL_POLL_S, deadline - self._clock())))

    def download(self, output: OutputFile, dest: Path, *, prompt_id: str | None = None) -> Path:
        params = {"filename": output.filename, "subfolder": output.subfolder, "type": output.type}
        try:
            with self._http.stream("GET", "/view", params=params) as response:
                if response.status_code != 200:
                    raise BackendProtocolError(
                        f"{self.base_url}: /view of {output.filename} answered "
                        f"{response.status_code}",
                        backend=BACKEND,
                        server=self.base_url,
                        prompt_id=prompt_id,
                    )
                with dest.open("wb") as fh:
                    for chunk in response.iter_bytes(CHUNK):
                        fh.write(chunk)
        except httpx.TransportError as exc:
            raise self._unreachable(f"downloading {output.filename} failed: {exc}") from exc
        return dest

    # ---- following a run ------------------------------------------------------------

    def ws_url(self, client_id: str) -> str:
        parts = urlsplit(self.base_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        return urlunsplit((scheme, parts.netloc, f"{parts.path}/ws", f"clientId={client_id}", ""))

    @contextmanager
    def socket(self, client_id: str) -> Iterator[ClientConnection | None]:
        """The run's websocket, or None if it cannot be opened now (polling takes over)."""
        try:
            # origin=None: websockets then sends no Origin header, which ComfyUI would check.
            # connect() opens the connection at once, so its failures are caught here.
            opener = connect(
                self.ws_url(client_id),
                origin=None,
                open_timeout=self._timeout_s,
                close_timeout=1,
                max_size=None,  # preview frames can be large
                ssl=verifying_tls() if self._https else None,
            )
            connection = opener.__enter__()
        except (OSError, InvalidHandshake, TimeoutError, WebSocketException):
            yield None
            return
        try:
            yield connection
        finally:
            opener.__exit__(None, None, None)

    def follow(
        self,
        tracker: RunTracker,
        client_id: str,
        *,
        timeout_s: float,
        on_progress: ProgressFn,
        socket: ClientConnection | None = None,
        attached: bool = False,
    ) -> RunTracker:
        """Follow the run to its end over the websocket, polling /history when it drops.

        Each quiet second also checks /history, so a message missed while reconnecting
        cannot leave the run waiting forever; the history entry is the final word.
        `timeout_s` counts from when the prompt starts executing (see _RunDeadline).
        `attached`: the run was submitted earlier (by a crashed worker, say), so it may be
        over already, its messages gone with it; its state is read before any message.
        """
        deadline = _RunDeadline(timeout_s, self._clock)
        if attached:
            self._poll(tracker)
        while not tracker.finished:
            self._check_deadline(tracker, deadline)
            if socket is not None:
                self._read(tracker, socket, deadline, on_progress)
                socket = None
                continue
            with self.socket(client_id) as fresh:
                if fresh is None:
                    self._poll(tracker)
                    on_progress(tracker.fraction)
                    if not tracker.finished:
                        self._sleep(POLL_S)
                else:
                    self._read(tracker, fresh, deadline, on_progress)
        if tracker.state is PromptState.SUCCEEDED and not tracker.outputs:
            entry = self.history(tracker.prompt_id)  # `executed` messages may have been missed
            if entry is not None:
                tracker.apply_history(entry)
        return tracker

    def _check_deadline(self, tracker: RunTracker, deadline: _RunDeadline) -> None:
        if deadline.passed(tracker):
            # Not retryable: the time allowed for the whole run is spent, on any server.
            raise ServerUnreachable(
                f"ComfyUI at {self.base_url}: the run missed its deadline",
                backend=BACKEND,
                server=self.base_url,
                prompt_id=tracker.prompt_id,
                retryable=False,
            )

    def _read(
        self,
        tracker: RunTracker,
        socket: ClientConnection,
        deadline: _RunDeadline,
        on_progress: ProgressFn,
    ) -> None:
        """Read messages until the run ends or the socket drops (then poll once)."""
        while not tracker.finished:
            self._check_deadline(tracker, deadline)
            try:
                raw = socket.recv(timeout=POLL_S)
            except TimeoutError:
                self._poll(tracker)
                on_progress(tracker.fraction)  # also while queued: lets a cancel get through
                continue
            except WebSocketException:
                self._poll(tracker)
                return
            if isinstance(raw, bytes):
                continue  # preview images: an 8-byte header and a picture
            try:
                message = json.loads(raw)
            except ValueError:
                continue
            if isinstance(message, Mapping) and tracker.handle(message):
                on_progress(tracker.fraction)

    def _poll(self, tracker: RunTracker) -> None:
        state = self.state(tracker.prompt_id)
        if state is PromptState.UNKNOWN:
            state = self.state(tracker.prompt_id)  # it may have finished between two reads
        if state is PromptState.UNKNOWN:
            # Neither queued nor in history: the server restarted and lost it.
            raise self._unreachable(
                f"prompt {tracker.prompt_id} is gone (the server restarted?)", tracker.prompt_id
            )
        if state in (PromptState.SUCCEEDED, PromptState.FAILED):
            entry = self.history(tracker.prompt_id)
            if entry is not None:
                tracker.apply_history(entry)
        elif state is PromptState.RUNNING:
            tracker.state = state
