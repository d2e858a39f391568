"""The dashboard in tests: signing a TestClient in, reading CSRF tokens, and the checks every
page must pass (security headers; no inline script, style or event handler)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

from fastapi.testclient import TestClient

from i2v.web.guard import CSP

CSRF = re.compile(r'name="csrf-token" content="([0-9a-f]{64})"')
SERVER_TIMING = re.compile(r"app;dur=[0-9]+\.[0-9]")


def key_of(headers: dict[str, str]) -> str:
    """The API key in an `Authorization: Bearer` header dict (tests.support.api's users)."""
    return headers["Authorization"].split(" ", 1)[1]


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found is not None, "no CSRF token on the page"
    return found.group(1)


def sign_in(client: TestClient, key: str) -> str:
    """Sign the client in with `key`; the CSRF token of its new session."""
    response = client.post("/signin", data={"api_key": key}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/").text)


class Markup(HTMLParser):
    """What a page holds that a strict CSP would refuse, and the assets it links."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.inline_scripts = 0
        self.style_elements = 0
        self.style_attributes: list[str] = []
        self.handlers: list[str] = []
        self.assets: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name, _ in attrs:
            if name.startswith("on"):
                self.handlers.append(f"<{tag} {name}>")
            if name == "style":
                self.style_attributes.append(tag)
        if tag == "script":
            if values.get("src"):
                self.assets.append(str(values["src"]))
            else:
                self.inline_scripts += 1
        if tag == "style":
            self.style_elements += 1
        if tag == "link" and values.get("rel") == "stylesheet" and values.get("href"):
            self.assets.append(str(values["href"]))


def check_page(response: Any) -> Markup:
    """The dashboard's headers are on the answer, and its HTML needs nothing CSP refuses."""
    headers = response.headers
    assert headers["content-security-policy"] == CSP, response.url
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert SERVER_TIMING.fullmatch(headers["server-timing"]), headers["server-timing"]
    markup = Markup()
    if headers.get("content-type", "").startswith("text/html"):
        markup.feed(response.text)
        assert markup.inline_scripts == 0, response.url
        assert markup.style_elements == 0, response.url
        assert markup.style_attributes == [], response.url
        assert markup.handlers == [], response.url
    return markup
