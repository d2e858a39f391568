"""Admin-only routes; to anyone else they do not exist (404, never 403)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from i2v.api.auth import AdminUser, Services
from i2v.api.openapi import problems
from i2v.services import accounts

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
