"""Enqueue and cancel job workflows from any process, worker or not, through DBOS's client."""

from __future__ import annotations

from dataclasses import dataclass

from dbos import DBOSClient

from i2v.config import Settings, engine_database_url
from i2v.engine.workflow import APP_NAME, JOB_QUEUE, RENDER_NAME, WORKFLOW_NAME, WORKFLOW_VERSION


@dataclass(frozen=True, slots=True)
class PendingWork:
    """What an executor was running: job workflows (by job id) and renders (by result key)."""

    job_ids: tuple[str, ...]
    result_keys: tuple[str, ...]


class JobQueue:
    def __init__(self, settings: Settings) -> None:
        self._client = DBOSClient(
            system_database_url=engine_database_url(settings), application_name=APP_NAME
        )

    def enqueue(self, job_id: str, owner_id: str) -> None:
        """Idempotent: the workflow id is the job id, so a repeat attaches to the first."""
        self._client.enqueue(
            {
                "queue_name": JOB_QUEUE,
                "workflow_name": WORKFLOW_NAME,
                "workflow_id": job_id,
                "queue_partition_key": owner_id,  # the per-user running limit
                "app_version": WORKFLOW_VERSION,
            },
            job_id,
        )

    def cancel(self, job_id: str) -> None:
        self._client.cancel_workflow(job_id)

    def executors(self, job_ids: list[str]) -> dict[str, str | None]:
        """Which executor ran (or runs) each job's workflow; None while it waits in the queue."""
        found = self._client.list_workflows(
            workflow_ids=job_ids, load_input=False, load_output=False
        )
        return {status.workflow_id: status.executor_id for status in found}

    def render_ids(self, job_ids: list[str]) -> set[str]:
        """The render workflows these jobs started (shared renders appear once)."""
        found = self._client.list_workflows(
            parent_workflow_id=job_ids, load_input=False, load_output=False
        )
        return {status.workflow_id for status in found}

    def pending_work(self, executor_id: str) -> PendingWork:
        found = self._client.list_workflows(
            status="PENDING",
            executor_id=executor_id,
            name=[WORKFLOW_NAME, RENDER_NAME],
            load_output=False,
        )
        jobs = tuple(s.workflow_id for s in found if s.name == WORKFLOW_NAME)
        renders = tuple(str(s.input["args"][0]) for s in found if s.name == RENDER_NAME and s.input)
        return PendingWork(jobs, renders)

    def finished(self, workflow_id: str) -> bool:
        found = self._client.list_workflows(
            workflow_ids=[workflow_id], load_input=False, load_output=False
        )
        return bool(found) and found[0].status not in ("PENDING", "ENQUEUED", "DELAYED")

    def exists(self, job_id: str) -> bool:
        found = self._client.list_workflows(
            workflow_ids=[job_id], load_input=False, load_output=False
        )
        return bool(found)

    def close(self) -> None:
        self._client.destroy()
