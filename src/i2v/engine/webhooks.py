"""Durable webhook delivery: a DBOS workflow that posts, and on failure sleeps and retries.

DBOS checkpoints each attempt and each sleep, so a delivery due in an hour still happens
after a restart, and a success is never posted twice by a recovered workflow.
"""

from __future__ import annotations

import random
import time
from typing import Any

import anyio
from dbos import DBOS

from i2v.db import jobs as repo
from i2v.engine.context import current
from i2v.errors import FetchError, I2VError
from i2v.net.fetch import SafeFetcher, policy_from_settings
from i2v.net.webhooks import SIGNATURE_HEADER, WebhookEvent, next_delay, sign
from i2v.services.webhook_payload import webhook_payload

DELIVER_NAME = "i2v.deliver_webhook"


@DBOS.step(name="i2v.webhook_payload")
def payload(job_id: str, kind: str) -> dict[str, Any]:
    found = webhook_payload(current().app, job_id, kind)
    if found is None:
        return {}
    # Checkpointed in this shape: deliveries in flight across an upgrade replay it as is.
    event = {"event_id": found.event_id, "type": found.type, "job": found.job}
    return {"url": found.url, "event": event}


@DBOS.step(name="i2v.webhook_post")
def post(url: str, event: dict[str, Any], attempt: int) -> dict[str, Any]:
    """One attempt; the outcome is recorded, so recovery never re-posts a finished attempt."""
    ctx = current()
    secret = ctx.app.settings.webhook_secret
    if secret is None:
        return {"ok": False, "retryable": False, "error": "I2V_WEBHOOK_SECRET is not set"}
    body = WebhookEvent(event["event_id"], event["type"], event["job"]).to_json()
    headers = {
        SIGNATURE_HEADER: sign(secret.get_secret_value().encode(), body, int(time.time())),
        "X-I2V-Event": event["type"],
        "X-I2V-Attempt": str(attempt),
    }
    fetcher = SafeFetcher(policy_from_settings(ctx.app.settings))
    try:
        status = anyio.run(fetcher.post_json, url, body, headers)
    except I2VError as exc:
        retryable = isinstance(exc, FetchError) and exc.retryable
        return {"ok": False, "retryable": retryable, "error": exc.message}
    return {"ok": True, "status": status}


@DBOS.step(name="i2v.webhook_delay")
def delay_after(attempt: int) -> float | None:
    # Jitter is random, so it is drawn in a step: a recovered workflow replays the same delay.
    base = current().app.settings.webhook_retry_base_s
    return next_delay(attempt, base_s=base, cap_s=max(3600.0, base), jitter=random.random)


@DBOS.step(name="i2v.webhook_record")
def record(job_id: str, data: dict[str, Any]) -> None:
    with current().app.db.session() as session:
        if repo.get_job(session, job_id) is not None:
            repo.add_event(session, job_id, "webhook", data)


@DBOS.workflow(name=DELIVER_NAME)
def deliver_webhook(job_id: str, kind: str) -> bool:
    found = payload(job_id, kind)
    if not found.get("url"):
        return False
    attempt = 1
    while True:
        outcome = post(found["url"], found["event"], attempt)
        if outcome["ok"]:
            record(job_id, {"type": kind, "delivered": True, "attempts": attempt})
            return True
        wait = delay_after(attempt) if outcome["retryable"] else None
        if wait is None:
            record(
                job_id,
                {"type": kind, "delivered": False, "attempts": attempt, "error": outcome["error"]},
            )
            return False
        DBOS.sleep(wait)
        attempt += 1
