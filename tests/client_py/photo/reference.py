"""A deliberately naive implementation of the quality algorithm, written from docs/photos.md.

It shares no code with ``client_py.photo.quality``: plain loops over the RGB bytes, exactly as
the "Quality algorithm" section reads, so the fast implementation (Pillow reduce, ImageMath)
is tested against the text the browser port follows. Only for tests: it is slow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from PIL import Image


@dataclass(frozen=True)
class ReferenceMetrics:
    k: int
    w: int
    h: int
    sharpness: float | None
    mean: float | None
    dark: float | None
    bright: float | None
    framing: float | None


def grey_pixels(image: Image.Image) -> list[int]:
    """Step 1: g = (19595 R + 38470 G + 7471 B + 32768) >> 16, row-major."""
    data = image.tobytes()
    return [
        (19595 * data[i] + 38470 * data[i + 1] + 7471 * data[i + 2] + 32768) >> 16
        for i in range(0, len(data), 3)
    ]


def block_sums(image: Image.Image, long_edge: int) -> tuple[int, int, int, list[list[int]]]:
    """Step 2: k, w, h and the k x k block sums S[y][x]."""
    width, height = image.size
    k = max(1, math.ceil(max(width, height) / long_edge))
    w, h = width // k, height // k
    g = grey_pixels(image)
    sums = []
    for by in range(h):
        row = []
        for bx in range(w):
            total = 0
            for y in range(by * k, by * k + k):
                for x in range(bx * k, bx * k + k):
                    total += g[y * width + x]
            row.append(total)
        sums.append(row)
    return k, w, h, sums


def _population_sd(values: list[float]) -> float:
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))


def reference_metrics(
    image: Image.Image, long_edge: int = 512, dark_level: int = 5, bright_level: int = 250
) -> ReferenceMetrics:
    k, w, h, sums = block_sums(image, long_edge)
    if w == 0 or h == 0:
        return ReferenceMetrics(k, w, h, None, None, None, None, None)
    means = [[s / (k * k) for s in row] for row in sums]
    flat = [m for row in means for m in row]
    # Step 4: exposure. (Compared on sums to avoid float ties: mean <= 5 <=> S <= 5 k^2.)
    dark = sum(1 for row in sums for s in row if s <= dark_level * k * k) / (w * h)
    bright = sum(1 for row in sums for s in row if s >= bright_level * k * k) / (w * h)
    mean = sum(flat) / len(flat)
    if min(w, h) < 8:
        return ReferenceMetrics(k, w, h, None, mean, dark, bright, None)
    # Step 3: Laplacian 0,1,0 / 1,-4,1 / 0,1,0 over interior pixels, population variance.
    laplacian = [
        means[y - 1][x] + means[y + 1][x] + means[y][x - 1] + means[y][x + 1] - 4 * means[y][x]
        for y in range(1, h - 1)
        for x in range(1, w - 1)
    ]
    lap_mean = sum(laplacian) / len(laplacian)
    sharpness = sum((v - lap_mean) ** 2 for v in laplacian) / len(laplacian)
    # Step 6: framing. Centre box [w//4, w - w//4) x [h//4, h - h//4); border band of width
    # b = max(1, min(w, h) // 8); ratio = sd(centre) / max(sd(border), 1).
    band = max(1, min(w, h) // 8)
    centre = [means[y][x] for y in range(h // 4, h - h // 4) for x in range(w // 4, w - w // 4)]
    border = [
        means[y][x]
        for y in range(h)
        for x in range(w)
        if x < band or x >= w - band or y < band or y >= h - band
    ]
    framing = _population_sd(centre) / max(_population_sd(border), 1.0)
    return ReferenceMetrics(k, w, h, sharpness, mean, dark, bright, framing)
