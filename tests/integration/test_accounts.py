"""Users and API keys on SQLite and a real PostgreSQL: hashing, revocation, daily budgets, the
CLI."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select

from i2v.cli.app import run
from i2v.db.engine import Database
from i2v.db.migrate import current_revision, head_revision, upgrade
from i2v.db.tables import ApiKey, Base
from i2v.errors import Conflict, InvalidParameter, NotFound, Unauthenticated
from i2v.services import accounts

pytestmark = pytest.mark.integration


def test_migrations_reach_head_and_match_the_models(db: Database) -> None:
    assert current_revision(db) == head_revision(db) == "0009"
    upgrade(db)  # idempotent
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_user_names_are_unique_and_validated(db: Database) -> None:
    alice = accounts.create_user(db, "alice", admin=True)
    assert alice.is_admin
    assert not alice.mature_allowed
    with pytest.raises(Conflict, match="already exists"):
        accounts.create_user(db, "alice")
    for bad in ("", "has space", "-leading", "x" * 65, "semi;colon"):
        with pytest.raises(InvalidParameter):
            accounts.create_user(db, bad)
    assert [u.name for u in accounts.list_users(db)] == ["alice"]
    assert accounts.find_user(db, alice.id) == accounts.find_user(db, "alice")


def test_keys_are_stored_hashed_and_authenticate(db: Database) -> None:
    user = accounts.create_user(db, "bob")
    created = accounts.create_key(db, "bob")
    assert re.fullmatch(r"i2v_key[0-9a-f]{12}_[A-Za-z0-9_-]{43}", created.token)
    secret = created.token.split("_", 2)[2]
    with db.session() as session:
        rows = session.scalars(select(ApiKey)).all()
        assert len(rows) == 1
        stored = " ".join(str(value) for value in vars(rows[0]).values())
        assert secret not in stored
        assert created.token not in stored
    assert accounts.authenticate(db, created.token) == user
    assert accounts.list_keys(db, "bob")[0].last_used_at is not None


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # wrong secret
        lambda t: t.replace("i2v_", "xyz_"),  # wrong prefix
        lambda t: t[:20],  # truncated
        lambda t: "i2v_key000000000000_" + t.split("_", 2)[2],  # unknown key id
        lambda t: "",
    ],
)
def test_bad_tokens_are_refused_alike(db: Database, mangle: object) -> None:
    accounts.create_user(db, "carol")
    token = accounts.create_key(db, "carol").token
    with pytest.raises(Unauthenticated, match=r"^invalid API key$"):
        accounts.authenticate(db, mangle(token))  # type: ignore[operator]


def test_revoked_keys_are_refused(db: Database) -> None:
    accounts.create_user(db, "dave")
    keep, drop = accounts.create_key(db, "dave"), accounts.create_key(db, "dave")
    revoked = accounts.revoke_key(db, drop.info.id)
    assert revoked.revoked_at is not None
    assert accounts.revoke_key(db, drop.info.id).revoked_at == revoked.revoked_at  # idempotent
    with pytest.raises(Unauthenticated):
        accounts.authenticate(db, drop.token)
    assert accounts.authenticate(db, keep.token).name == "dave"
    with pytest.raises(NotFound):
        accounts.revoke_key(db, "key000000000000")


def test_cli_creates_users_and_keys_and_revokes(
    db: Database, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("I2V_DATABASE_URL", db.engine.url.render_as_string(hide_password=False))
    assert run(["db", "upgrade"]) == 0
    assert run(["users", "create", "erin", "--admin"]) == 0
    assert "created user erin" in capsys.readouterr().out
    assert run(["users", "create", "erin"]) == 1
    assert capsys.readouterr().err.strip() == "i2v: error: user 'erin' already exists"
    assert run(["keys", "create", "erin"]) == 0
    out, err = capsys.readouterr()
    token = out.strip()
    key_id = token.split("_")[1]
    assert "not shown again" in err
    assert token not in err
    assert accounts.authenticate(db, token).name == "erin"
    assert run(["keys", "revoke", key_id]) == 0
    with pytest.raises(Unauthenticated):
        accounts.authenticate(db, token)
    assert run(["keys", "create", "nobody"]) == 1
    assert capsys.readouterr().err.strip().endswith("no user 'nobody'")


def test_cli_sets_clears_and_lists_daily_budgets(
    db: Database, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("I2V_DATABASE_URL", db.engine.url.render_as_string(hide_password=False))
    monkeypatch.delenv("I2V_USER_DAILY_BUDGET_USD", raising=False)

    def i2v(*args: str) -> tuple[int, str, str]:
        code = run(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    assert i2v("users", "create", "alice")[0] == 0
    assert i2v("users", "budget", "alice", "2.5") == (
        0,
        "alice: daily budget $2.50/day\n",
        "",
    )
    code, out, _ = i2v("users", "list")
    assert out.split()[1:3] == ["alice", "user"]
    assert out.split()[-2:] == ["budget", "$2.50/day"]
    assert i2v("users", "budget", "alice", "0.125")[1] == "alice: daily budget $0.125/day\n"
    assert i2v("users", "budget", "alice", "0")[1] == "alice: daily budget $0.00/day\n"
    monkeypatch.setenv("I2V_USER_DAILY_BUDGET_USD", "10")
    assert i2v("users", "budget", "alice", "--clear")[1] == (
        "alice: daily budget default ($10.00/day)\n"
    )
    monkeypatch.delenv("I2V_USER_DAILY_BUDGET_USD")
    assert i2v("users", "list")[1].rstrip().endswith("budget default (no cap)")
    assert accounts.find_user(db, "alice").daily_budget_usd is None
    assert accounts.set_daily_budget(db, "alice", Decimal("0.000001")).daily_budget_usd == (
        Decimal("0.000001")
    )
    assert accounts.find_user(db, "alice").daily_budget_usd == Decimal("0.000001")
    for args, message in (
        (["alice"], "give a budget in US dollars, or --clear"),
        (["alice", "5", "--clear"], "give a budget or --clear, not both"),
        (["alice", "five"], "budget 'five' is not an amount of dollars"),
        (["alice", "--", "-1"], "daily budget -1: give US dollars from 0 to under 100000000"),
        (["alice", "0.0000001"], "daily budget 0.0000001: at most 6 decimal places"),
    ):
        code, out, err = i2v("users", "budget", *args)
        assert (code, out) == (2, ""), args
        assert err.startswith(f"i2v: error: {message}"), err
    assert i2v("users", "budget", "nobody", "5")[2] == "i2v: error: no user 'nobody'\n"
