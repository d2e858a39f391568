"""Which paths are the dashboard's, and which of them need no session."""

from __future__ import annotations

STATIC_PREFIX = "/static"
ADMIN_PREFIX = "/admin"  # admins only: to anyone else, every path under it is a 404
# Paths that are not the dashboard's: the API and its documents keep their own rules.
NOT_WEB = ("/v1", "/hooks", "/healthz", "/readyz", "/metrics", "/docs", "/redoc", "/openapi.json")
OPEN = ("/signin", "/invite", STATIC_PREFIX)  # no session needed


def under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def is_web(path: str) -> bool:
    return not any(under(path, prefix) for prefix in NOT_WEB)


def is_open(path: str) -> bool:
    return any(under(path, prefix) for prefix in OPEN)


def safe_next(target: str | None) -> str:
    """A local path to return to after sign-in; anything else (another site) is "/"."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    if any(ord(char) < 0x21 or ord(char) == 0x7F for char in target):
        return "/"  # browsers drop tabs and newlines: "/\t/host" would become "//host"
    return target
