"""A fake RunPod API for tests: REST v1 pods and the GraphQL catalogue, with real fake ComfyUIs.

It speaks what the vendor documents and what users recorded from the live API:

- REST v1 under ``/v1`` (https://rest.runpod.io/v1 and its OpenAPI in runpod/docs
  ``api-reference/openapi.json``): ``POST /pods`` answers 201 with the pod; ``GET /pods`` a
  JSON array (filters ``name``, ``desiredStatus``, ``id``, ``gpuTypeId``); ``GET /pods/{id}``
  the pod or 404 ``{"error":"pod not found","status":404}``; ``DELETE /pods/{id}`` 204;
  ``POST /pods/{id}/stop``. Pod fields as in the OpenAPI ``Pod`` schema: ``desiredStatus``
  (RUNNING, EXITED, TERMINATED), ``costPerHr``, ``portMappings`` (``{"8188": 40123}``, empty
  until the container runs), ``publicIp`` (empty until then), ``ports``, ``gpu``,
  ``lastStartedAt``, ``env``, ``image``, ``templateId``; ``machine`` only with
  ``includeMachine=true``.
- No capacity is a **500** ``{"error":"create pod: There are no instances currently
  available","status":500}`` (recorded from the live API by several projects).
- GraphQL at ``/graphql``: the ``gpuTypes`` (with ``lowestPrice(input:)``) and ``dataCenters``
  queries, parsed for real (operation, selection set, variables) and answered with exactly the
  selected fields; unknown fields are a 400 with ``{"errors":[{"message":...}]}``.

Not verified against the live API, so invented here: the 401 and 429 bodies, the generic 500
body, and the refusal to stop a pod without a volume (RunPod only lets those be terminated).

A pod becomes RUNNING with a port mapping after ``ready_delay_s``; the mapped public port is a
real `FakeComfyUI` on 127.0.0.1 (``publicIp`` is 127.0.0.1), with the model files that the
provisioning script in ``dockerStartCmd`` would have downloaded, stopped when the pod goes.

Billing: each pod costs its own ``costPerHr`` per second from its creation until it is
terminated (or vanishes), on the fake's clock (injectable). Stopping is not modelled (RunPod
would then charge only the volume): the fleet never stops pods.

    with FakeRunPod(root=tmp_path) as fake:
        provider = RunPodProvider(fake.api_key, rest_url=fake.rest_url,
                                  graphql_url=fake.graphql_url)
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import shlex
import shutil
import string
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.comfyui import FakeComfyUI
from tests.fakes.serving import Served, free_port

Json = dict[str, Any]

NO_CAPACITY = "create pod: There are no instances currently available"
_PORT = re.compile(r"^\d{1,5}/(http|tcp)$")
_ID_CHARS = string.ascii_lowercase + string.digits
HOUR = Decimal(3600)


@dataclass(frozen=True)
class FakeGpuType:
    """One entry of the GPU catalogue; `stock` None means none free anywhere right now."""

    id: str
    display_name: str
    memory_gb: int
    secure_price: float | None
    community_price: float | None
    stock: str | None = "High"  # High, Medium, Low or None
    data_centers: tuple[str, ...] = ("US-KS-2", "EU-RO-1")
    secure_cloud: bool = True
    community_cloud: bool = True


DEFAULT_GPU_TYPES = (
    FakeGpuType("NVIDIA RTX A4000", "RTX A4000", 16, 0.25, 0.17),
    FakeGpuType("NVIDIA RTX A5000", "RTX A5000", 24, 0.27, 0.16, "Medium", ("EU-RO-1",)),
    FakeGpuType("NVIDIA GeForce RTX 3090", "RTX 3090", 24, 0.43, 0.22, "Low", ("EUR-IS-1",)),
    FakeGpuType(
        "NVIDIA GeForce RTX 4090",
        "RTX 4090",
        24,
        0.69,
        0.34,
        "High",
        ("US-KS-2", "EU-RO-1", "CA-MTL-1"),
    ),
    FakeGpuType("NVIDIA L40S", "L40S", 48, 0.86, 0.79, "Medium", ("US-TX-3", "EU-RO-1")),
    FakeGpuType("NVIDIA A100 80GB PCIe", "A100 PCIe", 80, 1.64, 1.19, "Low", ("US-KS-2",)),
    FakeGpuType("NVIDIA H100 80GB HBM3", "H100 SXM", 80, 2.99, 2.69, None, ("US-KS-2",)),
    FakeGpuType("unknown", "unknown", 0, None, None, None, (), False, False),  # real, see runpodctl
)

DEFAULT_DATA_CENTERS = {  # id -> (name, location)
    "US-KS-2": ("US-KS-2", "United States"),
    "US-TX-3": ("US-TX-3", "United States"),
    "CA-MTL-1": ("CA-MTL-1", "Canada"),
    "EU-RO-1": ("EU-RO-1", "Romania"),
    "EUR-IS-1": ("EUR-IS-1", "Iceland"),
}


@dataclass
class Faults:
    """Failure injection; every knob is off by default. Counters count down per request."""

    rate_limit_next: int = 0  # answer 429 with Retry-After
    retry_after_s: float = 2.0
    fail_next: int = 0  # answer 500
    error_body: str | None = None  # the body of those 500s, instead of the generic one
    slow_s: float = 0.0  # wait before answering every request
    no_capacity_for: set[str] = field(default_factory=set)  # GPU type ids a create refuses
    never_ready: bool = False  # pods never get a runtime (no ports, no public IP)
    launch_then_fail: bool = False  # POST /pods creates the pod, then answers 500
    hang_after_create_s: float = 0.0  # POST /pods creates the pod, then waits this long


@dataclass
class Bill:
    """One pod's charges: its price, and when (on the fake's clock) it began and ended."""

    pod_id: str
    usd_per_hour: Decimal
    start: float
    end: float | None = None  # still running

    def seconds(self, now: float) -> float:
        return max(0.0, (now if self.end is None else self.end) - self.start)

    def usd(self, now: float) -> Decimal:
        return Decimal(self.seconds(now)) * self.usd_per_hour / HOUR


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


class GraphQLError(Exception):
    def __init__(self, message: str, code: str = "GRAPHQL_VALIDATION_FAILED") -> None:
        super().__init__(message)
        self.message, self.code = message, code


# -- a small GraphQL reader: operations, selection sets, arguments, variables --------------


@dataclass
class _Var:
    name: str


@dataclass
class _Field:
    name: str
    alias: str
    args: dict[str, Any]
    selection: list[_Field] | None


_TOKEN = re.compile(
    r'"(?:[^"\\]|\\.)*"|\$?[_A-Za-z][_0-9A-Za-z]*|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|\.\.\.'
    r"|[{}()\[\]:!=@]"
)


class _Reader:
    def __init__(self, text: str) -> None:
        self.tokens = _TOKEN.findall(re.sub(r"#[^\n]*", "", text))
        self.i = 0

    def peek(self) -> str:
        return self.tokens[self.i] if self.i < len(self.tokens) else ""

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if not token or (expected is not None and token != expected):
            found = token or "<EOF>"
            raise GraphQLError(
                f"Syntax Error: Expected {expected or 'Name'}, found {found}.",
                "GRAPHQL_PARSE_FAILED",
            )
        self.i += 1
        return token

    def operations(self) -> list[tuple[str, str | None, dict[str, Any], list[_Field]]]:
        ops = []
        while self.peek():
            kind, name, declared = "query", None, {}
            if self.peek() != "{":
                kind = self.take()
                if kind not in ("query", "mutation"):
                    raise GraphQLError(
                        f'Syntax Error: Unexpected Name "{kind}".', "GRAPHQL_PARSE_FAILED"
                    )
                if self.peek() not in ("(", "{"):
                    name = self.take()
                if self.peek() == "(":
                    declared = self.variable_definitions()
            ops.append((kind, name, declared, self.selection()))
        return ops

    def variable_definitions(self) -> dict[str, Any]:
        declared: dict[str, Any] = {}
        self.take("(")
        while self.peek() != ")":
            var = self.take()
            self.take(":")
            self.type_ref()
            default = None
            if self.peek() == "=":
                self.take()
                default = self.value()
            declared[var.lstrip("$")] = default
        self.take(")")
        return declared

    def type_ref(self) -> None:
        if self.peek() == "[":
            self.take()
            self.type_ref()
            self.take("]")
        else:
            self.take()
        if self.peek() == "!":
            self.take()

    def selection(self) -> list[_Field]:
        fields = []
        self.take("{")
        while self.peek() != "}":
            alias = name = self.take()
            if self.peek() == ":":
                self.take()
                name = self.take()
            args = {}
            if self.peek() == "(":
                self.take()
                while self.peek() != ")":
                    key = self.take()
                    self.take(":")
                    args[key] = self.value()
                self.take(")")
            sub = self.selection() if self.peek() == "{" else None
            fields.append(_Field(name, alias, args, sub))
        self.take("}")
        return fields

    def value(self) -> Any:
        token = self.take()
        if token.startswith("$"):
            return _Var(token[1:])
        if token.startswith('"'):
            return json.loads(token)
        if token in ("{", "["):
            closing, items, obj = ("}" if token == "{" else "]"), [], {}
            while self.peek() != closing:
                if token == "{":
                    key = self.take()
                    self.take(":")
                    obj[key] = self.value()
                else:
                    items.append(self.value())
            self.take(closing)
            return obj if token == "{" else items
        if token in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[token]
        if re.fullmatch(r"-?\d+", token):
            return int(token)
        if re.fullmatch(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?", token):
            return float(token)
        return token  # an enum value


def _bind(value: Any, variables: Mapping[str, Any], declared: Mapping[str, Any]) -> Any:
    if isinstance(value, _Var):
        if value.name not in declared:
            raise GraphQLError(f'Variable "${value.name}" is not defined.')
        return variables.get(value.name, declared[value.name])
    if isinstance(value, dict):
        return {k: _bind(v, variables, declared) for k, v in value.items()}
    if isinstance(value, list):
        return [_bind(v, variables, declared) for v in value]
    return value


# -- the fake -------------------------------------------------------------------------------


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message, "status": status}, status)


def _stamp(epoch_s: float) -> str:
    return (
        datetime.fromtimestamp(epoch_s, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def installed_from_start_cmd(start_cmd: Sequence[str] | None) -> dict[str, list[str]]:
    """The model files i2v's provisioning script (``sh -c SCRIPT``) would have put in place."""
    models: dict[str, list[str]] = {}
    script = start_cmd[-1] if start_cmd else ""
    for line in script.splitlines():
        if not line.startswith("[ -f "):
            continue
        dest = shlex.split(line)[2]
        _, sep, relative = dest.partition("/models/")
        folder, _, name = relative.rpartition("/")
        if sep and folder and name:
            models.setdefault(folder, []).append(name)
    return models


class FakeRunPod:
    """RunPod's REST v1 and GraphQL on 127.0.0.1, served by uvicorn in a background thread."""

    def __init__(
        self,
        *,
        api_key: str = "rpa_FAKE0123456789SECRETKEY",
        gpu_types: Sequence[FakeGpuType] = DEFAULT_GPU_TYPES,
        data_centers: Mapping[str, tuple[str, str]] | None = None,
        ready_delay_s: float = 0.2,
        installed_models: Mapping[str, list[str]] | None = None,
        comfy_port: int = 8188,
        root: Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.api_key = api_key
        self.gpu_types = {t.id: t for t in gpu_types}
        self.data_centers = dict(data_centers or DEFAULT_DATA_CENTERS)
        self.ready_delay_s = ready_delay_s
        self.installed_models = {k: list(v) for k, v in (installed_models or {}).items()}
        self.comfy_port = comfy_port
        self.faults = Faults()
        self.requests: list[Recorded] = []
        self.pods: dict[str, Json] = {}
        self.comfyuis: dict[str, FakeComfyUI] = {}
        self.clock = clock  # epoch seconds: timestamps and billing (a test may move it ahead)
        self.bills: dict[str, Bill] = {}  # every pod ever created, terminated ones too
        self.port = free_port()
        self._root = root
        self._tmp: str | None = None
        self._lock = threading.RLock()
        self._timers: dict[str, threading.Timer] = {}
        self._closed = False
        self._served: Served | None = None
        routes = [
            Route("/v1/pods", self._guard(self.create_pod), methods=["POST"]),
            Route("/v1/pods", self._guard(self.list_pods), methods=["GET"]),
            Route("/v1/pods/{pod_id}", self._guard(self.get_pod), methods=["GET"]),
            Route("/v1/pods/{pod_id}", self._guard(self.delete_pod), methods=["DELETE"]),
            Route("/v1/pods/{pod_id}/stop", self._guard(self.stop_pod), methods=["POST"]),
            Route("/graphql", self._guard(self.graphql, graphql=True), methods=["POST"]),
        ]
        self.app = Starlette(routes=routes)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def rest_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def graphql_url(self) -> str:
        return f"{self.url}/graphql"

    def __enter__(self) -> FakeRunPod:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._closed = False
        if self._root is None:
            self._tmp = tempfile.mkdtemp(prefix="fake-runpod-")
            self._root = Path(self._tmp)
        self._served = Served(
            self.app, self.port, "fake RunPod", lifespan="off", timeout_graceful_shutdown=1
        )
        self._served.start()

    def stop(self) -> None:
        with self._lock:
            self._closed = True
            timers, self._timers = list(self._timers.values()), {}
            comfyuis, self.comfyuis = list(self.comfyuis.values()), {}
        for timer in timers:
            timer.cancel()
        for comfy in comfyuis:
            comfy.stop()
        if self._served is not None:
            self._served.stop()
        self._served = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)

    # -- test helpers -----------------------------------------------------------------------

    def vanish(self, pod_id: str) -> None:
        """The pod disappears, as when its host goes away: 404 from now on."""
        self._drop(pod_id)

    def requests_to(self, method: str, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path == path]

    def billing(self) -> list[tuple[str, float, Decimal]]:
        """(pod id, seconds billed, usd) per pod ever created; running ones up to now."""
        with self._lock:
            now = self.clock()
            return [(b.pod_id, b.seconds(now), b.usd(now)) for b in self.bills.values()]

    def billed_usd(self) -> Decimal:
        """Everything billed so far, unrounded."""
        return sum((usd for _, _, usd in self.billing()), Decimal(0))

    def _now(self) -> str:
        return _stamp(self.clock())

    # -- plumbing ---------------------------------------------------------------------------

    def _guard(self, handler: Any, graphql: bool = False) -> Any:
        async def endpoint(request: Request) -> Response:
            raw = await request.body()
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode(errors="replace")
            query = {k: request.query_params.getlist(k) for k in request.query_params}
            self.requests.append(
                Recorded(request.method, request.url.path, query, dict(request.headers), body)
            )
            if self.faults.slow_s:
                await asyncio.sleep(self.faults.slow_s)
            if request.headers.get("authorization") != f"Bearer {self.api_key}":
                if graphql:
                    return JSONResponse({"errors": [{"message": "unauthorized"}]}, 401)
                return _error(401, "unauthorized")
            with self._lock:
                if self.faults.rate_limit_next > 0:
                    self.faults.rate_limit_next -= 1
                    retry = {"Retry-After": f"{self.faults.retry_after_s:g}"}
                    return JSONResponse(
                        {"error": "rate limit exceeded", "status": 429}, 429, headers=retry
                    )
                if self.faults.fail_next > 0:
                    self.faults.fail_next -= 1
                    if self.faults.error_body is not None:
                        return Response(self.faults.error_body, 500)
                    return _error(500, "internal server error")
            response: Response = await handler(request, body)
            return response

        return endpoint

    def _pod_view(self, pod: Json, include_machine: bool) -> Json:
        view = {k: v for k, v in pod.items() if not k.startswith("_")}
        if not include_machine:
            view.pop("machine", None)
        copy: Json = json.loads(json.dumps(view))  # later changes do not leak into answers
        return copy

    def _drop(self, pod_id: str) -> Json | None:
        with self._lock:
            pod = self.pods.pop(pod_id, None)
            bill = self.bills.get(pod_id)
            if pod is not None and bill is not None and bill.end is None:
                bill.end = self.clock()
            timer = self._timers.pop(pod_id, None)
            comfy = self.comfyuis.pop(pod_id, None)
        if timer is not None:
            timer.cancel()
        if comfy is not None:
            comfy.stop()
        return pod

    def _bring_up(self, pod_id: str) -> None:
        """The container starts: ComfyUI listens, the runtime maps the ports."""
        with self._lock:
            self._timers.pop(pod_id, None)
            pod = self.pods.get(pod_id)
            if pod is None or pod["desiredStatus"] != "RUNNING" or self.faults.never_ready:
                return
            models = {k: list(v) for k, v in self.installed_models.items()}
            for folder, names in installed_from_start_cmd(pod.get("dockerStartCmd")).items():
                models.setdefault(folder, []).extend(names)
        assert self._root is not None
        comfy = FakeComfyUI(self._root / pod_id, installed_models=models)
        comfy.start()
        with self._lock:
            pod = self.pods.get(pod_id)
            if pod is not None and pod["desiredStatus"] == "RUNNING" and not self._closed:
                self.comfyuis[pod_id] = comfy
                mappings = {}
                for spec in pod["ports"]:
                    number, _, kind = spec.partition("/")
                    if kind == "tcp":
                        mappings[number] = (
                            comfy.port if int(number) == self.comfy_port else free_port()
                        )
                pod.update(
                    portMappings=mappings,
                    publicIp="127.0.0.1",
                    lastStartedAt=self._now(),
                    lastStatusChange=f"Rented by User: {self._now()}",
                )
                return
        comfy.stop()

    def _rentable(self, gpu_id: str, cloud: str, data_centers: set[str]) -> bool:
        gpu = self.gpu_types[gpu_id]
        offered = gpu.secure_cloud if cloud == "SECURE" else gpu.community_cloud
        free = gpu.stock and gpu_id not in self.faults.no_capacity_for
        return bool(offered and free and data_centers.intersection(gpu.data_centers))

    # -- REST v1 ----------------------------------------------------------------------------

    async def create_pod(self, request: Request, body: Any) -> Response:
        if not isinstance(body, dict):
            return _error(400, "invalid request body")
        image, template = body.get("imageName"), body.get("templateId")
        name = body.get("name", "my pod")
        ports = body.get("ports", ["8888/http", "22/tcp"])
        env = body.get("env", {})
        gpu_ids = body.get("gpuTypeIds") or [t.id for t in self.gpu_types.values() if t.stock]
        cloud = body.get("cloudType", "SECURE")
        if not image and not template:
            return _error(400, "create pod: imageName or templateId is required")
        if not isinstance(name, str) or len(name) > 191:
            return _error(400, "create pod: name must be a string of at most 191 characters")
        if not isinstance(ports, list) or not all(
            isinstance(p, str) and _PORT.match(p) for p in ports
        ):
            return _error(400, "create pod: ports must look like 8888/http or 22/tcp")
        if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
            return _error(400, "create pod: env must map names to strings")
        if cloud not in ("SECURE", "COMMUNITY") or any(g not in self.gpu_types for g in gpu_ids):
            return _error(400, "create pod: invalid cloudType or gpuTypeIds")
        wanted_dcs = set(body.get("dataCenterIds") or self.data_centers)
        rentable = (self.gpu_types[g] for g in gpu_ids if self._rentable(g, cloud, wanted_dcs))
        gpu = next(rentable, None)
        if gpu is None:
            return _error(500, NO_CAPACITY)
        price = gpu.secure_price if cloud == "SECURE" else gpu.community_price
        dc = sorted(wanted_dcs.intersection(gpu.data_centers))[0]
        pod_id = "".join(secrets.choice(_ID_CHARS) for _ in range(14))
        gpu_view = {
            "id": gpu.id,
            "count": 1,
            "displayName": gpu.display_name,
            "securePrice": gpu.secure_price,
            "communityPrice": gpu.community_price,
        }
        pod: Json = {
            "id": pod_id,
            "name": name,
            "desiredStatus": "RUNNING",
            "costPerHr": price,
            "adjustedCostPerHr": price,
            "consumerUserId": "user_fake",
            "image": image or "runpod/comfyui:latest",
            "templateId": template,
            "containerDiskInGb": body.get("containerDiskInGb", 50),
            "volumeInGb": body.get("volumeInGb", 20),
            "volumeMountPath": body.get("volumeMountPath", "/workspace"),
            "dockerEntrypoint": body.get("dockerEntrypoint", []),
            "dockerStartCmd": body.get("dockerStartCmd", []),
            "env": env,
            "ports": ports,
            "portMappings": {},
            "publicIp": "",
            "gpu": gpu_view,
            "interruptible": bool(body.get("interruptible", False)),
            "locked": False,
            "lastStartedAt": None,
            "lastStatusChange": f"Rented by User: {self._now()}",
            "machineId": "".join(secrets.choice(_ID_CHARS) for _ in range(12)),
            "memoryInGb": 62,
            "vcpuCount": 16,
            "machine": {
                "gpuTypeId": gpu.id,
                "gpuDisplayName": gpu.display_name,
                "dataCenterId": dc,
                "location": self.data_centers[dc][1],
                "secureCloud": cloud == "SECURE",
                "supportPublicIp": True,
            },
        }
        with self._lock:
            self.pods[pod_id] = pod
            self.bills[pod_id] = Bill(pod_id, Decimal(str(price or 0)), self.clock())
            timer = threading.Timer(self.ready_delay_s, self._bring_up, (pod_id,))
            timer.daemon = True
            self._timers[pod_id] = timer
        timer.start()
        if self.faults.hang_after_create_s:
            await asyncio.sleep(self.faults.hang_after_create_s)
        if self.faults.launch_then_fail:
            return _error(500, "internal server error")
        return JSONResponse(self._pod_view(pod, include_machine=False), 201)

    async def list_pods(self, request: Request, body: Any) -> Response:
        params = request.query_params
        include_machine = params.get("includeMachine") == "true"
        with self._lock:
            pods = [self._pod_view(p, include_machine) for p in self.pods.values()]
        for key in ("name", "id", "desiredStatus"):
            if key in params:
                pods = [p for p in pods if p[key] == params[key]]
        if "gpuTypeId" in params:
            pods = [p for p in pods if p["gpu"]["id"] in params.getlist("gpuTypeId")]
        return JSONResponse(pods)

    async def get_pod(self, request: Request, body: Any) -> Response:
        with self._lock:
            pod = self.pods.get(request.path_params["pod_id"])
            if pod is None:
                return _error(404, "pod not found")
            view = self._pod_view(pod, request.query_params.get("includeMachine") == "true")
        return JSONResponse(view)

    async def delete_pod(self, request: Request, body: Any) -> Response:
        pod = await asyncio.to_thread(self._drop, request.path_params["pod_id"])
        return _error(404, "pod not found") if pod is None else Response(status_code=204)

    async def stop_pod(self, request: Request, body: Any) -> Response:
        pod_id = request.path_params["pod_id"]
        with self._lock:
            pod = self.pods.get(pod_id)
            if pod is None:
                return _error(404, "pod not found")
            if not pod["volumeInGb"]:
                return _error(400, "stop pod: a pod without a volume can only be terminated")
            pod.update(desiredStatus="EXITED", portMappings={}, publicIp="")
            comfy = self.comfyuis.pop(pod_id, None)
            view = self._pod_view(pod, False)
        if comfy is not None:
            await asyncio.to_thread(comfy.stop)
        return JSONResponse(view)

    # -- GraphQL ----------------------------------------------------------------------------

    async def graphql(self, request: Request, body: Any) -> Response:
        try:
            if not isinstance(body, dict) or not isinstance(body.get("query"), str):
                raise GraphQLError("Must provide query string.", "BAD_REQUEST")
            variables = body.get("variables") or {}
            ops = _Reader(body["query"]).operations()
            wanted = body.get("operationName")
            chosen = [op for op in ops if wanted is None or op[1] == wanted]
            if len(chosen) != 1:
                raise GraphQLError(f'Unknown operation named "{wanted}".', "BAD_USER_INPUT")
            kind, _, declared, selection = chosen[0]
            if kind != "query":
                raise GraphQLError(f'Cannot query field "{selection[0].name}" on type "Mutation".')
            data = {f.alias: self._resolve_query(f, variables, declared) for f in selection}
        except GraphQLError as exc:
            errors = [{"message": exc.message, "extensions": {"code": exc.code}}]
            return JSONResponse({"errors": errors}, 400)
        return JSONResponse({"data": data})

    def _resolve_query(
        self, f: _Field, variables: Mapping[str, Any], declared: Mapping[str, Any]
    ) -> Any:
        args = _bind(f.args, variables, declared)
        if f.name == "gpuTypes":
            wanted = (args.get("input") or {}).get("id")
            types = [t for t in self.gpu_types.values() if wanted in (None, t.id)]
            return [
                self._project(self._gpu_fields(t), f, "GpuType", variables, declared) for t in types
            ]
        if f.name == "dataCenters":
            return [
                self._project(self._dc_fields(dc), f, "DataCenter", variables, declared)
                for dc in self.data_centers
            ]
        raise GraphQLError(f'Cannot query field "{f.name}" on type "Query".')

    def _project(
        self,
        values: Mapping[str, Any],
        f: _Field,
        typename: str,
        variables: Mapping[str, Any],
        declared: Mapping[str, Any],
    ) -> Any:
        if f.selection is None:
            raise GraphQLError(
                f'Field "{f.name}" of type "{typename}" must have a selection of subfields.'
            )
        out = {}
        for sub in f.selection:
            if sub.name == "__typename":
                out[sub.alias] = typename
                continue
            if sub.name not in values:
                raise GraphQLError(f'Cannot query field "{sub.name}" on type "{typename}".')
            value = values[sub.name]
            if callable(value):  # a field with arguments, and an object type
                child, child_type = value(_bind(sub.args, variables, declared))
                if isinstance(child, list):
                    value = [self._project(c, sub, child_type, variables, declared) for c in child]
                else:
                    value = (
                        None
                        if child is None
                        else self._project(child, sub, child_type, variables, declared)
                    )
            out[sub.alias] = value
        return out

    def _gpu_fields(self, t: FakeGpuType) -> Json:
        def lowest(args: Json) -> tuple[Json, str]:
            given = args.get("input") or {}
            secure = given.get("secureCloud")  # True, False, or absent: either cloud
            if secure is None:
                offered, price = t.secure_cloud or t.community_cloud, t.community_price
            elif secure:
                offered, price = t.secure_cloud, t.secure_price
            else:
                offered, price = t.community_cloud, t.community_price
            dc = given.get("dataCenterId")
            stock = t.stock if offered and (dc is None or dc in t.data_centers) else None
            return {
                "minimumBidPrice": None,
                "uninterruptablePrice": price,
                "stockStatus": stock,
                "minVcpu": 8,
                "minMemory": 62,
                "maxUnreservedGpuCount": 8 if stock else 0,
                "compliance": [],
            }, "LowestPrice"

        return {
            "id": t.id,
            "displayName": t.display_name,
            "manufacturer": "Nvidia",
            "memoryInGb": t.memory_gb,
            "secureCloud": t.secure_cloud,
            "communityCloud": t.community_cloud,
            "securePrice": t.secure_price,
            "communityPrice": t.community_price,
            "secureSpotPrice": None,
            "communitySpotPrice": None,
            "maxGpuCount": 8,
            "lowestPrice": lowest,
        }

    def _dc_fields(self, dc: str) -> Json:
        name, location = self.data_centers[dc]
        avail = [
            {"gpuTypeId": t.id, "displayName": t.display_name, "stockStatus": t.stock}
            for t in self.gpu_types.values()
            if dc in t.data_centers
        ]
        return {
            "id": dc,
            "name": name,
            "location": location,
            "gpuAvailability": lambda args: (avail, "GpuAvailability"),
        }
