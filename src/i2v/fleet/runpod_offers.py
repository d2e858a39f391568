"""RunPod's GPU catalogue without HTTP: the GraphQL query for it, and its answer as Offers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from i2v.fleet.base import Offer, Requirements

PROVIDER = "runpod"  # here, not in runpod.py, which imports this module
Json = dict[str, Any]

GPU_TYPES_QUERY = """
query GpuTypes($lowestPriceInput: GpuLowestPriceInput) {
  gpuTypes {
    id
    displayName
    memoryInGb
    secureCloud
    communityCloud
    securePrice
    communityPrice
    lowestPrice(input: $lowestPriceInput) {
      uninterruptablePrice
      stockStatus
    }
  }
  dataCenters {
    id
    gpuAvailability {
      gpuTypeId
      stockStatus
    }
  }
}
"""


def catalogue_offers(data: Json, requirements: Requirements, *, secure: bool) -> list[Offer]:
    """The GPU types in `data` that are in stock and meet `requirements`, cheapest first."""
    stocked: dict[str, list[str]] = {}
    for dc in data.get("dataCenters") or []:
        for avail in dc.get("gpuAvailability") or []:
            if avail.get("stockStatus"):
                stocked.setdefault(str(avail.get("gpuTypeId")), []).append(str(dc.get("id")))
    offers = []
    for gpu in data.get("gpuTypes") or []:
        gid, lowest = str(gpu.get("id") or ""), gpu.get("lowestPrice") or {}
        offered = gpu.get("secureCloud" if secure else "communityCloud")
        if gid in ("", "unknown") or not offered or not lowest.get("stockStatus"):
            continue
        # Secure prices are fixed per type; the higher of list and lowest never underestimates.
        listed = number(gpu.get("securePrice" if secure else "communityPrice"))
        price = max((p for p in (listed, number(lowest.get("uninterruptablePrice"))) if p),
                    default=None)  # fmt: skip
        vram = number(gpu.get("memoryInGb")) or 0.0
        cap = requirements.max_usd_per_hour
        if price is None or vram < requirements.min_vram_gb or (cap is not None and price > cap):
            continue
        if requirements.gpu_names and not _name_matches(gpu, requirements.gpu_names):
            continue
        region = None
        if requirements.regions:  # launch restricts dataCenterIds to these
            dcs = [
                d
                for d in stocked.get(gid, [])
                if any(_in_region(d, r) for r in requirements.regions)
            ]
            if not dcs:
                continue
            region = ",".join(sorted(dcs))
        name = str(gpu.get("displayName") or gid)
        offers.append(Offer(PROVIDER, gid, name, 1, vram, price, cuda=requirements.min_cuda,
                            region=region))  # fmt: skip
    offers.sort(key=lambda o: (o.usd_per_hour, -o.vram_gb, o.offer_id))
    return offers


def number(value: Any) -> float | None:
    """A number or numeric string as a float; None for anything else."""
    try:
        return float(value) if value not in (None, "") else None  # costPerHr may be "0.74"
    except (TypeError, ValueError):
        return None


def _in_region(data_center: str, region: str) -> bool:
    """US matches US-KS-2; EU matches EU-RO-1 and EUR-IS-1; a data center id matches itself."""
    dc, want = data_center.upper(), region.upper()
    return dc == want or dc.split("-", 1)[0].startswith(want)


def _name_matches(gpu: Json, names: Sequence[str]) -> bool:
    gid, shown = str(gpu.get("id", "")).casefold(), str(gpu.get("displayName", "")).casefold()
    return any(n.casefold() in (gid, shown) or gid.endswith(" " + n.casefold()) for n in names)
