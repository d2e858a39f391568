"""The job workflow: prepare, generate, publish, store, notify; each step checkpointed by DBOS.

A step interrupted by a crash runs again from its start, so every step is idempotent:
storage keys are derived from the job id, and state changes are conditional updates.
A job's row says `running` only while one of a worker's slots works for it (rendering or
checking its result) and its workflow runs; otherwise it is `queued` (see `rows`).
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

from dbos import DBOS, SetWorkflowID, WorkflowHandle
from sqlalchemy.orm import Session

from i2v.backends.base import Progress
from i2v.db import jobs as repo
from i2v.db.tables import Artifact
from i2v.domain.ids import new_id
from i2v.domain.job import JobSpec, JobState
from i2v.engine import rows
from i2v.engine.context import current
from i2v.engine.housekeeping import job_scratch
from i2v.engine.slots import EngineStopping, Slot
from i2v.errors import BackendError, ExecutionFailed, I2VError, PolicyRefused, RenderError
from i2v.media.probe import probe_video
from i2v.services.breaker import breakers_of
from i2v.services.generate import generate_video
from i2v.services.policy import rate_output
from i2v.services.routing import RouteEvent
from i2v.storage.base import BlobStore

APP_NAME = "i2v"
WORKFLOW_NAME = "i2v.run_job"
# Pinned, not DBOS's default hash of the code: a deploy must not strand queued jobs. Bump it
# only when the workflow's steps change incompatibly.
WORKFLOW_VERSION = "i2v-workflow-2"
JOB_QUEUE = "jobs"
RENDER_NAME = "i2v.render"
PROGRESS_EVERY_S = 0.5  # progress rows and cancellation checks, at most this often
REMOTE_SHARE = 0.9  # of a remote backend's progress bar, the part its own run takes
VIDEO, COVER = "video", "cover"
COST = "cost_usd"  # in a render's result, beside its files
RAN_ON = "backend"  # in a render's result: the backend that made it
CONTENT_TYPES = {VIDEO: "video/mp4", COVER: "image/jpeg"}
RESULT_POLL_S = 0.1  # how often a job looks whether its render has finished


class JobCancelled(Exception):
    """Raised inside a step when the job was cancelled while it ran."""


def artifact_key(result_key: str, kind: str) -> str:
    """Content-addressed (by cache key): identical jobs share one stored result."""
    return f"results/{result_key}/{kind}.{'mp4' if kind == VIDEO else 'jpg'}"


@DBOS.step(name="i2v.prepare")
def prepare(job_id: str) -> dict[str, Any]:
    """Return the job's spec, the render to attach to, and its webhook; the row stays queued
    until a slot works for it."""
    ctx = current()
    with ctx.app.db.session() as session:
        job = repo.get_job(session, job_id)
        if job is None:
            raise RenderError(f"job {job_id} has no row")
        shared = job.cache_key is not None and job.spec.get("use_cache", True)
        result_key = job.cache_key if shared and job.cache_key else job_id
        return {
            "spec": dict(job.spec),
            "result_key": result_key,
            "render_id": render_id(job_id, result_key),
            "webhook": bool(job.webhook_url),
        }


def _sync(result_key: str, *, working: bool) -> rows.Waiting:
    waiting = rows.sync(current().app, result_key, working=working)
    if not waiting.job_ids:  # every job that wanted this result was cancelled
        raise JobCancelled(result_key)
    return waiting


@DBOS.step(name="i2v.generate")
def generate(result_key: str, spec_json: dict[str, Any]) -> dict[str, Any]:
    """Render once for every job waiting on `result_key`, in one of the worker's slots."""

    def check() -> None:
        with current().app.db.session() as session:
            if not repo.jobs_for_result(session, result_key, rows.ACTIVE):
                raise JobCancelled(result_key)

    wait = partial(_sync, result_key, working=False)  # recovered, or behind recovered work
    with current().slots.held(on_wait=wait, check=check) as slot:
        _sync(result_key, working=True)
        stored = _render(result_key, JobSpec.from_json(spec_json))
        # Done: a job of this worker goes on to check the result in the render's slot.
        here = rows.sync(current().app, result_key, working=True).here
        if here:
            slot.hand_over(here[0])
    return stored


def _render(result_key: str, spec: JobSpec) -> dict[str, Any]:
    """Generate and store the result's files; their progress moves together."""
    ctx = current()
    last = [0.0]
    remote = [False]  # a remote backend's `generate` progress, then our re-encode's `render`
    written: list[tuple[float, str | None, tuple[str, ...]]] = []  # what the rows say

    def on_progress(event: Progress) -> None:
        if event.stage == "generate":
            remote[0] = True
            fraction = REMOTE_SHARE * event.fraction
        elif event.stage == "render":
            share = REMOTE_SHARE if remote[0] else 0.0
            fraction = share + (1 - share) * event.fraction
        else:
            return
        now = time.monotonic()
        if now - last[0] < PROGRESS_EVERY_S and event.done != event.total:
            return
        last[0] = now
        # A remote backend repeats itself while it waits: each call still checks for a
        # cancel, but only news is written.
        waiting = _sync(result_key, working=True)  # and a job dequeued meanwhile is running
        news = (round(fraction, 4), event.note, waiting.job_ids)
        if written and written[-1] == news:
            return
        written[:] = [news]
        with ctx.app.db.session() as session:
            for job_id in waiting.job_ids:
                repo.set_progress(session, job_id, "generate", fraction, event.note)

    def on_route(event: RouteEvent) -> None:
        data = {"backend": event.backend}
        if event.moved_from is not None:
            data.update(moved_from=event.moved_from, reason=event.reason or "")
        with ctx.app.db.session() as session:
            for job_id in repo.jobs_for_result(session, result_key, rows.ACTIVE):
                repo.add_event(session, job_id, "route", data)

    with job_scratch(ctx.app.settings) as folder:
        source = _fetch_input(ctx.blobs, spec.input_key, folder / "input")
        end_source = None
        if spec.end_input_key is not None:
            end_source = _fetch_input(ctx.blobs, spec.end_input_key, folder / "end")
        music = None
        if spec.music_key is not None:
            music = _fetch_input(ctx.blobs, spec.music_key, folder / "music")
        result = generate_video(
            source,
            folder / "video.mp4",
            spec.render,
            ctx.app.settings,
            on_progress,
            spec.route,
            run_id=DBOS.workflow_id or result_key,  # the render's workflow id: stable on recovery
            decode_gate=ctx.app.decode_gate,
            breakers=breakers_of(ctx.app),
            on_route=on_route,
            db=ctx.app.db,
            end_image_path=end_source,
            music_path=music,
        )
        if result.framing is not None:  # where the renderer aimed, and why
            framing = {"focus": list(result.framing.focus), "source": result.framing.source}
            with ctx.app.db.session() as session:
                for job_id in repo.jobs_for_result(session, result_key, rows.ACTIVE):
                    repo.add_event(session, job_id, "framing", framing)
        stored: dict[str, Any] = {}
        for kind, path in ((VIDEO, result.video), (COVER, result.cover)):
            info = ctx.blobs.put(artifact_key(result_key, kind), path, CONTENT_TYPES[kind])
            stored[kind] = {"key": info.key, "size": info.size, "sha256": info.sha256}
        stored[COST] = str(result.cost_usd)
        stored[RAN_ON] = result.backend
    return stored


def _fetch_input(blobs: BlobStore, key: str, stem: Path) -> Path:
    """A stored upload copied into the render's scratch folder, keeping its suffix."""
    path = stem.with_suffix(Path(key).suffix)
    with blobs.open(key) as stream, path.open("wb") as fh:
        for chunk in stream:
            fh.write(chunk)
    return path


@DBOS.workflow(name=RENDER_NAME)
def render(result_key: str, spec_json: dict[str, Any]) -> dict[str, Any]:
    return generate(result_key, spec_json)


def render_id(job_id: str, result_key: str) -> str:
    """The render to attach to: a shared one per result, unless it failed or its files are gone.

    Identical submissions arriving together thus render once: DBOS runs one workflow per id,
    and every job starting that id waits on the same run.
    """
    if result_key == job_id:  # the job asked for a fresh render (cache: false)
        return f"render.{job_id}"
    shared = f"render.{result_key}"
    status = DBOS.get_workflow_status(shared)
    if status is None or status.status in ("PENDING", "ENQUEUED"):
        return shared
    if status.status == "SUCCESS" and current().blobs.exists(artifact_key(result_key, VIDEO)):
        return shared
    return f"render.{result_key}.{job_id}"


@DBOS.step(name="i2v.publish")
def publish(job_id: str, stored: dict[str, Any]) -> None:
    """Check the stored video against the platform spec before anyone is told it is ready."""
    ctx = current()
    with ctx.app.db.session() as session:  # it holds a slot now (see `_finishing`)
        repo.transition(session, job_id, JobState.RUNNING, only_from=[JobState.QUEUED])
    with job_scratch(ctx.app.settings) as folder:
        path = folder / "video.mp4"
        with ctx.blobs.open(stored[VIDEO]["key"]) as stream, path.open("wb") as fh:
            for chunk in stream:
                fh.write(chunk)
        info = probe_video(path)
        if info.codec != "h264" or info.pix_fmt != "yuv420p" or not info.faststart:
            raise RenderError(f"job {job_id}: output is not publish-ready ({info})")
        if stored.get(RAN_ON, "local") != "local":
            # A model made these frames: rate a few before anyone is told the job is done.
            # The local renderer's are crops of the input picture, rated at submission.
            rate_output(ctx.app, job_id, path, stored[RAN_ON])


def _finishing(job_id: str) -> AbstractContextManager[Slot]:
    """The slot a job holds from checking its result to storing it: its render's, handed
    over, or a free one; while it waits for one, its row says queued."""
    ctx = current()

    def check() -> None:
        with ctx.app.db.session() as session:
            job = repo.get_job(session, job_id)
            if job is None or job.state not in rows.ACTIVE:
                raise JobCancelled(job_id)

    def wait() -> None:
        with ctx.app.db.session() as session:
            repo.transition(session, job_id, JobState.QUEUED, only_from=[JobState.RUNNING])
        check()

    return ctx.slots.held(on_wait=wait, check=check, job_id=job_id)


@DBOS.step(name="i2v.store")
def store(job_id: str, stored: dict[str, Any]) -> None:
    ctx = current()
    with ctx.app.db.session() as session:
        existing = {a.kind for a in repo.artifacts_of(session, job_id)}
        files = {kind: blob for kind, blob in stored.items() if kind in CONTENT_TYPES}
        if not existing:
            _bill(session, job_id, stored)
        if RAN_ON in stored:  # renders from before routing say nothing: the row is right
            repo.set_backend(session, job_id, stored[RAN_ON])
        for kind, blob in files.items():
            if kind in existing:
                continue  # this step ran before a crash
            session.add(
                Artifact(
                    id=new_id("art"),
                    job_id=job_id,
                    kind=kind,
                    storage_key=blob["key"],
                    size=blob["size"],
                    content_type=CONTENT_TYPES[kind],
                    sha256=blob["sha256"],
                )
            )
        repo.transition(
            session, job_id, JobState.SUCCEEDED, only_from=[JobState.RUNNING], progress=1.0
        )


def _bill(session: Session, job_id: str, stored: dict[str, Any]) -> None:
    """A render shared by identical jobs is billed once: to the first job that stores it. A
    free render (every local one) leaves the column at its default of 0."""
    cost = Decimal(stored.get(COST, "0"))
    if cost and not repo.result_has_owner(session, stored[VIDEO]["key"], job_id):
        repo.set_cost(session, job_id, cost)


@DBOS.step(name="i2v.bill_refused")
def bill_refused(job_id: str, stored: dict[str, Any]) -> None:
    """A result the policy refused was still made, and paid for: the job says what it cost."""
    with current().app.db.session() as session:
        _bill(session, job_id, stored)


@DBOS.step(name="i2v.fail")
def fail(job_id: str, code: str, message: str, detail: dict[str, Any] | None = None) -> None:
    """Mark the job failed; `detail` (where, traceback) goes to an operator-only event."""
    with current().app.db.session() as session:
        changed = repo.transition(
            session,
            job_id,
            JobState.FAILED,
            only_from=[JobState.QUEUED, JobState.RUNNING],
            error_code=code,
            error_message=message,
        )
        if changed and detail:
            repo.add_event(session, job_id, repo.DIAGNOSTICS, detail)


def diagnostics(exc: I2VError) -> dict[str, Any] | None:
    """What an operator needs to find a failure: the server, the run, the node, the traceback."""
    if not isinstance(exc, BackendError):
        return None
    found = {"backend": exc.backend, "server": exc.server, "prompt_id": exc.prompt_id}
    if isinstance(exc, ExecutionFailed):
        found.update(
            node_id=exc.node_id,
            node_type=exc.node_type,
            exception_type=exc.exception_type,
            traceback=exc.traceback,
        )
    return {key: value for key, value in found.items() if value is not None}


def _await_render(handle: WorkflowHandle[dict[str, Any]]) -> dict[str, Any]:
    """The render's result. DBOS polls a render this run did not start (a recovered job's)
    forever, which kept a stopping worker from exiting when the render was left pending; so
    on a stop this workflow is left pending too, to be recovered. The polling is ours (DBOS
    would record each read as a step) and quick: a finished render's slot waits for us."""
    ctx = current()
    while not ctx.queue.finished(handle.get_workflow_id()):
        if ctx.slots.closed:
            raise EngineStopping
        time.sleep(RESULT_POLL_S)
    return handle.get_result()


def _run(job_id: str) -> tuple[str, bool]:
    """The job's final state, and whether it has a webhook to notify."""
    webhook = False
    try:
        prepared = prepare(job_id)
        webhook = prepared["webhook"]
        with SetWorkflowID(prepared["render_id"]):
            handle = DBOS.start_workflow(render, prepared["result_key"], prepared["spec"])
        stored = _await_render(handle)
        # Workflow code, not a step: a recovered run takes a slot again before its steps.
        with _finishing(job_id):
            try:
                publish(job_id, stored)
            except PolicyRefused:
                bill_refused(job_id, stored)
                raise
            store(job_id, stored)
    except JobCancelled:
        return JobState.CANCELLED.value, webhook
    except I2VError as exc:
        fail(job_id, exc.code, exc.message, diagnostics(exc))
        return JobState.FAILED.value, webhook
    except Exception as exc:  # DBOS's cancellation is a BaseException and passes through
        fail(job_id, "internal_error", f"{type(exc).__name__}: {exc}")
        return JobState.FAILED.value, webhook
    return JobState.SUCCEEDED.value, webhook


@DBOS.workflow(name=WORKFLOW_NAME)
def run_job(job_id: str) -> str:
    state, webhook = _run(job_id)
    if state != JobState.CANCELLED.value and webhook:
        from i2v.engine.webhooks import deliver_webhook  # registered with DBOS on import

        # notify: delivery is its own durable workflow (retries may take a day); started from
        # this workflow, DBOS records the start, so a recovered run attaches instead of repeating.
        with SetWorkflowID(f"{job_id}.webhook.{state}"):
            DBOS.start_workflow(deliver_webhook, job_id, f"job.{state}")
    return state
