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
    users = accounts.list_users(services.app.db)
    return {
        "users": [
            {
                "id": u.id,
                "name": u.name,
                "is_admin": u.is_admin,
                "mature_allowed": u.mature_allowed,
                # Hosted spend per UTC day; null: the deployment's I2V_USER_DAILY_BUDGET_USD.
                "daily_budget_usd": (
                    float(u.daily_budget_usd) if u.daily_budget_usd is not None else None
                ),
                "created_at": u.created_at.isoformat(),
            }
            for u in users
        ]
    }
