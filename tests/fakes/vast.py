"""A fake Vast.ai REST API for tests: offers, instances booting a real fake ComfyUI, and faults.

It follows Vast's own OpenAPI files and the vastai CLI 1.9.1 (`vastai/api/*.py`): the same
paths, JSON shapes, status codes and error bodies (`{"success": false, "error", "msg"}`, a
429 with `{"detail": ...}` and Retry-After), v1 instance paging with `next_token`, ports as
`{"8188/tcp": [{"HostIp", "HostPort"}]}`, `extra_env` as `[key, value]` pairs. Like Vast,
`onstart` only runs for SSH/Jupyter runtypes; with runtype "args" the image's CMD runs
(here: the template starts ComfyUI on 8188 with only `installed_models`).

Billing is kept as Vast keeps it: each instance costs its own `dph_total` per hour, per second,
from its `start_date` until it is destroyed (or vanishes), on the fake's clock (injectable).
A stopped instance bills on at the full price (Vast would charge only its disk): the fleet
never stops instances, so that is not modelled.

    with FakeVast(tmp_path) as fake:
        provider = VastProvider(fake.api_key, base_url=fake.url)
"""

from __future__ import annotations

import asyncio
import base64
import json
import operator
import re
import shlex
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.comfyui import FakeComfyUI
from tests.fakes.serving import Served, free_port

Json = dict[str, Any]
TEMPLATE_COMFY_ROOT = "/workspace/ComfyUI"  # where the template image keeps ComfyUI
ONSTART_LIMIT = 4096  # create_instance.yaml x-input-validation: args + args_str + onstart
LABEL_LIMIT = 256
PAGE_MAX = 25
AUTH_ERROR = {"success": False, "error": "auth_error", "msg": "Invalid user key"}
NGINX_ERROR = (
    "<html>\r\n<head><title>{status} {phrase}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {phrase}</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)
NOT_FILTERS = {"order", "limit", "type", "allocated_storage", "disable_bundling"}
HOUR = Decimal(3600)


@dataclass
class Faults:
    """Failure injection; all off by default."""

    rate_limit_next: int = 0  # answer 429 with Retry-After to the next N requests
    retry_after: str = "2"  # the Retry-After those 429s carry (seconds or an HTTP date)
    fail_next: int = 0  # answer the next N requests with fail_status
    fail_status: int = 500
    slow_s: float = 0.0  # delay every response
    take_offer_on_launch: set[int] = field(default_factory=set)  # rented just before launch
    taken_status: int = 404  # 404 no_such_ask; 410 where cancel_unavail refuses
    never_ready: bool = False  # instances stay `loading`
    fail_creates: int = 0  # answer the next N create calls with nginx's 500 page...
    fail_creates_after_creating: bool = False  # ...having created the instance (else not)


@dataclass
class Bill:
    """One instance's charges: its price, and when (on the fake's clock) it began and ended."""

    instance_id: str
    usd_per_hour: Decimal
    start: float
    end: float | None = None  # still running

    def seconds(self, now: float) -> float:
        return max(0.0, (now if self.end is None else self.end) - self.start)

    def usd(self, now: float) -> Decimal:
        return Decimal(self.seconds(now)) * self.usd_per_hour / HOUR


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    json: Any
    authorization: str | None


def offer(
    ask_id: int,
    gpu_name: str,
    gpu_ram_mb: int,
    dph_base: float,
    reliability: float,
    *,
    cuda: float = 12.8,
    disk_gb: float = 200.0,
    geolocation: str = "Texas, US",
    num_gpus: int = 1,
    verified: bool = True,
    storage_cost: float = 0.15,
) -> Json:
    """One offer row as /bundles/ returns it (a subset of search_offers.yaml's example)."""
    return {
        "id": ask_id, "ask_contract_id": ask_id, "bundle_id": ask_id + 7_000_000,
        "machine_id": ask_id % 100_000, "host_id": 1000 + ask_id % 997,
        "gpu_name": gpu_name, "num_gpus": num_gpus, "gpu_ram": gpu_ram_mb,
        "gpu_total_ram": gpu_ram_mb * num_gpus, "gpu_arch": "nvidia", "gpu_frac": 1.0,
        "cuda_max_good": cuda, "driver_version": "570.133.07", "compute_cap": 890,
        "cpu_cores_effective": 16.0, "cpu_ram": 64_000, "disk_space": disk_gb, "disk_bw": 2000.0,
        "inet_down": 900.0, "inet_up": 600.0, "direct_port_count": 20,
        "dph_base": dph_base, "dph_total": dph_base, "storage_cost": storage_cost,
        "reliability": reliability, "reliability2": reliability, "geolocation": geolocation,
        "verified": verified, "verification": "verified" if verified else "unverified",
        "rentable": True, "rented": False, "external": False, "is_bid": False,
        "public_ipaddr": "127.0.0.1", "static_ip": True, "duration": 2_592_000.0,
    }  # fmt: skip


def default_offers() -> list[Json]:
    """Cheapest first would be 4080 (16 GB), unverified 4090, 2x3090, ... so filters matter."""
    return [
        offer(101, "RTX 4080", 16_376, 0.15, 0.99),
        offer(102, "RTX 4090", 24_564, 0.28, 0.995, verified=False),
        offer(103, "RTX 3090", 24_576, 0.30, 0.99, num_gpus=2, geolocation="Quebec, CA"),
        offer(104, "RTX 3090", 24_576, 0.20, 0.97, cuda=12.2, geolocation="Quebec, CA"),
        offer(105, "RTX 4090", 24_564, 0.35, 0.998, geolocation="Oslo, NO"),
        offer(106, "RTX 4090", 24_564, 0.42, 0.91),
        offer(107, "RTX A6000", 49_140, 0.50, 0.999, geolocation="Virginia, US"),
        offer(108, "RTX 5090", 32_607, 0.65, 0.996, cuda=12.9, disk_gb=500.0),
        offer(109, "H100 SXM", 81_559, 1.90, 0.999, disk_gb=1000.0, geolocation="Hesse, DE"),
        offer(110, "RTX 4090", 24_564, 0.33, 0.99, disk_gb=40.0),
    ]


def _country(geolocation: Any) -> Any:
    if isinstance(geolocation, str) and "," in geolocation:
        return geolocation.rsplit(",", 1)[1].strip()
    return geolocation


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq, "neq": operator.ne, "gt": operator.gt, "gte": operator.ge,
    "lt": operator.lt, "lte": operator.le, "in": lambda v, w: v in w,
    "nin": lambda v, w: v not in w, "notin": lambda v, w: v not in w,
}  # fmt: skip


def _matches(value: Any, ops: Mapping[str, Any]) -> bool:
    """Vast's filter operators (search_offers.yaml; v1 select_filters spells nin `notin`)."""
    try:
        return all(_OPS[op](value, want) for op, want in ops.items())
    except (KeyError, TypeError):  # an unknown operator, or None compared with a number
        return False


def _by(key: str) -> Callable[[Json], Any]:
    return lambda row: row.get(key) or 0


def _nginx(status: int) -> Response:
    text = NGINX_ERROR.format(status=status, phrase=HTTPStatus(status).phrase)
    return Response(text, status, media_type="text/html")


def _fail(status: int, error: str, msg: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"success": False, "error": error, "msg": msg, **extra}, status)


def onstart_models(onstart: str) -> dict[str, list[str]]:
    """The model files a provisioning script leaves in ComfyUI: its `[ -f PATH ]` tests."""
    prefix = f"{TEMPLATE_COMFY_ROOT}/models/"
    models: dict[str, list[str]] = {}
    for line in onstart.splitlines():
        try:
            words = shlex.split(line)
        except ValueError:
            continue
        for i, word in enumerate(words[:-1]):
            if word == "-f" and i and words[i - 1] == "[" and words[i + 1].startswith(prefix):
                folder, _, name = words[i + 1][len(prefix) :].partition("/")
                models.setdefault(folder, []).append(name)
    return models


class FakeVast:
    """A fake console.vast.ai on 127.0.0.1, served by uvicorn in a background thread."""

    def __init__(
        self,
        root: Path | None = None,
        *,
        api_key: str = "vast-test-key-5f0c2a9e7b1d4c3a",
        offers: list[Json] | None = None,
        ready_delay_s: float = 0.2,
        installed_models: Mapping[str, list[str]] | None = None,
        clock: Callable[[], float] = time.time,
        node_delay_s: float = 0.01,
    ) -> None:
        self._tmp = None if root else tempfile.TemporaryDirectory(prefix="fake-vast-")
        self.root = root or Path(self._tmp.name)  # type: ignore[union-attr]
        self.api_key = api_key
        self.offers = offers if offers is not None else default_offers()
        self.ready_delay_s = ready_delay_s
        self.installed_models = {k: list(v) for k, v in (installed_models or {}).items()}
        self.faults = Faults()
        self.clock = clock  # epoch seconds: start_date and billing (a test may move it ahead)
        self.node_delay_s = node_delay_s  # each node's run time on the instances' ComfyUI
        self.instances: dict[int, Json] = {}
        self.comfy: dict[int, FakeComfyUI] = {}
        self.requests: list[Recorded] = []
        self.bills: dict[int, Bill] = {}  # every instance ever created, destroyed ones too
        self.lock = threading.RLock()
        self.port = free_port()
        self._next_id = 31_000_001
        self._stops: dict[int, threading.Event] = {}
        self._threads: list[threading.Thread] = []
        self._served: Served | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def creations(self) -> list[Recorded]:
        """Every create-instance call received, refused ones included."""
        return [
            r for r in self.requests if r.method == "PUT" and r.path.startswith("/api/v0/asks/")
        ]

    def billing(self) -> list[tuple[str, float, Decimal]]:
        """(instance id, seconds billed, usd) per instance ever created; running ones to now."""
        with self.lock:
            now = self.clock()
            return [(b.instance_id, b.seconds(now), b.usd(now)) for b in self.bills.values()]

    def billed_usd(self) -> Decimal:
        """Everything billed so far, unrounded (Vast rounds only on the invoice)."""
        return sum((usd for _, _, usd in self.billing()), Decimal(0))

    # -- life -------------------------------------------------------------------------------

    def __enter__(self) -> FakeVast:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._served = Served(
            self._app(), self.port, "fake Vast", lifespan="off", timeout_graceful_shutdown=1
        )
        self._served.start()

    def stop(self) -> None:
        with self.lock:
            for stop in self._stops.values():
                stop.set()
        for thread in self._threads:
            thread.join(10)
        for iid in list(self.comfy):
            self._stop_comfy(iid)
        if self._served is not None:
            self._served.stop()
        self._served = None
        if self._tmp is not None:
            self._tmp.cleanup()

    # -- test controls ----------------------------------------------------------------------

    def vanish(self, instance_id: int | str) -> None:
        """The host went away for good: the instance is gone from every listing."""
        iid = int(instance_id)
        with self.lock:
            self.instances.pop(iid, None)
            self._end_bill(iid)
            if iid in self._stops:
                self._stops[iid].set()
        self._stop_comfy(iid)

    def offline(self, instance_id: int | str) -> None:
        """The host lost contact: actual_status `offline`, ComfyUI unreachable."""
        with self.lock:
            self.instances[int(instance_id)]["actual_status"] = "offline"
        self._stop_comfy(int(instance_id))

    def seed_instance(self, label: str | None, actual_status: str | None = "running") -> int:
        """An instance row made directly, without a launch or a ComfyUI (for listings)."""
        with self.lock:
            row = self._row(offer(999, "RTX 4090", 24_564, 0.3, 0.99), label, {}, {}, 80.0)
            row["actual_status"] = actual_status
            self.instances[row["id"]] = row
            self._open_bill(row)
            return int(row["id"])

    def wait_status(self, instance_id: int | str, status: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while self.instances.get(int(instance_id), {}).get("actual_status") != status:
            if time.monotonic() > deadline:
                raise TimeoutError(f"instance {instance_id} never became {status}")
            time.sleep(0.01)

    # -- HTTP -------------------------------------------------------------------------------

    def _app(self) -> Starlette:
        g = self._guard
        return Starlette(
            routes=[
                Route("/api/v0/bundles/", g(self._search), methods=["POST", "GET"]),
                Route("/api/v0/asks/{ask_id:int}/", g(self._create), methods=["PUT"]),
                Route("/api/v0/instances/", g(self._list_v0), methods=["GET"]),
                Route("/api/v1/instances/", g(self._list_v1), methods=["GET"]),
                Route(
                    "/api/v0/instances/{iid:int}/",
                    g(self._instance),
                    methods=["GET", "PUT", "DELETE"],
                ),
            ]
        )

    def _guard(self, handler: Callable[[Request, Any], Any]) -> Callable[[Request], Any]:
        """Record, delay, rate-limit, fail, authenticate; then the handler with its JSON body."""

        async def endpoint(request: Request) -> Response:
            raw = await request.body()
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = ValueError
            with self.lock:
                self.requests.append(
                    Recorded(
                        request.method, request.url.path, dict(request.query_params),
                        None if body is ValueError else body, request.headers.get("authorization"),
                    )
                )  # fmt: skip
                faults = self.faults
                limited, failed = faults.rate_limit_next > 0, False
                if limited:
                    faults.rate_limit_next -= 1
                elif faults.fail_next > 0:
                    faults.fail_next, failed = faults.fail_next - 1, True
            if faults.slow_s:
                await asyncio.sleep(faults.slow_s)
            if limited:
                detail = {"detail": "API requests too frequent endpoint threshold=4.5"}
                return JSONResponse(detail, 429, headers={"Retry-After": faults.retry_after})
            if failed:
                return _nginx(faults.fail_status)
            given = request.headers.get("authorization") or ""
            if given != f"Bearer {self.api_key}" and (
                request.query_params.get("api_key") != self.api_key
            ):
                return JSONResponse(AUTH_ERROR, 401)
            if body is ValueError:
                return JSONResponse({"error": "invalid_request", "msg": "Invalid json body"}, 400)
            result: Response = await handler(request, body)
            return result

        return endpoint

    async def _search(self, request: Request, body: Any) -> Response:
        query = (
            body if request.method == "POST" else json.loads(request.query_params.get("q", "{}"))
        )
        if not isinstance(query, dict):
            return JSONResponse({"error": "invalid_request", "msg": "Invalid json body"}, 400)
        storage = float(query.get("allocated_storage") or 5.0)
        found = []
        with self.lock:
            for row in self.offers:
                row = dict(row, dph_total=row["dph_base"] + row["storage_cost"] * storage / 720)
                if all(
                    _matches(_country(row.get(k)) if k == "geolocation" else row.get(k), ops)
                    for k, ops in query.items()
                    if k not in NOT_FILTERS and isinstance(ops, dict)
                ):
                    found.append(row)
        for key, direction in reversed(query.get("order") or [["score", "desc"]]):
            if key in {k for row in found for k in row}:
                found.sort(key=_by(key), reverse=direction == "desc")
        return JSONResponse({"offers": found[: int(query.get("limit") or 64)]})

    async def _create(self, request: Request, body: Any) -> Response:
        ask_id = int(request.path_params["ask_id"])
        if not isinstance(body, dict):
            return _fail(400, "invalid_args", "error 400/3467: Invalid args: invalid json")
        onstart = str(body.get("onstart") or "")
        env = body.get("env") or {}
        problem = (
            "image or template_hash_id is required"
            if not (body.get("image") or body.get("template_hash_id"))
            else "env must be an object" if not isinstance(env, dict)
            else f"label over {LABEL_LIMIT} characters"
            if len(body.get("label") or "") > LABEL_LIMIT
            else f"onstart over {ONSTART_LIMIT} characters"
            if len(onstart) + len(str(body.get("args_str") or "")) > ONSTART_LIMIT
            else None
        )  # fmt: skip
        if problem:
            return _fail(
                400, "invalid_args", f"error 400/3467: Invalid args: {problem}", ask_id=ask_id
            )
        with self.lock:
            then_fail = self.faults.fail_creates > 0
            if then_fail:
                self.faults.fail_creates -= 1
            if then_fail and not self.faults.fail_creates_after_creating:
                return _nginx(500)
            ask = next((o for o in self.offers if o["id"] == ask_id), None)
            if ask is not None and ask_id in self.faults.take_offer_on_launch:
                ask.update(rented=True, rentable=False)
            if ask is None or ask["rented"] or not ask["rentable"]:
                status = self.faults.taken_status if ask is not None else 404
                words = "is no longer available" if status == 410 else "is not available"
                code = f"error {status}/{3907 if status == 410 else 3603}"
                error = "no_such_ask" if status == 410 else "invalid_args"
                msg = f"{code}: no_such_ask Instance type by id {ask_id} {words}."
                return _fail(status, error, msg, ask_id=ask_id)
            ask.update(rented=True, rentable=False)
            disk = float(body.get("disk") or 8.0)
            row = self._row(ask, body.get("label"), body, env, disk)
            iid = int(row["id"])
            self.instances[iid] = row
            self._open_bill(row)
            self._stops[iid] = threading.Event()
            boot = threading.Thread(
                target=self._boot, args=(iid,), daemon=True, name="fake-vast-boot"
            )
            self._threads.append(boot)
        boot.start()
        if then_fail:
            return _nginx(500)
        return JSONResponse({"success": True, "new_contract": iid})

    async def _list_v0(self, request: Request, body: Any) -> Response:
        with self.lock:
            return JSONResponse({"instances": [dict(r) for r in self.instances.values()]})

    async def _list_v1(self, request: Request, body: Any) -> Response:
        params = request.query_params
        try:
            limit = int(params.get("limit", PAGE_MAX))
            filters = json.loads(params.get("select_filters") or "{}")
            order = json.loads(params.get("order_by") or "[]")
            if not isinstance(filters, dict) or not isinstance(order, list):
                raise ValueError("not an object and a list")
            if not all(isinstance(f, dict) for f in [*filters.values(), *order]):
                raise ValueError("not objects")
        except ValueError:
            msg = "Error in query parameters: invalid select_filters, order_by or limit"
            return JSONResponse({"error": "invalid_request", "msg": msg}, 400)
        try:
            after = params.get("after_token")
            after_id = json.loads(base64.b64decode(after))["values"]["id"] if after else None
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"error": "invalid_token", "msg": "invalid after_token"}, 400)
        limit = 5 if limit <= 0 else min(limit, PAGE_MAX)
        desc = any(o.get("col") == "id" and o.get("dir") == "desc" for o in order)
        with self.lock:
            rows = sorted(self.instances.values(), key=lambda r: int(r["id"]), reverse=desc)
            rows = [dict(r) for r in rows if all(_matches(r.get(k), f) for k, f in filters.items())]
        total = len(rows)
        if after_id is not None:
            rows = [r for r in rows if (r["id"] < after_id if desc else r["id"] > after_id)]
        page = rows[:limit]
        token = None
        if len(rows) > limit:
            token = base64.b64encode(
                json.dumps({"values": {"id": page[-1]["id"]}}).encode()
            ).decode()
        labels: dict[str, int] = {}
        for row in page:
            labels[row.get("label") or ""] = labels.get(row.get("label") or "", 0) + 1
        return JSONResponse({
            "success": True, "instances_found": len(page), "total_instances": total,
            "label_counts": labels, "next_token": token, "instances": page,
        })  # fmt: skip

    async def _instance(self, request: Request, body: Any) -> Response:
        iid = int(request.path_params["iid"])
        with self.lock:
            row = self.instances.get(iid)
            if request.method == "GET":  # an unknown id: 200 with null, as the CLI expects
                return JSONResponse({"instances": dict(row) if row is not None else None})
            if request.method == "DELETE":
                if row is None:
                    return _fail(404, "not_found", "Instance not found")
                del self.instances[iid]
                self._end_bill(iid)
                if iid in self._stops:
                    self._stops[iid].set()
            elif row is None:
                return _fail(404, "no_such_instance", f"Instance {iid} not found.")
            elif isinstance(body, dict) and "label" in body:
                row["label"] = body["label"]
                return JSONResponse(
                    {"success": True, "msg": f"label for {iid} set to '{row['label']}'"}
                )
            elif isinstance(body, dict) and body.get("state") in ("stopped", "running"):
                row["intended_status"] = row["actual_status"] = body["state"]
                return JSONResponse({"success": True})
            else:
                return _fail(400, "invalid_args", "error 400/1782: Invalid args")
        await asyncio.to_thread(self._stop_comfy, iid)
        return JSONResponse({"success": True, "msg": f"destroying instance {iid}."})

    # -- instances --------------------------------------------------------------------------

    def _row(self, ask: Json, label: Any, body: Json, env: Json, disk: float) -> Json:
        iid, self._next_id = self._next_id, self._next_id + 1
        return {
            "id": iid, "machine_id": ask["machine_id"], "bundle_id": ask["bundle_id"],
            "actual_status": None, "intended_status": "running", "cur_state": "running",
            "next_state": "running", "status_msg": None, "label": label,
            "template_hash_id": body.get("template_hash_id"), "template_id": None,
            "image_uuid": body.get("image") or "vastai/comfy:template",
            "image_runtype": body.get("runtype") or "args", "image_args": [],
            "extra_env": [[str(k), str(v)] for k, v in env.items()],
            "onstart": body.get("onstart"), "public_ipaddr": "127.0.0.1",
            "ssh_host": "ssh4.vast.ai", "ssh_port": 20000 + iid % 10000, "ports": None,
            "start_date": self.clock(), "gpu_name": ask["gpu_name"], "num_gpus": ask["num_gpus"],
            "gpu_ram": ask["gpu_ram"], "gpu_totalram": ask["gpu_ram"], "disk_space": disk,
            "dph_base": ask["dph_base"], "geolocation": ask["geolocation"],
            "dph_total": ask["dph_base"] + ask["storage_cost"] * disk / 720,
            "reliability2": ask["reliability2"], "cuda_max_good": ask["cuda_max_good"],
        }  # fmt: skip

    def _open_bill(self, row: Json) -> None:
        """Charges run from `start_date` at the instance's own `dph_total` (disk included)."""
        price = Decimal(str(row["dph_total"]))
        self.bills[int(row["id"])] = Bill(str(row["id"]), price, float(row["start_date"]))

    def _end_bill(self, iid: int) -> None:
        bill = self.bills.get(iid)
        if bill is not None and bill.end is None:
            bill.end = self.clock()

    def _boot(self, iid: int) -> None:
        """null -> loading -> (ComfyUI up) running, unless destroyed, vanished or never_ready."""
        stop = self._stops[iid]
        if stop.wait(self.ready_delay_s / 2):
            return
        with self.lock:
            row = self.instances.get(iid)
            if row is None:
                return
            row.update(actual_status="loading", status_msg="Pulling image layers")
            runtype, onstart = str(row["image_runtype"]), str(row["onstart"] or "")
            env = dict(row["extra_env"])
        if stop.wait(self.ready_delay_s / 2):
            return
        while self.faults.never_ready:
            if stop.wait(0.02):
                return
        runs_onstart = "ssh" in runtype or "jupyter" in runtype  # Vast's entrypoint
        models = {k: list(v) for k, v in self.installed_models.items()}
        port = re.search(r"--port[ =](\d+)", onstart)
        comfy_port = int(port.group(1)) if runs_onstart and port else 8188
        if runs_onstart:
            for folder, names in onstart_models(onstart).items():
                models.setdefault(folder, []).extend(names)
        comfy = None
        if not runs_onstart or "main.py" in onstart:  # args: the image's CMD starts ComfyUI
            comfy = FakeComfyUI(
                self.root / f"instance-{iid}",
                installed_models=models,
                node_delay_s=self.node_delay_s,
            )
            comfy.start()
        ports: dict[str, list[dict[str, str]]] = {}
        for key in env:
            mapped = re.fullmatch(r"-p (\d+):(\d+)(/tcp|/udp)?", key)
            if mapped:
                inner = int(mapped.group(2))
                host = comfy.port if comfy and inner == comfy_port else 40000 + inner % 20000
                ports[f"{inner}/{(mapped.group(3) or '/tcp')[1:]}"] = [
                    {"HostIp": "0.0.0.0", "HostPort": str(host)},
                    {"HostIp": "::", "HostPort": str(host)},
                ]
        if runs_onstart:
            ports["22/tcp"] = [{"HostIp": "0.0.0.0", "HostPort": str(20000 + iid % 10000)}]
        with self.lock:
            row = self.instances.get(iid)
            if row is not None and not stop.is_set() and row["actual_status"] == "loading":
                row.update(actual_status="running", ports=ports, status_msg="success, running")
                if comfy is not None:
                    self.comfy[iid] = comfy
                return
        if comfy is not None:
            comfy.stop()

    def _stop_comfy(self, iid: int) -> None:
        with self.lock:
            comfy = self.comfy.pop(iid, None)
        if comfy is not None:
            comfy.stop()


@pytest.fixture(name="fake_vast")
def fake_vast_fixture(tmp_path: Path) -> Iterator[FakeVast]:
    """A running fake Vast with the default offers, no instances and instant-ish boots."""
    with FakeVast(tmp_path / "vast") as fake:
        yield fake


def all_requests_authorized(fake: FakeVast) -> bool:
    return all(r.authorization == f"Bearer {fake.api_key}" for r in fake.requests)
