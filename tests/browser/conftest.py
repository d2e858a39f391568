"""Real-browser fixtures: one `i2v serve` and one Chromium for all of them, a new browser
context (its own cookies) per visitor, and every console error, page error and CSP violation
a page reports collected and failed on.

Debian's `chromium` is required: where it is missing these tests are skipped with the reason,
unless I2V_REQUIRE_BROWSER=1 (as scripts/test.sh sets) makes that a failure.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import (
    DESKTOP,
    REQUIRE_ENV,
    WATCH_CSP,
    Dashboard,
    chromium_path,
    dashboard,
    launch,
    screenshots_dir,
)

pytestmark = pytest.mark.integration

# How Chromium reports an answer with an error status: expected where a test asks for one.
REFUSED_RESOURCE = re.compile(r"Failed to load resource: the server responded with a status of")
# The script Playwright runs in every page: console errors from the CSP listener, and each
# message htmx's SSE extension swaps in, so a test can tell the page updated without a reload.
WATCH_SSE = """
window.__sse = [];
document.addEventListener("htmx:sseMessage", function (event) {
  window.__sse.push(event.detail.type);
});
"""


@pytest.fixture(scope="session")
def chromium_exe() -> str:
    found = chromium_path()
    if found is not None:
        return found
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"Debian's chromium is not installed, and {REQUIRE_ENV}=1 requires it")
    pytest.skip(
        "Debian's chromium is not installed: browser tests not run (apt-get install chromium, "
        f"or set {REQUIRE_ENV}=1 to make this a failure)"
    )


@pytest.fixture(scope="package")
def browser(chromium_exe: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch(playwright, chromium_exe)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="package")
def served(
    chromium_exe: str, i2v_exe: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Dashboard]:
    """One `i2v serve` for all the browser tests: alice, bob and root (admin), with keys.
    Package-scoped, so it and the browser stop once the last browser test has run, not at
    the end of the whole session."""
    with dashboard(i2v_exe, tmp_path_factory.mktemp("dashboard")) as running:
        yield running


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots are saved: I2V_SCREENSHOTS_DIR, else the session's temp folder."""
    return screenshots_dir(tmp_path_factory.getbasetemp() / "screenshots")


class Visitor:
    """One browser context (a person's browser: its own cookies) and its page."""

    def __init__(self, browser: Any, base_url: str, viewport: dict[str, int], **options: Any):
        self.context = browser.new_context(base_url=base_url, viewport=viewport, **options)
        self.context.add_init_script(WATCH_CSP + WATCH_SSE)
        self.context.set_default_timeout(15_000)
        self.problems: list[str] = []
        self.refusals_expected = False
        self.page = self.context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))

    def _console(self, message: Any) -> None:
        if message.type not in ("error", "warning"):
            return
        if self.refusals_expected and REFUSED_RESOURCE.search(message.text):
            return
        source = message.location.get("url") or ""
        self.problems.append(f"{message.type} on {self.page.url}: {message.text} ({source})")

    def expect_refusals(self) -> None:
        """The test asks for answers with an error status (404, 403, 410) on purpose."""
        self.refusals_expected = True

    def sign_in(self, key: str) -> None:
        page = self.page
        page.goto("/signin")
        page.get_by_label("API key").fill(key)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(re.compile(r"/$"))

    def fits(self) -> None:
        """No horizontal scroll: the page is no wider than the window."""
        width, client = self.page.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert width <= client, f"{self.page.url} scrolls sideways: {width} > {client} px"


@pytest.fixture
def visit(browser: Any, served: Dashboard) -> Iterator[Callable[..., Visitor]]:
    """`visit(viewport=..., **context options)`: a new visitor; each one's console must stay
    free of errors, warnings and CSP violations for the whole test."""
    visitors: list[Visitor] = []

    def open_visitor(viewport: dict[str, int] = DESKTOP, **options: Any) -> Visitor:
        visitor = Visitor(browser, served.url, viewport, **options)
        visitors.append(visitor)
        return visitor

    yield open_visitor
    problems = [problem for visitor in visitors for problem in visitor.problems]
    for visitor in visitors:
        visitor.context.close()
    assert problems == [], "the browser reported problems:\n" + "\n".join(problems)


@pytest.fixture(scope="package")
def finished_job(served: Dashboard) -> str:
    """Alice's small finished job with both captions, made through the API."""
    job_id = served.submit(
        "alice",
        prompt="slow zoom in on the lake",
        caption="both",
        size="360x640",
        duration="3",
        fps="24",
    )
    job = served.wait("alice", job_id)
    assert job["state"] == "succeeded", job
    return job_id
