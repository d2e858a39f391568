"""Benchmark subject framing: how often the subject stays in view, against the centre crop.

On the generated scenes of tests/support/scenes.py (real faces pasted into made-up
backgrounds, and faceless objects, each with its subject's box known), every scene is
framed as the local renderer frames it (the subject finder on the picture, the camera
planner with the default safe zones) for each camera move below, at 1080x1920, and every
frame is checked: is the known subject box wholly inside the frame and outside the zones'
bands? The baseline is the renderer before subject framing: the same moves, centred.

"feasible" counts only the scenes where some still framing can keep the box clear of the
bands at all (a head filling a landscape photo's height cannot fit the middle of a 9:16
frame); the headline share counts every scene. Target: >= 95% of frames.

    python bench/framing.py [--frames 150]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.scenes import SCENES, scene  # noqa: E402

from i2v.backends.local.camera import CameraPath, max_zoom  # noqa: E402
from i2v.backends.local.framing import frame  # noqa: E402
from i2v.backends.local.path import plan_path  # noqa: E402
from i2v.domain.motion import Intensity, Motion  # noqa: E402
from i2v.domain.size import Size  # noqa: E402
from i2v.domain.spec import Fit  # noqa: E402
from i2v.framing.base import Box, FocusSource, SafeZones, Subject  # noqa: E402
from i2v.framing.cover import frame_time, subject_in_view  # noqa: E402
from i2v.framing.zones import DEFAULT_ZONES, NO_ZONES  # noqa: E402
from i2v.media.canvas import build_canvas  # noqa: E402

OUTPUT = Size(1080, 1920)
TARGET = 0.95
MOVES: dict[str, list[Motion]] = {
    "zoom-in": [Motion.ZOOM_IN],
    "zoom-out": [Motion.ZOOM_OUT],
    "pan-left": [Motion.PAN_LEFT],
    "pan-right": [Motion.PAN_RIGHT],
    "pan-up": [Motion.PAN_UP],
    "zoom-out+pan-left": [Motion.ZOOM_OUT, Motion.PAN_LEFT],
    "zoom-in+pan-up": [Motion.ZOOM_IN, Motion.PAN_UP],
}


def _share(path: CameraPath, box: Box, zones: SafeZones, frames: int) -> float:
    seen = sum(subject_in_view(path, frame_time(i, frames), box, zones) for i in range(frames))
    return seen / frames


def _feasible(width: int, height: int, box: Box, zones: SafeZones) -> bool:
    """Whether some window of the output's aspect, inside the picture and no deeper than the
    renderer zooms, holds `box` clear of the bands (brute force over the zoom)."""
    widest = min(width, height * OUTPUT.width / OUTPUT.height)

    def fits(length: int, extent: float, lo: float, hi: float, near: float, far: float) -> bool:
        first = max(extent / 2, hi * length - extent / 2 + far * extent)
        last = min(length - extent / 2, lo * length + extent / 2 - near * extent)
        return first <= last + 1e-6

    for step in range(101):
        window_w = widest / (1 + (max_zoom() - 1) * step / 100)
        window_h = window_w * OUTPUT.height / OUTPUT.width
        if fits(width, window_w, box.left, box.right, zones.left, zones.right) and fits(
            height, window_h, box.top, box.bottom, zones.top, zones.bottom
        ):
            return True
    return False


@dataclass(frozen=True, slots=True)
class Row:
    label: str
    feasible: bool
    ours: float  # share of frames with the known box clear of the bands: subject framing
    centre: float  # the same, centred as before
    oracle: float  # the planner given the known box itself: the finder's error left out
    ours_in_frame: float  # share of frames with the box merely inside the frame
    centre_in_frame: float


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=150)
    args = parser.parse_args()
    zones = DEFAULT_ZONES
    rows: list[Row] = []
    find_ms: list[float] = []
    for name in SCENES:
        picture = scene(name)
        height, width = picture.rgb.shape[:2]
        canvas = build_canvas(picture.rgb, OUTPUT, Fit.COVER, max_zoom())
        started = time.perf_counter()
        framed = frame(picture.rgb, canvas, OUTPUT, "", None)
        find_ms.append((time.perf_counter() - started) * 1000)
        known = Subject(picture.subject, picture.subject.centre, FocusSource.USER)
        feasible = _feasible(width, height, picture.subject, zones)
        for label, moves in MOVES.items():

            def share(
                subject: Subject | None, bands: SafeZones, moves: list[Motion] = moves
            ) -> float:
                # Called at once, in this iteration: the loop's values are the ones meant.
                path = plan_path(moves, Intensity.NORMAL, width, height, OUTPUT, subject, zones)  # noqa: B023
                return _share(path, picture.subject, bands, args.frames)  # noqa: B023

            rows.append(
                Row(
                    f"{name} {label}",
                    feasible,
                    share(framed.subject, zones),
                    share(None, zones),
                    share(known, zones),
                    share(framed.subject, NO_ZONES),
                    share(None, NO_ZONES),
                )
            )

    def mean(values: list[float]) -> float:
        return sum(values) / len(values) if values else float("nan")

    print(f"{len(SCENES)} scenes x {len(MOVES)} moves x {args.frames} frames at {OUTPUT}, "
          f"zones {zones.name} (top {zones.top:.0%}, bottom {zones.bottom:.0%}, "
          f"left {zones.left:.0%}, right {zones.right:.0%})")  # fmt: skip
    print(f"subject finder: median {sorted(find_ms)[len(find_ms) // 2]:.1f} ms per picture")
    print("share of frames with the subject box wholly in frame and clear of the bands:")
    print(f"{'':26} {'subject framing':>16} {'centre crop':>12} {'ratio':>7}  verdict"
          f"{'':14} {'known box':>10}")  # fmt: skip
    for title, chosen in (
        ("all scenes", rows),
        ("feasible scenes", [r for r in rows if r.feasible]),
    ):
        ours, centre = mean([r.ours for r in chosen]), mean([r.centre for r in chosen])
        verdict = "PASS" if ours >= TARGET else "FAIL"
        ratio = ours / centre if centre else float("inf")
        title = f"{title} ({len(chosen) // len(MOVES)})"
        oracle = mean([r.oracle for r in chosen])
        print(f"{title:26} {ours:16.1%} {centre:12.1%} {ratio:6.2f}x  {verdict} (>= {TARGET:.0%})"
              f"{'':6} {oracle:10.1%}")  # fmt: skip
    in_frame = mean([r.ours_in_frame for r in rows]), mean([r.centre_in_frame for r in rows])
    print(
        f"wholly in frame, bands aside, all scenes: {in_frame[0]:.1%} vs centre {in_frame[1]:.1%}"
    )
    misses = sorted((r for r in rows if r.ours < 1.0), key=lambda r: (not r.feasible, r.ours))[:12]
    if misses:
        print("worst feasible scenes first (subject framing, centre, known box):")
        for r in misses:
            if r.feasible:
                print(f"  {r.label:40} {r.ours:6.1%} {r.centre:6.1%} {r.oracle:6.1%}")


if __name__ == "__main__":
    main()
