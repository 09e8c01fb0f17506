"""Tunable numbers of the photo pipeline, in one typed object each.

Every number here is documented with its reason in ``docs/photos.md``; the browser port uses
the same values. The defaults are the product's values; tests and tools pass their own
instances (no module-level mutable state).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_QUALITY", "DEFAULT_SETTINGS", "PhotoSettings", "QualitySettings"]


@dataclass(frozen=True, slots=True)
class PhotoSettings:
    """Limits and encoding parameters for :func:`client_py.photo.prepare_photo`."""

    max_input_bytes: int = 40 * 1024 * 1024
    """Refuse bigger files before decoding (a 12 MP phone JPEG is 3-8 MB; a 12 MP PNG ~20 MB)."""
    max_pixels: int = 64_000_000
    """Refuse a larger declared width x height before decoding: covers 50 MP phone sensors
    (8160 x 6144 = 50.1 MP); below Pillow's own default bomb limit (89.5 MP)."""
    long_edge: int = 2048
    """Long edge of the prepared photo (never upscaled)."""
    jpeg_quality: int = 85
    thumb_long_edge: int = 320
    thumb_quality: int = 80

    def __post_init__(self) -> None:
        for name in (
            "max_input_bytes",
            "max_pixels",
            "long_edge",
            "thumb_long_edge",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"PhotoSettings.{name} must be a positive int")
        for name in ("jpeg_quality", "thumb_quality"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 95:
                # Pillow documents values above 95 as wasteful (no quantisation at all).
                raise ValueError(f"PhotoSettings.{name} must be an int in 1..95")
        if self.thumb_long_edge > self.long_edge:
            raise ValueError("PhotoSettings.thumb_long_edge must not exceed long_edge")


@dataclass(frozen=True, slots=True)
class QualitySettings:
    """Analysis size and thresholds of the quality verdict. Metrics are defined in
    ``quality.py``; reasons for each number are in ``docs/photos.md``."""

    analysis_long_edge: int = 512
    """The analysis image is the grey original reduced by the integer factor
    ``k = ceil(long_edge / analysis_long_edge)``: its long edge is in (512 / 2, 512] for
    originals longer than 512 px."""

    min_sharpness: float = 40.0
    """Variance of the Laplacian of the analysis image below this -> ``blurred``."""
    clip_dark_level: int = 5
    """An analysis pixel whose mean grey is <= this is clipped dark."""
    clip_bright_level: int = 250
    """An analysis pixel whose mean grey is >= this is clipped bright."""
    max_clipped_share: float = 0.05
    """More than this share of clipped-bright (or -dark) pixels -> over (or under) exposed."""
    min_mean: float = 40.0
    """Mean grey below this -> ``under_exposed``."""
    max_mean: float = 215.0
    """Mean grey above this -> ``over_exposed``."""
    min_short_edge: int = 720
    """Short edge (pixels, after orientation) of the original below this -> ``low_resolution``."""
    min_framing_ratio: float = 1.0
    """Centre contrast / border contrast below this -> ``framing``."""

    def __post_init__(self) -> None:
        if not isinstance(self.analysis_long_edge, int) or self.analysis_long_edge < 8:
            raise ValueError("QualitySettings.analysis_long_edge must be an int >= 8")
        if not 0 <= self.clip_dark_level < self.clip_bright_level <= 255:
            raise ValueError("QualitySettings clip levels must satisfy 0 <= dark < bright <= 255")
        if not 0.0 <= self.max_clipped_share <= 1.0:
            raise ValueError("QualitySettings.max_clipped_share must be in [0, 1]")
        if not 0.0 <= self.min_mean <= self.max_mean <= 255.0:
            raise ValueError("QualitySettings mean bounds must satisfy 0 <= min <= max <= 255")
        if self.min_sharpness < 0 or self.min_short_edge < 0 or self.min_framing_ratio < 0:
            raise ValueError("QualitySettings values must not be negative")


DEFAULT_SETTINGS = PhotoSettings()
DEFAULT_QUALITY = QualitySettings()
