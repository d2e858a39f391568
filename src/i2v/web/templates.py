"""The dashboard's Jinja2 environment (autoescaped), built per application, and its static
files' URLs, which carry a content hash so browsers may cache them for a year."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from i2v.web import csrf, views
from i2v.web.paths import STATIC_PREFIX
from i2v.web.sessions import session_of

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


class StaticUrls:
    """`url("app.css")` -> `/static/app.css?v=<hash of its bytes>`; hashes made once each."""

    def __init__(self, root: Path = STATIC) -> None:
        self.root = root
        self._versions: dict[str, str] = {}

    def url(self, name: str) -> str:
        version = self._versions.get(name)
        if version is None:
            data = (self.root / name).read_bytes()  # KeyError-like failure for a typo: loud
            version = hashlib.sha256(data).hexdigest()[:12]
            self._versions[name] = version
        return f"{STATIC_PREFIX}/{name}?v={version}"


class Pages:
    """Renders the dashboard's templates with what every page needs: the signed-in user,
    the CSRF token of their session, and the static files' URLs."""

    def __init__(self, templates: Path = TEMPLATES, static: StaticUrls | None = None) -> None:
        self.static = static or StaticUrls()
        self.env = Environment(
            loader=FileSystemLoader(templates),
            autoescape=True,  # every template, whatever its name
            undefined=StrictUndefined,  # a misspelt variable fails the test, not the page
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,  # compiled once per app: no stat of each template per page
        )
        self.env.globals["static"] = self.static.url
        self.env.filters.update(views.FILTERS)

    def html(self, name: str, context: Mapping[str, Any]) -> str:
        return self.env.get_template(name).render(context)

    def render(
        self,
        request: Request,
        name: str,
        context: Mapping[str, Any] | None = None,
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> HTMLResponse:
        body = self.html(name, {**self.common(request), **(context or {})})
        return HTMLResponse(body, status_code=status, headers=dict(headers or {}))

    @staticmethod
    def common(request: Request) -> dict[str, Any]:
        session = session_of(request)
        return {
            "user": session.user if session is not None else None,
            "csrf_token": csrf.token_for(session) if session is not None else "",
            "path": request.url.path,
        }


def pages_of(request: Request) -> Pages:
    pages: Pages = request.app.state.web_pages
    return pages
