"""Admin-only routes; to anyone else they do not exist (404, never 403)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from i2v.api.auth import AdminUser, Services
from i2v.api.openapi import problems
from i2v.services import accounts, policy

router = APIRouter(prefix="/v1/admin", tags=["admin"], responses=problems(404))


@router.get("/users")
def list_users(services: Services, admin: AdminUser) -> dict[str, Any]:
    return {"users": [_user_json(u) for u in accounts.list_users(services.app.db)]}


@router.put("/users/{user}/mature", responses=problems(404))
def grant_mature(user: str, services: Services, admin: AdminUser) -> dict[str, Any]:
    """Allow the user mature content (R and X, self-hosted backends only); recorded with
    the granting admin and the time."""
    return _user_json(accounts.set_mature(services.app.db, user, allowed=True, by=admin.name))


@router.delete("/users/{user}/mature", responses=problems(404))
def revoke_mature(user: str, services: Services, admin: AdminUser) -> dict[str, Any]:
    return _user_json(accounts.set_mature(services.app.db, user, allowed=False, by=admin.name))


@router.get("/policy/audit", responses=problems(404, 422))
def policy_audit(
    services: Services,
    admin: AdminUser,
    limit: Annotated[int, Query(ge=1, le=policy.AUDIT_PAGE_MAX)] = 50,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    decision: Annotated[Literal["allow", "refuse"] | None, Query()] = None,
    job_id: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    """Every content-policy decision, newest first: rules hit (never the matched words),
    classifier scores, the rating found and asked for, and the policy version."""
    page = policy.list_audit(
        services.app.db, limit=limit, cursor=cursor, decision=decision, job_id=job_id
    )
    return {
        "entries": [e.public_json() for e in page.entries],
        "next_cursor": page.next_cursor,
    }


def _user_json(u: accounts.UserInfo) -> dict[str, Any]:
    return {
        "id": u.id,
        "name": u.name,
        "is_admin": u.is_admin,
        "mature_allowed": u.mature_allowed,
        "mature_granted_by": u.mature_granted_by,
        "mature_granted_at": u.mature_granted_at.isoformat() if u.mature_granted_at else None,
        # Hosted spend per UTC day; null: the deployment's I2V_USER_DAILY_BUDGET_USD.
        "daily_budget_usd": float(u.daily_budget_usd) if u.daily_budget_usd is not None else None,
        "created_at": u.created_at.isoformat(),
    }
