"""Bearer-key authentication as FastAPI dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header

from i2v.api.state import ServiceState, service_state
from i2v.errors import Forbidden, Unauthenticated
from i2v.services.accounts import UserInfo, authenticate


def current_user(
    services: Annotated[ServiceState, Depends(service_state)],
    authorization: Annotated[str | None, Header()] = None,
) -> UserInfo:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("send an API key as 'Authorization: Bearer <key>'")
    return authenticate(services.app.db, token.strip())


def admin_user(user: Annotated[UserInfo, Depends(current_user)]) -> UserInfo:
    if not user.is_admin:
        raise Forbidden("not found")
    return user


CurrentUser = Annotated[UserInfo, Depends(current_user)]
AdminUser = Annotated[UserInfo, Depends(admin_user)]
Services = Annotated[ServiceState, Depends(service_state)]
