"""Benchmark the dashboard's server time with 1,000 jobs in the library, against GET /v1/jobs.

One user owns 1,000 finished jobs, written straight through the database layer (realistic
specs from the catalogue's models, six events and two artifacts each; nothing is rendered).
The app runs in-process under a TestClient without its worker; a thin ASGI wrapper times
what the application spends on each request, from the call to its last body byte (client
work is not counted). Each page is loaded `--loads` times, interleaved with the JSON
endpoint for the same data in shuffled rounds, so machine noise hits all of them alike:
- the create page (`/`, and `/?model=...` whose picker quotes every backend of a model);
- a job's page; the library's first page and its fifth (through its cursor);
- every admin page that answers 200 for an admin (if the app has any);
- `GET /v1/jobs?limit=24` (the library's page size), and the same at the fifth page's
  cursor, which is the baseline of the library's later page.

Targets (issue 14): each page's p50 <= 2x the JSON endpoint's and its p99 <= 100 ms; the
create page with everything it links (stylesheets, scripts, images) <= 150 KB uncompressed.
`--profile PAGE` prints where the app's threads spend that page's time (cProfile).

    python bench/web.py [--jobs 1000] [--loads 50] [--db sqlite,postgres] [--profile library]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import re
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import timedelta
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from fastapi.testclient import TestClient
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from i2v.api.app import create_app  # noqa: E402
from i2v.bootstrap import open_app  # noqa: E402
from i2v.config import Settings, load_settings  # noqa: E402
from i2v.db.tables import Artifact, Job, JobEvent, utcnow  # noqa: E402
from i2v.domain.ids import new_id  # noqa: E402
from i2v.domain.job import JobSpec, JobState  # noqa: E402
from i2v.services import accounts  # noqa: E402
from i2v.services.estimates import quote_spec  # noqa: E402
from i2v.web.routes_library import PAGE_SIZE  # noqa: E402
from i2v.web.sessions import COOKIE  # noqa: E402

TARGET_RATIO = 2.0
TARGET_P99_MS = 100.0
TARGET_CREATE_BYTES = 150 * 1024
WARM_UP = 5
LATER_PAGE = 5  # the library's page measured through its cursor
# (model or None for the local renderer, backend asked, aspect, seconds): what creators ran.
RECIPES = (
    (None, "local", "9:16", 5.0),
    ("wan-2.2-5b", "comfyui", "9:16", 5.0),
    ("wan-2.2-14b", "auto", "4:5", 5.0),
    ("kling-2.5-turbo-pro", "fal", "9:16", 5.0),
    ("seedance-1-lite", "fal", "1:1", 5.0),
    ("veo-3.1-fast", "fal", "16:9", 8.0),
)
PROMPTS = (
    "slow zoom in on her face, hair moving in the wind",
    "pan left across the harbour at dusk, boats rocking gently",
    "the dog turns its head towards the camera and wags its tail",
    "dolly forward through the market, people walking past",
    "orbit around the cake while the candles flicker",
)


# ---- the data ---------------------------------------------------------------------------


def _spec(i: int) -> tuple[JobSpec, str | None]:
    model, backend, aspect, seconds = RECIPES[i % len(RECIPES)]
    typed = PROMPTS[i % len(PROMPTS)]
    render = quote_spec(model=model, duration_s=seconds, aspect=aspect, prompt=typed)
    sent = f"{typed}, cinematic, smooth camera motion, natural light" if model else typed
    picture = f"{i:064x}"
    spec = JobSpec(
        render=replace(render, prompt=sent, seed=i),
        backend=backend,
        input_key=f"inputs/{picture}.png",
        input_sha256=picture,
        candidates=(("fal", "comfyui") if backend == "auto" else (backend,)),
        original_prompt=typed if model else None,
        enhanced_by="rules",
        rating="PG-13",
        captions=(
            ("instagram", f"{typed.capitalize()} ✨ #reels #ai"),
            ("tiktok", f"{typed} #fyp #aivideo"),
        ),
    )
    return spec, model


def seed_jobs(settings: Settings, owner_id: str, count: int) -> None:
    """`count` succeeded jobs a minute apart, newest now, each with its events and files."""
    app = open_app(settings)
    now = utcnow()
    try:
        with app.db.session() as session:
            jobs, rest = [], []
            for i in range(count):
                spec, model = _spec(i)
                created = now - timedelta(minutes=count - i)
                started, finished = created + timedelta(seconds=2), created + timedelta(seconds=50)
                job = Job(
                    id=new_id("job"), owner_id=owner_id, spec=spec.to_json(),
                    state=JobState.SUCCEEDED.value, backend=spec.route[0], model=model,
                    stage="publish", progress=1.0, created_at=created, started_at=started,
                    finished_at=finished, cost_usd=Decimal("0.35") if model else Decimal(0),
                    cost_estimate_usd=Decimal("0.35") if model else Decimal(0),
                    hosted=spec.route[0] == "fal", rating="PG",
                    cache_key=f"{i:064x}",
                )  # fmt: skip
                jobs.append(job)
                events: list[tuple[str, dict[str, Any]]] = [
                    ("state", {"state": "queued"}),
                    ("prompt", {"original": spec.original_prompt, "prompt": spec.render.prompt,
                                "source": "rules", "notes": []}),
                    ("state", {"state": "running"}),
                    ("progress", {"stage": "render", "progress": 0.5}),
                    ("progress", {"stage": "publish", "progress": 0.95}),
                    ("state", {"state": "succeeded"}),
                ]  # fmt: skip
                rest += [
                    JobEvent(job_id=job.id, type=kind, data=data, created_at=started)
                    for kind, data in events
                ]
                for kind, suffix, kind_type, size in (
                    ("video", "mp4", "video/mp4", 2_400_000 + i),
                    ("cover", "jpg", "image/jpeg", 90_000 + i),
                ):
                    digest = f"{i:060x}{len(kind):04x}"
                    rest.append(Artifact(
                        id=new_id("art"), job_id=job.id, kind=kind,
                        storage_key=f"results/{digest}.{suffix}", size=size,
                        content_type=kind_type, sha256=digest, created_at=finished,
                    ))  # fmt: skip
            session.add_all(jobs)
            session.flush()
            session.add_all(rest)
    finally:
        app.close()


# ---- timing -----------------------------------------------------------------------------


class Timed:
    """The application, timed from its call to its last body message (server time)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.last_ms = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed(message: Message) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.last_ms = (time.perf_counter() - started) * 1000
            await send(message)

        await self.app(scope, receive, timed)


SERVER_TIMING = re.compile(r"\bapp;dur=([0-9.]+)")


@dataclass
class Page:
    name: str
    url: str
    client: TestClient
    baseline: str = "json"  # the name of the page it is compared with
    headers: dict[str, str] = field(default_factory=dict)
    times: list[float] = field(default_factory=list)
    reported: list[float] = field(default_factory=list)  # its Server-Timing app;dur

    def load(self, timed: Timed) -> None:
        response = self.client.get(self.url, headers=self.headers, follow_redirects=False)
        if response.status_code != 200:
            raise RuntimeError(f"{self.url} answered {response.status_code}: {response.text}")
        self.times.append(timed.last_ms)
        found = SERVER_TIMING.search(response.headers.get("server-timing", ""))
        if found:
            self.reported.append(float(found.group(1)))

    def pct(self, q: float) -> float:
        ordered = sorted(self.times)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Links(HTMLParser):
    """Every same-site file a page makes the browser fetch: scripts, stylesheets, images."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        wanted = {"script": "src", "img": "src", "source": "src", "video": "poster", "link": "href"}
        url = values.get(wanted.get(tag, ""))
        if tag == "link" and values.get("rel") not in ("stylesheet", "icon", "preload", "manifest"):
            return
        if url and not urlsplit(url).netloc and not url.startswith("data:"):
            self.urls.append(url)


def page_weight(client: TestClient, headers: dict[str, str]) -> tuple[int, list[tuple[str, int]]]:
    """The create page's HTML and every file it links (and its stylesheets' url()s),
    uncompressed."""
    html = client.get("/", headers={**headers, "Accept-Encoding": "identity"}).content
    links = Links()
    links.feed(html.decode())
    queue, seen, files = list(links.urls), set(), []
    while queue:
        link = queue.pop(0)
        if link in seen:
            continue
        seen.add(link)
        response = client.get(link, headers={"Accept-Encoding": "identity"})
        if response.status_code != 200:
            raise RuntimeError(f"the create page links {link}: {response.status_code}")
        files.append((link, len(response.content)))
        if link.split("?")[0].endswith(".css"):
            for ref in re.findall(rb"url\(['\"]?([^'\")]+)", response.content):
                if not ref.startswith(b"data:"):
                    queue.append(urljoin(link, ref.decode()))
    return len(html), files


# ---- profiling --------------------------------------------------------------------------


@contextmanager
def profiled_threads(*, enabled: bool) -> Iterator[list[cProfile.Profile]]:
    """A profiler in each thread started from here on (the app's event loop and its worker
    threads run the requests, not the caller's thread)."""
    profiles: list[cProfile.Profile] = []
    if not enabled:
        yield profiles
        return

    def start(*_: object) -> None:
        profile = cProfile.Profile()
        profiles.append(profile)
        profile.enable()  # replaces this hook in the new thread

    threading.setprofile(start)
    try:
        yield profiles
    finally:
        threading.setprofile(None)  # type: ignore[arg-type]


def print_profile(profiles: list[cProfile.Profile], loads: int) -> None:
    stats: pstats.Stats | None = None
    for profile in profiles:
        profile.disable()
        out = pstats.Stats(profile, stream=io.StringIO())
        if stats is None:
            stats = out
        else:
            stats.add(out)
    if stats is None:
        print("nothing profiled")
        return
    stream = io.StringIO()
    stats.stream = stream  # type: ignore[attr-defined]
    stats.sort_stats("cumulative").print_stats(40)
    print(f"profile of {loads} loads (cumulative, all of the app's threads):")
    print("\n".join(stream.getvalue().splitlines()[:70]))


# ---- the run ----------------------------------------------------------------------------


def _session_cookie(client: TestClient, key: str) -> dict[str, str]:
    """Signs in with `key`; the session's Cookie header (the client's own jar is emptied, so
    the next sign-in does not replace this session)."""
    response = client.post("/signin", data={"api_key": key}, follow_redirects=False)
    if response.status_code != 303:
        raise RuntimeError(f"sign-in answered {response.status_code}: {response.text}")
    cookie = {"Cookie": f"{COOKIE}={client.cookies[COOKIE]}"}
    client.cookies.clear()
    return cookie


def _admin_paths(app: Any) -> list[str]:
    """The app's admin pages with no parameters in their path (none, before they exist)."""
    return sorted(
        route.path
        for route in app.routes
        if isinstance(route, Route)
        and (route.path == "/admin" or route.path.startswith("/admin/"))
        and "{" not in route.path
        and "GET" in (route.methods or ())
    )


def run(label: str, database_url: str | None, args: argparse.Namespace) -> bool:
    with tempfile.TemporaryDirectory(prefix="i2v-webbench-") as data:
        # A key and a server, never called (nothing runs), so the picker prices every backend.
        overrides: dict[str, object] = {
            "data_dir": Path(data),
            "fal_key": "bench-not-a-key",
            "comfyui_urls": ["http://127.0.0.1:9"],
        }
        if database_url:
            overrides["database_url"] = database_url
        settings = load_settings(**overrides)
        app = open_app(settings)
        creator = accounts.create_user(app.db, "creator")
        accounts.create_user(app.db, "root", admin=True)
        keys = {name: accounts.create_key(app.db, name).token for name in ("creator", "root")}
        app.close()
        started = time.perf_counter()
        seed_jobs(settings, creator.id, args.jobs)
        seeded_s = time.perf_counter() - started
        api = create_app(settings, run_worker=False)
        timed = Timed(api)
        # One client, so one event loop and one pool of worker threads for every page.
        with profiled_threads(enabled=bool(args.profile)) as profiles, TestClient(timed) as client:
            pages = _pages(api, client, keys)
            if args.profile:
                return profile(pages, timed, profiles, args)
            _interleaved(pages, timed, args.loads)
            html, files = page_weight(client, pages_named(pages, "create").headers)
        return report(label, args, pages, seeded_s, html, files)


def pages_named(pages: list[Page], name: str) -> Page:
    return next(page for page in pages if page.name == name)


def _pages(api: Any, client: TestClient, keys: dict[str, str]) -> list[Page]:
    """What is measured: each page with the headers that sign it in."""
    bearer = {"Authorization": f"Bearer {keys['creator']}"}
    creator, admin = (_session_cookie(client, keys[name]) for name in ("creator", "root"))
    listing = client.get(f"/v1/jobs?limit={PAGE_SIZE}", headers=bearer).json()
    job_id = listing["jobs"][len(listing["jobs"]) // 2]["id"]
    cursor = listing["next_cursor"]
    for _ in range(LATER_PAGE - 2):
        later = client.get(f"/v1/jobs?limit={PAGE_SIZE}&cursor={cursor}", headers=bearer)
        cursor = later.json()["next_cursor"]
    pages = [
        Page("json", f"/v1/jobs?limit={PAGE_SIZE}", client, headers=bearer),
        Page(f"json p{LATER_PAGE}", f"/v1/jobs?limit={PAGE_SIZE}&cursor={cursor}", client,
             headers=bearer),
        Page("create", "/", client, headers=creator),
        Page("create+model", "/?model=wan-2.2-14b&duration=5&aspect=9:16", client,
             headers=creator),
        Page("job", f"/jobs/{job_id}", client, headers=creator),
        Page("library", "/library", client, headers=creator),
        Page(f"library p{LATER_PAGE}", f"/library?cursor={cursor}", client, headers=creator,
             baseline=f"json p{LATER_PAGE}"),
    ]  # fmt: skip
    shown = client.get("/library", headers=creator).text.count('<li class="tile">')
    if shown != PAGE_SIZE:
        raise RuntimeError(f"the library shows {shown} jobs, not {PAGE_SIZE}")
    answered = {path: client.get(path, headers=admin).status_code for path in _admin_paths(api)}
    pages += [Page(f"admin {p}", p, client, headers=admin) for p, s in answered.items() if s == 200]
    if any(status != 200 for status in answered.values()) or not answered:
        print(f"admin pages: {answered or 'none in this app'} (only those answering 200 are timed)")
    return pages


def _interleaved(pages: list[Page], timed: Timed, loads: int) -> None:
    """`loads` rounds (after a few unrecorded ones), each loading every page once in a
    shuffled order."""
    order = list(pages)
    shuffle = random.Random(14)
    for _ in range(WARM_UP + loads):
        shuffle.shuffle(order)
        for page in order:
            page.load(timed)
    for page in pages:
        del page.times[:WARM_UP], page.reported[:WARM_UP]


def profile(
    pages: list[Page], timed: Timed, profiles: list[cProfile.Profile], args: argparse.Namespace
) -> bool:
    chosen = [p for p in pages if p.name == args.profile]
    if not chosen:
        print(f"no page {args.profile!r}; pages: {', '.join(p.name for p in pages)}")
        return False
    page = chosen[0]
    for _ in range(WARM_UP):
        page.load(timed)
    page.times.clear()
    for each in profiles:
        each.clear()  # the start-up, sign-in and warm-up are not counted
    for _ in range(args.loads):
        page.load(timed)
    print_profile(profiles, args.loads)
    print(f"{page.name}: p50 {page.pct(0.5):.1f} ms under the profiler")
    return True


def report(
    label: str,
    args: argparse.Namespace,
    pages: list[Page],
    seeded_s: float,
    html: int,
    files: list[tuple[str, int]],
) -> bool:
    by_name = {page.name: page for page in pages}
    print(f"\n{label}: {args.jobs} jobs (written in {seeded_s:.1f} s), {args.loads} loads each, "
          f"interleaved; server time in the app, ms")  # fmt: skip
    print(f"  {'page':22} {'p50':>7} {'p99':>7} {'x base':>7}  {'Server-Timing p50':>17}")
    checks: dict[str, bool] = {}
    for page in pages:
        base = by_name[page.baseline]
        ratio = page.pct(0.5) / base.pct(0.5)
        reported = f"{statistics.median(page.reported):.1f}" if page.reported else "-"
        print(f"  {page.name:22} {page.pct(0.5):7.1f} {page.pct(0.99):7.1f} {ratio:7.2f}  "
              f"{reported:>17}")  # fmt: skip
        if page.name.startswith("json"):
            continue
        checks[f"{page.name} ({page.url[:40]}): p50 {ratio:.2f}x {page.baseline} "
               f"(<= {TARGET_RATIO:g}x)"] = ratio <= TARGET_RATIO  # fmt: skip
        checks[f"{page.name}: p99 {page.pct(0.99):.1f} ms (<= {TARGET_P99_MS:.0f} ms)"] = (
            page.pct(0.99) <= TARGET_P99_MS
        )
    total = html + sum(size for _, size in files)
    listed = ", ".join(f"{url.split('?')[0]} {size:,}" for url, size in files)
    print(f"  create page: HTML {html:,} B + {len(files)} files ({listed})")
    checks[f"create page with its files: {total:,} B (<= {TARGET_CREATE_BYTES:,})"] = (
        total <= TARGET_CREATE_BYTES
    )
    for text, passed in checks.items():
        print(f"  {'PASS' if passed else 'MISS'}  {text}")
    return all(checks.values())


@contextmanager
def databases(names: list[str]) -> Iterator[Iterator[tuple[str, str | None]]]:
    """(name, I2V_DATABASE_URL or None for the SQLite file) for each database asked for."""
    from tests.support.postgres import PostgresCluster

    cluster = PostgresCluster() if "postgres" in names else None
    try:
        if cluster is not None:
            cluster.start()

        def each() -> Iterator[tuple[str, str | None]]:
            for name in names:
                if name == "sqlite":
                    yield name, None
                elif cluster is not None:
                    yield name, cluster.url(cluster.create_database())

        yield each()
    finally:
        if cluster is not None:
            cluster.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--loads", type=int, default=50)
    parser.add_argument("--db", default="sqlite", help="comma-separated: sqlite,postgres")
    parser.add_argument("--profile", metavar="PAGE", help="profile one page instead (its name)")
    args = parser.parse_args()
    if args.jobs < PAGE_SIZE * LATER_PAGE:
        parser.error(f"--jobs: at least {PAGE_SIZE * LATER_PAGE} (the library's page {LATER_PAGE})")
    for name in [k for k in os.environ if k.startswith("I2V_")]:
        del os.environ[name]  # the run's own settings only
    passed = True
    with databases(args.db.split(",")) as chosen:
        for name, url in chosen:
            passed = run(name, url, args) and passed
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
