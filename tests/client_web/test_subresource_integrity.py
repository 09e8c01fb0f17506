"""Subresource Integrity on the built web client (docs/threat-model.md): every script,
stylesheet and module preload in ``client_web/dist/index.html`` carries an ``integrity``
attribute equal to the SHA-384 of the file the server sends, every JavaScript file of the
build is one of them (a chunk loaded by ``import()`` is preloaded with its hash, so nothing
runs unchecked), and the pre-compressed copies decode to exactly those bytes (the browser
checks the decoded body).

Reads the build; builds nothing (``make test`` runs ``make web`` first; by hand: ``cd
client_web && npm run build``). ``client_web/scripts/e2e-sri.mjs`` proves in Chromium that
the hashes are enforced, through the Brotli/gzip copies and the service worker.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
from html.parser import HTMLParser
from pathlib import Path

DIST = Path(__file__).resolve().parents[2] / "client_web" / "dist"


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _subresources() -> list[dict[str, str | None]]:
    """The tags of index.html that load a script or a stylesheet."""
    assert (DIST / "index.html").is_file(), "client_web/dist is missing: run `make web`"
    parser = _Tags()
    parser.feed((DIST / "index.html").read_text(encoding="utf-8"))
    out = []
    for tag, attrs in parser.tags:
        rel = (attrs.get("rel") or "").lower().split()
        if (tag == "script" and attrs.get("src")) or (
            tag == "link" and ({"stylesheet", "modulepreload", "preload"} & set(rel))
        ):
            out.append(attrs)
    return out


def _file(url: str) -> Path:
    assert url.startswith("/") and ".." not in url, url
    return DIST / url.lstrip("/")


def _sri(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


def test_every_script_and_stylesheet_carries_its_sha384() -> None:
    loaded = _subresources()
    assert any(a.get("src") for a in loaded), "no script in index.html"
    assert any("stylesheet" in (a.get("rel") or "") for a in loaded), "no stylesheet"
    for attrs in loaded:
        url = attrs.get("src") or attrs.get("href") or ""
        data = _file(url).read_bytes()
        assert attrs.get("integrity") == _sri(data), url
        # A same-origin request in CORS mode: the browser applies the check (and a copy from
        # another origin would need CORS to be read at all).
        assert "crossorigin" in attrs, url


def test_every_javascript_file_of_the_build_is_checked() -> None:
    checked = {_file(a.get("src") or a.get("href") or "").resolve() for a in _subresources()}
    scripts = {p.resolve() for p in (DIST / "assets").rglob("*.js")}
    assert scripts and scripts <= checked, sorted(p.name for p in scripts - checked)


def test_precompressed_copies_decode_to_the_hashed_bytes() -> None:
    """The browser checks the decoded body; a copy that decoded to other bytes would be
    refused. (Brotli has no decoder in the Python environment; the Chromium check loads the
    .br copies.)"""
    copies = 0
    for attrs in _subresources():
        path = _file(attrs.get("src") or attrs.get("href") or "")
        copy = path.with_name(path.name + ".gz")
        if copy.exists():
            copies += 1
            assert _sri(gzip.decompress(copy.read_bytes())) == attrs.get("integrity"), copy.name
    assert copies > 0, "no pre-compressed copy to check"
