"""Logs never hold secrets (security review, brief item 4): drive a whole flow with every
logger at DEBUG into files, then scan them for every secret the flow used: the password,
auth keys, TOTP secrets and codes, recovery codes, invite tokens, session cookies, CSRF
tokens and the clinical canaries."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from client_py.api import b64d, b64e
from client_py.identity import login_keys
from server.logs import configure_logging
from tests.samples import HISTORY, wrong_codes
from tests.server.harness import PASSWORD, live_server, make_world


def leaked_codes(codes: set[str], text: str) -> list[str]:
    """The codes that appear on their own in ``text``. The same six digits inside a random id,
    hash or address (the debug logs hold database parameters such as user ids) are not a
    leak; bounded by non-digits only, a code was found in "...d618942-..." now and then."""
    return sorted(c for c in codes if re.search(rf"(?<![0-9A-Za-z]){c}(?![0-9A-Za-z])", text))


def test_a_code_inside_a_random_id_is_not_a_leak() -> None:
    text = '{"user_id":"1d618942-7b50-4d4c-b77e-0a1b2c3d4e5f","code":"123456","n":"777777x"}'
    assert leaked_codes({"618942", "123456", "777777", "000001"}, text) == ["123456"]


@pytest.fixture
def log_files(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    ours, everything = tmp_path / "dermline.log", tmp_path / "all.log"
    configure_logging("DEBUG", ours)
    root = logging.getLogger()
    handler = logging.FileHandler(everything, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield ours, everything
    finally:
        root.removeHandler(handler)
        handler.close()
        root.setLevel(old_level)
        configure_logging("INFO", None)


async def test_flow_logs_hold_no_secret(tmp_path: Path, log_files: tuple[Path, Path]) -> None:
    secrets: set[str] = {PASSWORD}
    codes: set[str] = set()
    async with live_server(tmp_path / "data") as live:
        original_code = live.code

        def remembering_code(secret: str) -> str:
            code = original_code(secret)
            codes.add(code)
            return code

        live.code = remembering_code  # type: ignore[method-assign]
        w = await make_world(live)
        invite = await w.admin.client.invite(w.practice_id, "gp")
        secrets.add(invite)
        gp2 = await live.person(invite, "gp2@example.org", "Dr Two")
        for p in (w.admin, w.gp, w.derm, gp2):
            secrets.add(p.totp_secret)
            secrets.update(p.recovery_codes)
            pre = await p.client.api.post("/api/v1/auth/prelogin", {"login_name": p.login_name})
            auth_key, kek = login_keys(PASSWORD, b64d(pre["kdf_params"]))
            secrets.update({b64e(auth_key), auth_key.hex(), b64e(kek), kek.hex()})
        # A case with clinical canaries, a message, a recovery-code login, a wrong code.
        case_id = await w.gp.client.create_case(w.practice_id, w.service_id, HISTORY)
        await w.derm.client.move(case_id, "claim")
        rt = await w.gp.client.connect_realtime()
        derm_rt = await w.derm.client.connect_realtime()
        await derm_rt.call("join", {"case_id": case_id})
        await w.derm.client.send_text(case_id, "CANARY-MESSAGE-TEXT")
        c = live.client()
        await c.login(w.gp.login_name, PASSWORD, recovery_code=w.gp.recovery_codes[0])
        live.clock.advance(30)
        [wrong] = wrong_codes(w.derm.totp_secret, live.clock.now())
        codes.add(wrong)
        with pytest.raises(Exception, match="invalid_totp"):
            await live.client().login(w.derm.login_name, PASSWORD, totp=lambda: wrong)
        for client in [*live.clients]:
            if client.api.session_token:
                secrets.add(client.api.session_token)
            if client.api.csrf_token:
                secrets.add(client.api.csrf_token)
        await c.logout()
        await rt.disconnect()
        await derm_rt.disconnect()
    ours, everything = log_files
    text = ours.read_text() + everything.read_text()
    assert '"event":"http.request"' in text  # the scan looked at a real log
    leaks = sorted(s for s in secrets if s and s in text)
    leaks += leaked_codes(codes, text)
    leaks += re.findall(r"CANARY[-A-Z]*", text)
    assert not leaks, leaks
    assert "gp@example.org" not in text  # login names are personal data too
