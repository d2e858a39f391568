"""The in-process job feed: commits wake a job's subscribers at once; rollbacks and others don't."""

from __future__ import annotations

import asyncio
import threading

from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from i2v.db.feed import JobFeed


def _feed() -> tuple[JobFeed, sessionmaker]:  # type: ignore[type-arg]
    sessions = sessionmaker(create_engine("sqlite://"))
    feed = JobFeed()
    feed.attach(sessions)
    return feed, sessions


def _write(sessions: sessionmaker, job_id: str, *, fail: bool = False) -> None:  # type: ignore[type-arg]
    try:
        with sessions.begin() as session:
            JobFeed.mark(session, job_id)
            if fail:
                raise RuntimeError("rolled back")
    except RuntimeError:
        pass


def test_a_commit_from_another_thread_wakes_the_subscriber() -> None:
    feed, sessions = _feed()

    async def scenario() -> tuple[bool, bool]:
        sub = feed.subscribe("job_a")
        other = feed.subscribe("job_b")
        try:
            thread = threading.Thread(target=_write, args=(sessions, "job_a"))
            loop = asyncio.get_running_loop()
            started = loop.time()
            thread.start()
            woke = await sub.wait(5.0)
            assert loop.time() - started < 1.0
            thread.join()
            return woke, await other.wait(0.05)
        finally:
            sub.close()
            other.close()

    woke, other_woke = asyncio.run(scenario())
    assert woke
    assert not other_woke


def test_a_rollback_wakes_nobody() -> None:
    feed, sessions = _feed()

    async def scenario() -> bool:
        sub = feed.subscribe("job_a")
        try:
            await asyncio.to_thread(_write, sessions, "job_a", fail=True)
            return await sub.wait(0.1)
        finally:
            sub.close()

    assert not asyncio.run(scenario())


def test_closed_subscriptions_are_forgotten() -> None:
    feed, sessions = _feed()

    async def scenario() -> None:
        sub = feed.subscribe("job_a")
        sub.close()
        _write(sessions, "job_a")  # no subscriber: nothing to wake, nothing raised

    asyncio.run(scenario())
    assert not feed._subscribers
