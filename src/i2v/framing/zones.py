"""Safe-zone presets: the bands of a vertical frame that TikTok's and Instagram's UI covers.

The numbers and their sources are in docs/safe-zones.md; where sources disagree we take the
larger band. Fractions are of the output's width (left, right) and height (top, bottom).
"""

from __future__ import annotations

from i2v.domain.size import Size
from i2v.framing.base import SafeZones

NO_ZONES = SafeZones("none")

# At 1080x1920: top 250 px (For You tabs, search), bottom 460 px (caption, sound, CTA),
# right 184 px (like/comment/share/save column, plus the 2026 playlist button), left 60 px.
TIKTOK = SafeZones("tiktok", top=250 / 1920, bottom=460 / 1920, left=60 / 1080, right=184 / 1080)
# Meta's Reels guidance: top 14%, sides 6%; the right-hand button column measures about
# 120 px at 1080 wide, more than 6%. The bottom: organic Reels' caption block is about 450 px;
# Meta's 35% is for ads, whose call-to-action button sits above it (the -ads preset).
INSTAGRAM_REELS = SafeZones(
    "instagram-reels", top=0.14, bottom=450 / 1920, left=0.06, right=120 / 1080
)
INSTAGRAM_REELS_ADS = SafeZones(
    "instagram-reels-ads", top=0.14, bottom=0.35, left=0.06, right=120 / 1080
)


def union(name: str, *zones: SafeZones) -> SafeZones:
    """Zones clear of every one of `zones`: the widest band on each side."""
    return SafeZones(
        name,
        top=max(z.top for z in zones),
        bottom=max(z.bottom for z in zones),
        left=max(z.left for z in zones),
        right=max(z.right for z in zones),
    )


# Clear of both platforms: where a video will be posted is not known when it is made.
DEFAULT_ZONES = union("default", TIKTOK, INSTAGRAM_REELS)

PRESETS: dict[str, SafeZones] = {
    z.name: z for z in (NO_ZONES, TIKTOK, INSTAGRAM_REELS, INSTAGRAM_REELS_ADS, DEFAULT_ZONES)
}

# Outputs at least this much taller than wide fill a phone's screen under the vertical UI;
# 9:16 is 1.78. Square, 4:5 and landscape videos are shown letterboxed or in a feed, where
# the UI does not sit on the picture the same way, so they get no zones.
VERTICAL_MIN_RATIO = 1.6


def zones_for(output: Size, zones: SafeZones = DEFAULT_ZONES) -> SafeZones:
    """`zones` for a vertical output, NO_ZONES for any other shape."""
    return zones if output.height >= VERTICAL_MIN_RATIO * output.width else NO_ZONES
