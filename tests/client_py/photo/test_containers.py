"""The byte-level container walk: segments, truncation vs corruption, orientation, metadata."""

from __future__ import annotations

import struct

import pytest
from PIL import Image

from client_py.photo import PhotoError, PhotoErrorCode, metadata_segments
from client_py.photo.containers import (
    ContainerFormat,
    exif_orientation,
    jpeg_segments,
    parse_container,
    sniff_format,
)
from tests.client_py.photo._images import (
    jpeg_bytes,
    jpeg_declaring,
    png_bytes,
    png_chunk,
    png_declaring,
    tiff_with_orientation,
)

SMALL = Image.new("RGB", (16, 8), (200, 100, 50))


def code_of(data: bytes) -> PhotoErrorCode:
    with pytest.raises(PhotoError) as info:
        parse_container(data)
    return info.value.code


def test_segments_of_a_plain_pillow_jpeg() -> None:
    names = [s.name for s in jpeg_segments(jpeg_bytes(SMALL))]
    assert names[0] == "SOI" and names[-1] == "EOI"
    assert names[1] == "APP0" and "SOF0" in names and "SOS" in names and "DQT" in names
    assert set(names) <= {"SOI", "APP0", "DQT", "SOF0", "DHT", "SOS", "EOI"}


def test_walk_handles_fill_bytes_restart_markers_and_progressive_scans() -> None:
    # restart_marker_blocks puts RSTn markers in the entropy-coded data; progressive has
    # several SOS segments with DHT between them.
    with_rst = jpeg_bytes(Image.new("RGB", (64, 64), (1, 2, 3)), restart_marker_blocks=1)
    assert "DRI" in [s.name for s in jpeg_segments(with_rst)]
    progressive = jpeg_bytes(Image.linear_gradient("L").convert("RGB"), progressive=True)
    assert [s.name for s in jpeg_segments(progressive)].count("SOS") > 1
    plain = jpeg_bytes(SMALL)
    filled = plain[:2] + b"\xff\xff\xff" + plain[2:]  # fill bytes before a marker (B.1.1.2)
    assert [s.name for s in jpeg_segments(filled)] == [s.name for s in jpeg_segments(plain)]
    # A standalone marker (TEM) between segments is legal and has no length field.
    tem = plain[:2] + b"\xff\x01" + plain[2:]
    assert "0xFF01" in [s.name for s in jpeg_segments(tem)]


def test_every_strict_prefix_of_a_jpeg_is_truncated() -> None:
    data = jpeg_bytes(SMALL)
    for cut in range(2, len(data) - 1):
        assert code_of(data[:cut]) is PhotoErrorCode.TRUNCATED, cut
    # Cutting only the final D9 leaves a dangling FF: also truncated.
    assert code_of(data[:-1]) is PhotoErrorCode.TRUNCATED


def test_every_strict_prefix_of_a_png_is_truncated() -> None:
    data = png_bytes(SMALL)
    for cut in range(1, len(data)):
        assert code_of(data[:cut]) is PhotoErrorCode.TRUNCATED, cut


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", PhotoErrorCode.EMPTY),
        (b"\xff", PhotoErrorCode.TRUNCATED),
        (b"GIF89a" + b"\0" * 20, PhotoErrorCode.UNSUPPORTED_FORMAT),
        (b"\0\0\0\x18ftypheic" + b"\0" * 20, PhotoErrorCode.UNSUPPORTED_FORMAT),
        (b"RIFF\0\0\0\0WEBPVP8 ", PhotoErrorCode.UNSUPPORTED_FORMAT),
        (b"II*\0" + b"\0" * 20, PhotoErrorCode.UNSUPPORTED_FORMAT),
        (b"BM" + b"\0" * 40, PhotoErrorCode.UNSUPPORTED_FORMAT),
        (b"\x89PN", PhotoErrorCode.TRUNCATED),
        (b"\x89PNX\r\n\x1a\n", PhotoErrorCode.UNSUPPORTED_FORMAT),
    ],
)
def test_sniffing(data: bytes, code: PhotoErrorCode) -> None:
    with pytest.raises(PhotoError) as info:
        sniff_format(data)
    assert info.value.code is code


def test_sniffing_accepts_jpeg_and_png() -> None:
    assert sniff_format(jpeg_bytes(SMALL)) is ContainerFormat.JPEG
    assert sniff_format(png_bytes(SMALL)) is ContainerFormat.PNG


def _replace_segment_length(data: bytes, marker: bytes, length: int) -> bytes:
    at = data.index(marker)
    return data[: at + 2] + struct.pack(">H", length) + data[at + 4 :]


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d[:2] + b"\x00" + d[3:],  # not a marker where one must be
        lambda d: d[:2] + b"\xff\x00" + d[2:],  # FF 00 is not a marker outside scans
        lambda d: d[:2] + b"\xff\xd8" + d[2:],  # second SOI
        lambda d: _replace_segment_length(d, b"\xff\xdb", 1),  # length below 2
        lambda d: d.replace(b"\xff\xc0", b"\xff\xc9", 1).replace(b"\xff\xc9", b"\xff\xe9", 1),
    ],
    ids=["no-marker", "ff00", "double-soi", "short-length", "no-sof"],
)
def test_structurally_corrupt_jpeg(mutate: object) -> None:
    assert callable(mutate)
    assert code_of(mutate(jpeg_bytes(SMALL))) is PhotoErrorCode.CORRUPT


def test_jpeg_sof_checks() -> None:
    assert code_of(jpeg_declaring(0, 16)) is PhotoErrorCode.CORRUPT
    assert code_of(jpeg_declaring(16, 0)) is PhotoErrorCode.CORRUPT  # DNL-defined height
    info = parse_container(jpeg_declaring(60000, 50000))
    assert (info.width, info.height) == (60000, 50000)
    data = jpeg_bytes(SMALL)
    sof = data.index(b"\xff\xc0")
    short_sof = data[:sof] + b"\xff\xc0\x00\x05\x08\x00\x08" + data[sof + 2 + 17 :]
    assert code_of(short_sof) is PhotoErrorCode.CORRUPT
    # A scan before any frame header.
    sos = data.index(b"\xff\xda")
    assert code_of(data[:sof] + data[sos:]) is PhotoErrorCode.CORRUPT


def test_png_structure_checks() -> None:
    data = png_bytes(SMALL)
    flipped = bytearray(data)
    flipped[20] ^= 0x01  # inside IHDR: the CRC no longer matches
    assert code_of(bytes(flipped)) is PhotoErrorCode.CORRUPT
    signature = data[:8]
    ihdr_end = 8 + 8 + 13 + 4
    # IDAT missing.
    assert code_of(data[:ihdr_end] + png_chunk(b"IEND", b"")) is PhotoErrorCode.CORRUPT
    # IHDR not first.
    assert code_of(signature + png_chunk(b"tEXt", b"a\0b") + data[8:]) is PhotoErrorCode.CORRUPT
    # Chunk type not letters; length over 2^31 - 1.
    assert code_of(data[:ihdr_end] + b"\0\0\0\0IDA\x01" + data[-12:]) is PhotoErrorCode.CORRUPT
    assert (
        code_of(data[:ihdr_end] + b"\x80\0\0\0IDAT" + data[ihdr_end + 8 :])
        is PhotoErrorCode.CORRUPT
    )
    assert code_of(png_declaring(0, 10)) is PhotoErrorCode.CORRUPT
    assert code_of(png_declaring(10, 0)) is PhotoErrorCode.CORRUPT
    info = parse_container(png_declaring(40000, 30000))
    assert (info.format, info.width, info.height) == (ContainerFormat.PNG, 40000, 30000)


def test_bytes_after_the_end_marker_are_ignored_on_input() -> None:
    jpeg = jpeg_bytes(SMALL) + b"trailing MPO frame or junk"
    assert parse_container(jpeg).width == 16
    png = png_bytes(SMALL) + b"junk"
    assert parse_container(png).width == 16


@pytest.mark.parametrize("value", range(1, 9))
@pytest.mark.parametrize("little_endian", [True, False])
def test_exif_orientation_values(value: int, little_endian: bool) -> None:
    assert exif_orientation(tiff_with_orientation(value, little_endian=little_endian)) == value


@pytest.mark.parametrize(
    "tiff",
    [
        b"",
        b"XX*\0\x08\0\0\0",
        b"II\x2b\0\x08\0\0\0\0\0",  # BigTIFF magic
        b"II*\0\xff\0\0\0",  # IFD offset past the end
        tiff_with_orientation(0),
        tiff_with_orientation(9),
        tiff_with_orientation(6, kind=4),  # LONG instead of SHORT
        tiff_with_orientation(6)[:20],  # entry cut short
        b"II*\0\x08\0\0\0\0\0",  # empty IFD
    ],
)
def test_exif_orientation_defaults_to_1_on_bad_input(tiff: bytes) -> None:
    assert exif_orientation(tiff) == 1


def test_exif_orientation_wrong_count() -> None:
    tiff = bytearray(tiff_with_orientation(6))
    tiff[14:18] = struct.pack("<I", 2)  # count 2
    assert exif_orientation(bytes(tiff)) == 1


def test_orientation_read_from_first_exif_app1_and_png_exif() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    jpeg = jpeg_bytes(SMALL, exif=exif.tobytes())
    assert parse_container(jpeg).orientation == 6
    png = png_bytes(SMALL, exif=exif.tobytes())
    assert parse_container(png).orientation == 6
    # A second Exif APP1 does not override the first.
    second = b"Exif\0\0" + tiff_with_orientation(3)
    app1 = b"\xff\xe1" + struct.pack(">H", len(second) + 2) + second
    eoi_free = jpeg[:-2]
    sos = eoi_free.index(b"\xff\xda")
    assert parse_container(jpeg[:sos] + app1 + jpeg[sos:]).orientation == 6


def test_metadata_segments_clean_and_dirty() -> None:
    assert metadata_segments(jpeg_bytes(SMALL)) == []
    exif = Image.Exif()
    exif[0x010F] = "Make"
    dirty = jpeg_bytes(SMALL, exif=exif.tobytes(), comment=b"hello", icc_profile=b"\0" * 40)
    assert metadata_segments(dirty) == ["APP1", "APP2", "COM"]
    with pytest.raises(PhotoError) as info:
        metadata_segments(jpeg_bytes(SMALL) + b"x")  # nothing may follow EOI on output
    assert info.value.code is PhotoErrorCode.CORRUPT


def test_metadata_segments_rejects_jfif_thumbnails_and_other_app0() -> None:
    data = jpeg_bytes(SMALL)
    app0 = data.index(b"\xff\xe0")
    (length,) = struct.unpack_from(">H", data, app0 + 2)
    payload = data[app0 + 4 : app0 + 2 + length]
    thumb = payload[:12] + b"\x01\x01" + b"\0\0\0"  # 1 x 1 RGB thumbnail
    with_thumb = (data[:app0] + b"\xff\xe0" + struct.pack(">H", len(thumb) + 2) + thumb) + data[
        app0 + 2 + length :
    ]
    assert metadata_segments(with_thumb) == ["APP0"]
    jfxx = b"JFXX\0\x10"
    with_jfxx = data[:2] + b"\xff\xe0" + struct.pack(">H", len(jfxx) + 2) + jfxx + data[2:]
    assert metadata_segments(with_jfxx) == ["APP0"]
    progressive = jpeg_bytes(SMALL, progressive=True)
    assert "SOF2" in metadata_segments(progressive)  # only baseline is expected on output
