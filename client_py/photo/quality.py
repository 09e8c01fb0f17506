"""Photo quality check: sharpness, exposure, resolution, framing -> ``ok`` or ``warn`` + reasons.

The algorithm is specified exactly so that the browser (canvas ``getImageData``) computes the
same numbers from the same pixels; ``docs/photos.md`` section 5 ("Quality algorithm") is the
normative text and ``tests/client_py/photo/reference.py`` is a deliberately naive
implementation of that text that this fast one is tested against. In short, for an upright
8-bit sRGB image of W x H pixels:

1. grey ``g = (19595 R + 38470 G + 7471 B + 32768) >> 16`` (ITU-R BT.601 luma in 16-bit
   fixed point; exactly Pillow's ``convert("L")``);
2. ``k = max(1, ceil(max(W, H) / analysis_long_edge))``; the analysis image has
   ``w = W // k`` by ``h = H // k`` pixels (right/bottom remainders dropped); each pixel is
   the integer block sum ``S`` of a k x k block of ``g``, its value is the mean ``S / k^2``;
3. sharpness = population variance of the 4-neighbour Laplacian (kernel 0,1,0 / 1,-4,1 /
   0,1,0) over the interior pixels (no padding);
4. exposure = mean of the analysis image and the shares of its pixels with mean
   ``<= clip_dark_level`` and ``>= clip_bright_level``;
5. resolution = ``min(W, H)``;
6. framing = population standard deviation over the centre box divided by that over the
   border band (floored at 1 grey level): the subject is where the contrast is.

Everything up to the final divisions and square roots is integer arithmetic, so two
implementations given the same pixels agree to floating-point rounding; differences between
platforms come from JPEG decoding (documented tolerance in ``docs/photos.md`` section 5.5).
"""

from __future__ import annotations

import math
import operator
from array import array
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from PIL import Image, ImageMath

from client_py.photo.settings import DEFAULT_QUALITY, QualitySettings

if TYPE_CHECKING:
    from PIL.ImageMath import _Operand

__all__ = ["QualityMetrics", "QualityReport", "Reason", "Verdict", "assess_quality"]

MIN_ANALYSIS_EDGE = 8
"""Sharpness and framing are not judged when the analysis image is smaller than this in
either direction (such a photo is far below ``min_short_edge`` anyway)."""


class Verdict(StrEnum):
    OK = "ok"
    WARN = "warn"


class Reason(StrEnum):
    """Reason codes, listed in a report in this order."""

    BLURRED = "blurred"
    OVER_EXPOSED = "over_exposed"
    UNDER_EXPOSED = "under_exposed"
    LOW_RESOLUTION = "low_resolution"
    FRAMING = "framing"


@dataclass(frozen=True, slots=True)
class QualityMetrics:
    """Measured values (``None``: not measurable on an image this small)."""

    width: int
    height: int
    analysis_factor: int
    analysis_width: int
    analysis_height: int
    sharpness: float | None
    mean_brightness: float | None
    clipped_dark: float | None
    clipped_bright: float | None
    framing_ratio: float | None

    @property
    def short_edge(self) -> int:
        return min(self.width, self.height)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form, the ``metrics`` object of ``tests/vectors/photos/expected.json``."""
        return {
            "analysis_factor": self.analysis_factor,
            "analysis_size": [self.analysis_width, self.analysis_height],
            "sharpness": self.sharpness,
            "mean_brightness": self.mean_brightness,
            "clipped_dark": self.clipped_dark,
            "clipped_bright": self.clipped_bright,
            "framing_ratio": self.framing_ratio,
        }


@dataclass(frozen=True, slots=True)
class QualityReport:
    verdict: Verdict
    reasons: tuple[Reason, ...]
    metrics: QualityMetrics

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form (what a client can attach when the GP sends anyway):

        >>> from PIL import Image
        >>> report = assess_quality(Image.new("RGB", (1000, 800), (120, 120, 120)))
        >>> report.as_dict()["verdict"], report.as_dict()["reasons"]
        ('warn', ['blurred', 'framing'])
        """
        return {
            "verdict": self.verdict.value,
            "reasons": [reason.value for reason in self.reasons],
            "width": self.metrics.width,
            "height": self.metrics.height,
            "metrics": self.metrics.as_dict(),
        }


def assess_quality(
    image: Image.Image, settings: QualitySettings = DEFAULT_QUALITY
) -> QualityReport:
    """Measure an upright 8-bit ``RGB`` image and judge it against ``settings``.

    >>> from PIL import Image
    >>> assess_quality(Image.new("RGB", (100, 80), (128, 128, 128))).reasons
    (<Reason.BLURRED: 'blurred'>, <Reason.LOW_RESOLUTION: 'low_resolution'>, \
<Reason.FRAMING: 'framing'>)
    """
    if not isinstance(image, Image.Image) or image.mode != "RGB":
        raise TypeError("assess_quality expects a PIL RGB image")
    metrics = measure(image, settings)
    return QualityReport(*judge(metrics, settings), metrics)


def judge(metrics: QualityMetrics, settings: QualitySettings) -> tuple[Verdict, tuple[Reason, ...]]:
    """Apply the thresholds to measured metrics (strict comparisons, see docs/photos.md)."""
    reasons: list[Reason] = []
    if metrics.sharpness is not None and metrics.sharpness < settings.min_sharpness:
        reasons.append(Reason.BLURRED)
    if metrics.mean_brightness is not None:
        assert metrics.clipped_bright is not None and metrics.clipped_dark is not None
        if (
            metrics.clipped_bright > settings.max_clipped_share
            or metrics.mean_brightness > settings.max_mean
        ):
            reasons.append(Reason.OVER_EXPOSED)
        if (
            metrics.clipped_dark > settings.max_clipped_share
            or metrics.mean_brightness < settings.min_mean
        ):
            reasons.append(Reason.UNDER_EXPOSED)
    if metrics.short_edge < settings.min_short_edge:
        reasons.append(Reason.LOW_RESOLUTION)
    if metrics.framing_ratio is not None and metrics.framing_ratio < settings.min_framing_ratio:
        reasons.append(Reason.FRAMING)
    return (Verdict.WARN if reasons else Verdict.OK), tuple(reasons)


def analysis_factor(width: int, height: int, analysis_long_edge: int) -> int:
    """``k = max(1, ceil(max(W, H) / analysis_long_edge))`` in integer arithmetic."""
    return max(1, -(-max(width, height) // analysis_long_edge))


_STRIP_PIXELS = 1 << 20
"""Block sums are computed in horizontal strips of about this many source pixels, so the
32-bit intermediate never holds the whole photo (4 bytes a pixel: 256 MB for 64 MP)."""


def block_sums(image: Image.Image, k: int) -> Image.Image | None:
    """The analysis image of an RGB image: a 32-bit ``I`` image of grey k x k block sums ``S``.

    ``None`` when the image is smaller than one block in either direction. Pillow's
    ``convert("L")`` is the fixed-point luma of step 1 (tested against the formula). The sums
    are exact: each strip of whole block rows is widened to 32 bits and multiplied by k^2,
    then ``Image.reduce(k)`` averages each aligned k x k block in double precision and
    rounds; the average of the multiplied values is the integer ``S`` itself, far below
    2^53, so the rounding returns it unchanged. Tested against a naive loop.
    """
    width, height = image.size
    w, h = width // k, height // k
    if w == 0 or h == 0:
        return None
    grey = image.convert("L")
    if k == 1:
        return grey.convert("I")
    area = k * k
    rows = max(1, _STRIP_PIXELS // (w * area))  # analysis rows per strip
    sums = Image.new("I", (w, h))
    for top in range(0, h, rows):
        bottom = min(h, top + rows)
        strip = grey.crop((0, top * k, w * k, bottom * k)).convert("I")
        sums.paste(strip.point(lambda v: v * area).reduce(k), (0, top))
    return sums


def _ints(image: Image.Image) -> array[int]:
    out = array("i")
    assert out.itemsize == 4  # Pillow "I" pixels are 32-bit native-endian ints
    out.frombytes(image.tobytes())
    return out


def measure(image: Image.Image, settings: QualitySettings = DEFAULT_QUALITY) -> QualityMetrics:
    """Compute every metric of the module docstring for an upright RGB image."""
    width, height = image.size
    k = analysis_factor(width, height, settings.analysis_long_edge)
    w, h = width // k, height // k
    analysis = block_sums(image, k)
    if analysis is None:
        return QualityMetrics(width, height, k, w, h, None, None, None, None, None)
    sums = _ints(analysis)
    area = k * k
    count = w * h
    # Comparisons on block sums are exact: mean <= level  <=>  S <= level * k^2.
    dark_limit = settings.clip_dark_level * area
    bright_limit = settings.clip_bright_level * area
    dark = sum(map(dark_limit.__ge__, sums))
    bright = sum(map(bright_limit.__le__, sums))
    mean = sum(sums) / (count * area)
    sharpness = framing = None
    if min(w, h) >= MIN_ANALYSIS_EDGE:
        sharpness = _laplacian_variance(analysis) / (area * area)
        framing = _framing_ratio(sums, w, h, k)
    return QualityMetrics(
        width, height, k, w, h, sharpness, mean, dark / count, bright / count, framing
    )


def _laplacian(
    up: _Operand, down: _Operand, left: _Operand, right: _Operand, centre: _Operand
) -> _Operand:
    return up + down + left + right - centre * 4


def _laplacian_variance(analysis: Image.Image) -> float:
    """Population variance of the Laplacian of the block sums over interior pixels.

    The Laplacian is evaluated by Pillow in 32-bit integers on five shifted crops (|value| <=
    1020 k^2, no overflow for any k allowed by ``max_pixels``); sums and the sum of squares
    are exact Python integers.
    """
    w, h = analysis.size
    lap = ImageMath.lambda_eval(
        lambda ops: _laplacian(ops["u"], ops["d"], ops["l"], ops["r"], ops["c"]),
        u=analysis.crop((1, 0, w - 1, h - 2)),
        d=analysis.crop((1, 2, w - 1, h)),
        l=analysis.crop((0, 1, w - 2, h - 1)),
        r=analysis.crop((2, 1, w, h - 1)),
        c=analysis.crop((1, 1, w - 1, h - 1)),
    )
    assert isinstance(lap, Image.Image) and lap.mode == "I"
    values = _ints(lap)
    total = sum(values)
    squares: int = sum(map(operator.mul, values, values))
    n = (w - 2) * (h - 2)
    # Exact integer numerator; one rounding in the final division.
    return (n * squares - total * total) / (n * n)


def framing_regions(w: int, h: int) -> tuple[tuple[int, int, int, int], int]:
    """The centre box ``(x0, y0, x1, y1)`` (half-open) and the border band width ``b``.

    Centre: the middle half in each direction, ``[w//4, w - w//4) x [h//4, h - h//4)``.
    Border: every pixel within ``b = max(1, min(w, h) // 8)`` of an edge.
    """
    return (w // 4, h // 4, w - w // 4, h - h // 4), max(1, min(w, h) // 8)


def _std(count: int, total: int, squares: int) -> float:
    return math.sqrt(max(0, count * squares - total * total)) / count


def _framing_ratio(sums: array[int], w: int, h: int, k: int) -> float:
    (x0, y0, x1, y1), band = framing_regions(w, h)
    c_n = c_sum = c_sq = 0
    b_n = b_sum = b_sq = 0
    for y in range(h):
        row = sums[y * w : (y + 1) * w]
        if y < band or y >= h - band:
            b_n += w
            b_sum += sum(row)
            b_sq += sum(map(operator.mul, row, row))
        else:
            edges = row[:band] + row[w - band :]
            b_n += len(edges)
            b_sum += sum(edges)
            b_sq += sum(map(operator.mul, edges, edges))
        if y0 <= y < y1:
            centre = row[x0:x1]
            c_n += len(centre)
            c_sum += sum(centre)
            c_sq += sum(map(operator.mul, centre, centre))
    area = k * k
    centre_sd = _std(c_n, c_sum, c_sq) / area
    border_sd = _std(b_n, b_sum, b_sq) / area
    return centre_sd / max(border_sd, 1.0)
