"""GET /v1/backends: each backend, whether it can run here now, and the models it runs."""

from __future__ import annotations

from fastapi import APIRouter

from i2v.api.auth import CurrentUser, Services
from i2v.api.schemas_quotes import BackendListOut, BackendOut
from i2v.services.backends import list_backends

router = APIRouter(prefix="/v1/backends", tags=["backends"])


@router.get("", response_model=BackendListOut)
def backends(services: Services, user: CurrentUser) -> BackendListOut:
    """Available, unavailable (and why), or failing recently (breaker open until a time).

    The last error is shown to admins only: it can name internal servers.
    """
    views = list_backends(services.app, show_errors=user.is_admin)
    return BackendListOut(backends=[BackendOut.of(view) for view in views])
