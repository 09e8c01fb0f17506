"""Decoding untrusted files: refusals with stable codes, bomb limits, modes, colour, orientation."""

from __future__ import annotations

import io
import struct
import warnings

import pytest
from PIL import Image, ImageCms, ImageFile

from client_py.photo import (
    ColourProfile,
    ContainerFormat,
    PhotoError,
    PhotoErrorCode,
    PhotoSettings,
    decode_photo,
)
from client_py.photo.decode import ORIENTATION_TRANSPOSE
from tests.client_py.photo._images import (
    corners,
    display_p3_like_profile,
    encode,
    exif_with_orientation,
    jpeg_bytes,
    jpeg_declaring,
    png_bytes,
    png_declaring,
)

RGB = Image.new("RGB", (40, 30), (200, 120, 90))


def refused(data: bytes, settings: PhotoSettings | None = None) -> PhotoError:
    with pytest.raises(PhotoError) as info:
        decode_photo(data, settings) if settings else decode_photo(data)
    err = info.value
    # One typed error, a fixed message, no chained decoder exception carrying file bytes.
    assert str(err) and err.__cause__ is None
    assert err.__context__ is None or err.__suppress_context__
    assert repr(err) == f"PhotoError({err.code.value!r})"
    return err


def test_misuse_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        decode_photo("not bytes")  # type: ignore[arg-type]


def test_bytearray_and_memoryview_are_accepted() -> None:
    data = jpeg_bytes(RGB)
    assert decode_photo(bytearray(data)).image.size == (40, 30)
    assert decode_photo(memoryview(data)).image.size == (40, 30)


def test_zero_bytes() -> None:
    assert refused(b"").code is PhotoErrorCode.EMPTY


def test_oversized_file_is_refused_before_parsing() -> None:
    data = jpeg_bytes(RGB)
    settings = PhotoSettings(max_input_bytes=len(data) - 1)
    assert refused(data, settings).code is PhotoErrorCode.TOO_LARGE
    assert decode_photo(data, PhotoSettings(max_input_bytes=len(data))).image.size == (40, 30)
    # Size is checked first: garbage that is too large is "too large", not "unsupported".
    assert refused(b"x" * 101, PhotoSettings(max_input_bytes=100)).code is (
        PhotoErrorCode.TOO_LARGE
    )


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF", "WEBP", "ICO", "PPM", "JPEG2000", "AVIF"])
def test_other_formats_are_unsupported(fmt: str) -> None:
    data = encode(Image.new("RGB", (32, 32), (1, 2, 3)), fmt)
    assert refused(data).code is PhotoErrorCode.UNSUPPORTED_FORMAT


def test_heic_brand_is_unsupported() -> None:
    # ISO BMFF "ftyp" box with the HEIC brand: Pillow here has no HEIF plugin (docs/photos.md).
    heic = struct.pack(">I", 24) + b"ftypheic" + b"\0\0\0\0" + b"mif1heic" + b"\0" * 64
    assert refused(heic).code is PhotoErrorCode.UNSUPPORTED_FORMAT


def test_declared_size_over_our_limit_is_refused_before_decoding() -> None:
    # 8001 x 8000 = 64,008,000 > 64,000,000 (our default), < Pillow's 89.5 M warning level.
    assert refused(png_declaring(8001, 8000)).code is PhotoErrorCode.TOO_MANY_PIXELS
    assert refused(jpeg_declaring(8001, 8000)).code is PhotoErrorCode.TOO_MANY_PIXELS
    small = PhotoSettings(max_pixels=40 * 30 - 1)
    assert refused(jpeg_bytes(RGB), small).code is PhotoErrorCode.TOO_MANY_PIXELS
    assert decode_photo(jpeg_bytes(RGB), PhotoSettings(max_pixels=40 * 30)).image.size == (40, 30)


def test_pillow_bomb_error_is_mapped_when_our_limit_is_raised() -> None:
    # With our own limit lifted, Pillow's DecompressionBombError (> 2 x MAX_IMAGE_PIXELS) is
    # the second layer.
    lifted = PhotoSettings(max_pixels=10**12)
    assert Image.MAX_IMAGE_PIXELS is not None
    assert 2 * Image.MAX_IMAGE_PIXELS < 60000 * 60000
    assert refused(png_declaring(60000, 60000), lifted).code is PhotoErrorCode.TOO_MANY_PIXELS


def test_pillow_bomb_warning_becomes_an_error_and_filters_are_restored() -> None:
    lifted = PhotoSettings(max_pixels=10**12)
    assert Image.MAX_IMAGE_PIXELS is not None
    # 10000 x 10000 = 100 M: above Pillow's warning level, below its error level.
    assert Image.MAX_IMAGE_PIXELS < 10000 * 10000 < 2 * Image.MAX_IMAGE_PIXELS
    before = list(warnings.filters)
    with warnings.catch_warnings():
        # Even where the process ignores warnings, the bomb warning refuses the photo.
        warnings.simplefilter("ignore")
        assert refused(png_declaring(10000, 10000), lifted).code is (PhotoErrorCode.TOO_MANY_PIXELS)
    assert warnings.filters == before


def test_decoder_failure_is_corrupt() -> None:
    data = jpeg_bytes(Image.new("RGB", (64, 48), (9, 9, 9)))
    dht = data.index(b"\xff\xc4")
    bad_huffman = data[: dht + 5] + b"\xff" * 16 + data[dht + 21 :]
    assert refused(bad_huffman).code is PhotoErrorCode.CORRUPT
    # A PNG whose IDAT is not a zlib stream (CRC valid, structure complete).
    png = png_bytes(RGB)
    idat = png.index(b"IDAT")
    (length,) = struct.unpack_from(">I", png, idat - 4)
    from tests.client_py.photo._images import png_chunk

    broken = png[: idat - 4] + png_chunk(b"IDAT", b"\x00" * length) + png[idat + 4 + length + 4 :]
    assert refused(broken).code is PhotoErrorCode.CORRUPT


def test_header_size_must_match_what_pillow_decodes() -> None:
    # Two SOF headers: we read the first, and refuse a file whose frames disagree with it.
    data = jpeg_bytes(RGB)
    sof = data.index(b"\xff\xc0")
    (length,) = struct.unpack_from(">H", data, sof + 2)
    fake = b"\xff\xc1" + struct.pack(">H", length) + data[sof + 4 : sof + 5]
    fake += struct.pack(">HH", 99, 99) + data[sof + 9 : sof + 2 + length]
    assert refused(data[:sof] + fake + data[sof:]).code is PhotoErrorCode.CORRUPT


def test_output_is_a_plain_rgb_image_without_info() -> None:
    exif = Image.Exif()
    exif[0x010F] = "Make"
    decoded = decode_photo(jpeg_bytes(RGB, exif=exif.tobytes(), comment=b"secret"))
    assert type(decoded.image) is Image.Image
    assert decoded.image.mode == "RGB" and decoded.image.info == {}
    assert decoded.source_format is ContainerFormat.JPEG
    assert decoded.colour_profile is ColourProfile.NONE


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_is_applied(orientation: int) -> None:
    upright = corners(5, 3)
    transpose = ORIENTATION_TRANSPOSE[orientation]
    # The stored image is the upright one under the inverse transform (rotations swap).
    inverse = {
        Image.Transpose.ROTATE_270: Image.Transpose.ROTATE_90,
        Image.Transpose.ROTATE_90: Image.Transpose.ROTATE_270,
    }
    stored = upright if transpose is None else upright.transpose(inverse.get(transpose, transpose))
    data = png_bytes(stored, exif=exif_with_orientation(orientation))
    decoded = decode_photo(data)
    assert decoded.orientation == orientation
    assert decoded.image.size == (5, 3)
    assert decoded.image.tobytes() == upright.tobytes()


def test_rotation_6_and_8_match_the_exif_specification_by_pixels() -> None:
    # Independent of the table: orientation 6 = "0th row is the visual right-hand side,
    # 0th column the visual top", so the stored top-left pixel is the upright top-right.
    stored = corners(5, 3)
    six = decode_photo(png_bytes(stored, exif=exif_with_orientation(6))).image
    assert six.size == (3, 5)
    assert six.getpixel((2, 0)) == (255, 0, 0)  # stored TL (red) -> upright top-right
    eight = decode_photo(png_bytes(stored, exif=exif_with_orientation(8))).image
    assert eight.getpixel((0, 4)) == (255, 0, 0)  # stored TL -> upright bottom-left


def test_unreadable_exif_means_no_orientation_and_no_warning() -> None:
    jpeg = jpeg_bytes(RGB)
    junk = b"Exif\0\0II*\0\xff\xff\xff\xff garbage"
    app1 = b"\xff\xe1" + struct.pack(">H", len(junk) + 2) + junk
    decoded = decode_photo(jpeg[:2] + app1 + jpeg[2:])  # filterwarnings=error: none raised
    assert decoded.orientation == 1 and decoded.image.size == (40, 30)


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (Image.new("L", (4, 4), 77), (77, 77, 77)),
        (Image.new("1", (4, 4), 1), (255, 255, 255)),
        (Image.new("P", (4, 4), 0), (0, 0, 0)),
        (Image.new("RGBA", (4, 4), (10, 20, 30, 0)), (255, 255, 255)),  # fully transparent
        (Image.new("RGBA", (4, 4), (10, 20, 30, 255)), (10, 20, 30)),
        (Image.new("LA", (4, 4), (50, 255)), (50, 50, 50)),
    ],
    ids=["L", "1", "P", "RGBA-clear", "RGBA-opaque", "LA"],
)
def test_modes_become_rgb_with_alpha_on_white(
    image: Image.Image, expected: tuple[int, ...]
) -> None:
    decoded = decode_photo(png_bytes(image)).image
    assert decoded.mode == "RGB"
    assert decoded.getpixel((1, 1)) == expected


def test_half_transparent_pixel_is_blended_on_white() -> None:
    image = Image.new("RGBA", (4, 4), (0, 0, 0, 128))
    r, g, b = decode_photo(png_bytes(image)).image.getpixel((0, 0))  # type: ignore[misc]
    assert 125 <= r <= 129 and r == g == b


def test_palette_transparency_is_flattened() -> None:
    image = Image.new("P", (4, 4), 1)
    image.putpalette([0, 0, 0, 10, 20, 30] + [0] * 762)
    data = png_bytes(image, transparency=1)
    assert decode_photo(data).image.getpixel((0, 0)) == (255, 255, 255)


def test_sixteen_bit_grey_is_scaled_not_clipped() -> None:
    image = Image.new("I;16", (3, 1))
    for x, value in enumerate((65535, 32896, 300)):
        image.putpixel((x, 0), value)
    decoded = decode_photo(png_bytes(image)).image
    assert [decoded.getpixel((x, 0)) for x in range(3)] == [
        (255, 255, 255),
        (128, 128, 128),
        (1, 1, 1),
    ]


def test_cmyk_jpeg_is_converted() -> None:
    cmyk = Image.new("CMYK", (8, 8), (0, 255, 255, 0))  # pure red in naive conversion
    decoded = decode_photo(jpeg_bytes(cmyk, quality=95))
    assert decoded.colour_profile is ColourProfile.NONE
    r, g, b = decoded.image.getpixel((4, 4))  # type: ignore[misc]
    assert r > 200 and g < 60 and b < 60


def test_cmyk_with_unusable_profile_is_converted_naively() -> None:
    cmyk = Image.new("CMYK", (8, 8), (0, 255, 255, 0))
    decoded = decode_photo(jpeg_bytes(cmyk, quality=95, icc_profile=b"not a profile" * 10))
    assert decoded.colour_profile is ColourProfile.IGNORED


SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def test_icc_profile_is_applied_and_dropped() -> None:
    image = Image.new("RGB", (8, 8), (180, 90, 60))
    decoded = decode_photo(png_bytes(image, icc_profile=SRGB))
    assert decoded.colour_profile is ColourProfile.CONVERTED
    assert decoded.image.info == {}
    r, g, b = decoded.image.getpixel((0, 0))  # type: ignore[misc]
    assert abs(r - 180) <= 2 and abs(g - 90) <= 2 and abs(b - 60) <= 2


def test_wide_gamut_profile_converts_pixels_to_srgb() -> None:
    # What an iPhone photo (Display P3) needs: the same numbers mean a more saturated colour in
    # P3, so in sRGB red goes up and green/blue go down.
    image = Image.new("RGB", (8, 8), (180, 90, 60))
    decoded = decode_photo(png_bytes(image, icc_profile=display_p3_like_profile()))
    assert decoded.colour_profile is ColourProfile.CONVERTED
    r, g, b = decoded.image.getpixel((0, 0))  # type: ignore[misc]
    assert r > 185 and g < 88 and b < 58, (r, g, b)


def test_profile_for_another_colour_space_is_ignored() -> None:
    lab = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    image = Image.new("RGB", (8, 8), (180, 90, 60))
    decoded = decode_photo(png_bytes(image, icc_profile=lab))
    assert decoded.colour_profile is ColourProfile.IGNORED
    assert decoded.image.getpixel((0, 0)) == (180, 90, 60)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "I;16"])
def test_malformed_icc_profile_is_ignored(mode: str) -> None:
    image = Image.new(mode, (8, 8))
    decoded = decode_photo(png_bytes(image, icc_profile=b"\0" * 200))
    assert decoded.colour_profile is ColourProfile.IGNORED
    assert decoded.image.mode == "RGB"


def test_mpo_keeps_the_first_frame() -> None:
    # Phones write MPO (CIPA DC-007): a JPEG with further frames after its EOI.
    first = Image.new("RGB", (40, 30), (250, 0, 0))
    second = Image.new("RGB", (40, 30), (0, 0, 250))
    buffer = io.BytesIO()
    first.save(buffer, "MPO", save_all=True, append_images=[second])
    data = buffer.getvalue()
    assert Image.open(io.BytesIO(data)).format == "MPO"
    decoded = decode_photo(data)
    assert decoded.source_format is ContainerFormat.JPEG
    r, _, b = decoded.image.getpixel((20, 15))  # type: ignore[misc]
    assert r > 200 and b < 50


def test_truncation_is_refused_even_if_pillow_is_told_to_load_truncated_images(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Another part of the process may set this global; our structure walk does not depend on it.
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    data = jpeg_bytes(Image.new("RGB", (64, 64), (5, 6, 7)))
    assert refused(data[: len(data) // 2]).code is PhotoErrorCode.TRUNCATED
    png = png_bytes(Image.new("RGB", (64, 64), (5, 6, 7)))
    assert refused(png[:-12]).code is PhotoErrorCode.TRUNCATED  # IEND missing


def test_pillow_global_bomb_limit_switched_off_does_not_disable_ours(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    assert refused(png_declaring(40000, 40000)).code is PhotoErrorCode.TOO_MANY_PIXELS
