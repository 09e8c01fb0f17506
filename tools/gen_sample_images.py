"""Generate the shared clinical-photo samples in ``tests/vectors/photos/``.

Run ``.venv/bin/python -m tools.gen_sample_images``. Every input is fixed: "random" bytes come
from SHAKE-256 of a label (:func:`noise`), drawing uses only Pillow operations on those bytes,
so the pixels are reproducible. ``tests/client_py/photo/test_samples.py`` regenerates the set in
memory and compares it with the committed files: byte for byte with the library versions
recorded in ``expected.json``, otherwise by decoded pixels, structure and verdicts (see
``tests/vectors/photos/README.md``). ``expected.json`` records, for each
sample, the verdict and reasons it was designed to get, and the metric values measured by the
Python implementation; the browser implementation must reproduce the verdicts exactly and the
metrics within ``tolerance``.

The synthetic "lesion": skin-toned background with slow shading and fine texture, an
irregular darker blob (a few summed sines on a polar radius) with mottling and darker globules.
Variants are made from it by blurring, shifting exposure, shrinking, rotating the stored
pixels and declaring an EXIF orientation, adding every kind of metadata, and moving the blob
to a corner. The refused files are built byte by byte.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import struct
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import PIL
from PIL import Image, ImageChops, ImageCms, ImageDraw, ImageFilter, PngImagePlugin, features
from PIL.TiffImagePlugin import IFDRational

from client_py.photo import DEFAULT_QUALITY, DEFAULT_SETTINGS, PhotoError, prepare_photo

OUT_DIR = Path(__file__).resolve().parent.parent / "tests" / "vectors" / "photos"
WIDTH, HEIGHT = 1024, 768
SAMPLE_JPEG_QUALITY = 90
MARKER_BOX = (16, 16, 72, 72)  # pure blue square, top-left of the upright image
MARKER_RGB = (0, 0, 255)

# Tolerances for another implementation (the browser) on the same files. They cover JPEG
# decoder differences (IDCT rounding, at most a few levels per pixel); the samples are 4:4:4
# so no chroma upsampling differences arise. Sharpness may differ by the larger of its
# relative and absolute tolerance (decoder noise adds a small constant to the variance).
# Every sample's metrics sit at least twice these tolerances away from the thresholds
# (checked by the tests), so verdicts must match exactly.
TOLERANCE = {
    "sharpness_relative": 0.05,
    "sharpness_absolute": 3.0,
    "mean_brightness_absolute": 0.5,
    "clipped_share_absolute": 0.005,
    "framing_ratio_relative": 0.05,
}


def noise(label: str, size: tuple[int, int]) -> Image.Image:
    """A deterministic grey noise image: SHAKE-256 of ``label``, one byte per pixel."""
    data = hashlib.shake_256(b"dermline photo samples v1/" + label.encode()).digest(
        size[0] * size[1]
    )
    return Image.frombytes("L", size, data)


def _texture(label: str, size: tuple[int, int], cell: int, amplitude: int) -> Image.Image:
    """Noise at 1/cell resolution, enlarged (bicubic), mapped to 128 +- amplitude."""
    small = noise(label, (max(2, size[0] // cell), max(2, size[1] // cell)))
    big = small.resize(size, Image.Resampling.BICUBIC) if cell > 1 else small
    return big.point(lambda v: 128 + (v - 128) * amplitude // 128)


def _add(image: Image.Image, texture: Image.Image) -> Image.Image:
    """image + (texture - 128) on every channel, clipped to 0..255."""
    return ImageChops.add(image, Image.merge("RGB", [texture] * 3), scale=1.0, offset=-128)


def lesion_polygon(cx: float, cy: float, radius: float) -> list[tuple[float, float]]:
    points = []
    for i in range(720):
        t = 2 * math.pi * i / 720
        r = radius * (
            1
            + 0.18 * math.sin(3 * t + 0.7)
            + 0.10 * math.sin(5 * t + 2.1)
            + 0.05 * math.sin(11 * t)
        )
        points.append((cx + r * math.cos(t), cy + r * math.sin(t)))
    return points


def lesion_image(
    centre: tuple[float, float] = (0.5, 0.5), size: tuple[int, int] = (WIDTH, HEIGHT)
) -> Image.Image:
    """The base synthetic lesion photo (upright, RGB)."""
    w, h = size
    skin = Image.new("RGB", size, (222, 178, 150))
    skin = _add(skin, _texture("shade", size, 128, 18))
    skin = _add(skin, _texture("pores", size, 2, 14))

    cx, cy = centre[0] * w, centre[1] * h
    radius = 0.19 * min(w, h)
    mask = Image.new("L", size, 0)
    ImageDraw.Draw(mask).polygon(lesion_polygon(cx, cy, radius), fill=255)
    mask = mask.filter(ImageFilter.GaussianBlur(1.5))
    lesion = Image.new("RGB", size, (132, 86, 64))
    lesion = _add(lesion, _texture("mottle", size, 24, 30))
    lesion = _add(lesion, _texture("grain", size, 2, 16))
    draw = ImageDraw.Draw(lesion)
    dots = noise("globules", (64, 3)).tobytes()
    for i in range(64):
        a = 2 * math.pi * dots[i] / 256
        d = radius * 0.75 * dots[64 + i] / 256
        r = 3 + dots[128 + i] % 5
        x, y = cx + d * math.cos(a), cy + d * math.sin(a)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(72, 44, 34))
    return Image.composite(lesion, skin, mask)


# --- encoders -----------------------------------------------------------------------------


def encode_jpeg(image: Image.Image, **extra: Any) -> bytes:
    """A sample JPEG: quality 90, 4:4:4 (no chroma upsampling differences between decoders)."""
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=SAMPLE_JPEG_QUALITY, subsampling=0, **extra)
    return buffer.getvalue()


def with_marker(image: Image.Image) -> Image.Image:
    marked = image.copy()
    ImageDraw.Draw(marked).rectangle(MARKER_BOX, fill=MARKER_RGB)
    return marked


def oriented(upright: Image.Image, orientation: int) -> bytes:
    """Store ``upright`` rotated so that applying EXIF ``orientation`` (6 or 8) restores it."""
    # Orientation 6 means "rotate 90 degrees clockwise to display", so the stored pixels are
    # the upright image rotated 90 degrees counter-clockwise; 8 is the opposite.
    stored = upright.transpose(
        Image.Transpose.ROTATE_90 if orientation == 6 else Image.Transpose.ROTATE_270
    )
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode_jpeg(stored, exif=exif.tobytes())


def _gps_exif() -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "DermCam"  # Make
    exif[0x0110] = "Model X"  # Model
    exif[0x0131] = "Sample generator"  # Software
    exif[0x0132] = "2026:11:01 09:30:00"  # DateTime
    exif_ifd = exif.get_ifd(0x8769)
    exif_ifd[0x9003] = "2026:11:01 09:30:00"  # DateTimeOriginal
    exif_ifd[0x927C] = b"MAKERNOTE:serial=0000-SAMPLE"  # MakerNote
    exif_ifd[0xA420] = "0123456789abcdef0123456789abcdef"  # ImageUniqueID
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"  # GPSLatitudeRef
    gps[2] = (IFDRational(51), IFDRational(30), IFDRational(2646, 100))  # 51 30 26.46
    gps[3] = "W"  # GPSLongitudeRef
    gps[4] = (IFDRational(0), IFDRational(7), IFDRational(3954, 100))  # 0 7 39.54
    return exif


XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
    b'xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="51,30.441N" '
    b'exif:GPSLongitude="0,7.659W"/></rdf:RDF></x:xmpmeta>'
)
COMMENT = b"patient: SAMPLE ONLY, NHS number 000 000 0000"


def _app13_iptc(caption: bytes) -> bytes:
    """A Photoshop APP13 segment holding one IPTC-IIM record (2:120 Caption)."""
    iptc = b"\x1c\x02\x78" + struct.pack(">H", len(caption)) + caption
    resource = b"8BIM" + struct.pack(">H", 0x0404) + b"\0\0" + struct.pack(">I", len(iptc))
    resource += iptc + (b"\0" if len(iptc) % 2 else b"")
    payload = b"Photoshop 3.0\0" + resource
    return b"\xff\xed" + struct.pack(">H", len(payload) + 2) + payload


def with_all_metadata(image: Image.Image) -> bytes:
    """EXIF (GPS, MakerNote, dates), XMP, ICC (sRGB), COM and IPTC APP13 in one JPEG."""
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    # lcms stamps the creation time into header bytes 24..35 (ICC.1 7.2.1); pin it so the
    # file is reproducible. The profile ID (bytes 84..99) is zero, i.e. not computed.
    srgb = srgb[:24] + struct.pack(">6H", 2026, 1, 1, 0, 0, 0) + srgb[36:]
    data = encode_jpeg(
        image, exif=_gps_exif().tobytes(), xmp=XMP, icc_profile=srgb, comment=COMMENT
    )
    return data[:2] + _app13_iptc(b"Lesion left forearm, SAMPLE") + data[2:]


def png_with_alpha_and_text(image: Image.Image) -> bytes:
    """A small RGBA PNG with tEXt, iTXt and an eXIf chunk carrying GPS."""
    rgba = image.convert("RGBA")
    alpha = Image.new("L", rgba.size, 255)
    ImageDraw.Draw(alpha).rectangle((0, 0, rgba.width // 8 - 1, rgba.height // 8 - 1), fill=0)
    rgba.putalpha(alpha)
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "SAMPLE ONLY")
    info.add_itxt("Description", "Lesion, SAMPLE", lang="en")
    buffer = io.BytesIO()
    rgba.save(buffer, "PNG", pnginfo=info, exif=_gps_exif().tobytes())
    return buffer.getvalue()


def _png_chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body))


def png_bomb() -> bytes:
    """A 40000 x 40000 RGB PNG declaration (1.6 gigapixels) in a file of under 100 bytes."""
    ihdr = struct.pack(">IIBBBBB", 40_000, 40_000, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 1024, 9)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def corrupt_jpeg(valid: bytes) -> bytes:
    """A structurally complete JPEG whose first Huffman table is invalid (codes for more than
    256 symbols), so the container walk passes and the decoder must fail."""
    index = valid.index(b"\xff\xc4")
    counts = index + 5  # FF C4, length(2), Tc/Th(1), then 16 code-length counts
    return valid[:counts] + b"\xff" * 16 + valid[counts + 16 :]


def gif() -> bytes:
    buffer = io.BytesIO()
    Image.new("P", (16, 16), 3).save(buffer, "GIF")
    return buffer.getvalue()


# --- the set ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    file: str
    description: str
    data: bytes
    verdict: str | None = None  # designed verdict ("ok" | "warn"); None for refused files
    reasons: tuple[str, ...] = ()
    error: str | None = None  # designed PhotoErrorCode value for refused files
    orientation: int = 1


def build_samples() -> list[Sample]:
    base = lesion_image()
    marked = with_marker(base)
    tiny = base.resize((480, 360), Image.Resampling.LANCZOS)
    tiny_jpeg = encode_jpeg(tiny)
    small = encode_jpeg(base.resize((64, 48), Image.Resampling.LANCZOS))
    ok: tuple[str, ...] = ()
    return [
        Sample("sharp.jpg", "in focus, well exposed, centred", encode_jpeg(base), "ok", ok),
        Sample(
            "blurred.jpg",
            "Gaussian blur, radius 3 px",
            encode_jpeg(base.filter(ImageFilter.GaussianBlur(3))),
            "warn",
            ("blurred",),
        ),
        Sample(
            "over_exposed.jpg",
            "every channel +95, clipped",
            encode_jpeg(base.point(lambda v: min(255, v + 95))),
            "warn",
            ("over_exposed",),
        ),
        Sample(
            "under_exposed.jpg",
            "every channel -150, clipped",
            encode_jpeg(base.point(lambda v: max(0, v - 150))),
            "warn",
            ("under_exposed",),
        ),
        Sample("tiny.jpg", "480 x 360 px", tiny_jpeg, "warn", ("low_resolution",)),
        Sample(
            "off_centre.jpg",
            "lesion in the bottom-right corner, cut by the frame",
            encode_jpeg(lesion_image(centre=(0.93, 0.9))),
            "warn",
            ("framing",),
        ),
        Sample(
            "orientation_6.jpg",
            "stored rotated 90 degrees counter-clockwise, EXIF Orientation 6; blue marker "
            "top-left when upright",
            oriented(marked, 6),
            "ok",
            ok,
            orientation=6,
        ),
        Sample(
            "orientation_8.jpg",
            "stored rotated 90 degrees clockwise, EXIF Orientation 8; blue marker top-left "
            "when upright",
            oriented(marked, 8),
            "ok",
            ok,
            orientation=8,
        ),
        Sample(
            "metadata.jpg",
            "EXIF with GPS, MakerNote and dates; XMP with GPS; sRGB ICC; COM; IPTC APP13",
            with_all_metadata(base),
            "ok",
            ok,
        ),
        Sample(
            "alpha_text.png",
            "320 x 240 RGBA PNG, transparent top-left 40 x 30 px, tEXt, iTXt, eXIf with GPS",
            png_with_alpha_and_text(base.resize((320, 240), Image.Resampling.LANCZOS)),
            "warn",
            ("low_resolution",),
        ),
        Sample("empty.jpg", "zero bytes", b"", error="photo_empty"),
        Sample(
            "truncated.jpg",
            "tiny.jpg cut after 60% of its bytes",
            tiny_jpeg[: len(tiny_jpeg) * 6 // 10],
            error="photo_truncated",
        ),
        Sample(
            "corrupt.jpg",
            "64 x 48 JPEG, valid structure, invalid Huffman table",
            corrupt_jpeg(small),
            error="photo_corrupt",
        ),
        Sample(
            "bomb.png",
            "PNG declaring 40000 x 40000 pixels in under 100 bytes",
            png_bomb(),
            error="photo_too_many_pixels",
        ),
        Sample("unsupported.gif", "a valid 16 x 16 GIF", gif(), error="photo_unsupported_format"),
    ]


def _round(value: float | None) -> float | None:
    return None if value is None else float(f"{value:.6g}")


def expected_entry(sample: Sample) -> dict[str, Any]:
    """Run the Python implementation on ``sample`` and return its expected.json entry.

    Raises ``AssertionError`` if the result differs from what the sample was designed for.
    """
    entry: dict[str, Any] = {"file": sample.file, "description": sample.description}
    try:
        prepared = prepare_photo(sample.data)
    except PhotoError as err:
        assert err.code.value == sample.error, (sample.file, err.code)
        entry["error"] = err.code.value
        return entry
    assert sample.error is None, (sample.file, "expected an error")
    report = prepared.quality
    reasons = tuple(reason.value for reason in report.reasons)
    assert (report.verdict.value, reasons) == (sample.verdict, sample.reasons), (
        sample.file,
        report,
    )
    m = report.metrics
    entry.update(
        verdict=report.verdict.value,
        reasons=list(reasons),
        orientation=prepared.orientation,
        width=m.width,
        height=m.height,
        prepared_size=[prepared.width, prepared.height],
        thumbnail_size=[prepared.thumb_width, prepared.thumb_height],
        metrics={
            key: _round(value) if isinstance(value, float) else value
            for key, value in m.as_dict().items()
        },
    )
    return entry


def expected_document(samples: list[Sample]) -> dict[str, Any]:
    q = DEFAULT_QUALITY
    return {
        "description": "Shared clinical-photo samples: designed verdicts and Python metrics",
        "generator": "tools/gen_sample_images.py",
        "algorithm": "docs/photos.md, section 'Quality algorithm'",
        "quality_settings": {
            "analysis_long_edge": q.analysis_long_edge,
            "min_sharpness": q.min_sharpness,
            "clip_dark_level": q.clip_dark_level,
            "clip_bright_level": q.clip_bright_level,
            "max_clipped_share": q.max_clipped_share,
            "min_mean": q.min_mean,
            "max_mean": q.max_mean,
            "min_short_edge": q.min_short_edge,
            "min_framing_ratio": q.min_framing_ratio,
        },
        "prepare_settings": {
            "long_edge": DEFAULT_SETTINGS.long_edge,
            "thumb_long_edge": DEFAULT_SETTINGS.thumb_long_edge,
            "max_pixels": DEFAULT_SETTINGS.max_pixels,
            "max_input_bytes": DEFAULT_SETTINGS.max_input_bytes,
        },
        "tolerance": TOLERANCE,
        "generated_with": build_versions(),
        "marker": {"box": list(MARKER_BOX), "rgb": list(MARKER_RGB)},
        "samples": [expected_entry(sample) for sample in samples],
    }


def build_versions() -> dict[str, str | None]:
    """Library versions that produced the committed bytes (byte-identity is expected only when
    a regeneration runs on the same ones; see tests/vectors/photos/README.md)."""
    return {
        "pillow": PIL.__version__,
        "libjpeg_turbo": features.version("libjpeg_turbo"),
        "zlib": features.version("zlib"),
        "littlecms2": features.version("littlecms2"),
    }


def render_expected(samples: list[Sample]) -> bytes:
    return (json.dumps(expected_document(samples), indent=2) + "\n").encode()


def main(argv: list[str] | None = None) -> int:
    del argv
    samples = build_samples()
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for sample in samples:
        (OUT_DIR / sample.file).write_bytes(sample.data)
    (OUT_DIR / "expected.json").write_bytes(render_expected(samples))
    total = sum(len(sample.data) for sample in samples)
    print(f"wrote {len(samples)} samples ({total} bytes) and expected.json to {OUT_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
