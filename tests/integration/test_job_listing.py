"""A page of jobs and its artifacts, on SQLite and PostgreSQL: the artifacts of a whole page
come in one query, and `list_jobs` gives the same views as reading each job on its own."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, update

from i2v.bootstrap import App
from i2v.config import Settings
from i2v.db import jobs as repo
from i2v.db.engine import Database
from i2v.db.tables import Artifact, Job, utcnow
from i2v.domain.job import JobState
from i2v.services import accounts, jobs
from i2v.services.accounts import UserInfo

pytestmark = pytest.mark.integration


def _job(db: Database, owner: UserInfo, n: int, kinds: tuple[str, ...]) -> str:
    """A job made `n` minutes after the first, with an artifact of each kind."""
    job_id = f"job_{n:016x}"
    state = JobState.SUCCEEDED if kinds else JobState.FAILED
    with db.session() as session:
        session.add(
            Job(
                id=job_id,
                owner_id=owner.id,
                spec={"render": {"prompt": f"zoom in {n}", "size": "360x640"}, "backend": "local"},
                state=state.value,
                backend="local",
                created_at=utcnow() - timedelta(hours=1) + timedelta(minutes=n),
            )
        )
        session.flush()
        for kind in kinds:
            session.add(
                Artifact(
                    id=f"art_{n:08x}{kind}",
                    job_id=job_id,
                    kind=kind,
                    storage_key=f"results/{n}.{kind}",
                    size=1000 + n,
                    content_type="video/mp4" if kind == "video" else "image/jpeg",
                    sha256=f"{n:064x}",
                )
            )
    return job_id


@contextmanager
def counted(db: Database) -> Iterator[list[str]]:
    """The SQL statements run on `db` inside the block."""
    statements: list[str] = []

    def record(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def test_a_page_of_jobs_gets_its_artifacts_in_one_query(db: Database) -> None:
    alice, bob = accounts.create_user(db, "alice"), accounts.create_user(db, "bob")
    both = _job(db, alice, 1, ("video", "cover"))
    bare = _job(db, alice, 2, ())
    video = _job(db, alice, 3, ("video",))
    _job(db, bob, 4, ("video", "cover"))  # another job's artifacts stay out
    with db.session() as session, counted(db) as statements:
        found = repo.artifacts_of_jobs(session, [both, bare, video])
        assert len(statements) == 1
        assert repo.artifacts_of_jobs(session, []) == {}
        assert len(statements) == 1  # no query for no jobs
        assert set(found) == {both, bare, video}
        for job_id, artifacts in found.items():
            one_by_one = repo.artifacts_of(session, job_id)
            assert sorted(a.id for a in artifacts) == sorted(a.id for a in one_by_one)
        assert found[bare] == []
        assert sorted(a.kind for a in found[both]) == ["cover", "video"]


def test_list_jobs_gives_each_job_as_get_job_does_in_constant_queries(
    db: Database, tmp_path: Path
) -> None:
    app = App(settings=Settings(data_dir=tmp_path), db=db)
    alice, bob = accounts.create_user(db, "alice"), accounts.create_user(db, "bob")
    kinds = [("video", "cover"), (), ("video",)]
    made = [_job(db, alice, n, kinds[n % 3]) for n in range(7)]
    _job(db, bob, 7, ("video", "cover"))
    listed, cursor, queries = [], None, []
    while True:
        with counted(db) as statements:
            page = jobs.list_jobs(app, alice, state=None, cursor=cursor, limit=3)
        queries.append(len(statements))
        listed += page.jobs
        cursor = page.next_cursor
        if cursor is None:
            break
    assert [view.id for view in listed] == made[::-1]  # newest first, across pages
    assert listed == [jobs.get_job(app, alice, job_id) for job_id in made[::-1]]
    assert [len(view.artifacts) for view in listed] == [len(kinds[n % 3]) for n in range(7)][::-1]
    # However many jobs a page holds: the page, its artifacts (and the cursor's job).
    assert max(queries) <= 3, queries
    succeeded = jobs.list_jobs(app, alice, state=JobState.SUCCEEDED, cursor=None, limit=100)
    assert [view.id for view in succeeded.jobs] == [v.id for v in listed if v.artifacts]


def test_a_queued_job_knows_how_many_queued_jobs_are_ahead_of_it(
    db: Database, tmp_path: Path
) -> None:
    app = App(settings=Settings(data_dir=tmp_path), db=db)
    alice, bob = accounts.create_user(db, "alice"), accounts.create_user(db, "bob")
    ids = [_job(db, bob if n % 2 else alice, n, ()) for n in range(4)]
    with db.session() as session:  # _job makes them failed; these four wait in the queue
        session.execute(update(Job).where(Job.id.in_(ids)).values(state=JobState.QUEUED.value))
    assert [jobs.queue_place(app, alice, ids[n]) for n in (0, 2)] == [0, 2]
    assert jobs.queue_place(app, alice, ids[1]) is None  # bob's: not alice's to ask about
    with db.session() as session:
        session.execute(update(Job).where(Job.id == ids[0]).values(state="running"))
    assert jobs.queue_place(app, alice, ids[2]) == 1
    assert jobs.queue_place(app, alice, ids[0]) is None  # running: no place in the queue
