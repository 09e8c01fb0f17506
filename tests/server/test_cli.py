"""The `dermline` administration commands on a real SQLite data directory."""

import asyncio
import base64
import hashlib
import re
from pathlib import Path

import pytest

import storage
from crypto.fingerprint import key_id
from server.cli import main
from tests.samples import HISTORY
from tests.server.harness import live_server, make_world


def run(capsys, *argv: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out + out.err


def test_cli_requires_a_command() -> None:
    with pytest.raises(SystemExit):
        main([])


def test_admin_commands(tmp_path: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("DERMLINE_CONFIG", raising=False)
    monkeypatch.setenv("DERMLINE_ARGON2_MEMORY_KIB", "1024")
    d = str(tmp_path / "var")
    code, out = run(capsys, "db", "migrate", "--data-dir", d)
    assert code == 0 and out.startswith("schema version")

    code, out = run(capsys, "setup-link", "--data-dir", d)
    assert code == 0 and re.search(r"/#/invite/[A-Za-z0-9_-]{40,}", out)

    code, out = run(capsys, "org", "create", "--data-dir", d, "--kind", "service", "--name", "Skin")
    assert code == 0
    service_id = out.strip()
    code, out = run(capsys, "org", "list", "--data-dir", d)
    assert service_id in out and "Administration" in out

    code, out = run(
        capsys, "invite", "--data-dir", d, "--org", service_id, "--role", "dermatologist"
    )
    assert code == 0 and "/#/invite/" in out
    token = out.strip().rsplit("/#/invite/", 1)[1]
    code, out = run(capsys, "invites", "list", "--data-dir", d, "--org", service_id)
    [line] = out.splitlines()
    invite_id, status, role = line.split("\t")[:3]
    assert code == 0 and (status, role) == ("pending", "dermatologist")
    assert token not in out and invite_id == hashlib.sha256(token.encode()).hexdigest()
    cancel = ("invites", "revoke", "--data-dir", d, "--org", service_id, "--id", invite_id)
    code, out = run(capsys, *cancel)
    assert code == 0 and "cancelled" in out
    code, out = run(capsys, *cancel)
    assert code == 1 and "already been cancelled" in out
    code, out = run(capsys, "invites", "list", "--data-dir", d, "--org", service_id)
    assert out.split("\t")[1] == "revoked"
    code, out = run(capsys, "invite", "--data-dir", d, "--org", service_id, "--role", "gp")
    assert code == 1 and "role does not exist" in out  # a GP belongs in a practice

    code, out = run(capsys, "users", "list", "--data-dir", d, "--org", service_id)
    assert code == 0 and out == ""
    code, out = run(capsys, "sessions", "revoke", "--data-dir", d, "--user", "nobody")
    assert code == 1 and "not found" in out

    code, out = run(capsys, "audit", "checkpoint", "--data-dir", d)
    assert code == 0 and out.startswith("checkpoint at entry")
    code, out = run(capsys, "audit", "verify", "--data-dir", d)
    assert code == 0 and "audit log verifies" in out and "1 signed checkpoints" in out

    # the log key: printed for the operator to publish, stable across runs, and the key
    # that signs the heads the server serves (so a client can pin it out of band)
    code, out = run(capsys, "transparency", "key", "--data-dir", d)
    assert code == 0
    fields = dict(line.split(":", 1) for line in out.splitlines())
    public = base64.urlsafe_b64decode(fields["log public key"].strip() + "=")
    assert fields["log key id"].strip() == key_id(public).hex()
    assert fields["log size"].strip() == "0"  # server-made invites: nothing certified
    code, again = run(capsys, "transparency", "key", "--data-dir", d)
    assert again == out

    code, out = run(capsys, "keys", "rotate", "--data-dir", d)
    assert code == 0 and out.startswith("rotated:")
    code, after = run(capsys, "transparency", "key", "--data-dir", d)
    assert (
        dict(line.split(":", 1) for line in after.splitlines())["log key id"]
        == fields["log key id"]
    )

    log = tmp_path / "var" / "never.log"
    assert not log.exists()


def test_bad_settings_exit_2(tmp_path: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DERMLINE_PORT", "not-a-port")
    code, out = run(capsys, "db", "migrate", "--data-dir", str(tmp_path))
    assert code == 2 and "port" in out


async def test_users_disable_and_remove_role_mark_cases(
    tmp_path: Path,
    capsys,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    """The operator's path (no administrator at hand): the same domain operations as the
    admin routes, so the person's cases need a new epoch (docs/operations.md section 4a)."""
    monkeypatch.delenv("DERMLINE_CONFIG", raising=False)
    async with live_server(tmp_path) as live:
        w = await make_world(live)
        case_id = await w.gp.client.create_case(w.practice_id, w.service_id, HISTORY)
        derm_id, gp_id, practice_id = w.derm.user_id, w.gp.user_id, w.practice_id
    d = str(tmp_path)

    def cli(*argv: str) -> tuple[int, str]:
        return run(capsys, *argv)

    code, out = await asyncio.to_thread(cli, "users", "disable", "--data-dir", d, "--user", derm_id)
    assert code == 0 and "disabled" in out
    code, out = await asyncio.to_thread(
        cli,
        "users",
        "remove-role",
        "--data-dir",
        d,
        "--user",
        gp_id,
        "--org",
        practice_id,
        "--role",
        "gp",
    )
    assert code == 0 and "removed gp" in out
    code, out = await asyncio.to_thread(
        cli,
        "users",
        "remove-role",
        "--data-dir",
        d,
        "--user",
        gp_id,
        "--org",
        practice_id,
        "--role",
        "gp",
    )
    assert code == 1 and "not found" in out
    store = await storage.open_storage(storage.StorageConfig(data_dir=tmp_path))
    try:
        removals = await store.list_case_removals(case_id)
        assert {(r.user_id, r.reason) for r in removals} == {
            (derm_id, storage.RemovalReason.ACCOUNT),
            (gp_id, storage.RemovalReason.MEMBERSHIP),
        }
        assert (await store.get_user(derm_id)).disabled
    finally:
        await store.close()
