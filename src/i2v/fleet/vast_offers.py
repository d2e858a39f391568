"""Vast's offer search without HTTP: Requirements as its query, its answer as matching Offers."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from i2v.fleet.base import Offer, Requirements

log = logging.getLogger(__name__)

PROVIDER = "vast"  # here, not in vast.py, which imports this module
MB_PER_GB = 1000  # the vastai CLI's multiplier for gpu_ram (api/query.py offers_mult)

# Region names accepted in Requirements.regions besides two-letter country codes.
_EUROPE = (
    "AL AD AT BY BE BA BG HR CY CZ DK EE FI FR DE GR HU IS IE IT LV LI LT LU MT MD MC ME NL MK "
    "NO PL PT RO RU SM RS SK SI ES SE CH UA GB VA XK"
)
_NORTH_AMERICA = "AG BS BB BZ CA CR CU DM DO SV GD GT HT HN JM MX NI PA KN LC VC TT US"
_REGIONS: dict[str, tuple[str, ...]] = {
    "EU": tuple(_EUROPE.split()),
    "NA": tuple(_NORTH_AMERICA.split()),
}


def offer_query(req: Requirements) -> dict[str, Any]:
    """The body of POST /api/v0/bundles/ asking for offers that meet `req`."""
    query: dict[str, Any] = {
        "verified": {"eq": True},
        "rentable": {"eq": True},
        "rented": {"eq": False},
        "external": {"eq": False},
        "num_gpus": {"eq": 1},  # ComfyUI uses one GPU; a second would be paid for idle
        "gpu_ram": {"gte": req.min_vram_gb * MB_PER_GB},
        "reliability": {"gte": req.min_reliability},
        "disk_space": {"gte": req.min_disk_gb},
        "order": [["dph_total", "asc"]],
        "type": "on-demand",
        "allocated_storage": req.min_disk_gb,  # dph_total then includes this much disk
        "limit": 64,
    }
    if req.gpu_names:
        query["gpu_name"] = {"in": [n.replace("_", " ") for n in req.gpu_names]}
    if req.max_usd_per_hour is not None:
        query["dph_total"] = {"lte": req.max_usd_per_hour}
    if req.min_cuda is not None:
        query["cuda_max_good"] = {"gte": req.min_cuda}
    if req.regions:
        query["geolocation"] = {"in": list(_countries(req.regions))}
    return query


def matching_offers(rows: Sequence[object], req: Requirements) -> list[Offer]:
    """The rows that are offers meeting `req`, cheapest first."""
    offers = [o for o in map(_offer, rows) if o is not None and _meets(o, req)]
    return sorted(offers, key=lambda o: o.usd_per_hour)


def number(value: object) -> float | None:
    """A JSON number or numeric string as a float; None otherwise, booleans included."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _offer(row: object) -> Offer | None:
    if not isinstance(row, dict):
        return None
    price, ram = number(row.get("dph_total")), number(row.get("gpu_ram"))
    if row.get("id") is None or price is None or ram is None:
        log.debug("vast offer without id, price or gpu_ram skipped")
        return None
    geolocation = row.get("geolocation")
    return Offer(
        provider=PROVIDER,
        offer_id=str(row["id"]),
        gpu_name=str(row.get("gpu_name") or "?"),
        num_gpus=int(number(row.get("num_gpus")) or 1),
        vram_gb=ram / MB_PER_GB,
        usd_per_hour=price,
        reliability=number(row.get("reliability", row.get("reliability2"))),
        cuda=number(row.get("cuda_max_good")),
        disk_gb=number(row.get("disk_space")),
        region=_country(geolocation) or (geolocation if isinstance(geolocation, str) else None),
    )


def _meets(offer: Offer, req: Requirements) -> bool:
    """The requirements again, client-side: the search API may be looser than asked."""
    names = {_gpu_key(n) for n in req.gpu_names}
    countries = _countries(req.regions)
    return (
        offer.num_gpus == 1
        and offer.vram_gb >= req.min_vram_gb
        and (not names or _gpu_key(offer.gpu_name) in names)
        and (offer.reliability or 0.0) >= req.min_reliability
        and (req.max_usd_per_hour is None or offer.usd_per_hour <= req.max_usd_per_hour)
        and (req.min_cuda is None or (offer.cuda or 0.0) >= req.min_cuda)
        and (offer.disk_gb or 0.0) >= req.min_disk_gb
        and (not countries or offer.region in countries)
    )


def _country(geolocation: object) -> str | None:
    """ "Texas, US" -> "US"; None where there is no trailing two-letter code."""
    if not isinstance(geolocation, str):
        return None
    code = geolocation.rsplit(",", 1)[-1].strip()
    return code.upper() if len(code) == 2 and code.isalpha() else None


def _countries(regions: Sequence[str]) -> tuple[str, ...]:
    codes: list[str] = []
    for region in regions:
        codes.extend(_REGIONS.get(region.upper(), (region.upper(),)))
    return tuple(dict.fromkeys(codes))


def _gpu_key(name: str) -> str:
    return name.replace("_", " ").casefold().strip()
