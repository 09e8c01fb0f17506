"""Prepare a clinical photo for encryption: decode, check, orient, strip, cap, re-encode, thumb.

Pure function: bytes in, :class:`PreparedPhoto` out; no files, no network, no clock. The
caller encrypts ``jpeg`` and ``thumbnail`` with the protocol's attachment format.

Output JPEG (both the photo and the thumbnail), every parameter explicit:

* baseline (SOF0), not progressive, Huffman tables optimised (smaller, lossless step);
* 4:4:4, no chroma subsampling: pigment network and colour borders of a lesion are chroma
  detail (``docs/photos.md``, "Encoding");
* quality ``PhotoSettings.jpeg_quality`` (85) / ``thumb_quality`` (80), libjpeg scaling of
  the standard quantisation tables;
* long edge capped at ``long_edge`` (2048) / ``thumb_long_edge`` (320) with bicubic
  resampling, never upscaled;
* segments: SOI, JFIF APP0, DQT, SOF0, DHT, SOS, EOI only. This is checked on every output
  by re-parsing it (:func:`containers.metadata_segments`); a violation raises
  :class:`MetadataLeakError` instead of returning the bytes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image

from client_py.photo.containers import ContainerFormat, metadata_segments
from client_py.photo.decode import ColourProfile, decode_photo
from client_py.photo.errors import MetadataLeakError
from client_py.photo.quality import QualityReport, assess_quality
from client_py.photo.settings import (
    DEFAULT_QUALITY,
    DEFAULT_SETTINGS,
    PhotoSettings,
    QualitySettings,
)

__all__ = ["PreparedPhoto", "encode_jpeg", "fit_size", "prepare_photo"]


@dataclass(frozen=True, slots=True)
class PreparedPhoto:
    """A prepared photo: metadata-free JPEG bytes, thumbnail, and the quality report."""

    jpeg: bytes
    width: int
    height: int
    thumbnail: bytes
    thumb_width: int
    thumb_height: int
    source_format: ContainerFormat
    orientation: int
    """EXIF orientation found in the source (1..8), already applied to the pixels."""
    colour_profile: ColourProfile
    quality: QualityReport

    def __repr__(self) -> str:  # never dump image bytes into a log
        return (
            f"PreparedPhoto({self.width}x{self.height}, {len(self.jpeg)} bytes, "
            f"thumb {self.thumb_width}x{self.thumb_height}, {self.quality.verdict.value})"
        )


def fit_size(width: int, height: int, long_edge: int) -> tuple[int, int]:
    """Size with the long edge capped at ``long_edge``, aspect kept, never upscaled.

    The short edge is ``round(short * long_edge / long)`` (halves up), at least 1, computed
    in integers so the browser gets the same size:

    >>> fit_size(4032, 3024, 2048)
    (2048, 1536)
    >>> fit_size(3000, 4000, 2048)
    (1536, 2048)
    >>> fit_size(800, 600, 2048)
    (800, 600)
    """
    longest = max(width, height)
    if longest <= long_edge:
        return width, height
    short = max(1, (min(width, height) * long_edge * 2 + longest) // (2 * longest))
    return (long_edge, short) if width >= height else (short, long_edge)


def encode_jpeg(image: Image.Image, quality: int) -> bytes:
    """Encode an RGB image as a metadata-free baseline 4:4:4 JPEG and verify it by parsing."""
    clean = image.copy()
    clean.info = {}  # Pillow's JPEG writer falls back to info["comment"]; leave it nothing
    buffer = io.BytesIO()
    clean.save(
        buffer,
        format="JPEG",
        quality=quality,
        subsampling=0,  # 4:4:4
        progressive=False,
        optimize=True,
    )
    data = buffer.getvalue()
    leaks = metadata_segments(data)
    if leaks:  # names of segments only: nothing from the photo goes into the message
        raise MetadataLeakError(f"encoder output carries metadata segments: {leaks}")
    return data


def _fit(image: Image.Image, long_edge: int) -> Image.Image:
    size = fit_size(*image.size, long_edge)
    if size == image.size:
        return image
    # Bicubic (Pillow's antialiased Keys cubic, a = -0.5) rather than Lanczos: visually the
    # same at the ~2x reduction of a 12 MP photo and ~40% cheaper (bench/bench_photo.py).
    # reducing_gap=3: for reductions of 3x or more Pillow first box-reduces by an integer
    # factor, keeping a gap of at least 3 for the cubic (Pillow docs: indistinguishable from
    # a full resample); it makes the thumbnail and 48 MP photos much cheaper.
    return image.resize(size, Image.Resampling.BICUBIC, reducing_gap=3.0)


def prepare_photo(
    data: bytes,
    *,
    settings: PhotoSettings = DEFAULT_SETTINGS,
    quality: QualitySettings = DEFAULT_QUALITY,
) -> PreparedPhoto:
    """Decode, check and re-encode one photo; raise :class:`PhotoError` for a bad file.

    The quality report is computed on the upright full-resolution pixels (before the cap), as
    the browser does, so both agree on the shared samples.
    """
    decoded = decode_photo(data, settings)
    report = assess_quality(decoded.image, quality)
    main = _fit(decoded.image, settings.long_edge)
    thumb = _fit(main, settings.thumb_long_edge)
    return PreparedPhoto(
        jpeg=encode_jpeg(main, settings.jpeg_quality),
        width=main.width,
        height=main.height,
        thumbnail=encode_jpeg(thumb, settings.thumb_quality),
        thumb_width=thumb.width,
        thumb_height=thumb.height,
        source_format=decoded.source_format,
        orientation=decoded.orientation,
        colour_profile=decoded.colour_profile,
        quality=report,
    )
