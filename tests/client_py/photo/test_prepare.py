"""prepare_photo: metadata-free output proved by parsing, size caps, encoding, robustness."""

from __future__ import annotations

import contextlib
import doctest
import io
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import client_py.photo.containers
import client_py.photo.prepare
import client_py.photo.quality
from client_py.photo import (
    MetadataLeakError,
    PhotoError,
    PhotoSettings,
    encode_jpeg,
    fit_size,
    metadata_segments,
    prepare_photo,
)
from client_py.photo.containers import jpeg_segments
from tests.client_py.photo._images import (
    assert_metadata_free,
    exif_with_orientation,
    jpeg_bytes,
    png_bytes,
)

SAMPLES = "tests/vectors/photos/"


def test_doctests() -> None:
    for module in (
        client_py.photo.containers,
        client_py.photo.prepare,
        client_py.photo.quality,
    ):
        result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted > 0, module.__name__


def test_metadata_sample_loses_every_block() -> None:
    with open(SAMPLES + "metadata.jpg", "rb") as f:
        data = f.read()
    # The input really carries them (so the check below can fail).
    source = Image.open(io.BytesIO(data))
    assert source.getexif().get_ifd(0x8825)  # GPS IFD present
    assert metadata_segments(data) == ["APP13", "APP1", "APP1", "APP2", "COM"]
    prepared = prepare_photo(data)
    for output in (prepared.jpeg, prepared.thumbnail):
        assert_metadata_free(output)
        for needle in (b"Exif", b"GPS", b"xmp", b"Photoshop", b"ICC_PROFILE", b"SAMPLE"):
            assert needle not in output


def test_png_text_and_exif_chunks_are_gone() -> None:
    with open(SAMPLES + "alpha_text.png", "rb") as f:
        prepared = prepare_photo(f.read())
    assert_metadata_free(prepared.jpeg)
    # The transparent top-left block became white.
    image = Image.open(io.BytesIO(prepared.jpeg)).convert("RGB")
    r, g, b = image.getpixel((5, 5))  # type: ignore[misc]
    assert min(r, g, b) > 245


def test_output_jpeg_parameters_are_explicit() -> None:
    prepared = prepare_photo(jpeg_bytes(Image.new("RGB", (3000, 1000), (150, 100, 80))))
    segments = {s.name: s.payload for s in jpeg_segments(prepared.jpeg)}
    sof = segments["SOF0"]  # baseline, not progressive
    precision, height, width, components = struct.unpack_from(">BHHB", sof)
    assert (precision, width, height, components) == (8, 2048, 683, 3)
    sampling = [sof[6 + 3 * i + 1] for i in range(3)]
    assert sampling == [0x11, 0x11, 0x11]  # 4:4:4: no chroma subsampling
    # Quality 85 = libjpeg's standard tables scaled for 85 (compare with a reference encode).
    reference = jpeg_bytes(Image.new("RGB", (8, 8)), quality=85, subsampling=0, optimize=True)
    ref_dqt = [s.payload for s in jpeg_segments(reference) if s.name == "DQT"]
    assert [s.payload for s in jpeg_segments(prepared.jpeg) if s.name == "DQT"] == ref_dqt
    assert (prepared.thumb_width, prepared.thumb_height) == (320, 107)


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((4032, 3024), (2048, 1536)),
        ((3024, 4032), (1536, 2048)),
        ((2048, 10), (2048, 10)),
        ((2049, 3), (2048, 3)),
        ((10000, 1), (2048, 1)),
        ((5000, 5000), (2048, 2048)),
        ((100, 75), (100, 75)),
    ],
)
def test_fit_size(size: tuple[int, int], expected: tuple[int, int]) -> None:
    assert fit_size(*size, 2048) == expected


def test_fit_size_rounds_half_up() -> None:
    # 2048 * 1001 / 4000 = 512.512 -> 513; 2048 * 1000 / 4096 = 500 exactly.
    assert fit_size(4000, 1001, 2048) == (2048, 513)
    assert fit_size(4096, 1000, 2048) == (2048, 500)
    assert fit_size(4096, 1001, 2048) == (2048, 501)  # 500.5 rounds up


def test_small_photos_are_not_upscaled_and_thumbnail_is_capped() -> None:
    prepared = prepare_photo(jpeg_bytes(Image.new("RGB", (300, 200), (1, 2, 3))))
    assert (prepared.width, prepared.height) == (300, 200)
    assert (prepared.thumb_width, prepared.thumb_height) == (300, 200)
    custom = PhotoSettings(long_edge=100, thumb_long_edge=40, jpeg_quality=50)
    prepared = prepare_photo(jpeg_bytes(Image.new("RGB", (300, 200))), settings=custom)
    assert (prepared.width, prepared.height, prepared.thumb_width) == (100, 67, 40)
    assert Image.open(io.BytesIO(prepared.thumbnail)).size == (40, 27)


def test_orientation_is_applied_before_sizing() -> None:
    stored = Image.new("RGB", (3000, 1000), (10, 200, 10))
    stored.paste((255, 0, 0), (0, 0, 100, 100))  # stored top-left red
    prepared = prepare_photo(jpeg_bytes(stored, exif=exif_with_orientation(6)))
    assert (prepared.width, prepared.height, prepared.orientation) == (683, 2048, 6)
    upright = Image.open(io.BytesIO(prepared.jpeg)).convert("RGB")
    r, g, _ = upright.getpixel((683 - 10, 10))  # type: ignore[misc]
    assert r > 200 and g < 60  # stored top-left is now top-right
    assert prepared.quality.metrics.width == 1000  # quality ran on the upright original


def test_repr_does_not_dump_bytes() -> None:
    prepared = prepare_photo(png_bytes(Image.new("RGB", (20, 10))))
    size = len(prepared.jpeg)
    assert repr(prepared) == f"PreparedPhoto(20x10, {size} bytes, thumb 20x10, warn)"


def test_a_leaking_encoder_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    # Simulate a future Pillow that writes metadata on its own: the output check refuses it.
    original = Image.Image.save

    def leaky_save(self: Image.Image, fp: io.BytesIO, **params: object) -> None:
        original(self, fp, comment=b"leak", **params)  # type: ignore[arg-type]

    monkeypatch.setattr(Image.Image, "save", leaky_save)
    with pytest.raises(MetadataLeakError) as info:
        encode_jpeg(Image.new("RGB", (8, 8)), 85)
    assert "COM" in str(info.value)


@pytest.mark.parametrize(
    "bad",
    [
        {"max_input_bytes": 0},
        {"max_pixels": -1},
        {"long_edge": True},
        {"jpeg_quality": 0},
        {"thumb_quality": 96},
        {"long_edge": 100, "thumb_long_edge": 200},
    ],
)
def test_photo_settings_validation(bad: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        PhotoSettings(**bad)


@st.composite
def photo_files(draw: st.DrawFn) -> bytes:
    mode = draw(st.sampled_from(["RGB", "L", "RGBA", "P", "1", "CMYK", "LA", "I;16"]))
    width = draw(st.integers(1, 64))
    height = draw(st.integers(1, 64))
    raw = draw(st.binary(min_size=0, max_size=64))
    image = Image.new(mode if mode != "I;16" else "I;16", (width, height))
    if raw:
        pixels = (raw * (width * height * 8 // len(raw) + 1))[: len(image.tobytes())]
        image.frombytes(pixels)
    # JPEG can hold RGB, L, CMYK; PNG everything else here (and RGB, L).
    fmt = "JPEG" if mode == "CMYK" else draw(st.sampled_from(["JPEG", "PNG"]))
    if mode not in ("RGB", "L", "CMYK"):
        fmt = "PNG"
    params: dict[str, object] = {}
    if draw(st.booleans()):
        params["exif"] = exif_with_orientation(draw(st.integers(0, 9)))
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    data = buffer.getvalue()
    # Optionally damage it: cut, flip a byte, or splice garbage.
    damage = draw(st.sampled_from(["none", "cut", "flip", "splice"]))
    if damage == "cut":
        data = data[: draw(st.integers(0, len(data)))]
    elif damage == "flip":
        at = draw(st.integers(0, len(data) - 1))
        data = data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1 :]
    elif damage == "splice":
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(max_size=32)) + data[at:]
    return data


@given(photo_files())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_random_and_damaged_images_never_crash(data: bytes) -> None:
    try:
        prepared = prepare_photo(data)
    except PhotoError:
        return
    assert_metadata_free(prepared.jpeg)
    assert_metadata_free(prepared.thumbnail)
    assert max(prepared.width, prepared.height) <= 2048


@given(st.binary(max_size=256))
@settings(max_examples=300, deadline=None)
def test_random_bytes_never_crash(data: bytes) -> None:
    for prefix in (b"", b"\xff\xd8", b"\x89PNG\r\n\x1a\n"):
        with contextlib.suppress(PhotoError):
            prepare_photo(prefix + data)
