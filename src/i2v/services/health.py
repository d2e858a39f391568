"""The deployment's health as an admin sees it: every backend's state (`services.backends`,
as GET /v1/backends shows it, last errors included), the ComfyUI servers it is configured
with, and the fleet's providers. Read from the settings and the database only: nothing here
calls a server or a provider, so the page that shows it stays fast when they are down."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import httpx

from i2v.bootstrap import App
from i2v.config import Settings
from i2v.db import fleet as fleet_repo
from i2v.fleet import budget as money
from i2v.net.ssrf import display_url
from i2v.services.backends import BackendView, list_backends

KEY_SETTINGS = {"vast": "I2V_VAST_API_KEY", "runpod": "I2V_RUNPOD_API_KEY"}


@dataclass(frozen=True, slots=True)
class ProviderView:
    name: str  # vast, runpod
    usable: bool  # its API key is set
    reason: str | None  # why it is not usable
    open_instances: int
    usd_per_hour: Decimal  # what its open instances cost now


@dataclass(frozen=True, slots=True)
class HealthReport:
    backends: tuple[BackendView, ...]
    comfyui_servers: tuple[str, ...]  # I2V_COMFYUI_URLS, without credentials or queries
    fleet_enabled: bool
    providers: tuple[ProviderView, ...]  # I2V_FLEET_PROVIDERS, in failover order


def shown_url(url: str) -> str:
    """A configured URL as a page may show it: no userinfo, query or fragment."""
    try:
        return display_url(httpx.URL(url))
    except (ValueError, httpx.InvalidURL):
        return "(a URL that does not parse)"


def _key_set(settings: Settings, provider: str) -> bool:
    key = settings.vast_api_key if provider == "vast" else settings.runpod_api_key
    return key is not None and bool(key.get_secret_value())


def health_report(app: App) -> HealthReport:
    settings = app.settings
    with app.db.session() as session:
        open_rows = fleet_repo.open_rows(session)
    providers = []
    for name in settings.fleet_providers:
        mine = [row for row in open_rows if row.provider == name]
        usable = _key_set(settings, name)
        providers.append(
            ProviderView(
                name=name,
                usable=usable,
                reason=None if usable else f"no API key ({KEY_SETTINGS[name]})",
                open_instances=len(mine),
                usd_per_hour=money.hourly_rate(mine),
            )
        )
    return HealthReport(
        backends=tuple(list_backends(app, show_errors=True)),
        comfyui_servers=tuple(shown_url(url) for url in settings.comfyui_urls),
        fleet_enabled=settings.fleet_enabled,
        providers=tuple(providers),
    )
