"""Clinical photo preparation and quality check (``docs/photos.md``).

Usage::

    from client_py.photo import PhotoError, prepare_photo

    try:
        prepared = prepare_photo(photo_bytes)
    except PhotoError as err:
        show(err.code)  # stable code, e.g. "photo_truncated"
    else:
        encrypt(prepared.jpeg), encrypt(prepared.thumbnail)  # metadata-free JPEGs
        show(prepared.quality.verdict, prepared.quality.reasons)
"""

from client_py.photo.containers import ContainerFormat, metadata_segments
from client_py.photo.decode import ColourProfile, DecodedPhoto, decode_photo
from client_py.photo.errors import MetadataLeakError, PhotoError, PhotoErrorCode
from client_py.photo.prepare import PreparedPhoto, encode_jpeg, fit_size, prepare_photo
from client_py.photo.quality import (
    QualityMetrics,
    QualityReport,
    Reason,
    Verdict,
    assess_quality,
)
from client_py.photo.settings import (
    DEFAULT_QUALITY,
    DEFAULT_SETTINGS,
    PhotoSettings,
    QualitySettings,
)

__all__ = [
    "DEFAULT_QUALITY",
    "DEFAULT_SETTINGS",
    "ColourProfile",
    "ContainerFormat",
    "DecodedPhoto",
    "MetadataLeakError",
    "PhotoError",
    "PhotoErrorCode",
    "PhotoSettings",
    "PreparedPhoto",
    "QualityMetrics",
    "QualityReport",
    "QualitySettings",
    "Reason",
    "Verdict",
    "assess_quality",
    "decode_photo",
    "encode_jpeg",
    "fit_size",
    "metadata_segments",
    "prepare_photo",
]
