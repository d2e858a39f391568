"""The daily hosted budget: concurrent submissions never pass it together; a user's own cap
wins over the deployment's; local jobs and cache hits never count. SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import update

from i2v.bootstrap import App, open_app, open_blobs
from i2v.config import load_settings
from i2v.db.engine import Database
from i2v.db.tables import Job, User
from i2v.domain.job import JobState
from i2v.domain.motion import Intensity, Motion
from i2v.domain.size import Size
from i2v.domain.spec import RenderSpec
from i2v.engine.queue import JobQueue
from i2v.errors import DailyBudgetExceeded
from i2v.services import accounts, jobs
from i2v.services.accounts import UserInfo

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "example.jpg"
KLING = Decimal("0.35")  # 5 s of kling-2.5-turbo-pro


@pytest.fixture
def app(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[App]:
    monkeypatch.setenv("I2V_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("I2V_DATABASE_URL", db.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("I2V_FAL_KEY", "key-id:key-secret")
    monkeypatch.setenv("I2V_USER_DAILY_BUDGET_USD", "1.00")
    opened = open_app(load_settings())
    try:
        yield opened
    finally:
        opened.close()


def _spec(seed: int, model: str | None = "kling-2.5-turbo-pro") -> RenderSpec:
    # Kling takes no seed: jobs differ by prompt, so none is a cache hit of another.
    return RenderSpec(
        Motion.ZOOM_IN, Intensity.SUBTLE, Size(360, 640), 5, 24,
        prompt=f"the lake ripples, take {seed}", model=model,
    )  # fmt: skip


def _submit(app: App, queue: JobQueue, user: UserInfo, seed: int, **kw: object) -> jobs.JobView:
    backend = "local" if kw.get("model", "x") is None else "auto"
    spec = _spec(seed, **kw)  # type: ignore[arg-type]
    image = EXAMPLE.read_bytes()
    return jobs.submit(app, queue, open_blobs(app.settings), user, image, spec, backend).job


def test_concurrent_submissions_cannot_pass_the_cap_together(app: App) -> None:
    user = accounts.create_user(app.db, "creator")
    queue = JobQueue(app.settings)
    passed: list[str] = []
    refused: list[DailyBudgetExceeded] = []
    start = threading.Barrier(6)

    def one(seed: int) -> None:
        start.wait()
        try:
            passed.append(_submit(app, queue, user, seed).id)
        except DailyBudgetExceeded as exc:
            refused.append(exc)

    try:
        threads = [threading.Thread(target=one, args=(seed,)) for seed in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        queue.close()
    assert len(passed) == 2  # 2 x $0.35 fits $1.00; a third would be $1.05
    assert len(refused) == 4
    assert refused[0].limit == Decimal("1.00")
    assert refused[0].estimate == KLING
    assert "daily hosted budget of $1.00" in refused[0].message


def test_finished_jobs_count_what_they_cost_and_a_users_own_cap_wins(app: App) -> None:
    user = accounts.create_user(app.db, "creator")
    queue = JobQueue(app.settings)
    try:
        first = _submit(app, queue, user, 1)
        second = _submit(app, queue, user, 2)
        with pytest.raises(DailyBudgetExceeded):
            _submit(app, queue, user, 3)
        with app.db.session() as session:  # the first failed: fal bills no failure
            session.execute(
                update(Job)
                .where(Job.id == first.id)
                .values(state=JobState.FAILED.value, cost_usd=0)
            )
        assert _submit(app, queue, user, 4).model == "kling-2.5-turbo-pro"
        with app.db.session() as session:
            session.execute(update(User).where(User.id == user.id).values(daily_budget_usd=5))
        _submit(app, queue, user, 5)
        for seed in range(6, 16):  # local jobs are free and never counted
            _submit(app, queue, user, seed, model=None)
    finally:
        queue.close()
    assert second.cost_estimate_usd == KLING
