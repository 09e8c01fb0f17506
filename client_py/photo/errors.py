"""Errors raised by photo preparation.

Split by who is at fault (STYLE.md, "Errors"): a caller who misuses the API gets ``TypeError`` /
``ValueError``; a photo that cannot be prepared gets one :class:`PhotoError` carrying a stable
:class:`PhotoErrorCode`, which transport code maps to the wire unchanged. Messages are fixed
strings per code: they never contain image bytes, metadata (GPS!), file names or sizes taken
from the photo, so they are safe to log.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["MetadataLeakError", "PhotoError", "PhotoErrorCode"]


class PhotoErrorCode(StrEnum):
    """Stable codes for photos that cannot be prepared (documented in ``docs/photos.md``)."""

    EMPTY = "photo_empty"
    """Zero bytes."""
    TOO_LARGE = "photo_too_large"
    """More input bytes than ``PhotoSettings.max_input_bytes``."""
    UNSUPPORTED_FORMAT = "photo_unsupported_format"
    """Not a JPEG or PNG file (sniffed from the first bytes, never from a name or MIME type)."""
    TRUNCATED = "photo_truncated"
    """The container ends before its end marker (JPEG EOI, PNG IEND)."""
    CORRUPT = "photo_corrupt"
    """The container structure or the compressed pixel data is invalid."""
    TOO_MANY_PIXELS = "photo_too_many_pixels"
    """Declared width x height above ``PhotoSettings.max_pixels`` (decompression-bomb guard)."""


_MESSAGES: dict[PhotoErrorCode, str] = {
    PhotoErrorCode.EMPTY: "the photo file is empty",
    PhotoErrorCode.TOO_LARGE: "the photo file is larger than allowed",
    PhotoErrorCode.UNSUPPORTED_FORMAT: "the photo is not a JPEG or PNG image",
    PhotoErrorCode.TRUNCATED: "the photo file is incomplete (truncated)",
    PhotoErrorCode.CORRUPT: "the photo file is damaged and cannot be decoded",
    PhotoErrorCode.TOO_MANY_PIXELS: "the photo has more pixels than allowed",
}


class PhotoError(Exception):
    """A photo that cannot be prepared. ``code`` is stable; ``str(err)`` is a fixed message."""

    def __init__(self, code: PhotoErrorCode) -> None:
        super().__init__(_MESSAGES[code])
        self.code = code

    def __repr__(self) -> str:
        return f"PhotoError({self.code.value!r})"


class MetadataLeakError(RuntimeError):
    """Our own output still carries a metadata segment: a bug, never the photo's fault.

    ``prepare_photo`` re-parses every JPEG it produces and raises this instead of returning
    bytes that could carry GPS or other metadata; the photo must not be sent.
    """
