"""The client command line against a live server (scripted use, credentials from env)."""

import asyncio
import datetime as dt
import json
import re
import stat
from pathlib import Path

import pyotp
import pytest

from client_py.api import b64d, b64e
from client_py.cli import records_key_fingerprint, run
from client_py.identity import login_keys
from crypto.errors import RecordsKeyFileError
from crypto.fingerprint import key_id
from crypto.records_key import open_records_key_file
from server.cli import main as server_main
from tests.samples import HISTORY
from tests.server.authenticator import SoftAuthenticator
from tests.server.harness import ORIGIN, PASSWORD, live_server, make_world


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
        # A value may begin with a dash (argparse alone would take it for an option).
        assert await run(["send", "--case", case_id, "--text", "- hello from a script"], env) == 0
        assert lines()[0] == {"seq": 2}
        live.clock.advance(30)
        env["DERMLINE_TOTP_CODE"] = pyotp.TOTP(secret).at(live.clock.now())
        assert await run(["read", "--case", case_id], env) == 0
        out = lines()
        assert [m["type"] for m in out] == ["clinical_history", "text"]
        assert out[1]["body"]["text"] == "- hello from a script"
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


async def test_cli_under_a_passkey_requirement(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """No WebAuthn here: the command line says what to do instead of failing obscurely, and a
    recovery code (once) still signs in."""
    async with live_server(tmp_path) as live:
        w = await make_world(live)
        policy = f"/api/v1/orgs/{w.practice_id}/passkey-policy"
        await w.admin.client.api.put(policy, {"everyone": True, "roles": []})
        env = {"DERMLINE_URL": live.url, "DERMLINE_PASSWORD": PASSWORD}
        env["DERMLINE_LOGIN"] = w.gp.login_name

        def answer() -> dict:
            return json.loads(capsys.readouterr().out.splitlines()[-1])

        # No passkey yet: the TOTP code passes, then a passkey must be added (in a browser).
        env["DERMLINE_TOTP_CODE"] = live.code(w.gp.totp_secret)
        assert await run(["cases"], env) == 1
        out = answer()
        assert out["error"] == "passkey_enrol"
        assert "web client" in out["message"] and "DERMLINE_RECOVERY_CODE" in out["message"]

        # The GP adds one (as the web client does), so the TOTP code is refused from now on.
        c = live.client(origin=ORIGIN)
        pre = await c.api.post("/api/v1/auth/prelogin", {"login_name": w.gp.login_name})
        auth_key, _kek = login_keys(PASSWORD, b64d(pre["kdf_params"]))
        await c.api.post(
            "/api/v1/auth/login", {"login_name": w.gp.login_name, "auth_key": b64e(auth_key)}
        )
        step = await c.api.post("/api/v1/auth/totp", {"code": live.code(w.gp.totp_secret)})
        assert step["next"] == "passkey_enrol"
        options = (await c.api.post("/api/v1/auth/passkeys/options"))["options"]
        phone = SoftAuthenticator(ORIGIN, options["rp"]["id"])
        made = await c.api.post(
            "/api/v1/auth/passkeys", {"credential": phone.create(options), "name": "Phone"}
        )
        assert made["next"] == "done"

        env["DERMLINE_TOTP_CODE"] = live.code(w.gp.totp_secret)
        assert await run(["cases"], env) == 1
        out = answer()
        assert (out["error"], out["status"]) == ("passkey_required", 403)
        assert "recovery codes" in out["message"]

        env["DERMLINE_RECOVERY_CODE"] = w.gp.recovery_codes[0]
        assert await run(["cases"], env) == 0
        capsys.readouterr()
        assert await run(["cases"], env) == 1  # a recovery code works once
        assert answer()["error"] == "invalid_totp"


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


async def test_cli_takes_an_invite_token_that_begins_with_a_dash(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    # One base64url token in 64 begins with "-"; it must reach the server as a token, and an
    # unknown one is refused with the server's code, not with an argparse usage error.
    async with live_server(tmp_path / "data") as live:
        env = {"DERMLINE_URL": live.url, "DERMLINE_PASSWORD": PASSWORD}
        argv = ["accept-invite", "--token", "-" + "A" * 42, "--login", "d@example.org"]
        assert await run([*argv, "--name", "Dr Dash"], env) == 1
        assert json.loads(capsys.readouterr().out.splitlines()[0])["error"] == "invite_invalid"
        # An option name is never taken as another option's value.
        with pytest.raises(SystemExit) as exit_:
            await run(["accept-invite", "--token", "--login", "d@example.org", "--name", "D"], env)
        assert exit_.value.code == 2
        assert "--token: expected one argument" in capsys.readouterr().err


# ------------------------------------------------------------------ records-key (offline)

RECORDS_PASSPHRASE = "a records passphrase long enough"


def records_key(argv: list[str], env: dict[str, str], answers: list[str] | None = None) -> int:
    """Run ``records-key ...`` the way a records officer would, with scripted prompt answers."""
    queue = list(answers or [])
    asked: list[str] = []

    def prompt(text: str) -> str:
        asked.append(text)
        return queue.pop(0)

    code = asyncio.run(run(["records-key", *argv], env, prompt=prompt))
    assert queue == [], "every scripted answer is asked for"
    return code


def test_records_key_new_writes_a_sealed_file_and_the_public_key(
    tmp_path: Path,
    capsys,  # type: ignore[no-untyped-def]
) -> None:
    out = tmp_path / "officer" / "keys"  # created, with its parent
    env = {"DERMLINE_RECORDS_PASSPHRASE": RECORDS_PASSPHRASE}
    assert records_key(["new", "--out", str(out)], env) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    private_file, public_file = out / "records.key", out / "records.pub"
    assert result["private_key_file"] == str(private_file)
    assert result["public_key_file"] == str(public_file)
    # Only the owner may read the sealed private key; the folder is the owner's too.
    assert stat.S_IMODE(private_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    public_key = public_file.read_bytes()
    assert len(public_key) == 65 and public_key[0] == 4  # what `dermline org create` reads
    pair = open_records_key_file(private_file.read_bytes(), RECORDS_PASSPHRASE)
    assert pair.public_key == public_key
    assert result["key_id"] == key_id(public_key).hex() == private_file.read_bytes()[3:19].hex()
    groups = result["fingerprint"].split(" ")
    assert len(groups) == 8 and "".join(groups) == result["key_id"]
    assert all(re.fullmatch(r"[0-9a-f]{4}", g) for g in groups)
    # The officer is told what losing it means; the passphrase is printed nowhere.
    assert "at least two safe places" in captured.err
    assert RECORDS_PASSPHRASE not in captured.out + captured.err
    with pytest.raises(RecordsKeyFileError):
        open_records_key_file(private_file.read_bytes(), RECORDS_PASSPHRASE + "x")


def test_records_key_public_file_is_what_the_server_cli_accepts(
    tmp_path: Path,
    capsys,  # type: ignore[no-untyped-def]
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    env = {"DERMLINE_RECORDS_PASSPHRASE": RECORDS_PASSPHRASE}
    assert records_key(["new", "--out", str(tmp_path / "k")], env) == 0
    capsys.readouterr()
    monkeypatch.delenv("DERMLINE_CONFIG", raising=False)
    monkeypatch.setenv("DERMLINE_ARGON2_MEMORY_KIB", "1024")
    data = str(tmp_path / "var")
    argv = ["org", "create", "--data-dir", data, "--kind", "practice", "--name", "Elm"]
    assert server_main([*argv, "--records-key-file", str(tmp_path / "k" / "records.pub")]) == 0
    capsys.readouterr()
    # And the server refuses the sealed private file in its place (not a public key).
    assert server_main([*argv, "--records-key-file", str(tmp_path / "k" / "records.key")]) == 1


def test_records_key_passphrase_is_asked_twice_and_must_match(
    tmp_path: Path,
    capsys,  # type: ignore[no-untyped-def]
) -> None:
    out = tmp_path / "k"
    assert records_key(["new", "--out", str(out)], {}, [RECORDS_PASSPHRASE, "something else!"]) == 2
    assert json.loads(capsys.readouterr().out) == {"error": "the two passphrases are different"}
    assert not (out / "records.key").exists() and not (out / "records.pub").exists()
    assert records_key(["new", "--out", str(out)], {}, ["short", "short"]) == 2
    assert "12 characters or more" in capsys.readouterr().out
    assert not (out / "records.key").exists()
    assert records_key(["new", "--out", str(out)], {}, [RECORDS_PASSPHRASE] * 2) == 0
    capsys.readouterr()
    pair = open_records_key_file((out / "records.key").read_bytes(), RECORDS_PASSPHRASE)
    assert pair.public_key == (out / "records.pub").read_bytes()


def test_records_key_new_never_overwrites_a_key(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    env = {"DERMLINE_RECORDS_PASSPHRASE": RECORDS_PASSPHRASE}
    assert records_key(["new", "--out", str(tmp_path)], env) == 0
    before = (tmp_path / "records.key").read_bytes(), (tmp_path / "records.pub").read_bytes()
    capsys.readouterr()
    assert records_key(["new", "--out", str(tmp_path)], env) == 1
    assert "exists already" in json.loads(capsys.readouterr().out)["error"]
    after = (tmp_path / "records.key").read_bytes(), (tmp_path / "records.pub").read_bytes()
    assert before == after
    # A public file alone (or a dangling link) also stops it: nothing half-replaced.
    other = tmp_path / "other"
    other.mkdir()
    (other / "records.pub").symlink_to(tmp_path / "nowhere")
    assert records_key(["new", "--out", str(other)], env) == 1
    assert not (other / "records.key").exists()


def test_records_key_new_into_a_folder_it_cannot_create(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    env = {"DERMLINE_RECORDS_PASSPHRASE": RECORDS_PASSPHRASE}
    assert records_key(["new", "--out", str(blocker / "keys")], env) == 2
    assert json.loads(capsys.readouterr().out) == {"error": "cannot create the output folder"}


def test_records_key_check(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    env = {"DERMLINE_RECORDS_PASSPHRASE": RECORDS_PASSPHRASE}
    assert records_key(["new", "--out", str(tmp_path / "a")], env) == 0
    made = json.loads(capsys.readouterr().out)
    assert records_key(["new", "--out", str(tmp_path / "b")], env) == 0
    capsys.readouterr()
    key, pub = str(tmp_path / "a" / "records.key"), str(tmp_path / "a" / "records.pub")

    assert records_key(["check", "--key", key, "--public", pub], {}, [RECORDS_PASSPHRASE]) == 0
    checked = json.loads(capsys.readouterr().out)
    assert checked == {
        "key_id": made["key_id"],
        "fingerprint": made["fingerprint"],
        "public_key_matches": True,
    }
    assert records_key(["check", "--key", key], env) == 0
    assert json.loads(capsys.readouterr().out)["key_id"] == made["key_id"]
    # Wrong passphrase, another key's public file, an empty answer, a missing file.
    assert records_key(["check", "--key", key], {}, ["not the passphrase"]) == 1
    assert "does not open" in json.loads(capsys.readouterr().out)["error"]
    other_pub = str(tmp_path / "b" / "records.pub")
    assert records_key(["check", "--key", key, "--public", other_pub], env) == 1
    assert "another records key" in json.loads(capsys.readouterr().out)["error"]
    assert records_key(["check", "--key", key], {}, [""]) == 2
    assert "give the passphrase" in json.loads(capsys.readouterr().out)["error"]
    assert records_key(["check", "--key", str(tmp_path / "missing")], env) == 2
    assert json.loads(capsys.readouterr().out) == {"error": "cannot read the key file"}
    # A damaged file is refused with the same answer as a wrong passphrase.
    damaged = tmp_path / "damaged.key"
    data = bytearray((tmp_path / "a" / "records.key").read_bytes())
    data[-1] ^= 1
    damaged.write_bytes(bytes(data))
    assert records_key(["check", "--key", str(damaged)], env) == 1
    capsys.readouterr()


def test_records_key_fingerprint_is_the_string_the_web_client_shows() -> None:
    # The same vector and the same string as client_web/test/app/admin.test.ts: a records
    # officer compares what the browser showed with what `records-key check` prints.
    vector_file = Path(__file__).resolve().parents[1] / "vectors/dermline/records_key_file.json"
    vectors = json.loads(vector_file.read_text())
    test = vectors["testGroups"][0]["tests"][0]
    kid = bytes.fromhex(test["records_key_id"])
    assert kid == key_id(bytes.fromhex(test["records_public_key"]))
    assert records_key_fingerprint(kid) == "187f fb83 f7a1 4efb b839 a1e8 55f8 27ca"
