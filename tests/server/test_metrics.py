"""``/metrics`` (parsed by prometheus-client's own parser), its access rule, and
``/readyz`` with storage or Redis down while ``/healthz`` (liveness) stays 200
(``docs/operations.md``, "Metrics";
``docs/deploy.md`` section 10)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from client_py.api import ApiError
from crypto.content import ContentType
from server.realtime import server as realtime_server
from tests.leaks import collect_garbage_after_each_test
from tests.samples import HISTORY
from tests.server.harness import Live, live_server, make_world

# Autouse here: a socket these tests leave open fails the test that leaked it
# (``tests/leaks.py``), not a later one that happens to collect it.
__all__ = ["collect_garbage_after_each_test"]

REDIS_URL = os.environ.get("DERMLINE_TEST_REDIS_URL")


async def _get(live: Live, path: str, **headers: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.get(live.url + path, headers=headers) as r:
        return r.status, await r.text()


def _samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def _value(samples: dict, name: str, **labels: str) -> float:  # type: ignore[type-arg]
    rows = samples.get(name, [])
    return sum(v for lab, v in rows if all(lab.get(k) == x for k, x in labels.items()))


async def test_metrics_after_a_whole_flow_name_no_one(tmp_path: Path) -> None:
    async with live_server(tmp_path) as live:
        w = await make_world(live)
        gp = w.gp.client
        case_id = await gp.create_case(w.practice_id, w.service_id, HISTORY, priority="urgent")
        rt = await gp.connect_realtime()
        msg_id, envelope = await gp.seal(case_id, ContentType.TEXT, {"text": "hello"})
        await rt.send(case_id, msg_id, envelope)
        with pytest.raises(ApiError):
            await live.client().login(w.derm.login_name, "wrong password")
        with pytest.raises(ApiError):
            await live.client().login("nobody@example.org", "wrong password")

        status, text = await _get(live, "/metrics")
        assert status == 200
        s = _samples(text)
        assert _value(s, "dermline_http_requests_total", route="/api/v1/cases", status="201") == 1
        assert _value(s, "dermline_http_requests_total", route="/api/v1/auth/login") >= 4
        assert _value(s, "dermline_socketio_events_total", event="send", outcome="ok") == 1
        assert _value(s, "dermline_socketio_events_total", event="sync", outcome="ok") >= 1
        assert _value(s, "dermline_send_to_ack_seconds_count") == 1
        assert _value(s, "dermline_login_events_total", event="failure") == 2
        assert _value(s, "dermline_login_events_total", event="lockout") == 0
        assert _value(s, "dermline_storage_unit_seconds_count", operation="append_message") >= 1
        assert _value(s, "dermline_socketio_connections") == 1
        assert _value(s, "dermline_cases_waiting", age_band="under_1h", priority="urgent") == 1
        assert _value(s, "dermline_cases_waiting", age_band="over_24h") == 0
        assert _value(s, "dermline_queue_length", queue="storage_writes") >= 0
        assert _value(s, "dermline_redis_subscribed") == -1  # no Redis configured

        # A day later the case has waited past the same-day target.
        live.clock.advance(25 * 3600)
        s = _samples((await _get(live, "/metrics"))[1])
        assert _value(s, "dermline_cases_waiting", age_band="over_24h", priority="urgent") == 1

        # Nothing that names anyone: no id, login name or organisation name, no raw path.
        ids = [case_id, msg_id, w.practice_id, w.service_id, w.gp.user_id, w.derm.user_id]
        words = [w.gp.login_name, w.derm.login_name, "Elm Surgery", "Skin Service", "Dr Gee"]
        assert [x for x in ids + words if x in text] == []
        routes = {lab["route"] for lab, _v in s["dermline_http_requests_total"]}
        assert all(r.startswith("/") or r == "unmatched" for r in routes)
        assert not any(c in r for r in routes for c in (case_id, w.practice_id))
        await rt.disconnect()


async def test_metrics_only_for_allowed_addresses(tmp_path: Path) -> None:
    async with live_server(tmp_path, metrics_allow="10.0.0.0/8") as live:
        status, text = await _get(live, "/metrics")
        unknown = await _get(live, "/no-such-path")
        assert (status, text) == unknown  # the very answer of a path that does not exist
        assert status == 404
    async with live_server(tmp_path / "b", trusted_proxies="127.0.0.1/32") as live:
        assert (await _get(live, "/metrics"))[0] == 200  # loopback, no proxy hop
        # Through the (trusted) proxy from outside: the client is 203.0.113.7, refused,
        # although the proxy itself is on loopback.
        assert (await _get(live, "/metrics", **{"X-Forwarded-For": "203.0.113.7"}))[0] == 404
    async with live_server(tmp_path / "c") as live:
        # Without a trusted proxy the header is not believed: the peer (loopback) counts.
        assert (await _get(live, "/metrics", **{"X-Forwarded-For": "203.0.113.7"}))[0] == 200


async def test_readyz_without_redis_and_with_storage_down(tmp_path: Path) -> None:
    async with live_server(tmp_path) as live:
        status, text = await _get(live, "/readyz")
        assert status == 200
        assert text == '{"status": "ok", "storage": "ok", "redis": "not_configured"}'
        await live.store.close()  # the database goes away under the node
        status, text = await _get(live, "/readyz")
        assert status == 503
        assert text == '{"status": "unavailable", "storage": "down", "redis": "not_configured"}'
        # Liveness does not ask the database: the process is alive, only not ready.
        assert await _get(live, "/healthz") == (200, '{"status": "ok"}')


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again: nothing listens there


async def test_readyz_with_redis_down(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(realtime_server, "REDIS_SUBSCRIBE_WAIT", 0.1)
    url = f"redis://127.0.0.1:{_dead_port()}/0"
    async with live_server(tmp_path, redis_url=url) as live:
        status, text = await _get(live, "/readyz")
        assert status == 503
        assert text == '{"status": "unavailable", "storage": "ok", "redis": "down"}'
        assert (await _get(live, "/healthz"))[0] == 200  # alive: it serves without Redis
        s = _samples((await _get(live, "/metrics"))[1])
        assert _value(s, "dermline_redis_subscribed") == 0


class _Cuttable:
    """A TCP relay to Redis that the test can cut (Redis "goes down" for this node)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []

    async def start(self) -> int:
        async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.writers.append(writer)
            up_r, up_w = await asyncio.open_connection("127.0.0.1", self.target_port)
            self.writers.append(up_w)  # one made while cut is closed by the final cut()

            async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
                try:
                    while data := await r.read(65536):
                        w.write(data)
                        await w.drain()
                except (ConnectionError, OSError):
                    pass
                finally:
                    w.close()

            await asyncio.gather(pipe(reader, up_w), pipe(up_r, writer))

        self.server = await asyncio.start_server(relay, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.close_all()
        await self.server.wait_closed()

    async def close_all(self) -> None:
        """Close every relayed socket and wait until each is really closed: a connection
        to Redis left open is a ``ResourceWarning`` in whichever later test collects it."""
        for w in list(self.writers):
            w.close()
        for w in list(self.writers):
            with contextlib.suppress(ConnectionError, OSError):
                await w.wait_closed()


async def _readyz_follows_redis(tmp_path: Path) -> None:
    assert REDIS_URL is not None
    port = int(REDIS_URL.split("://", 1)[1].split("/")[0].rsplit(":", 1)[1])
    relay = _Cuttable(port)
    local = await relay.start()
    url = f"redis://127.0.0.1:{local}/0"
    try:
        async with live_server(tmp_path, redis_url=url, redis_channel=f"t-{os.getpid()}") as live:
            status, text = await _get(live, "/readyz")
            assert (status, text) == (200, '{"status": "ok", "storage": "ok", "redis": "ok"}')
            s = _samples((await _get(live, "/metrics"))[1])
            assert _value(s, "dermline_redis_subscribed") == 1
            await relay.cut()
            status, text = await _get(live, "/readyz")
            assert (status, text) == (
                503,
                '{"status": "unavailable", "storage": "ok", "redis": "down"}',
            )
    finally:
        await relay.cut()


if REDIS_URL:  # collected only where a test Redis exists (CI), as tests/server/realtime/

    async def test_readyz_follows_redis(tmp_path: Path) -> None:
        await _readyz_follows_redis(tmp_path)
