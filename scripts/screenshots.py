"""Regenerates the dashboard's screenshots in docs/screenshots/ (the README shows them).

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]

Starts a temporary `i2v serve` (SQLite in a temporary folder), makes a video of
examples/example.jpg from the create page with an Instagram caption and two more through the
API for the library, then saves the create, job and library pages as a desktop (1280x800) and
a phone (390x844) sees them: `{create,job,library}-{desktop,phone}.png`, each the first
screenful. It drives the same browser as tests/browser: Debian's Chromium through Playwright
(`apt-get install chromium`; `fonts-noto-color-emoji` draws the caption's emoji).
"""

from __future__ import annotations

import argparse
import io
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps
from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.browser import (  # noqa: E402
    DESKTOP,
    EXAMPLE,
    PHONE,
    Dashboard,
    chromium_path,
    dashboard,
    i2v_console_script,
    launch,
)

PROMPT = "slow zoom in on the lake"
MAX_BYTES = 200_000


def save(png: bytes, path: Path) -> int:
    """Write the screenshot as a PNG of at most MAX_BYTES: as taken where it fits, else with
    fewer bits per colour channel (6, then 5: no visible change on these pages, unlike a
    256-colour palette, which loses the status colours); its size in bytes."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    for bits in (8, 6, 5):
        out = io.BytesIO()
        ImageOps.posterize(image, bits).save(out, format="PNG", optimize=True)
        if out.tell() <= MAX_BYTES:
            break
    path.write_bytes(out.getvalue())
    return out.tell()


def fill_create_form(page: Any) -> None:
    page.set_input_files("#image", EXAMPLE)
    expect(page.locator("#preview")).to_be_visible()
    page.get_by_label("Motion").fill(PROMPT)
    page.get_by_label("Length in seconds").fill("3")
    page.get_by_label("Caption for").select_option("instagram")


def make_the_job(browser: Any, served: Dashboard) -> str:
    """The featured job, made as a creator would: through the create page."""
    context = browser.new_context(base_url=served.url, viewport=DESKTOP)
    page = context.new_page()
    page.goto(served.invite("alice"))
    page.get_by_role("button", name="Continue as alice").click()
    page.wait_for_url(re.compile(r"/$"))
    fill_create_form(page)
    page.get_by_role("button", name="Make the video").click()
    page.wait_for_url(re.compile(r"/jobs/\w+$"))
    expect(page.locator("#job-status .state")).to_have_text("Succeeded", timeout=120_000)
    job_id = page.url.rsplit("/", 1)[1]
    context.close()
    return job_id


def shoot(browser: Any, served: Dashboard, job_id: str, device: str, out: Path) -> None:
    viewport = DESKTOP if device == "desktop" else PHONE
    context = browser.new_context(base_url=served.url, viewport=viewport)
    page = context.new_page()
    page.goto("/signin")
    page.get_by_label("API key").fill(served.keys["alice"])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/$"))

    def take(name: str) -> None:
        page.wait_for_function("() => Array.from(document.images).every(i => i.complete)")
        page.evaluate("window.scrollTo(0, 0)")
        path = out / f"{name}-{device}.png"
        size = save(page.screenshot(), path)
        print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: {size} bytes")

    fill_create_form(page)
    page.locator("#prompt").blur()
    take("create")
    page.goto(f"/jobs/{job_id}")
    # Loaded and settled, so no loading spinner is drawn over the first frame.
    page.wait_for_function(
        "() => { const v = document.querySelector('video');"
        " return v.readyState >= 2 && v.networkState !== v.NETWORK_LOADING; }"
    )
    page.wait_for_timeout(1500)  # the player's loading spinner fades out
    take("job")
    page.goto("/library")
    take("library")
    context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    executable = chromium_path()
    if executable is None:
        sys.exit("Debian's chromium is not installed: apt-get install chromium")
    with (
        tempfile.TemporaryDirectory(prefix="i2v-screenshots-") as folder,
        dashboard(i2v_console_script(), Path(folder)) as served,
        sync_playwright() as playwright,
    ):
        # Two earlier videos, so the library is not a single tile.
        earlier = [
            served.submit("alice", prompt=prompt, size="360x640", duration="3")
            for prompt in ("pan left across the hills", "dramatic pull back")
        ]
        for job_id in earlier:
            assert served.wait("alice", job_id)["state"] == "succeeded"
        browser = launch(playwright, executable)
        try:
            job_id = make_the_job(browser, served)
            for device in ("desktop", "phone"):
                shoot(browser, served, job_id, device, out)
        finally:
            browser.close()


if __name__ == "__main__":
    main()
