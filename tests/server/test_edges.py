"""Small edge modules: client address, rate limiter, logging allow-list, server secret."""

import ipaddress
import json
import logging
import os
import stat
from pathlib import Path

import pytest

from server.errors import RateLimited
from server.keyfile import derive_key, load_server_secret
from server.logs import configure_logging, event
from server.netaddr import client_address
from server.ratelimit import RateLimiter
from server.settings import SettingsError

NETS = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1/128")]


@pytest.mark.parametrize(
    ("peer", "xff", "expected"),
    [
        ("203.0.113.5", None, "203.0.113.5"),
        ("203.0.113.5", "1.2.3.4", "203.0.113.5"),  # untrusted peer: header ignored
        ("10.0.0.2", "198.51.100.9", "198.51.100.9"),
        ("10.0.0.2", "6.6.6.6, 198.51.100.9", "198.51.100.9"),  # client-written part ignored
        ("10.0.0.2", "198.51.100.9, 10.0.0.7", "198.51.100.9"),  # two trusted hops
        ("10.0.0.2", "10.0.0.8", "10.0.0.2"),  # only proxies: the peer
        ("10.0.0.2", "garbage", "10.0.0.2"),
        ("::1", "2001:db8::1", "2001:db8::1"),
        (None, "1.2.3.4", "unknown"),
    ],
)
def test_client_address(peer: str | None, xff: str | None, expected: str) -> None:
    assert client_address(peer, xff, NETS) == expected


def test_rate_limiter_refills() -> None:
    now = [0.0]
    limiter = RateLimiter(per_minute=60, burst=2, clock=lambda: now[0])
    limiter.hit("login", "a")
    limiter.hit("login", "a")
    with pytest.raises(RateLimited) as err:
        limiter.hit("login", "a")
    assert err.value.retry_after == 1
    limiter.hit("login", "b")  # another address has its own bucket
    limiter.hit("prelogin", "a")  # and another bucket name
    now[0] += 1.0
    limiter.hit("login", "a")
    with pytest.raises(ValueError):
        RateLimiter(per_minute=0, clock=lambda: 0.0)


def test_rate_limiter_table_is_bounded() -> None:
    now = [0.0]
    limiter = RateLimiter(per_minute=60, clock=lambda: now[0], max_keys=10)
    for i in range(100):
        limiter.hit("b", str(i))
    assert len(limiter._buckets) <= 10


def test_log_lines_keep_allowed_fields_only(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    configure_logging("DEBUG", log)
    event(
        "test.event", user_id="u1", code="x", password="hunter2", text="CANARY", level=logging.INFO
    )
    try:
        raise ValueError("CANARY in a message")
    except ValueError:
        logging.getLogger("dermline").exception("test.failure")
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert lines[0]["event"] == "test.event" and lines[0]["user_id"] == "u1"
    assert "password" not in lines[0] and "CANARY" not in log.read_text()
    assert lines[1]["error_type"] == "ValueError"
    configure_logging("INFO", None)


def test_server_secret_file(tmp_path: Path) -> None:
    first = load_server_secret(tmp_path, environ={})
    assert len(first) == 32
    assert stat.S_IMODE((tmp_path / "server.secret").stat().st_mode) == 0o600
    assert load_server_secret(tmp_path, environ={}) == first
    os.chmod(tmp_path / "server.secret", 0o644)
    with pytest.raises(SettingsError):
        load_server_secret(tmp_path, environ={})
    assert derive_key(first, "csrf") != derive_key(first, "accounts")
    with pytest.raises(SettingsError):
        load_server_secret(tmp_path, environ={"DERMLINE_SERVER_SECRET": "c2hvcnQ="})
    with pytest.raises(SettingsError):
        load_server_secret(tmp_path, environ={"DERMLINE_SERVER_SECRET": "!!"})
