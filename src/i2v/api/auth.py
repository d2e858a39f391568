"""Bearer-key authentication: the gate checks the key; routes take the user it found."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from i2v.api.state import ServiceState, service_state
from i2v.db.engine import Database
from i2v.errors import Forbidden, Unauthenticated
from i2v.services.accounts import UserInfo, authenticate

# Declares the scheme in the OpenAPI document; the gate has already enforced it.
bearer = HTTPBearer(
    scheme_name="ApiKey", auto_error=False, description="An API key from `i2v keys create USER`."
)


def authenticate_header(db: Database, authorization: str | None) -> UserInfo:
    """The user an `Authorization: Bearer <key>` header names; Unauthenticated otherwise."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("send an API key as 'Authorization: Bearer <key>'")
    return authenticate(db, token.strip())


def current_user(
    request: Request,
    _key: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> UserInfo:
    """The user the gate authenticated before it let the request (and its body) in."""
    user: UserInfo = request.state.user
    return user


def admin_user(user: Annotated[UserInfo, Depends(current_user)]) -> UserInfo:
    if not user.is_admin:
        raise Forbidden("not found")
    return user


CurrentUser = Annotated[UserInfo, Depends(current_user)]
AdminUser = Annotated[UserInfo, Depends(admin_user)]
Services = Annotated[ServiceState, Depends(service_state)]
