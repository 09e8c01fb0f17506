"""The shared samples in tests/vectors/photos: verdicts, metrics, margins, regeneration.

The browser port runs the same files against the same expected.json (verdicts exactly,
metrics within ``tolerance``).
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageChops

from client_py.photo import (
    DEFAULT_QUALITY,
    PhotoError,
    assess_quality,
    decode_photo,
    prepare_photo,
)
from client_py.photo.containers import jpeg_segments
from tests.client_py.photo._images import assert_metadata_free
from tools import gen_sample_images

DIR = Path(__file__).resolve().parents[2] / "vectors" / "photos"
EXPECTED: dict[str, Any] = json.loads((DIR / "expected.json").read_text())
TOL: dict[str, float] = EXPECTED["tolerance"]
VALID = [s for s in EXPECTED["samples"] if "error" not in s]
REFUSED = [s for s in EXPECTED["samples"] if "error" in s]


def read(name: str) -> bytes:
    return (DIR / name).read_bytes()


def allowed_difference(key: str, value: float) -> float:
    """The documented tolerance (tests/vectors/photos/README.md) for one metric value."""
    if key == "sharpness":
        return max(TOL["sharpness_relative"] * value, TOL["sharpness_absolute"])
    if key == "framing_ratio":
        return TOL["framing_ratio_relative"] * value
    if key == "mean_brightness":
        return TOL["mean_brightness_absolute"]
    return TOL["clipped_share_absolute"]


def within_tolerance(got: dict[str, Any], want: dict[str, Any]) -> list[str]:
    """Names of the metrics of ``got`` outside the documented tolerance of ``want``."""
    bad = []
    for key in ("analysis_factor", "analysis_size"):
        if got[key] != want[key]:
            bad.append(key)
    for key in ("sharpness", "framing_ratio", "mean_brightness", "clipped_dark", "clipped_bright"):
        a, b = got[key], want[key]
        if a is None or b is None:
            if a is not b:
                bad.append(key)
        elif abs(a - b) > allowed_difference(key, b):
            bad.append(key)
    return bad


def metrics_dict(data: bytes) -> dict[str, Any]:
    return assess_quality(decode_photo(data).image).metrics.as_dict()


def test_the_set_is_complete_and_small() -> None:
    files = {s["file"] for s in EXPECTED["samples"]}
    on_disk = {p.name for p in DIR.iterdir()} - {"expected.json", "README.md"}
    assert files == on_disk
    assert sum(p.stat().st_size for p in DIR.iterdir()) < 2 * 1024 * 1024
    reasons = {r for s in VALID for r in s["reasons"]}
    assert reasons == {"blurred", "over_exposed", "under_exposed", "low_resolution", "framing"}
    assert {s["error"] for s in REFUSED} == {
        "photo_empty",
        "photo_truncated",
        "photo_corrupt",
        "photo_too_many_pixels",
        "photo_unsupported_format",
    }
    assert {s["orientation"] for s in VALID} == {1, 6, 8}


def test_recorded_settings_are_the_product_defaults() -> None:
    recorded = EXPECTED["quality_settings"]
    for key, value in recorded.items():
        assert getattr(DEFAULT_QUALITY, key) == value, key


@pytest.mark.parametrize("sample", VALID, ids=[s["file"] for s in VALID])
def test_valid_sample_gets_its_verdict_and_metrics(sample: dict[str, Any]) -> None:
    data = read(sample["file"])
    prepared = prepare_photo(data)
    report = prepared.quality
    assert report.verdict.value == sample["verdict"]
    assert [r.value for r in report.reasons] == sample["reasons"]
    assert prepared.orientation == sample["orientation"]
    assert [report.metrics.width, report.metrics.height] == [sample["width"], sample["height"]]
    assert [prepared.width, prepared.height] == sample["prepared_size"]
    assert [prepared.thumb_width, prepared.thumb_height] == sample["thumbnail_size"]
    assert within_tolerance(metrics_dict(data), sample["metrics"]) == []
    assert_metadata_free(prepared.jpeg)
    assert_metadata_free(prepared.thumbnail)


@pytest.mark.parametrize("sample", REFUSED, ids=[s["file"] for s in REFUSED])
def test_refused_sample_gets_its_code(sample: dict[str, Any]) -> None:
    with pytest.raises(PhotoError) as info:
        prepare_photo(read(sample["file"]))
    assert info.value.code.value == sample["error"]


def _margins(sample: dict[str, Any]) -> list[tuple[str, float, float]]:
    """(metric, distance to its threshold, required distance) for every judged metric."""
    m = sample["metrics"]
    q = EXPECTED["quality_settings"]
    out = []
    if m["sharpness"] is not None:
        out.append(
            (
                "sharpness",
                abs(m["sharpness"] - q["min_sharpness"]),
                2 * allowed_difference("sharpness", max(m["sharpness"], q["min_sharpness"])),
            )
        )
    if m["framing_ratio"] is not None:
        out.append(
            (
                "framing",
                abs(m["framing_ratio"] - q["min_framing_ratio"]),
                2 * allowed_difference("framing_ratio", max(m["framing_ratio"], 1.0)),
            )
        )
    clip = 2 * TOL["clipped_share_absolute"]
    mean = 2 * TOL["mean_brightness_absolute"]
    out += [
        ("clipped_dark", abs(m["clipped_dark"] - q["max_clipped_share"]), clip),
        ("clipped_bright", abs(m["clipped_bright"] - q["max_clipped_share"]), clip),
        ("mean_low", abs(m["mean_brightness"] - q["min_mean"]), mean),
        ("mean_high", abs(m["mean_brightness"] - q["max_mean"]), mean),
    ]
    return out


@pytest.mark.parametrize("sample", VALID, ids=[s["file"] for s in VALID])
def test_every_metric_is_far_from_its_threshold(sample: dict[str, Any]) -> None:
    # So that a port within tolerance cannot flip a verdict: verdicts must match exactly.
    for name, distance, required in _margins(sample):
        assert distance >= required, (sample["file"], name, distance, required)


def _perturbed(image: Image.Image, label: str) -> Image.Image:
    """Add a deterministic -1/0/+1 to every channel: a decoder with different IDCT rounding."""
    noise = hashlib.shake_256(label.encode()).digest(len(image.tobytes()))
    pixels = image.tobytes()
    out = bytes(min(255, max(0, p + (n % 3) - 1)) for p, n in zip(pixels, noise, strict=True))
    return Image.frombytes("RGB", image.size, out)


@pytest.mark.parametrize(
    "name", ["sharp.jpg", "blurred.jpg", "over_exposed.jpg", "under_exposed.jpg", "tiny.jpg"]
)
def test_tolerance_covers_off_by_one_decoders(name: str) -> None:
    sample = next(s for s in VALID if s["file"] == name)
    image = _perturbed(decode_photo(read(name)).image, name)
    report = assess_quality(image)
    got = report.metrics.as_dict()
    assert within_tolerance(got, sample["metrics"]) == []
    assert [r.value for r in report.reasons] == sample["reasons"]


@pytest.mark.parametrize("name", ["orientation_6.jpg", "orientation_8.jpg"])
def test_orientation_samples_come_out_upright(name: str) -> None:
    stored = Image.open(io.BytesIO(read(name)))
    assert stored.size == (768, 1024)  # stored sideways
    prepared = prepare_photo(read(name))
    image = Image.open(io.BytesIO(prepared.jpeg)).convert("RGB")
    assert image.size == (1024, 768)
    x0, y0, x1, y1 = EXPECTED["marker"]["box"]
    r, g, b = image.getpixel(((x0 + x1) // 2, (y0 + y1) // 2))  # type: ignore[misc]
    assert b > 200 and r < 60 and g < 60, (r, g, b)
    for corner in [(1024 - 44, 44), (44, 768 - 44), (1024 - 44, 768 - 44)]:
        r, g, b = image.getpixel(corner)  # type: ignore[misc]
        assert r > b, corner  # skin, not the marker
    # The thumbnail is upright too.
    thumb = Image.open(io.BytesIO(prepared.thumbnail)).convert("RGB")
    assert thumb.size == (320, 240)
    r, g, b = thumb.getpixel((14, 14))  # type: ignore[misc]
    assert b > 150 and r < 90


def _same_versions() -> bool:
    return gen_sample_images.build_versions() == EXPECTED["generated_with"]


@pytest.fixture(scope="module")
def regenerated() -> list[gen_sample_images.Sample]:
    return gen_sample_images.build_samples()


def test_regeneration_reproduces_the_committed_files(
    regenerated: list[gen_sample_images.Sample],
) -> None:
    """Byte-identical with the library versions that made them (the locked ones); otherwise
    the same pixels within 2 levels, the same structure and the same verdicts."""
    assert [s.file for s in regenerated] == [s["file"] for s in EXPECTED["samples"]]
    exact = _same_versions()
    for sample in regenerated:
        committed = read(sample.file)
        if exact:
            assert sample.data == committed, sample.file
            continue
        if sample.error is not None:
            with pytest.raises(PhotoError) as info:
                prepare_photo(sample.data)
            assert info.value.code.value == sample.error
            continue
        new = Image.open(io.BytesIO(sample.data))
        old = Image.open(io.BytesIO(committed))
        assert new.size == old.size and new.mode == old.mode
        diff = ImageChops.difference(new.convert("RGB"), old.convert("RGB"))
        assert max(hi for _, hi in diff.getextrema()) <= 2, sample.file
        if sample.file.endswith(".jpg"):
            assert [s.name for s in jpeg_segments(sample.data)] == [
                s.name for s in jpeg_segments(committed)
            ]


def test_regenerated_expected_json_matches(
    regenerated: list[gen_sample_images.Sample],
) -> None:
    fresh = gen_sample_images.expected_document(regenerated)
    if _same_versions():
        assert fresh == EXPECTED
    for new, old in zip(fresh["samples"], EXPECTED["samples"], strict=True):
        assert {k: v for k, v in new.items() if k != "metrics"} == {
            k: v for k, v in old.items() if k != "metrics"
        }
        if "metrics" in old:
            assert within_tolerance(new["metrics"], old["metrics"]) == []


def test_readme_lists_the_sha256_of_every_file() -> None:
    readme = (DIR / "README.md").read_text()
    listed = readme.split("```\n")[-2].splitlines()
    on_disk = sorted(p for p in DIR.iterdir() if p.name != "README.md")
    assert listed == [f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}" for p in on_disk]
