"""What job rows say while their work waits, runs and is recovered: `running` only while a
worker's slot works for a job whose workflow runs, else `queued`, so /metrics counts truly."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from dbos import DBOS

from i2v.bootstrap import App
from i2v.db import jobs as repo
from i2v.domain.job import JobState

if TYPE_CHECKING:  # the queue imports the workflow, which imports this module
    from i2v.engine.queue import PendingWork

ACTIVE = (JobState.QUEUED, JobState.RUNNING)


@dataclass(frozen=True, slots=True)
class Waiting:
    """The jobs still waiting on a render, and those of them whose workflow runs here."""

    job_ids: tuple[str, ...]
    here: tuple[str, ...]


def sync(app: App, result_key: str, *, working: bool) -> Waiting:
    """Called from a render's step. While it works (holds a slot), a job whose workflow runs
    (was dequeued) is running; one whose workflow waits in the queue (recovered, or identical
    and not yet dequeued) is queued, as is every job while the render waits for a slot."""
    with app.db.session() as session:
        ids = tuple(sorted(repo.jobs_for_result(session, result_key, ACTIVE)))
        if not ids:  # an empty id list would ask for every workflow
            return Waiting((), ())
        found = DBOS.list_workflows(workflow_ids=list(ids), load_input=False, load_output=False)
        runs_on = {s.workflow_id: s.executor_id for s in found if s.status == "PENDING"}
        for job_id in ids:
            if working and job_id in runs_on:
                repo.transition(session, job_id, JobState.RUNNING, only_from=[JobState.QUEUED])
            else:
                repo.transition(session, job_id, JobState.QUEUED, only_from=[JobState.RUNNING])
    here = tuple(job_id for job_id in ids if runs_on.get(job_id) == DBOS.executor_id)
    return Waiting(ids, here)


def requeue(app: App, work: PendingWork) -> None:
    """Before an executor's pending `work` is recovered: nothing works for its jobs until a
    slot does again, so their rows say queued."""
    with app.db.session() as session:
        ids = set(work.job_ids)
        for result_key in work.result_keys:
            ids.update(repo.jobs_for_result(session, result_key, [JobState.RUNNING]))
        for job_id in sorted(ids):
            repo.transition(session, job_id, JobState.QUEUED, only_from=[JobState.RUNNING])
