"""Where a picture's eye-catching region is, when it has no face: a saliency map and its box."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from i2v.framing.base import Box

# Hou & Zhang ran the spectral residual at 64 px; the colour term needs a little more to keep
# a small object's outline, and 128 px costs under a millisecond either way.
_SIDE = 128
_RESIDUAL_SIDE = 64

# A picture whose grey levels vary less than this (out of 255) has nothing to find: a flat
# colour, a blank frame, a very soft gradient.
_FLAT_STD = 3.0
# The winning region must stand this far above the map's average, or the map is noise (a
# uniform texture) and the centre is as good a guess as any.
_MIN_PEAK_RATIO = 3.0
# The share of a region's peak saliency that marks its object's outline.
_CORE = 0.5


@dataclass(frozen=True, slots=True)
class Salient:
    """The most salient region of a picture, in fractions, and how clearly it stood out."""

    box: Box
    peak: tuple[float, float]  # the saliency-weighted centre of the region
    strength: float  # the region's mean saliency over the rest's (>= _MIN_PEAK_RATIO)


def _unit(values: NDArray[np.float32]) -> NDArray[np.float32]:
    low, high = float(values.min()), float(values.max())
    if high - low < 1e-12:
        return np.zeros_like(values)
    return np.asarray((values - low) / (high - low), dtype=np.float32)


def _promoted(values: NDArray[np.float32]) -> NDArray[np.float32]:
    """Itti's normalisation, simplified: a map with one clear peak counts for more than a map
    lit all over (the residual of a busy texture), by the square of how dark it is on average.
    """
    return np.asarray(values * (1.0 - float(values.mean())) ** 2, dtype=np.float32)


def spectral_residual(grey: NDArray[np.float32]) -> NDArray[np.float32]:
    """Hou & Zhang (2007): the log spectrum's departure from its local average is what the
    picture has that natural images in general do not; back in space it marks the odd parts.
    """
    height, width = grey.shape
    scale = _RESIDUAL_SIDE / max(height, width)
    size = (max(8, round(width * scale)), max(8, round(height * scale)))
    small = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    # The FFT takes the picture as tiling the plane, so its top meets its bottom: mirrored
    # margins make that seam smooth, or the residual lights up the borders.
    pad = _RESIDUAL_SIDE // 8
    small = cv2.copyMakeBorder(small, pad, pad, pad, pad, cv2.BORDER_REFLECT)
    spectrum = np.fft.fft2(small)
    log_amplitude = np.log(np.abs(spectrum) + 1e-9)
    phase = np.angle(spectrum)
    residual = log_amplitude - cv2.blur(log_amplitude, (3, 3), borderType=cv2.BORDER_REPLICATE)
    back = np.abs(np.fft.ifft2(np.exp(residual + 1j * phase))) ** 2
    back = back[pad:-pad, pad:-pad]
    back = cv2.GaussianBlur(back.astype(np.float32), (0, 0), 2.5)
    return np.asarray(cv2.resize(back, (width, height), interpolation=cv2.INTER_LINEAR))


def colour_contrast(lab: NDArray[np.float32]) -> NDArray[np.float32]:
    """How far each place's colour is from the picture's border colours.

    Photographers rarely put the subject against the frame's edge, so the borders are a fair
    sample of the background (the "boundary prior"); a blur first averages textures out, so a
    patterned background reads as its mean colour rather than as many small contrasts.
    """
    height, width = lab.shape[:2]
    soft = cv2.GaussianBlur(lab, (0, 0), max(1.0, min(height, width) / 40))
    strip = max(2, min(height, width) // 12)
    border = np.concatenate(
        [
            soft[:strip].reshape(-1, 3),
            soft[-strip:].reshape(-1, 3),
            soft[:, :strip].reshape(-1, 3),
            soft[:, -strip:].reshape(-1, 3),
        ]
    )
    # Distance to the nearest of a few border colours, so a background of two halves (sky and
    # ground) is background on both sides.
    centres = _border_colours(border[::3])
    gaps = soft[:, :, np.newaxis, :] - centres[np.newaxis, np.newaxis]
    return np.asarray(np.sqrt(np.min((gaps * gaps).sum(axis=3), axis=2)), dtype=np.float32)


def _border_colours(samples: NDArray[np.float32], count: int = 4) -> NDArray[np.float32]:
    """A few representative border colours: k-means from fixed starting points (the samples
    ranked by lightness), so the answer never depends on a random seed."""
    ranked = samples[np.argsort(samples[:, 0], kind="stable")]
    picks = np.linspace(0, len(ranked) - 1, count).round().astype(int)
    centres = ranked[picks].copy()
    for _ in range(6):
        gaps = samples[:, np.newaxis, :] - centres[np.newaxis]
        labels = np.argmin((gaps * gaps).sum(axis=2), axis=1)
        for index in range(count):
            members = samples[labels == index]
            if len(members):
                centres[index] = members.mean(axis=0)
    return np.asarray(centres, dtype=np.float32)


def saliency_map(rgb: NDArray[np.uint8]) -> NDArray[np.float32]:
    """A saliency map of `rgb` at most 128 px on its long side, 0 to 1."""
    height, width = rgb.shape[:2]
    scale = min(1.0, _SIDE / max(height, width))
    size = (max(8, round(width * scale)), max(8, round(height * scale)))
    small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    lab = np.asarray(
        cv2.cvtColor(small.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab), dtype=np.float32
    )
    # The residual finds small odd things (and edges); the colour term fills in large objects,
    # whose insides the residual leaves hollow, and objects on a busy texture, where the
    # residual lights up the texture too.
    residual = _promoted(_unit(spectral_residual(lab[:, :, 0])))
    combined = residual + _promoted(_unit(colour_contrast(lab)))
    # A gentle centre bias, as in human fixation data: of two equal regions, the one nearer
    # the middle is more likely the subject.
    ys, xs = np.mgrid[0 : size[1], 0 : size[0]].astype(np.float32)
    dx = (xs + 0.5) / size[0] - 0.5
    dy = (ys + 0.5) / size[1] - 0.5
    bias = 1.0 - 0.3 * (dx * dx + dy * dy) / 0.5
    return _unit(combined * bias)


def most_salient(rgb: NDArray[np.uint8]) -> Salient | None:
    """The most salient region's box, or None where nothing stands out (a flat picture)."""
    if rgb.ndim != 3 or rgb.shape[0] < 8 or rgb.shape[1] < 8:
        return None
    if float(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).std()) < _FLAT_STD:
        return None
    heat = saliency_map(rgb)
    height, width = heat.shape
    mean = float(heat.mean())
    if mean <= 0:
        return None
    # Otsu splits the map into "stands out" and "does not" without a tuned constant; the
    # floor keeps a map with one faint bump from calling half the picture salient.
    level = np.asarray(heat * 255, dtype=np.uint8)
    otsu, _ = cv2.threshold(level, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    mask = (level >= max(otsu, 0.35 * 255)).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    masses = np.bincount(labels.ravel(), weights=heat.ravel(), minlength=count)
    best, best_mass = 0, 0.0
    for index in range(1, count):
        x, y, w, h = (int(value) for value in stats[index, :4])
        # A band from edge to edge is a horizon, a sky or a floor: background, not a subject.
        if (x == 0 and x + w == width) or (y == 0 and y + h == height):
            continue
        mass = float(masses[index])
        if mass > best_mass:
            best, best_mass = index, mass
    if best == 0:
        return None
    region = labels == best
    # Against the rest of the map rather than the whole, so a large object (whose region is
    # much of the map's mean) is not judged weaker than a small one.
    strength = float(heat[region].mean()) / max(float(heat[~region].mean()), 1e-6)
    if strength < _MIN_PEAK_RATIO:
        return None
    # The maps are blurred, so the region's edge lies outside the object's; its stronger half
    # outlines the object more closely.
    core = region & (heat >= _CORE * float(heat[region].max()))
    rows, columns = np.nonzero(core)
    weights = heat * region
    ys, xs = np.mgrid[0:height, 0:width]
    total = float(weights.sum())
    peak = (
        float((weights * (xs + 0.5)).sum()) / total / width,
        float((weights * (ys + 0.5)).sum()) / total / height,
    )
    box = Box(
        int(columns.min()) / width,
        int(rows.min()) / height,
        (int(columns.max()) + 1) / width,
        (int(rows.max()) + 1) / height,
    )
    return Salient(box=box, peak=peak, strength=strength)
