"""Small in-memory images and files for the photo tests."""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

from PIL import Image

from client_py.photo import metadata_segments
from client_py.photo.containers import jpeg_segments


def jpeg_bytes(image: Image.Image, **params: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", **params)
    return buffer.getvalue()


def png_bytes(image: Image.Image, **params: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", **params)
    return buffer.getvalue()


def encode(image: Image.Image, fmt: str, **params: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def png_chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body))


def png_declaring(width: int, height: int) -> bytes:
    """A structurally valid RGB PNG header declaring ``width`` x ``height``, tiny IDAT."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + png_chunk(b"IEND", b"")
    )


def jpeg_declaring(width: int, height: int) -> bytes:
    """A real 16 x 16 JPEG whose SOF0 header is patched to declare ``width`` x ``height``."""
    data = jpeg_bytes(Image.new("RGB", (16, 16), (10, 20, 30)))
    sof = data.index(b"\xff\xc0")
    return data[: sof + 5] + struct.pack(">HH", height, width) + data[sof + 9 :]


def tiff_with_orientation(value: int, *, little_endian: bool = True, kind: int = 3) -> bytes:
    """A minimal TIFF structure (EXIF body) whose IFD0 holds one Orientation entry."""
    e = "<" if little_endian else ">"
    head = (b"II" if little_endian else b"MM") + struct.pack(e + "HI", 42, 8)
    entry = struct.pack(e + "HHI", 0x0112, kind, 1) + struct.pack(e + "HH", value, 0)
    return head + struct.pack(e + "H", 1) + entry + struct.pack(e + "I", 0)


def exif_with_orientation(value: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = value
    return exif.tobytes()


def corners(width: int, height: int) -> Image.Image:
    """An image whose four corners have distinct colours (red TL, green TR, blue BL, white BR)."""
    image = Image.new("RGB", (width, height), (128, 128, 128))
    image.putpixel((0, 0), (255, 0, 0))
    image.putpixel((width - 1, 0), (0, 255, 0))
    image.putpixel((0, height - 1), (0, 0, 255))
    image.putpixel((width - 1, height - 1), (255, 255, 255))
    return image


def _s15f16(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _xyz_tag(x: float, y: float, z: float) -> bytes:
    return b"XYZ \0\0\0\0" + _s15f16(x) + _s15f16(y) + _s15f16(z)


def display_p3_like_profile() -> bytes:
    """A minimal ICC v2 RGB matrix/TRC display profile with Display P3 primaries (D50-adapted
    colorants, gamma 2.2 curves): enough for lcms to build a real, non-identity transform."""
    gamma = b"curv\0\0\0\0" + struct.pack(">IH", 1, 0x0233) + b"\0\0"  # u8Fixed8 2.2
    text = b"P3 test\0"
    tags = [
        (b"desc", b"desc\0\0\0\0" + struct.pack(">I", len(text)) + text + b"\0" * 79),
        (b"wtpt", _xyz_tag(0.9642, 1.0, 0.8249)),
        (b"rXYZ", _xyz_tag(0.5151, 0.2412, -0.0011)),
        (b"gXYZ", _xyz_tag(0.2919, 0.6922, 0.0419)),
        (b"bXYZ", _xyz_tag(0.1572, 0.0666, 0.7841)),
        (b"rTRC", gamma),
        (b"gTRC", gamma),
        (b"bTRC", gamma),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table = struct.pack(">I", len(tags))
    body = b""
    for signature, data in tags:
        padded = data + b"\0" * (-len(data) % 4)
        table += signature + struct.pack(">II", offset + len(body), len(data))
        body += padded
    size = offset + len(body)
    header = struct.pack(">I", size) + b"lcms" + struct.pack(">I", 0x02100000)
    header += b"mntrRGB XYZ " + b"\0" * 12 + b"acsp" + b"\0" * 24
    header += struct.pack(">I", 0) + _s15f16(0.9642) + _s15f16(1.0) + _s15f16(0.8249)
    header += b"\0" * (128 - len(header))
    return header + table + body


def assert_metadata_free(data: bytes) -> None:
    """Parse the output two independent ways: Pillow's view and our own marker walk."""
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    assert len(image.getexif()) == 0
    assert not {"exif", "icc_profile", "comment", "xmp", "photoshop", "adobe"} & set(image.info)
    assert image.applist == [("APP0", image.applist[0][1])]  # only the JFIF header
    names = [segment.name for segment in jpeg_segments(data, allow_trailing=False)]
    assert not [n for n in names if n.startswith("APP") and n != "APP0"]
    assert "COM" not in names
    assert metadata_segments(data) == []
