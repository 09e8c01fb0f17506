"""App-level behaviour: health, security headers, error shape, size limits, OpenAPI."""

from pathlib import Path

import aiohttp
import pytest

from client_py.api import ApiError
from tests.server.harness import ORIGIN, live_server


async def test_healthz_and_security_headers(tmp_path: Path) -> None:
    async with (
        live_server(tmp_path) as live,
        aiohttp.ClientSession() as http,
        http.get(live.url + "/healthz") as resp,
    ):
        assert resp.status == 200
        assert await resp.json() == {"status": "ok"}
        csp = resp.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp
        assert "'unsafe-inline'" not in csp
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Referrer-Policy"] == "no-referrer"
        assert "Strict-Transport-Security" not in resp.headers  # no TLS here


async def test_errors_have_one_shape(tmp_path: Path) -> None:
    async with live_server(tmp_path) as live, aiohttp.ClientSession() as http:
        async with http.get(live.url + "/api/v1/nope") as resp:
            assert resp.status == 404
            assert (await resp.json())["error"]["code"] == "not_found"
        async with http.get(live.url + "/api/v1/me") as resp:
            assert resp.status == 401
            assert (await resp.json())["error"] == {
                "code": "unauthenticated",
                "message": "sign in first",
            }
        async with http.post(live.url + "/api/v1/auth/prelogin", data=b"{") as resp:
            assert resp.status == 415
        async with http.post(
            live.url + "/api/v1/auth/prelogin",
            data=b"{",
            headers={"Content-Type": "application/json"},
        ) as resp:
            body = await resp.json()
            assert resp.status == 400 and body["error"] == {
                "code": "bad_request",
                "message": "the body is not valid JSON",
            }
        async with http.post(
            live.url + "/api/v1/auth/prelogin",
            json=["a", "list"],
            headers={"Content-Type": "application/json"},
        ) as resp:
            # Valid JSON of the wrong shape is a schema mismatch.
            assert resp.status == 422
            assert (await resp.json())["error"]["code"] == "validation_failed"
        secret_value = "CANARY-SECRET-VALUE"
        async with http.post(
            live.url + "/api/v1/auth/prelogin", json={"login_name": 5, "x": secret_value}
        ) as resp:
            text = await resp.text()
            assert resp.status == 422 and secret_value not in text
            assert "login_name" in text
        async with http.post(
            live.url + "/api/v1/auth/prelogin",
            json={"login_name": "a", "CANARY-PATIENT-NAME": 1},
        ) as resp:
            # An unknown field's name is submitted text: not echoed either.
            body = await resp.json()
            assert resp.status == 422 and "CANARY" not in str(body)
            assert body["error"]["message"] == "invalid fields: (unknown field)"
        async with http.delete(live.url + "/healthz") as resp:
            assert resp.status == 405
            assert (await resp.json())["error"]["code"] == "method_not_allowed"


async def test_request_size_limit(tmp_path: Path) -> None:
    async with (
        live_server(tmp_path, max_body_bytes=1024) as live,
        aiohttp.ClientSession() as http,
        http.post(live.url + "/api/v1/auth/prelogin", json={"login_name": "x" * 5000}) as resp,
    ):
        assert resp.status == 413
        assert (await resp.json())["error"]["code"] == "payload_too_large"


async def test_cross_origin_post_is_refused(tmp_path: Path) -> None:
    async with live_server(tmp_path) as live, aiohttp.ClientSession() as http:
        for origin, status in (("https://evil.example", 403), (ORIGIN, 200)):
            async with http.post(
                live.url + "/api/v1/auth/prelogin",
                json={"login_name": "someone"},
                headers={"Origin": origin},
            ) as resp:
                assert resp.status == status


async def test_openapi_lists_every_route(tmp_path: Path) -> None:
    from server.app import ROUTES

    async with (
        live_server(tmp_path) as live,
        aiohttp.ClientSession() as http,
        http.get(live.url + "/api/v1/openapi.json") as resp,
    ):
        doc = await resp.json()
    assert doc["openapi"] == "3.1.0"
    for r in ROUTES:
        op = doc["paths"][r.path][r.method.lower()]
        assert str(r.status) in op["responses"]


async def test_storage_failure_answers_503_and_bugs_500(tmp_path: Path) -> None:
    import storage
    from tests.server.harness import make_world

    async with live_server(tmp_path) as live:
        w = await make_world(live)
        store = live.store

        async def down(*_a: object, **_k: object) -> None:
            raise storage.Unavailable("disk I/O error CANARY-DETAIL")

        async def bug(*_a: object, **_k: object) -> None:
            raise RuntimeError("CANARY-INTERNAL-DETAIL")

        case_path = "/api/v1/cases/00000000-0000-4000-8000-000000000000"
        store.get_case_with_participants = down  # type: ignore[method-assign]
        with pytest.raises(ApiError) as err:
            await w.gp.client.api.get(case_path)
        assert (err.value.status, err.value.code) == (503, "unavailable")
        assert "CANARY" not in str(err.value)
        store.get_case_with_participants = bug  # type: ignore[method-assign]
        with pytest.raises(ApiError) as err:
            await w.gp.client.api.get(case_path)
        assert (err.value.status, err.value.code) == (500, "internal")
        assert "CANARY" not in str(err.value)


async def test_audit_checkpoints_are_signed_in_the_background(tmp_path: Path) -> None:
    import asyncio

    from tests.server.harness import make_world

    async with live_server(tmp_path, audit_checkpoint_interval=1) as live:
        await make_world(live)
        # Every second, in the background: wait (bounded) for one rather than sleeping a fixed
        # time, which a busy machine can outlast before the task has committed its checkpoint.
        async with asyncio.timeout(30):
            while True:
                result = await live.store.verify_audit()
                if result.checkpoints >= 1:
                    break
                await asyncio.sleep(0.1)
        assert result.entries > 10
