"""The built web client is served from client_web/dist with the security headers."""

import gzip
import logging
import os
from pathlib import Path

import aiohttp
from yarl import URL

from tests.server.harness import live_server
from tests.server.logcapture import captured_log


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


HOSTILE_PATHS = [
    "/assets/%00.js",  # NUL: the file system refuses the name (was a 500)
    "/assets/a%00b.js",
    "/a%00b",  # NUL in a client-side route
    "/assets/app.js%00",
    "/assets/" + "a" * 5000 + ".js",  # longer than a file name may be (was a 500)
    "/" + "a" * 300,  # a too-long client-side route
    "/" + "a/" * 3000,  # a too-long path
    "/assets\\..\\..\\secret.txt",  # backslashes are not separators here
    "/assets/%5c..%5c..%5csecret.txt",
    "/%2e%2e/%2e%2e/secret.txt",
    "/..%2f..%2fsecret.txt",
    "/assets/..%2f..%2f..%2fsecret",  # an escape that looks like a client-side route
    "/a/%2e%2e/%2e%2e/%2e%2e/secret",
    "/assets/%ff.js",
    "/assets/%01.js",
]


async def test_hostile_paths_answer_400_or_404_and_log_no_error(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><title>Dermline</title>")
    (dist / "assets" / "app.js").write_text("console.log(1)")
    (tmp_path / "secret.txt").write_text("outside")
    (tmp_path / "secret").write_text("outside")
    with captured_log() as log:
        async with (
            live_server(tmp_path / "data", static_dir=dist) as live,
            aiohttp.ClientSession() as http,
        ):
            for path in HOSTILE_PATHS:
                # As sent: yarl would otherwise resolve the dot segments itself.
                async with http.get(URL(live.url + path, encoded=True)) as resp:
                    body = await resp.text()
                    assert resp.status in (400, 404), (path[:40], resp.status)
                    assert "outside" not in body and "Dermline" not in body, path[:40]
                    assert resp.headers["Content-Type"].startswith("application/json")
            # Still serving.
            async with http.get(live.url + "/assets/app.js") as resp:
                assert resp.status == 200
    assert [e for e in log.events(logging.WARNING)] == []
    assert {f["status"] for f in log.fields("http.request")} <= {"400", "404", "200"}
