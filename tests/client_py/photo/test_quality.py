"""The quality algorithm: fast implementation == the naive reference of docs/photos.md."""

from __future__ import annotations

import hashlib
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from client_py.photo import QualitySettings, Reason, Verdict, assess_quality, quality
from client_py.photo.quality import (
    QualityMetrics,
    analysis_factor,
    block_sums,
    framing_regions,
    judge,
    measure,
)
from tests.client_py.photo.reference import block_sums as reference_block_sums
from tests.client_py.photo.reference import grey_pixels, reference_metrics


def random_rgb(width: int, height: int, label: str = "q") -> Image.Image:
    data = hashlib.shake_256(f"{label}/{width}x{height}".encode()).digest(width * height * 3)
    return Image.frombytes("RGB", (width, height), data)


def test_grey_conversion_is_the_documented_fixed_point_formula() -> None:
    image = random_rgb(512, 512)  # 262,144 random colours
    assert list(image.convert("L").tobytes()) == grey_pixels(image)
    # The corners of the colour cube, explicitly.
    cube = Image.new("RGB", (8, 1))
    for i, rgb in enumerate([(r, g, b) for r in (0, 255) for g in (0, 255) for b in (0, 255)]):
        cube.putpixel((i, 0), rgb)
    assert list(cube.convert("L").tobytes()) == [0, 29, 150, 179, 76, 105, 226, 255]


@pytest.mark.parametrize(
    ("size", "k"),
    [((100, 50), 1), ((1024, 700), 2), ((1100, 37), 3), ((3070, 130), 6), ((4095, 31), 8)],
)
@pytest.mark.parametrize("strip_pixels", [None, 5000])
def test_block_sums_are_exact(
    size: tuple[int, int], k: int, strip_pixels: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if strip_pixels is not None:  # many strips, the last one shorter
        monkeypatch.setattr(quality, "_STRIP_PIXELS", strip_pixels)
    image = random_rgb(*size)
    assert analysis_factor(*size, 512) == k
    ref_k, w, h, sums = reference_block_sums(image, 512)
    fast = block_sums(image, k)
    assert fast is not None and ref_k == k and fast.size == (w, h)
    assert list(fast.get_flattened_data()) == [s for row in sums for s in row]


@pytest.mark.parametrize(
    ("long_edge", "k"), [(1, 1), (512, 1), (513, 2), (1024, 2), (1025, 3), (4032, 8), (8160, 16)]
)
def test_analysis_factor(long_edge: int, k: int) -> None:
    assert analysis_factor(long_edge, 1, 512) == k
    assert analysis_factor(1, long_edge, 512) == k
    assert math.ceil(long_edge / 512) == k or long_edge < 512


def _assert_same(fast: QualityMetrics, image: Image.Image, analysis_long_edge: int) -> None:
    ref = reference_metrics(image, analysis_long_edge)
    assert (fast.analysis_factor, fast.analysis_width, fast.analysis_height) == (
        ref.k,
        ref.w,
        ref.h,
    )
    for got, want in [
        (fast.sharpness, ref.sharpness),
        (fast.mean_brightness, ref.mean),
        (fast.clipped_dark, ref.dark),
        (fast.clipped_bright, ref.bright),
        (fast.framing_ratio, ref.framing),
    ]:
        if want is None:
            assert got is None
        else:
            assert got is not None and math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9)


@given(
    width=st.integers(1, 200),
    height=st.integers(1, 200),
    long_edge=st.sampled_from([8, 16, 50, 512]),
    seed=st.binary(min_size=1, max_size=8),
    contrast=st.sampled_from([0, 1, 8, 255]),
)
@settings(max_examples=60, deadline=None)
def test_fast_equals_reference_on_random_images(
    width: int, height: int, long_edge: int, seed: bytes, contrast: int
) -> None:
    noise = hashlib.shake_256(seed).digest(width * height * 3)
    # Low-contrast images exercise the clipping levels and the framing floor.
    data = bytes(128 + (v - 128) * contrast // 255 if contrast else 0 for v in noise)
    image = Image.frombytes("RGB", (width, height), data)
    fast = measure(image, QualitySettings(analysis_long_edge=long_edge))
    _assert_same(fast, image, long_edge)


def test_fast_equals_reference_on_a_sample_photo() -> None:
    image = Image.open("tests/vectors/photos/sharp.jpg").convert("RGB")
    _assert_same(measure(image), image, 512)


def test_single_bright_pixel_has_a_hand_computed_laplacian_variance() -> None:
    # 10 x 10 grey 100 with one pixel of 200 at (5, 5); k = 1, 8 x 8 interior pixels.
    # Laplacian: -400 at the pixel, +100 at its four neighbours, 0 elsewhere; mean 0;
    # variance = (400^2 + 4 * 100^2) / 64 = 3125.
    grey = Image.new("RGB", (10, 10), (100, 100, 100))
    grey.putpixel((5, 5), (200, 200, 200))
    metrics = measure(grey)
    assert metrics.sharpness == 3125.0
    assert metrics.mean_brightness == (99 * 100 + 200) / 100


def test_uniform_image_metrics() -> None:
    metrics = measure(Image.new("RGB", (640, 480), (60, 60, 60)))
    assert (metrics.sharpness, metrics.mean_brightness) == (0.0, 60.0)
    assert (metrics.clipped_dark, metrics.clipped_bright, metrics.framing_ratio) == (0, 0, 0)


def test_exposure_shares_and_levels() -> None:
    image = Image.new("RGB", (800, 800), (0, 0, 0))
    image.paste((255, 255, 255), (0, 0, 400, 800))
    metrics = measure(image)
    assert (metrics.clipped_dark, metrics.clipped_bright, metrics.mean_brightness) == (
        0.5,
        0.5,
        127.5,
    )
    # Levels are inclusive: grey exactly 5 is dark, 6 is not; 250 is bright, 249 is not.
    for level, dark, bright in [(5, 1.0, 0.0), (6, 0.0, 0.0), (249, 0.0, 0.0), (250, 0.0, 1.0)]:
        m = measure(Image.new("RGB", (64, 64), (level, level, level)))
        assert (m.clipped_dark, m.clipped_bright) == (dark, bright), level


def test_framing_regions() -> None:
    assert framing_regions(16, 8) == ((4, 2, 12, 6), 1)
    assert framing_regions(512, 384) == ((128, 96, 384, 288), 48)


def test_framing_ratio_sees_where_the_contrast_is() -> None:
    centred = Image.new("RGB", (400, 300), (180, 140, 120))
    centred.paste((60, 40, 30), (150, 110, 250, 190))
    assert measure(centred).framing_ratio > 10  # flat border: floor of 1 grey level
    cornered = Image.new("RGB", (400, 300), (180, 140, 120))
    cornered.paste((60, 40, 30), (340, 250, 400, 300))
    framing = measure(cornered).framing_ratio
    assert framing is not None and framing < 0.1


def test_small_images_are_not_judged_on_sharpness_or_framing() -> None:
    metrics = measure(Image.new("RGB", (7, 40), (90, 90, 90)))
    assert metrics.sharpness is None and metrics.framing_ratio is None
    assert metrics.mean_brightness == 90.0
    report = assess_quality(Image.new("RGB", (7, 40), (90, 90, 90)))
    assert report.reasons == (Reason.LOW_RESOLUTION,)
    # 2000 x 3: k = 4, the analysis image has no rows: nothing is measured.
    thin = measure(Image.new("RGB", (2000, 3)))
    assert (thin.analysis_factor, thin.analysis_width, thin.analysis_height) == (4, 500, 0)
    assert thin.mean_brightness is None and thin.sharpness is None
    assert assess_quality(Image.new("RGB", (2000, 3))).reasons == (Reason.LOW_RESOLUTION,)


def test_assess_quality_rejects_misuse() -> None:
    with pytest.raises(TypeError):
        assess_quality(Image.new("L", (10, 10)))
    with pytest.raises(TypeError):
        assess_quality(b"jpeg")  # type: ignore[arg-type]


def _metrics(**changes: float | None) -> QualityMetrics:
    base: dict[str, float | None] = {
        "sharpness": 100.0,
        "mean_brightness": 128.0,
        "clipped_dark": 0.0,
        "clipped_bright": 0.0,
        "framing_ratio": 2.0,
    }
    base.update(changes)
    return QualityMetrics(1000, 800, 2, 500, 400, **base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "reasons"),
    [
        ({}, ()),
        ({"sharpness": 40.0}, ()),  # thresholds are strict: equal passes
        ({"sharpness": 39.99}, (Reason.BLURRED,)),
        ({"clipped_bright": 0.05}, ()),
        ({"clipped_bright": 0.0501}, (Reason.OVER_EXPOSED,)),
        ({"mean_brightness": 215.0}, ()),
        ({"mean_brightness": 215.01}, (Reason.OVER_EXPOSED,)),
        ({"clipped_dark": 0.0501}, (Reason.UNDER_EXPOSED,)),
        ({"mean_brightness": 39.99}, (Reason.UNDER_EXPOSED,)),
        ({"clipped_dark": 0.2, "clipped_bright": 0.2}, (Reason.OVER_EXPOSED, Reason.UNDER_EXPOSED)),
        ({"framing_ratio": 1.0}, ()),
        ({"framing_ratio": 0.99}, (Reason.FRAMING,)),
        (
            {"sharpness": 1.0, "mean_brightness": 250.0, "framing_ratio": 0.1},
            (Reason.BLURRED, Reason.OVER_EXPOSED, Reason.FRAMING),
        ),
        ({"sharpness": None, "framing_ratio": None}, ()),
    ],
)
def test_judge(changes: dict[str, float | None], reasons: tuple[Reason, ...]) -> None:
    verdict, got = judge(_metrics(**changes), QualitySettings())
    assert got == reasons
    assert verdict is (Verdict.WARN if reasons else Verdict.OK)


def test_low_resolution_is_by_short_edge_of_the_original() -> None:
    assert judge(_metrics(), QualitySettings(min_short_edge=800))[1] == ()
    assert judge(_metrics(), QualitySettings(min_short_edge=801))[1] == (Reason.LOW_RESOLUTION,)


@pytest.mark.parametrize(
    "bad",
    [
        {"analysis_long_edge": 7},
        {"clip_dark_level": 250},
        {"clip_bright_level": 256},
        {"max_clipped_share": 1.5},
        {"min_mean": 200.0, "max_mean": 100.0},
        {"min_sharpness": -1.0},
    ],
)
def test_quality_settings_validation(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        QualitySettings(**bad)  # type: ignore[arg-type]
