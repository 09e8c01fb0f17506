"""The client command line against a live server (scripted use, credentials from env)."""

import datetime as dt
import json
from pathlib import Path

import pyotp

from client_py.cli import run
from tests.server.harness import HISTORY, PASSWORD, live_server, make_world


async def test_cli_accept_enrol_create_send_read_close(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    async with live_server(tmp_path / "data") as live:
        w = await make_world(live)
        token = await w.admin.client.invite(w.practice_id, "gp")
        env = {
            "DERMLINE_URL": live.url,
            "DERMLINE_PASSWORD": PASSWORD,
            "DERMLINE_LOGIN": "cli@example.org",
        }
        # Without a token anywhere: a clear refusal, not a crash.
        assert await run(["accept-invite", "--login", "x@example.org", "--name", "X"], env) == 2
        capsys.readouterr()
        env["DERMLINE_INVITE_TOKEN"] = "unused-because-the-argument-wins"

        def lines() -> list[dict]:
            return [json.loads(x) for x in capsys.readouterr().out.splitlines()]

        assert (
            await run(
                [
                    "accept-invite",
                    "--token",
                    token,
                    "--login",
                    "cli@example.org",
                    "--name",
                    "Dr Cli",
                ],
                env,
            )
            == 0
        )
        assert "recovery_key" in lines()[0]
        live.clock.set(dt.datetime.now(dt.UTC))  # enrol-totp codes use the real time
        assert await run(["enrol-totp"], env) == 0
        secret = pyotp.parse_uri(lines()[0]["otpauth_uri"]).secret
        live.clock.set(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30))
        env["DERMLINE_TOTP_CODE"] = pyotp.TOTP(secret).at(live.clock.now())
        history = tmp_path / "history.json"
        history.write_text(json.dumps(HISTORY))
        assert (
            await run(
                [
                    "create-case",
                    "--practice",
                    w.practice_id,
                    "--service",
                    w.service_id,
                    "--history",
                    str(history),
                ],
                env,
            )
            == 0
        )
        case_id = lines()[0]["case_id"]
        # Each command logs in again: the next code is for the next time step.
        live.clock.advance(30)
        env["DERMLINE_TOTP_CODE"] = pyotp.TOTP(secret).at(live.clock.now())
        assert await run(["send", "--case", case_id, "--text", "hello from a script"], env) == 0
        assert lines()[0] == {"seq": 2}
        live.clock.advance(30)
        env["DERMLINE_TOTP_CODE"] = pyotp.TOTP(secret).at(live.clock.now())
        assert await run(["read", "--case", case_id], env) == 0
        out = lines()
        assert [m["type"] for m in out] == ["clinical_history", "text"]
        assert out[1]["body"]["text"] == "hello from a script"
        # A refused command prints the stable error code and exits 1.
        live.clock.advance(30)
        env["DERMLINE_TOTP_CODE"] = pyotp.TOTP(secret).at(live.clock.now())
        assert (
            await run(
                ["close", "--case", case_id, "--category", "advice_and_guidance", "--summary", "x"],
                env,
            )
            == 1
        )
        assert lines()[0]["error"] == "invalid_transition"  # not claimed yet


async def test_cli_takes_the_invite_token_from_the_environment(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    async with live_server(tmp_path / "data") as live:
        w = await make_world(live)
        env = {
            "DERMLINE_URL": live.url,
            "DERMLINE_PASSWORD": PASSWORD,
            "DERMLINE_INVITE_TOKEN": await w.admin.client.invite(w.practice_id, "gp"),
        }
        argv = ["accept-invite", "--login", "env@example.org", "--name", "Dr Env"]
        assert await run(argv, env) == 0
        assert "recovery_key" in json.loads(capsys.readouterr().out.splitlines()[0])
