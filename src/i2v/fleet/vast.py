"""Vast.ai as a GpuProvider: a thin async httpx client for its REST API."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Self

import httpx

from i2v.errors import (
    OfferUnavailable,
    ProviderAuthError,
    ProviderError,
    ProviderRateLimited,
    ProviderRequestError,
    ProviderUnavailable,
)
from i2v.fleet.base import Instance, InstanceState, LaunchSpec, Offer, Requirements
from i2v.fleet.provisioning import COMFY_ROOT, provisioning_script
from i2v.fleet.retry import Failed, RetryPolicy, retry_after_s
from i2v.fleet.vast_offers import PROVIDER, matching_offers, number, offer_query

log = logging.getLogger(__name__)

MAX_RETRY_AFTER_S = 60.0  # like the CLI: a longer Retry-After goes back to the caller
ONSTART_LIMIT = 4096  # args + args_str + onstart (create_instance.yaml x-input-validation)
PAGE_SIZE = 25  # /api/v1/instances/ pages hold at most 25
PORT_ENV = "I2V_COMFY_PORT"  # set at launch, read back from extra_env by query()
# SSH runtypes run Vast's entrypoint, which runs `onstart`; "args" keeps the image's
# entrypoint and ignores onstart (docs: creating-instances-with-api). The CLI's --ssh --direct.
DEFAULT_RUNTYPE = "ssh_direc ssh_proxy"
# With an SSH runtype the image's own CMD does not run, so onstart starts ComfyUI itself.
DEFAULT_COMFY_COMMAND = (
    "cd {root} && nohup python3 main.py --listen 0.0.0.0 --port {port} "
    ">/var/log/i2v-comfyui.log 2>&1 &"
)

S = InstanceState
# actual_status (show_instance.yaml), "actual/intended" where intended_status changes the
# meaning, and cur_state/next_state "unloaded" (destroyed / being destroyed).
_STATES: dict[str, InstanceState] = {
    "null": S.PENDING,  # actual_status null: still being provisioned
    "created": S.PENDING,
    "loading": S.PENDING,  # pulling the image, starting the container
    "rebooting": S.PENDING,
    "running": S.RUNNING,
    "running/stopped": S.STOPPING,
    "loading/stopped": S.STOPPING,
    "stopped": S.STOPPED,  # disk still billed
    "frozen": S.STOPPED,  # paused with memory; GPU still billed
    "exited": S.FAILED,  # the container exited unexpectedly
    "exited/stopped": S.STOPPED,
    "unknown": S.UNKNOWN,  # no recent heartbeat from the host
    "offline": S.UNKNOWN,  # the host disconnected; it may come back
    "unloading": S.STOPPING,
    "unloaded": S.TERMINATED,
}


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _state(row: Mapping[str, Any]) -> InstanceState:
    if row.get("cur_state") == "unloaded":
        key = "unloaded"
    elif row.get("next_state") == "unloaded":
        key = "unloading"
    else:
        actual = row.get("actual_status") or "null"
        combined = f"{actual}/{row.get('intended_status')}"
        key = combined if combined in _STATES else str(actual)
    return _STATES.get(key, InstanceState.UNKNOWN)


def _env(row: Mapping[str, Any]) -> dict[str, str]:
    """extra_env: a list of [key, value] pairs in API rows (the CLI turns it into a dict)."""
    raw = row.get("extra_env")
    if isinstance(raw, dict):
        return {str(k): str(v) for k, v in raw.items()}
    if isinstance(raw, list):
        return {str(p[0]): str(p[1]) for p in raw if isinstance(p, list | tuple) and len(p) == 2}
    return {}


def _host_port(ports: object, port: int) -> str | None:
    """ports["8188/tcp"][0]["HostPort"]: the external port, different from the internal one."""
    if not isinstance(ports, dict):
        return None
    for mapping in ports.get(f"{port}/tcp") or ():
        if isinstance(mapping, dict) and mapping.get("HostPort"):
            return str(mapping["HostPort"])
    return None


def _timestamp(value: object) -> datetime | None:
    seconds = number(value)
    return datetime.fromtimestamp(seconds, UTC) if seconds else None


class VastProvider:
    """GpuProvider for Vast.ai. Idempotent calls retry; a launch is never blindly repeated."""

    name = PROVIDER

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = "https://console.vast.ai",
        timeout_s: float = 30,
        max_retries: int = 4,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
        comfy_port: int = 8188,
        runtype: str = DEFAULT_RUNTYPE,
        comfy_command: str | None = DEFAULT_COMFY_COMMAND,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
    ) -> None:
        self._secret = api_key
        self.comfy_port = comfy_port
        self.runtype = runtype
        self.comfy_command = comfy_command  # None: the template starts ComfyUI itself
        self._retry = RetryPolicy(
            log, max_retries, sleep, backoff_s, max_backoff_s, MAX_RETRY_AFTER_S, jitter=True
        )
        self._http = httpx.AsyncClient(
            base_url=base_url,
            timeout=timeout_s,
            transport=transport,
            follow_redirects=False,  # never carry the key to another host
            headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"},
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- GpuProvider ------------------------------------------------------------------------

    async def search_offers(self, requirements: Requirements) -> list[Offer]:
        query = offer_query(requirements)
        response = await self._call("POST", "/api/v0/bundles/", payload=query, what="search offers")
        rows = self._json(response, "search offers").get("offers")
        if not isinstance(rows, list):
            raise ProviderRequestError("vast search offers: no offers list", provider=PROVIDER)
        return matching_offers(rows, requirements)

    async def launch(self, offer: Offer, spec: LaunchSpec) -> str:
        onstart = provisioning_script(spec.provisioning)
        if self.comfy_command is not None:
            onstart += self.comfy_command.format(root=COMFY_ROOT, port=spec.comfy_port) + "\n"
        if len(onstart) > ONSTART_LIMIT:
            raise ProviderRequestError(
                f"vast launch {spec.label}: the start-up script is {len(onstart)} characters, "
                f"over Vast's limit of {ONSTART_LIMIT}",
                provider=PROVIDER,
            )
        port = spec.comfy_port
        env = {f"-p {port}:{port}": "1", PORT_ENV: str(port), **dict(spec.env)}
        body: dict[str, Any] = {
            "client_id": "me",
            "template_hash_id": spec.template,
            "label": spec.label,
            "disk": spec.disk_gb,
            "env": env,
            "onstart": onstart,
            "runtype": self.runtype,
            "cancel_unavail": True,  # answer 410 rather than leave an instance waiting
        }
        if spec.image:
            body["image"] = spec.image
        what = f"launch {spec.label} on offer {offer.offer_id}"
        response = await self._call(
            "PUT", f"/api/v0/asks/{offer.offer_id}/", payload=body, what=what, idempotent=False
        )
        data = self._json(response, what)
        contract = data.get("new_contract")
        if data.get("success") is False or not isinstance(contract, int | str) or not contract:
            raise self._error(response, what)
        log.info("vast launched instance %s (%s) on offer %s", contract, spec.label, offer.offer_id)
        return str(contract)

    async def query(
        self, ids: Sequence[str] | None = None, *, label_prefix: str | None = None
    ) -> list[Instance]:
        if ids is not None:
            rows = [row for iid in ids if (row := await self._show(iid)) is not None]
        else:
            rows = await self._list_all()
        found = [self._instance(row) for row in rows]
        if label_prefix is not None:
            found = [i for i in found if i.label is not None and i.label.startswith(label_prefix)]
        return found

    async def terminate(self, instance_id: str) -> None:
        what = f"destroy instance {instance_id}"
        response = await self._call(
            "DELETE", f"/api/v0/instances/{instance_id}/", payload={}, what=what, iid=instance_id
        )
        if response.status_code == 404 or _gone(_body(response)):
            log.info("vast instance %s was already gone", instance_id)
            return
        if not response.is_success or _body(response).get("success") is False:
            raise self._error(response, what, instance_id)
        log.info("vast destroyed instance %s", instance_id)

    # -- mapping ----------------------------------------------------------------------------

    def _instance(self, row: Mapping[str, Any]) -> Instance:
        env = _env(row)
        port = int(env[PORT_ENV]) if env.get(PORT_ENV, "").isdigit() else self.comfy_port
        host = str(row.get("public_ipaddr") or "").strip()
        host_port = _host_port(row.get("ports"), port)
        endpoint = None
        if host and host_port:
            endpoint = (
                f"http://[{host}]:{host_port}" if ":" in host else f"http://{host}:{host_port}"
            )
        actual, message = row.get("actual_status"), row.get("status_msg")
        vendor = str(actual) if actual else "provisioning"
        label = row.get("label")
        return Instance(
            provider=PROVIDER,
            instance_id=str(row.get("id")),
            state=_state(row),
            label=str(label) if label is not None else None,
            endpoint=endpoint,
            usd_per_hour=number(row.get("dph_total")),
            gpu_name=str(row["gpu_name"]) if row.get("gpu_name") else None,
            started_at=_timestamp(row.get("start_date")),
            vendor_state=f"{vendor}: {str(message).strip()}" if message else vendor,
        )

    # -- HTTP -------------------------------------------------------------------------------

    async def _show(self, instance_id: str) -> dict[str, Any] | None:
        if not instance_id.isdigit():
            return None  # not a Vast id, so not one Vast knows
        what, path = f"show instance {instance_id}", f"/api/v0/instances/{instance_id}/"
        response = await self._call("GET", path, params={"owner": "me"}, what=what, iid=instance_id)
        if response.status_code == 404:
            return None
        row = self._json(response, what, instance_id).get("instances")
        return row if isinstance(row, dict) else None  # {"instances": null}: not found

    async def _list_all(self) -> list[dict[str, Any]]:
        params = {
            "limit": str(PAGE_SIZE),
            "order_by": json.dumps([{"col": "id", "dir": "asc"}]),
            "select_filters": "{}",
        }
        rows: list[dict[str, Any]] = []
        seen: set[str] = set()
        while True:
            response = await self._call(
                "GET", "/api/v1/instances/", params=params, what="list instances"
            )
            data = self._json(response, "list instances")
            page = data.get("instances")
            if not isinstance(page, list):
                raise ProviderRequestError(
                    "vast list instances: no instances list", provider=PROVIDER
                )
            rows.extend(row for row in page if isinstance(row, dict))
            token = data.get("next_token")
            if not token or not page:
                return rows
            if str(token) in seen:
                raise ProviderRequestError("vast list instances: paging loops", provider=PROVIDER)
            seen.add(str(token))
            params["after_token"] = str(token)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        payload: Any = None,
        params: Mapping[str, str] | None = None,
        idempotent: bool = True,
        iid: str | None = None,
    ) -> httpx.Response:
        """One request with retries; returns any answer but a 429, a 5xx or an auth refusal."""

        async def attempt() -> httpx.Response | Failed:
            try:
                response = await self._http.request(method, path, json=payload, params=params)
            except httpx.TransportError as exc:
                unsent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)  # nothing sent
                reason = f"{type(exc).__name__}: {self._redact(str(exc))}"
                message = self._unavailable(what, reason, idempotent or unsent)
                unavailable = ProviderUnavailable(message, provider=PROVIDER, instance_id=iid)
                return Failed(unavailable, reason, idempotent or unsent, cause=exc)
            status, body = response.status_code, _body(response)
            if status == 429 or status >= 500:
                wait = retry_after_s(response.headers.get("Retry-After"))
                where = self._where(iid, status)
                failure: ProviderError
                if status == 429:  # refused, so even a launch may repeat it; a daily quota may not
                    again = body.get("error") != "search_quota_exceeded"
                    message = self._message(response, what)
                    failure = ProviderRateLimited(message, retry_after_s=wait, **where)
                else:
                    again = idempotent
                    message = self._unavailable(what, f"HTTP {status}", idempotent)
                    failure = ProviderUnavailable(message, **where)
                # A Retry-After of 0 (or a date already past) still backs off: no burst of tries.
                return Failed(failure, f"HTTP {status}", again, retry_after_s=wait or None)
            error = body.get("error")
            if (
                status == 401
                or error == "auth_error"
                or (status == 403 and error != "invalid_args")
            ):
                raise ProviderAuthError(self._message(response, what), **self._where(iid, status))
            return response

        return await self._retry.call(f"vast {what}", attempt)

    @staticmethod
    def _where(iid: str | None, status: int) -> dict[str, Any]:
        return {"provider": PROVIDER, "instance_id": iid, "status": status}

    def _json(self, response: httpx.Response, what: str, iid: str | None = None) -> dict[str, Any]:
        if not response.is_success:
            raise self._error(response, what, iid)
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise ProviderRequestError(
                f"vast {what}: HTTP {response.status_code}, not a JSON object",
                provider=PROVIDER,
                instance_id=iid,
                status=response.status_code,
            )
        return data

    def _error(self, response: httpx.Response, what: str, iid: str | None = None) -> ProviderError:
        body, status = _body(response), response.status_code
        text = f"{body.get('error', '')} {body.get('msg', '')}"
        if what.startswith("launch") and (status in (404, 410) or "no_such_ask" in text):
            return OfferUnavailable(self._message(response, what), provider=PROVIDER, status=status)
        return ProviderRequestError(
            self._message(response, what), provider=PROVIDER, instance_id=iid, status=status
        )

    def _message(self, response: httpx.Response, what: str) -> str:
        body = _body(response)
        detail = (
            " ".join(
                str(body[k]) for k in ("error", "msg", "detail") if body.get(k) not in (None, "")
            )
            or response.text[:200].strip()
        )
        return self._redact(f"vast {what}: HTTP {response.status_code} {detail}".strip())[:500]

    def _unavailable(self, what: str, reason: str, safe: bool) -> str:
        if safe:
            return f"vast {what}: {reason}; retries exhausted"
        return f"vast {what}: {reason}; it may have been created: reconcile by label"

    def _redact(self, text: str) -> str:
        return text.replace(self._secret, "***") if self._secret else text


def _gone(body: Mapping[str, Any]) -> bool:
    """Vast's "no such instance" answers: not_found / no_such_instance, or the words."""
    text = f"{body.get('error', '')} {body.get('msg', '')}".lower()
    return body.get("success") is False and (
        "not_found" in text or "no_such_instance" in text or "not found" in text
    )
