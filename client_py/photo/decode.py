"""Decode an untrusted JPEG or PNG into an upright sRGB RGB image with no metadata attached.

Order of checks (each refuses with one :class:`PhotoError` code, before any later step runs):

1. ``EMPTY`` for zero bytes, ``TOO_LARGE`` above ``PhotoSettings.max_input_bytes``;
2. format sniffed from the first bytes (JPEG ``FF D8``, PNG signature), else
   ``UNSUPPORTED_FORMAT``; HEIC/HEIF, WebP, AVIF, GIF, TIFF, BMP are refused by decision
   (``docs/photos.md``, "Formats");
3. the whole container structure is walked (``containers.py``): ``TRUNCATED`` / ``CORRUPT``;
4. the declared width x height is checked against ``PhotoSettings.max_pixels``
   (``TOO_MANY_PIXELS``) before Pillow allocates anything. This is our decompression-bomb
   limit; it does not depend on the process-wide ``PIL.Image.MAX_IMAGE_PIXELS``. As a
   second layer, Pillow's own ``DecompressionBombWarning`` is turned into an error while
   Pillow opens and decodes, and both it and ``DecompressionBombError`` map to the same code;
5. Pillow decodes, restricted to the JPEG and PNG plugins; any decoder failure is ``CORRUPT``.

Then the pixels are normalised: palette, grey, 16-bit and CMYK images become 8-bit RGB; alpha
is flattened onto white; an embedded ICC profile is applied (converted to sRGB, relative
colorimetric) and dropped; the EXIF orientation is applied. The returned image has an empty
``info`` dict, so nothing from the source file can reach an encoder.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from enum import StrEnum

from PIL import Image, ImageCms

from client_py.photo.containers import ContainerFormat, parse_container
from client_py.photo.errors import PhotoError, PhotoErrorCode
from client_py.photo.settings import DEFAULT_SETTINGS, PhotoSettings

__all__ = ["ORIENTATION_TRANSPOSE", "ColourProfile", "DecodedPhoto", "decode_photo"]

# EXIF Orientation (CIPA DC-008-2023 4.6.5.1.1, tag 0x0112) -> the transform that makes the
# stored pixels upright. 1 = already upright. Same table as Pillow's ImageOps.exif_transpose
# and the browser's createImageBitmap(imageOrientation: "from-image").
ORIENTATION_TRANSPOSE: dict[int, Image.Transpose | None] = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

_PILLOW_FORMATS = {ContainerFormat.JPEG: ("JPEG",), ContainerFormat.PNG: ("PNG",)}
# JPEG files with an MPO (CIPA DC-007) extension open as "MPO"; we keep the first frame.
_ACCEPTED_PILLOW_FORMATS = {ContainerFormat.JPEG: {"JPEG", "MPO"}, ContainerFormat.PNG: {"PNG"}}
_ALPHA_MODES = frozenset({"LA", "La", "PA", "RGBA", "RGBa"})
_SIXTEEN_BIT_GREY = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N"})
_WHITE = (255, 255, 255)


class ColourProfile(StrEnum):
    NONE = "none"
    """No ICC profile: pixels are taken as sRGB (what browsers do)."""
    CONVERTED = "converted"
    """An ICC profile was applied (converted to sRGB) and dropped."""
    IGNORED = "ignored"
    """An ICC profile was present but unusable (malformed, or for another colour space);
    pixels are taken as sRGB, as browsers do with a bad profile."""


@dataclass(frozen=True, slots=True)
class DecodedPhoto:
    """An upright, 8-bit sRGB ``RGB`` image with empty ``info``, and what was done to it."""

    image: Image.Image
    source_format: ContainerFormat
    orientation: int
    colour_profile: ColourProfile


def decode_photo(data: bytes, settings: PhotoSettings = DEFAULT_SETTINGS) -> DecodedPhoto:
    """Check and decode ``data`` (see the module docstring); raise :class:`PhotoError`."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError("decode_photo expects the photo file as bytes")
    data = bytes(data)
    if not data:
        raise PhotoError(PhotoErrorCode.EMPTY)
    if len(data) > settings.max_input_bytes:
        raise PhotoError(PhotoErrorCode.TOO_LARGE)
    info = parse_container(data)
    if info.width * info.height > settings.max_pixels:
        raise PhotoError(PhotoErrorCode.TOO_MANY_PIXELS)

    image = _pillow_decode(data, info.format, (info.width, info.height))
    icc = image.info.get("icc_profile")
    rgb, profile = _to_srgb(image, icc if isinstance(icc, bytes) and icc else None)
    transpose = ORIENTATION_TRANSPOSE[info.orientation]
    if transpose is not None:
        rgb = rgb.transpose(transpose)
    if rgb is image:  # a plain copy: drop the file object's applist, quantisation tables, ...
        rgb = rgb.copy()
    rgb.info = {}  # nothing from the file (EXIF, XMP, ICC, comments, text) travels further
    return DecodedPhoto(rgb, info.format, info.orientation, profile)


def _pillow_decode(data: bytes, fmt: ContainerFormat, size: tuple[int, int]) -> Image.Image:
    # Pillow warns (UserWarning) about damaged EXIF while opening a JPEG (it reads the DPI
    # from it); we never use Pillow's metadata, so those warnings are silenced, as a browser
    # ignores bad EXIF. The decompression-bomb warning is the exception: it refuses the photo
    # (the later filter takes precedence). catch_warnings changes process-wide filters and is
    # not thread-safe before Python 3.14; the authoritative bomb check is the one in
    # decode_photo, so a race here cannot let a bomb through.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=_PILLOW_FORMATS[fmt])
            if image.format not in _ACCEPTED_PILLOW_FORMATS[fmt] or image.size != size:
                raise PhotoError(PhotoErrorCode.CORRUPT)
            image.load()
        except (PhotoError, MemoryError):
            raise  # out of memory is the machine's problem, not a damaged photo
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise PhotoError(PhotoErrorCode.TOO_MANY_PIXELS) from None
        except Exception:
            # Untrusted bytes: whatever the decoder raises (OSError, SyntaxError, ValueError,
            # struct.error, EOFError, ...) means the same to the user. The structure walk has
            # already told truncation apart; Pillow's message is not kept (it could quote
            # bytes of the file).
            raise PhotoError(PhotoErrorCode.CORRUPT) from None
    return image


def _to_srgb(image: Image.Image, icc: bytes | None) -> tuple[Image.Image, ColourProfile]:
    """Return an 8-bit RGB image in sRGB and what happened to the ICC profile."""
    mode = image.mode
    if mode == "CMYK":
        if icc is not None:
            converted = _apply_icc(image, icc)
            if converted is not None:
                return converted, ColourProfile.CONVERTED
        return image.convert("RGB"), ColourProfile.IGNORED if icc else ColourProfile.NONE
    if mode in _SIXTEEN_BIT_GREY:
        # Pillow's I;16 -> L conversion clips at 255 instead of scaling; scale by 1/257 so
        # 65535 -> 255 (PNG 3rd ed. 13.12 "sample depth rescaling").
        grey = image.convert("I").point(lambda v: v * (1 / 257)).convert("L")
        return grey.convert("RGB"), ColourProfile.IGNORED if icc else ColourProfile.NONE
    if mode == "P" and "transparency" in image.info:
        image, mode = image.convert("RGBA"), "RGBA"
    if mode in _ALPHA_MODES:
        rgba = image.convert("RGBA")
        rgb = Image.new("RGB", rgba.size, _WHITE)
        rgb.paste(rgba, mask=rgba.getchannel("A"))
    elif mode == "RGB":
        rgb = image
    else:  # "1", "L", "P" without transparency
        # A grey ICC profile on a grey image is not applied (rare; documented limitation).
        return image.convert("RGB"), ColourProfile.IGNORED if icc else ColourProfile.NONE
    if icc is None:
        return rgb, ColourProfile.NONE
    converted = _apply_icc(rgb, icc)
    if converted is None:
        return rgb, ColourProfile.IGNORED
    return converted, ColourProfile.CONVERTED


def _apply_icc(image: Image.Image, icc: bytes) -> Image.Image | None:
    """Convert ``image`` from the embedded profile to sRGB, or None if the profile is unusable."""
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
        converted = ImageCms.profileToProfile(
            image,
            source,
            srgb,
            renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
            outputMode="RGB",
        )
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None
    assert converted is not None  # profileToProfile returns an image unless inPlace=True
    return converted
