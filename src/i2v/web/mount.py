"""The dashboard added to the application: its pages, static files, error pages and guard."""

from __future__ import annotations

import os

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import Scope

from i2v.web import (
    errors,
    routes_admin,
    routes_admin_fleet,
    routes_admin_reports,
    routes_auth,
    routes_create,
    routes_jobs,
    routes_library,
)
from i2v.web.guard import WebGuard
from i2v.web.paths import STATIC_PREFIX
from i2v.web.templates import STATIC, Pages

YEAR_S = 365 * 24 * 3600


class VersionedStatic(StaticFiles):
    """Static files; those linked with their content hash (`?v=`) are cached for a year."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        versioned = b"v=" in scope.get("query_string", b"")
        response.headers["Cache-Control"] = (
            f"public, max-age={YEAR_S}, immutable" if versioned else "public, max-age=300"
        )
        return response


def install(api: FastAPI) -> None:
    """Mount the dashboard at /. Call it after the API's gate is added: the guard it adds
    then runs first, so the session is checked before the gate reads any body."""
    pages = Pages()
    api.state.web_pages = pages
    errors.install(api, pages)
    routers = (routes_auth, routes_create, routes_jobs, routes_library)
    admin = (routes_admin, routes_admin_fleet, routes_admin_reports)
    for module in (*routers, *admin):
        api.include_router(module.router)
    api.mount(STATIC_PREFIX, VersionedStatic(directory=STATIC), name="static")
    api.add_middleware(WebGuard)
