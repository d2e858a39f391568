"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from i2v.api.auth import Services

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_class=JSONResponse,
    responses={
        503: {
            "description": "A check failed; `checks` says which.",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
def readyz(services: Services) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        with services.app.db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any failure means "not ready"; the reason is for operators
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        services.blobs.exists("readyz/probe")
        checks["storage"] = "ok"
    except Exception as exc:
        checks["storage"] = f"error: {type(exc).__name__}"
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)
