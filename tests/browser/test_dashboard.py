"""The dashboard in a real browser (Debian's Chromium, through Playwright) against a real
`i2v serve`: sign-in, a job from the create page watched live to the end, the video played,
the caption copied, cancel, delete, other users' jobs, admin pages, CSRF, a phone's screen,
and the CSP (every test fails on any console error or CSP violation: see conftest.Visitor).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Visitor
from tests.support.browser import DESKTOP, EXAMPLE, PHONE, Dashboard

Visit = Callable[..., Visitor]
JOB_URL = re.compile(r"/jobs/([0-9a-zA-Z_-]+)$")


def opened(visitor: Visitor, url: str) -> int:
    """Go to `url`; the status it answered."""
    response = visitor.page.goto(url)
    assert response is not None, url
    status: int = response.status
    return status


def test_sign_in_with_a_key_then_sign_out(visit: Visit, served: Dashboard) -> None:
    alice = visit()
    page = alice.page
    page.goto("/library")
    expect(page).to_have_url(re.compile(r"/signin\?next=%2Flibrary$"))
    page.get_by_label("API key").fill(served.keys["alice"])
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/library$"))  # back where it was going
    expect(page.locator(".who")).to_have_text("alice")
    assert served.keys["alice"] not in page.url
    cookie = next(c for c in alice.context.cookies() if c["httpOnly"])
    assert cookie["sameSite"] == "Lax"

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/signin$"))
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/signin$"))


def test_sign_in_with_an_invite_link_once(visit: Visit, served: Dashboard) -> None:
    link = served.invite("bob")
    bob = visit()
    bob.expect_refusals()  # the second use of the link answers 410
    page = bob.page
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in as bob")
    page.get_by_role("button", name="Continue as bob").click()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.locator(".who")).to_have_text("bob")

    assert opened(bob, link) == 410
    expect(page.locator("main")).to_contain_text("already used")


def test_submit_from_the_create_page_and_watch_it_live(visit: Visit, served: Dashboard) -> None:
    alice = visit()
    alice.sign_in(served.keys["alice"])
    page = alice.page
    page.set_input_files("#image", EXAMPLE)
    expect(page.locator("#preview")).to_be_visible()
    expect(page.locator("#picture-status")).to_have_text("Chosen: example.jpg")
    page.get_by_label("Motion").fill("slow zoom in on the lake")
    page.get_by_label("Length in seconds").fill("3")
    page.get_by_label("Caption for").select_option("instagram")
    expect(page.get_by_role("radio", name="This server's CPU")).to_be_checked()
    page.get_by_role("button", name="Make the video").click()
    page.wait_for_url(JOB_URL)
    page.evaluate("window.__samePage = true")  # gone if the page reloads

    # Live: the status panel changes over SSE until the result is swapped in, no reload.
    expect(page.locator("#job-status .state")).to_have_text("Succeeded", timeout=90_000)
    expect(page.get_by_role("heading", name="Your video")).to_be_visible()
    assert page.evaluate("window.__samePage") is True
    events = page.evaluate("window.__sse")
    assert {"status", "done"} <= set(events), events
    expect(page.locator("video")).to_have_count(1)
    expect(page.get_by_label("Instagram")).not_to_be_empty()
    expect(page.get_by_role("button", name="Cancel")).to_have_count(0)


def test_the_video_plays(visit: Visit, served: Dashboard, finished_job: str) -> None:
    alice = visit()
    alice.sign_in(served.keys["alice"])
    page = alice.page
    page.goto(f"/jobs/{finished_job}")
    video = page.locator("video")
    expect(video).to_be_visible()
    video.evaluate("v => v.play()")
    page.wait_for_function(
        "() => document.querySelector('video').currentTime > 0.3", timeout=15_000, polling=100
    )
    first = video.evaluate("v => [v.readyState, v.currentTime, v.error && v.error.message]")
    page.wait_for_timeout(400)
    later = video.evaluate("v => v.currentTime")
    assert first[0] >= 2, first  # HAVE_CURRENT_DATA or better
    assert first[2] is None, first
    assert later > first[1], (first, later)


def test_copy_the_caption(visit: Visit, served: Dashboard, finished_job: str) -> None:
    alice = visit(permissions=["clipboard-read", "clipboard-write"])
    alice.sign_in(served.keys["alice"])
    page = alice.page
    page.goto(f"/jobs/{finished_job}")
    for platform, name in (("instagram", "Instagram"), ("tiktok", "TikTok")):
        caption = page.locator(f"#caption-{platform}").input_value()
        assert caption.strip(), platform
        page.get_by_role("button", name=f"Copy the {name} caption").click()
        expect(page.locator(f'[data-copy-status="caption-{platform}"]')).to_have_text("Copied.")
        assert page.evaluate("navigator.clipboard.readText()") == caption


def test_cancel_a_job(visit: Visit, served: Dashboard) -> None:
    job_id = served.submit("alice", prompt="pan left", duration="90")
    alice = visit()
    alice.sign_in(served.keys["alice"])
    page = alice.page
    page.goto(f"/jobs/{job_id}")
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("#job-status .state")).to_have_text("Cancelled")
    expect(page.locator("main")).to_contain_text("This job was cancelled.")
    assert served.wait("alice", job_id)["state"] == "cancelled"


def test_delete_a_job_from_the_library(visit: Visit, served: Dashboard) -> None:
    job_id = served.submit("alice", prompt="gentle pan right", size="360x640", duration="3")
    served.wait("alice", job_id)
    alice = visit()
    alice.sign_in(served.keys["alice"])
    page = alice.page
    page.goto("/library")
    tile = page.locator("li.tile", has=page.locator(f'a[href="/jobs/{job_id}"]'))
    expect(tile).to_have_count(1)
    tile.get_by_role("link", name="Delete").click()
    expect(page).to_have_url(re.compile(f"/jobs/{job_id}/delete$"))
    page.get_by_role("button", name="Delete it").click()
    expect(page).to_have_url(re.compile(r"/library$"))
    expect(page.locator(f'a[href="/jobs/{job_id}"]')).to_have_count(0)
    gone = httpx.get(
        f"{served.url}/v1/jobs/{job_id}",
        headers={"Authorization": f"Bearer {served.keys['alice']}"},
    )
    assert gone.status_code == 404


def test_another_users_job_is_not_found(visit: Visit, served: Dashboard, finished_job: str) -> None:
    bob = visit()
    bob.expect_refusals()
    bob.sign_in(served.keys["bob"])
    page = bob.page
    for path in (f"/jobs/{finished_job}", f"/jobs/{finished_job}/delete"):
        assert opened(bob, path) == 404, path
        expect(page.locator("main")).to_contain_text("Error 404")
    for path in (f"/jobs/{finished_job}/video", f"/jobs/{finished_job}/cover"):
        assert page.request.get(path).status == 404, path
    page.goto("/library")
    expect(page.locator(f'a[href="/jobs/{finished_job}"]')).to_have_count(0)


def test_the_fleet_page_is_for_admins_only(visit: Visit, served: Dashboard, shots: Path) -> None:
    root = visit()
    root.expect_refusals()
    root.sign_in(served.keys["root"])
    assert opened(root, "/admin/fleet") == 200
    expect(root.page.get_by_role("heading", level=1)).to_contain_text("Fleet")
    for device, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        root.page.set_viewport_size(viewport)
        root.fits()
        root.page.screenshot(path=shots / f"admin-fleet-{device}.png", full_page=True)

    alice = visit()
    alice.expect_refusals()
    alice.sign_in(served.keys["alice"])
    assert opened(alice, "/admin/fleet") == 404
    expect(alice.page.get_by_role("link", name="Admin")).to_have_count(0)


def test_a_form_post_without_the_csrf_token_is_refused(
    visit: Visit, served: Dashboard, finished_job: str
) -> None:
    alice = visit()
    alice.expect_refusals()
    alice.sign_in(served.keys["alice"])
    page = alice.page
    page.goto(f"/jobs/{finished_job}")
    # From the page itself, as a script on it would: same origin, the session's cookie.
    status = page.evaluate(
        """path => fetch(path, {method: "POST", body: new URLSearchParams({confirm: "yes"})})
              .then(response => response.status)""",
        f"/jobs/{finished_job}/delete",
    )
    assert status == 403
    wrong = page.request.post(f"/jobs/{finished_job}/delete", form={"csrf_token": "0" * 64})
    assert wrong.status == 403
    page.reload()
    expect(page.get_by_role("heading", name="Your video")).to_be_visible()  # still there


def test_the_csp_watch_sees_a_violation(visit: Visit, served: Dashboard) -> None:
    """The console check every test relies on is not blind: an inline style is caught."""
    alice = visit()
    alice.sign_in(served.keys["alice"])
    alice.page.evaluate(
        "document.head.appendChild(document.createElement('style')).textContent = 'p{}'"
    )
    alice.page.wait_for_timeout(200)
    assert any("style-src" in problem for problem in alice.problems), alice.problems
    alice.problems.clear()


@pytest.mark.parametrize(("device", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
def test_every_page_fits_and_is_saved(
    visit: Visit,
    served: Dashboard,
    finished_job: str,
    shots: Path,
    device: str,
    viewport: dict[str, int],
) -> None:
    """Each page at 1280x800 and 390x844: no sideways scroll; a screenshot of each."""
    phone = {"is_mobile": True, "has_touch": True} if device == "phone" else {}
    visitor = visit(viewport=viewport, **phone)  # a phone honours the page's meta viewport
    visitor.expect_refusals()  # the 404 page
    page = visitor.page

    def shoot(name: str) -> None:
        visitor.fits()
        page.wait_for_function("() => Array.from(document.images).every(i => i.complete)")
        page.screenshot(path=shots / f"{name}-{device}.png", full_page=True)

    page.goto("/signin")
    shoot("signin")
    page.goto(served.invite("alice"))
    shoot("invite")
    page.get_by_role("button", name="Continue as alice").click()
    page.wait_for_url(re.compile(r"/$"))
    page.set_input_files("#image", EXAMPLE)
    page.get_by_label("Motion").fill("slow zoom in on the lake")
    expect(page.locator("#preview")).to_be_visible()
    shoot("create")
    page.get_by_role("button", name="Preview the enhanced prompt").click()
    expect(page.locator("#enhanced_prompt")).to_be_visible()
    shoot("create-enhanced")
    page.goto(f"/jobs/{finished_job}")
    expect(page.locator("video")).to_be_visible()
    shoot("job")
    live = served.submit("alice", prompt="pan right", duration="90")
    page.goto(f"/jobs/{live}")
    expect(page.locator("progress")).to_be_visible()
    shoot("job-live")
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("#job-status .state")).to_have_text("Cancelled")
    shoot("job-cancelled")
    page.goto("/library")
    expect(page.locator("li.tile").first).to_be_visible()
    shoot("library")
    page.goto(f"/jobs/{finished_job}/delete")
    shoot("delete")
    page.goto("/jobs/no-such-job")
    shoot("not-found")
