"""The built web client is served from client_web/dist with the security headers."""

import gzip
import os
from pathlib import Path

import aiohttp

from tests.server.harness import live_server


async def test_static_client(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><title>Dermline</title>")
    (dist / "assets" / "app-1a2b3c.js").write_text("console.log(1)")
    (tmp_path / "secret.txt").write_text("outside")
    async with (
        live_server(tmp_path / "data", static_dir=dist) as live,
        aiohttp.ClientSession() as http,
    ):
        async with http.get(live.url + "/") as resp:
            assert resp.status == 200 and "Dermline" in await resp.text()
            assert resp.headers["Cache-Control"] == "no-cache"
            assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
        async with http.get(live.url + "/assets/app-1a2b3c.js") as resp:
            assert resp.status == 200 and "immutable" in resp.headers["Cache-Control"]
        async with http.get(live.url + "/cases/123") as resp:  # a client-side route
            assert resp.status == 200 and "Dermline" in await resp.text()
        for path in ("/assets/missing.js", "/%2e%2e/secret.txt", "/api/v1/unknown"):
            async with http.get(live.url + path) as resp:
                assert resp.status == 404, path
                assert "outside" not in await resp.text()


async def test_precompressed_copies_are_sent_to_browsers_that_accept_them(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><title>Dermline</title>")
    script = ("console.log('dermline');\n" * 200).encode()
    (dist / "assets" / "app-1a2b3c.js").write_bytes(script)
    (dist / "assets" / "app-1a2b3c.js.gz").write_bytes(gzip.compress(script))
    async with (
        live_server(tmp_path / "data", static_dir=dist) as live,
        aiohttp.ClientSession(auto_decompress=False) as http,
    ):
        url = live.url + "/assets/app-1a2b3c.js"
        async with http.get(url, headers={"Accept-Encoding": "gzip"}) as resp:
            assert resp.headers["Content-Encoding"] == "gzip"
            assert resp.headers["Vary"] == "Accept-Encoding"
            assert "javascript" in resp.headers["Content-Type"]  # the type of x.js, not of .gz
            body = await resp.read()
            assert len(body) < len(script) // 10 and gzip.decompress(body) == script
        async with http.get(url, headers={"Accept-Encoding": "identity"}) as resp:
            assert "Content-Encoding" not in resp.headers
            assert await resp.read() == script
        # A copy older than its file (a release copied over an old folder) is never sent.
        newer = b"console.log('the new release');"
        (dist / "assets" / "app-1a2b3c.js").write_bytes(newer)
        stale = dist / "assets" / "app-1a2b3c.js.gz"
        os.utime(stale, ns=(1_000_000_000, 1_000_000_000))
        async with http.get(url, headers={"Accept-Encoding": "gzip, br"}) as resp:
            assert "Content-Encoding" not in resp.headers
            assert await resp.read() == newer
