"""Walk JPEG and PNG containers byte by byte, without decoding pixels.

Used three ways:

* before decoding: sniff the format from the first bytes, read the declared size (so a
  decompression bomb is refused before any pixel is allocated), tell a truncated file from a
  corrupt one by structure instead of by parsing Pillow's error messages, and read the EXIF
  orientation ourselves (the browser port reads it the same way);
* after encoding: prove that our output carries no metadata by parsing it
  (:func:`metadata_segments`), instead of assuming that Pillow wrote none.

Rules (ITU-T T.81 annex B for JPEG, ISO/IEC 15948 / W3C PNG 3rd ed. section 5 for PNG):

* JPEG: ``FF D8`` (SOI), then marker segments ``FF xx`` + big-endian length (which counts
  itself) + payload; any number of ``FF`` fill bytes may precede a marker (B.1.1.2). After
  each SOS header comes entropy-coded data in which ``FF 00`` is a stuffed byte and
  ``FF D0``..``FF D7`` are restart markers; the next other marker ends it. The file ends at
  EOI (``FF D9``). Bytes after EOI are ignored on input (phones append MPO frames there) and
  refused on output.
* PNG: the 8-byte signature, then chunks ``length(4) type(4) data crc(4)``; IHDR first,
  IEND last; every chunk's CRC-32 is checked.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from enum import StrEnum

from client_py.photo.errors import PhotoError, PhotoErrorCode

__all__ = [
    "ContainerFormat",
    "ContainerInfo",
    "JpegSegment",
    "exif_orientation",
    "jpeg_segments",
    "metadata_segments",
    "parse_container",
    "sniff_format",
]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_SOI = 0xD8
_EOI = 0xD9
_SOS = 0xDA
_APP0 = 0xE0
_COM = 0xFE
# SOFn: every C0..CF except DHT (C4), JPG (C8) and DAC (CC) (T.81 table B.1).
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers without a length field (T.81 B.1.1.3): TEM, RST0..RST7 (SOI/EOI handled apart).
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
# Our encoder's output may contain only these (plus the JFIF APP0 checked separately):
# DQT, DHT, DRI, SOF0 (baseline), SOS, RSTn, SOI, EOI.
_OUTPUT_ALLOWED = frozenset({0xDB, 0xC4, 0xDD, 0xC0, _SOS, _SOI, _EOI, *range(0xD0, 0xD8)})
# A JFIF APP0 with no embedded thumbnail: "JFIF\0", version(2), units(1), Xdensity(2),
# Ydensity(2), Xthumbnail(1)=0, Ythumbnail(1)=0 -> 14 payload bytes (JFIF 1.02, section 10).
_JFIF_PAYLOAD_LEN = 14

_ORIENTATION_TAG = 0x0112
_TIFF_SHORT = 3


class ContainerFormat(StrEnum):
    JPEG = "jpeg"
    PNG = "png"


@dataclass(frozen=True, slots=True)
class JpegSegment:
    """One JPEG marker segment. ``payload`` excludes the marker and length bytes; for SOS it
    is the scan header only (the entropy-coded data is not copied)."""

    marker: int
    offset: int
    payload: bytes

    @property
    def name(self) -> str:
        return _marker_name(self.marker)


@dataclass(frozen=True, slots=True)
class ContainerInfo:
    """What the structure walk learned: format, declared size and EXIF orientation (1..8)."""

    format: ContainerFormat
    width: int
    height: int
    orientation: int


def _marker_name(marker: int) -> str:
    if 0xE0 <= marker <= 0xEF:
        return f"APP{marker - 0xE0}"
    if 0xD0 <= marker <= 0xD7:
        return f"RST{marker - 0xD0}"
    if marker in _SOF_MARKERS:
        return f"SOF{marker - 0xC0}"
    names = {0xD8: "SOI", 0xD9: "EOI", 0xDA: "SOS", 0xDB: "DQT", 0xC4: "DHT", 0xDD: "DRI"}
    return names.get(marker, "COM" if marker == _COM else f"0xFF{marker:02X}")


def sniff_format(data: bytes) -> ContainerFormat:
    """Return the container format from the first bytes, or raise :class:`PhotoError`.

    Never trusts a file name or MIME type. A file shorter than the signature that could still
    be the start of one is ``TRUNCATED``; anything else that is not JPEG or PNG (GIF, WebP,
    HEIC, TIFF, BMP, AVIF, ...) is ``UNSUPPORTED_FORMAT``.
    """
    if not data:
        raise PhotoError(PhotoErrorCode.EMPTY)
    if data[:2] == b"\xff\xd8":
        return ContainerFormat.JPEG
    if data[:8] == PNG_SIGNATURE:
        return ContainerFormat.PNG
    if len(data) < len(PNG_SIGNATURE) and PNG_SIGNATURE.startswith(data):
        raise PhotoError(PhotoErrorCode.TRUNCATED)
    if data == b"\xff":
        raise PhotoError(PhotoErrorCode.TRUNCATED)
    raise PhotoError(PhotoErrorCode.UNSUPPORTED_FORMAT)


def jpeg_segments(data: bytes, *, allow_trailing: bool = True) -> list[JpegSegment]:
    """Walk a JPEG from SOI to EOI and return every marker segment in order.

    Raises :class:`PhotoError` ``TRUNCATED`` if the data ends before EOI, ``CORRUPT`` if the
    structure is invalid (or, with ``allow_trailing=False``, if bytes follow EOI).

    >>> [s.name for s in jpeg_segments(bytes.fromhex("ffd8 fffe0004 6869 ffd9"))]
    ['SOI', 'COM', 'EOI']
    """
    size = len(data)
    if data[:2] != b"\xff\xd8":
        raise PhotoError(PhotoErrorCode.CORRUPT)
    segments = [JpegSegment(_SOI, 0, b"")]
    pos = 2
    while True:
        if pos >= size:
            raise PhotoError(PhotoErrorCode.TRUNCATED)
        if data[pos] != 0xFF:
            raise PhotoError(PhotoErrorCode.CORRUPT)
        start = pos
        while pos < size and data[pos] == 0xFF:  # fill bytes (T.81 B.1.1.2)
            pos += 1
        if pos >= size:
            raise PhotoError(PhotoErrorCode.TRUNCATED)
        marker = data[pos]
        pos += 1
        if marker == _EOI:
            segments.append(JpegSegment(marker, start, b""))
            if not allow_trailing and pos != size:
                raise PhotoError(PhotoErrorCode.CORRUPT)
            return segments
        if marker == 0x00 or marker == _SOI:
            raise PhotoError(PhotoErrorCode.CORRUPT)
        if marker in _STANDALONE:
            segments.append(JpegSegment(marker, start, b""))
            continue
        if pos + 2 > size:
            raise PhotoError(PhotoErrorCode.TRUNCATED)
        (length,) = struct.unpack_from(">H", data, pos)
        if length < 2:
            raise PhotoError(PhotoErrorCode.CORRUPT)
        end = pos + length
        if end > size:
            raise PhotoError(PhotoErrorCode.TRUNCATED)
        segments.append(JpegSegment(marker, start, data[pos + 2 : end]))
        pos = end
        if marker == _SOS:
            pos = _skip_entropy_coded(data, pos)


def _skip_entropy_coded(data: bytes, pos: int) -> int:
    """Return the offset of the marker that ends the entropy-coded data starting at ``pos``."""
    while True:
        pos = data.find(b"\xff", pos)
        if pos < 0 or pos + 1 >= len(data):
            raise PhotoError(PhotoErrorCode.TRUNCATED)
        following = data[pos + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7:  # stuffed byte / restart marker
            pos += 2
        elif following == 0xFF:  # fill byte before a marker
            pos += 1
        else:
            return pos


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """Return ``(type, data)`` for every chunk up to and including IEND, CRCs checked."""
    size = len(data)
    pos = len(PNG_SIGNATURE)
    chunks: list[tuple[bytes, bytes]] = []
    while True:
        if pos + 8 > size:
            raise PhotoError(PhotoErrorCode.TRUNCATED)
        length, ctype = struct.unpack_from(">I4s", data, pos)
        if length > 0x7FFFFFFF or not ctype.isalpha():
            raise PhotoError(PhotoErrorCode.CORRUPT)
        end = pos + 8 + length + 4
        if end > size:
            raise PhotoError(PhotoErrorCode.TRUNCATED)
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack_from(">I", data, end - 4)
        if zlib.crc32(ctype + body) != crc:
            raise PhotoError(PhotoErrorCode.CORRUPT)
        if not chunks and (ctype != b"IHDR" or length != 13):
            raise PhotoError(PhotoErrorCode.CORRUPT)
        chunks.append((ctype, body))
        pos = end
        if ctype == b"IEND":
            return chunks


def exif_orientation(tiff: bytes) -> int:
    """Return the Orientation (tag 0x0112) of IFD0 of a TIFF-structured EXIF block, 1..8.

    Absent, malformed or out-of-range values give 1 (no transform), as browsers do: a bad
    EXIF block must not make a photo unusable. ``tiff`` starts at the byte-order mark (after
    the ``Exif\\0\\0`` prefix of a JPEG APP1; a PNG eXIf chunk holds it directly).
    """
    if len(tiff) < 8 or tiff[:2] not in (b"II", b"MM"):
        return 1
    endian = "<" if tiff[:2] == b"II" else ">"
    magic, ifd = struct.unpack_from(endian + "HI", tiff, 2)
    if magic != 42 or ifd + 2 > len(tiff):
        return 1
    (count,) = struct.unpack_from(endian + "H", tiff, ifd)
    for index in range(count):
        entry = ifd + 2 + 12 * index
        if entry + 12 > len(tiff):
            return 1
        tag, kind, number = struct.unpack_from(endian + "HHI", tiff, entry)
        if tag == _ORIENTATION_TAG:
            if kind != _TIFF_SHORT or number != 1:
                return 1
            (value,) = struct.unpack_from(endian + "H", tiff, entry + 8)
            return value if 1 <= value <= 8 else 1
    return 1


def parse_container(data: bytes) -> ContainerInfo:
    """Sniff, walk and check the structure of a JPEG or PNG; raise :class:`PhotoError`."""
    fmt = sniff_format(data)
    if fmt is ContainerFormat.JPEG:
        return _parse_jpeg(data)
    return _parse_png(data)


def _parse_jpeg(data: bytes) -> ContainerInfo:
    width = height = 0
    orientation = 1
    seen_exif = False
    for segment in jpeg_segments(data):
        if segment.marker in _SOF_MARKERS and width == 0:
            # SOF payload: P(1) Y(2) X(2) Nf(1) ... (T.81 B.2.2); Y = 0 (height defined later
            # by a DNL marker) is legal but unsupported by decoders we rely on: refuse it.
            if len(segment.payload) < 6:
                raise PhotoError(PhotoErrorCode.CORRUPT)
            height, width = struct.unpack_from(">HH", segment.payload, 1)
            if width == 0 or height == 0:
                raise PhotoError(PhotoErrorCode.CORRUPT)
        elif segment.marker == 0xE1 and not seen_exif and segment.payload[:6] == b"Exif\0\0":
            seen_exif = True  # only the first Exif APP1 counts (CIPA DC-008 4.5.4)
            orientation = exif_orientation(segment.payload[6:])
        elif segment.marker == _SOS and width == 0:
            raise PhotoError(PhotoErrorCode.CORRUPT)  # scan before any frame header
    if width == 0:
        raise PhotoError(PhotoErrorCode.CORRUPT)
    return ContainerInfo(ContainerFormat.JPEG, width, height, orientation)


def _parse_png(data: bytes) -> ContainerInfo:
    chunks = _png_chunks(data)
    width, height = struct.unpack_from(">II", chunks[0][1], 0)
    if not 0 < width <= 0x7FFFFFFF or not 0 < height <= 0x7FFFFFFF:
        raise PhotoError(PhotoErrorCode.CORRUPT)
    if not any(ctype == b"IDAT" for ctype, _ in chunks):
        raise PhotoError(PhotoErrorCode.CORRUPT)
    orientation = 1
    for ctype, body in chunks:
        if ctype == b"eXIf":
            orientation = exif_orientation(body)
            break
    return ContainerInfo(ContainerFormat.PNG, width, height, orientation)


def metadata_segments(data: bytes) -> list[str]:
    """Names of everything in a JPEG that our encoder must not produce; ``[]`` when clean.

    Clean means: only SOI, one JFIF APP0 without thumbnail, DQT, DHT, DRI, SOF0, SOS, RSTn,
    EOI, and nothing after EOI. Every APPn other than that APP0 (EXIF and GPS in APP1, XMP in
    APP1, ICC in APP2, IPTC in APP13, Adobe in APP14, ...) and every COM is reported, as are
    unknown markers. Raises :class:`PhotoError` if the data is not a well-formed JPEG.
    """
    found: list[str] = []
    for segment in jpeg_segments(data, allow_trailing=False):
        if segment.marker == _APP0:
            payload = segment.payload
            if not (
                len(payload) == _JFIF_PAYLOAD_LEN
                and payload[:5] == b"JFIF\0"
                and payload[12:14] == b"\0\0"
            ):
                found.append("APP0")
        elif segment.marker not in _OUTPUT_ALLOWED:
            found.append(segment.name)
    return found
