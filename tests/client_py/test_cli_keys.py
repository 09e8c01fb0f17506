"""The key commands of dermline-client against a live server with the key log: organisation
key setup, certified invite links, certifying a verified colleague, publishing the records
key, and the monitor (exit 4 while something is flagged)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from client_py.cli import run
from crypto.invite import parse_invite_fragment
from crypto.records_key import seal_records_key_file
from tests.server.harness import PASSWORD, Person, live_server, make_world

PASSPHRASE = "a passphrase long enough"


async def test_org_key_invite_certify_records_key_and_monitor(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with live_server(tmp_path / "data") as live:
        w = await make_world(live)
        live.clock.set(dt.datetime.now(dt.UTC))  # the command line signs with the real time
        key_file = tmp_path / "records.key"
        key_file.write_bytes(seal_records_key_file(w.records_key, PASSPHRASE))
        env = {
            "DERMLINE_URL": live.url,
            "DERMLINE_PASSWORD": PASSWORD,
            "DERMLINE_CONFIG_DIR": str(tmp_path / "config"),
            "DERMLINE_RECORDS_PASSPHRASE": PASSPHRASE,
        }

        async def cli(who: Person, *argv: str) -> tuple[int, list[dict[str, Any]]]:
            env["DERMLINE_LOGIN"] = who.login_name
            env["DERMLINE_TOTP_CODE"] = live.code(who.totp_secret)
            capsys.readouterr()
            status = await run(list(argv), env)
            return status, [json.loads(x) for x in capsys.readouterr().out.splitlines()]

        org = ("--org", w.practice_id)
        status, out = await cli(w.admin, "org-key", "setup", *org)
        assert status == 0 and len(out[0]["fingerprint"].split()) == 8
        status, out = await cli(w.admin, "invite", *org, "--role", "gp")
        assert status == 0
        assert parse_invite_fragment(out[0]["link"].split("#/invite/")[1]).certified
        # The GP enrolled through a server-made invite: flagged until certified.
        status, out = await cli(w.admin, "keys", "monitor", *org)
        flags = [line["flag"] for line in out if "flag" in line]
        assert status == 4 and any(w.gp.user_id in f for f in flags)
        # Certifying needs the safety number compared first.
        status, out = await cli(w.admin, "org-key", "certify", *org, w.gp.user_id)
        assert status == 3 and out[0]["error"] == "not_verified"
        assert (await cli(w.admin, "keys", "safety-number", w.gp.user_id))[0] == 0
        assert (await cli(w.admin, "keys", "verify", w.gp.user_id))[0] == 0
        status, out = await cli(w.admin, "org-key", "certify", *org, w.gp.user_id)
        assert status == 0 and out[0]["certified"] == ["gp"]
        # The first certified records key is the one in use (its key file).
        status, out = await cli(w.admin, "records-key", "publish", *org, "--key", str(key_file))
        assert status == 0, out
        expected = tmp_path / "expected.json"
        expected.write_text(
            json.dumps({"members": [{"user_id": w.admin.user_id}, {"user_id": w.gp.user_id}]})
        )
        status, out = await cli(w.admin, "keys", "monitor", *org, "--expected", str(expected))
        assert status == 0, out
        assert {line["key"]["user_id"] for line in out} == {w.admin.user_id, w.gp.user_id}
        # Nothing pending to approve: a clear refusal.
        status, out = await cli(w.admin, "records-key", "approve", *org)
        assert status == 3 and "no pending" in out[0]["message"]
