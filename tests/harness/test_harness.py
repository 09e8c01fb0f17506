"""The malicious-server harness itself: it is unreachable from production, it refuses to start
without ``DERMLINE_HARNESS=1``, and each attack really changes what a client is shown (over
HTTP and over Socket.IO). What the clients do about the attacks is tested with the clients."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from client_py.api import b64d, b64e
from client_py.client import DermlineClient
from crypto import merkle
from crypto.account import generate_key_pair
from crypto.errors import CryptoError
from crypto.fingerprint import key_id
from crypto.log_entry import RemovalEntry, StatementEntry, parse_log_entry
from crypto.statement import OrganisationKind, make_organisation_key_statement
from crypto.tree_head import TreeHead, verify_tree_head, verify_tree_head_extends
from server.app import create_app
from tests.harness.attacks import Attack, AttackError, harnessed, install, thread_view
from tests.harness.serve import main as serve_main
from tests.samples import HISTORY
from tests.server.harness import Live, live_server, make_world, settings_for
from tests.test_layers import _imports

ROOT = Path(__file__).resolve().parent.parent.parent
ON = {"DERMLINE_HARNESS": "1"}


def _install(app: web.Application) -> None:
    install(app, environ=ON)


async def attack(live: Live, **body: Any) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{live.url}/__harness/attack", json=body) as r,
    ):
        return r.status, await r.json()


async def reset(live: Live) -> None:
    async with aiohttp.ClientSession() as http, http.post(f"{live.url}/__harness/reset") as r:
        assert r.status == 200


# ---------------------------------------------------------------------- never in production


def test_server_never_imports_the_harness_or_tests() -> None:
    for path in (ROOT / "server").rglob("*.py"):
        imported = _imports(path)
        assert not [m for m in imported if m == "tests" or m.startswith("tests.")], path


def test_the_production_app_has_no_harness_route(tmp_path: Path) -> None:
    app = create_app(settings_for(tmp_path), environ={})
    paths = {getattr(r.resource, "canonical", "") for r in app.router.routes()}
    assert not [p for p in paths if p.startswith("/__harness")]
    assert paths  # the routes were read


def test_install_refuses_without_the_switch(tmp_path: Path) -> None:
    app = create_app(settings_for(tmp_path), environ={})
    with pytest.raises(RuntimeError, match="DERMLINE_HARNESS"):
        install(app, environ={})
    with pytest.raises(RuntimeError):
        install(app, environ={"DERMLINE_HARNESS": "yes"})


def test_serve_refuses_without_the_switch(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.delenv("DERMLINE_HARNESS", raising=False)
    assert serve_main(["--data-dir", str(tmp_path), "--port", "1"]) == 2
    assert "DERMLINE_HARNESS=1" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # nothing was set up


async def test_production_answers_404_to_the_harness_route(tmp_path: Path) -> None:
    async with (
        live_server(tmp_path) as live,
        aiohttp.ClientSession() as http,
        http.post(f"{live.url}/__harness/attack", json={"kind": "stale_head"}) as r,
    ):
        assert r.status == 404


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_serve_starts_the_real_server_with_the_harness(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "DERMLINE_HARNESS": "1", "DERMLINE_ARGON2_MEMORY_KIB": "8192"}
    args = ["-m", "tests.harness.serve", "--data-dir", str(tmp_path), "--port", str(port)]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        while not any("listening" in line for line in lines):
            line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
            assert line, "".join(lines)
            lines.append(line)
        assert any("/#/invite/" in line for line in lines)  # the setup link, as dermline serve
        url = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as http:
            for _ in range(100):
                try:
                    async with http.get(f"{url}/healthz") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
            async with http.post(f"{url}/__harness/attack", json={"kind": "nope"}) as r:
                assert r.status == 400
                assert (await r.json())["error"]["code"] == "bad_request"
            body = {"kind": "drop_message", "case_id": "c", "seq": 2}
            async with http.post(f"{url}/__harness/attack", json=body) as r:
                assert r.status == 200
                assert (await r.json())["attacks"] == [body]
            async with http.post(f"{url}/__harness/attack", json={"kind": "stale_head"}) as r:
                assert r.status == 200  # the log exists: the head of now is held
                assert (await r.json())["attacks"][0]["head"]
            async with http.post(f"{url}/__harness/reset") as r:
                assert (await r.json())["attacks"] == []
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 20)


# ---------------------------------------------------------------------- attack requests


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({}, "kind"),
        ({"kind": "nope"}, "unknown attack kind"),
        ({"kind": "drop_message", "case_id": "c"}, "missing seq"),
        ({"kind": "drop_message", "case_id": "c", "seq": 0}, "seq must be"),
        ({"kind": "drop_message", "case_id": "c", "seq": True}, "seq must be"),
        ({"kind": "drop_message", "case_id": "c", "seq": 1, "x": 1}, "unknown parameter"),
        ({"kind": "substitute_encryption_key", "user_id": "u", "public_key": "%%"}, "base64"),
        ({"kind": "substitute_encryption_key", "user_id": "", "public_key": "AA"}, "user_id"),
        ({"kind": "inject_message", "case_id": "c", "envelope": 3}, "envelope"),
    ],
)
def test_malformed_attacks_are_refused(body: dict[str, Any], error: str) -> None:
    with pytest.raises(AttackError, match=error):
        Attack.parse(body)


# ---------------------------------------------------------------------- thread views


def _thread(n: int) -> list[dict[str, Any]]:
    return [
        {
            "case_id": "c",
            "seq": i,
            "client_msg_id": f"m{i}",
            "sender_id": "s",
            "envelope": f"E{i}",
            "created_at": "2026-01-01T00:00:00Z",
        }
        for i in range(1, n + 1)
    ]


def _shown(items: Any) -> list[tuple[int, str, int]]:
    return [(i.message["seq"], i.message["envelope"], i.release) for i in items]


def A(kind: str, **params: Any) -> Attack:
    return Attack.parse({"kind": kind, **params})


def test_views_renumber_so_no_seq_gap_shows() -> None:
    assert _shown(thread_view(_thread(3), [], None)) == [(1, "E1", 1), (2, "E2", 2), (3, "E3", 3)]
    drop = [A("drop_message", case_id="c", seq=2)]
    assert _shown(thread_view(_thread(3), drop, None)) == [(1, "E1", 1), (2, "E3", 3)]
    withhold = [A("withhold_after", case_id="c", seq=1)]
    assert _shown(thread_view(_thread(3), withhold, None)) == [(1, "E1", 1)]


def test_reorder_swaps_content_and_releases_the_pair_together() -> None:
    swap = [A("reorder_messages", case_id="c", seq_a=1, seq_b=2)]
    assert _shown(thread_view(_thread(3), swap, None)) == [
        (1, "E2", 2),
        (2, "E1", 2),
        (3, "E3", 3),
    ]


def test_replay_and_inject_add_messages() -> None:
    replay = [A("replay_message", case_id="c", seq=1)]
    assert _shown(thread_view(_thread(2), replay, None)) == [
        (1, "E1", 1),
        (2, "E1", 1),
        (3, "E2", 2),
    ]
    inject = [A("inject_message", case_id="c", envelope="QUJD", after_seq=1, sender_id="x")]
    items = thread_view(_thread(2), inject, None)
    assert _shown(items) == [(1, "E1", 1), (2, "QUJD", 2), (3, "E2", 2)]
    assert items[1].message["sender_id"] == "x" and items[1].origin is None


def test_fork_hides_a_message_from_one_reader_only() -> None:
    fork = [A("fork", case_id="c", user_id="gp", seq=2)]
    assert [m[1] for m in _shown(thread_view(_thread(3), fork, "gp"))] == ["E1", "E3"]
    assert [m[1] for m in _shown(thread_view(_thread(3), fork, "derm"))] == ["E1", "E2", "E3"]


# ---------------------------------------------------------------------- against the real app


async def test_key_substitution_changes_the_directory_and_the_case(tmp_path: Path) -> None:
    async with live_server(tmp_path, app_hook=_install) as live:
        w = await make_world(live)
        gp = w.gp.client
        case_id = await gp.create_case(w.practice_id, w.service_id, HISTORY)
        evil, evil_sig, evil_records = (b64e(generate_key_pair().public_key) for _ in range(3))
        derm_id = w.derm.user_id
        status, _ = await attack(
            live,
            attacks=[
                {"kind": "substitute_encryption_key", "user_id": derm_id, "public_key": evil},
                {"kind": "substitute_signing_key", "user_id": derm_id, "public_key": evil_sig},
                {"kind": "swap_records_key", "org_id": w.practice_id, "public_key": evil_records},
            ],
        )
        assert status == 200
        directory = await gp.api.get(f"/api/v1/orgs/{w.service_id}/directory")
        (member,) = [m for m in directory["members"] if m["user_id"] == derm_id]
        assert (member["encryption_public_key"], member["signing_public_key"]) == (evil, evil_sig)
        detail = await gp.api.get(f"/api/v1/cases/{case_id}")
        (p,) = [p for p in detail["participants"] if p["user_id"] == derm_id]
        assert (p["encryption_public_key"], p["signing_public_key"]) == (evil, evil_sig)
        orgs = (await gp.api.get("/api/v1/orgs"))["organisations"]
        (practice,) = [o for o in orgs if o["org_id"] == w.practice_id]
        assert practice["records_public_key"] == evil_records
        # The GP's own entry is untouched, and reset restores the honest answers.
        (me,) = [p for p in detail["participants"] if p["user_id"] == w.gp.user_id]
        assert me["encryption_public_key"] != evil
        await reset(live)
        detail = await gp.api.get(f"/api/v1/cases/{case_id}")
        (p,) = [p for p in detail["participants"] if p["user_id"] == derm_id]
        assert p["encryption_public_key"] != evil


async def test_in_process_helper(tmp_path: Path) -> None:
    async with harnessed(tmp_path) as (live, harness):
        w = await make_world(live)
        case_id = await w.gp.client.create_case(w.practice_id, w.service_id, HISTORY)
        await w.gp.client.post_message(case_id, _text(), {"text": "two"})
        await harness.attack("drop_message", case_id=case_id, seq=1)
        assert len(await w.gp.client.messages(case_id)) == 1
        harness.reset()
        assert len(await w.gp.client.messages(case_id)) == 2


async def _thread_of(client: DermlineClient, case_id: str, after: int = 0) -> list[str]:
    return [m["client_msg_id"] for m in await client.messages(case_id, after_seq=after)]


async def test_message_attacks_over_http(tmp_path: Path) -> None:
    async with live_server(tmp_path, app_hook=_install) as live:
        w = await make_world(live)
        gp, derm = w.gp.client, w.derm.client
        case_id = await gp.create_case(w.practice_id, w.service_id, HISTORY)
        for text in ("two", "three"):
            await gp.post_message(case_id, _text(), {"text": text})
        honest = await _thread_of(gp, case_id)
        m1, m2, m3 = honest
        seqs = [m["seq"] for m in await gp.messages(case_id)]
        assert seqs == [1, 2, 3]

        await attack(live, kind="drop_message", case_id=case_id, seq=2)
        assert await _thread_of(gp, case_id) == [m1, m3]
        assert [m["seq"] for m in await gp.messages(case_id)] == [1, 2]
        assert await _thread_of(gp, case_id, after=1) == [m3]

        await attack(live, kind="reorder_messages", case_id=case_id, seq_a=2, seq_b=3)
        assert await _thread_of(gp, case_id) == [m1, m3, m2]

        await attack(live, kind="replay_message", case_id=case_id, seq=1)
        assert await _thread_of(gp, case_id) == [m1, m1, m2, m3]

        await attack(live, kind="withhold_after", case_id=case_id, seq=1)
        assert await _thread_of(gp, case_id) == [m1]
        # A new message is stored but withheld; its sender is told a seq that fits the view.
        assert await gp.post_message(case_id, _text(), {"text": "four"}) == 4
        assert await _thread_of(gp, case_id) == [m1]

        await attack(live, kind="fork", case_id=case_id, user_id=w.gp.user_id, seq=2)
        assert m2 not in await _thread_of(gp, case_id)
        assert m2 in await _thread_of(derm, case_id)

        envelope = b64e(b"\x01\x01\x0enot a record")
        status, body = await attack(live, kind="inject_message", case_id=case_id, envelope=envelope)
        assert status == 200 and body["attacks"][0]["after_seq"] == 4
        shown = await gp.messages(case_id)
        assert [m["envelope"] for m in shown][-1] == envelope
        assert [m["seq"] for m in shown] == [1, 2, 3, 4, 5]
        # Messages of other cases and unauthorised readers are not affected.
        await reset(live)
        assert len(await _thread_of(gp, case_id)) == 4


def _text() -> Any:
    from crypto.content import ContentType

    return ContentType.TEXT


async def test_message_attacks_over_socketio(tmp_path: Path) -> None:
    async with live_server(tmp_path, app_hook=_install) as live:
        w = await make_world(live)
        gp, derm = w.gp.client, w.derm.client
        case_id = await gp.create_case(w.practice_id, w.service_id, HISTORY)
        await derm.move(case_id, "claim")
        rt_gp, rt_derm = await gp.connect_realtime(), await derm.connect_realtime()
        await rt_gp.sync_case(case_id)
        await rt_derm.sync_case(case_id)
        first = await rt_gp.messages.get()
        assert first["seq"] == 1 and (await rt_derm.messages.get())["seq"] == 1

        # The GP's next message is hidden from the dermatologist only (a fork), live.
        await attack(live, kind="fork", case_id=case_id, user_id=w.derm.user_id, seq=2)
        assert await gp.send_text(case_id, "for the GP's eyes") == 2
        mine = await asyncio.wait_for(rt_gp.messages.get(), 10)
        assert mine["seq"] == 2
        await gp.send_text(case_id, "after the fork")
        got = await asyncio.wait_for(rt_derm.messages.get(), 10)
        # The dermatologist receives message 3 as their seq 2: no gap to notice.
        assert got["seq"] == 2 and got["client_msg_id"] != mine["client_msg_id"]
        assert (await asyncio.wait_for(rt_gp.messages.get(), 10))["seq"] == 3

        # Sync answers the same view.
        answer = await rt_derm.sio.call("sync", {"cases": {case_id: 0}})
        assert [m["seq"] for m in answer["cases"][case_id]["messages"]] == [1, 2]
        answer = await rt_gp.sio.call("sync", {"cases": {case_id: 1}})
        assert [m["seq"] for m in answer["cases"][case_id]["messages"]] == [2, 3]


# ---------------------------------------------------------------------- the transparency log


async def _head(c: DermlineClient) -> tuple[TreeHead, bytes]:
    answer = await c.api.get("/api/v1/transparency/head")
    key = b64d(answer["log_public_key"])
    return verify_tree_head(b64d(answer["tree_head"]), key), key


async def _grow(live: Live, w: Any, name: str) -> None:
    """A directory change (a new member: its log entry)."""
    await live.person(
        await w.admin.client.invite(w.service_id, "dermatologist"), f"{name}@x.org", name
    )


async def test_stale_head_holds_the_head_of_when_it_was_set(tmp_path: Path) -> None:
    async with harnessed(tmp_path) as (live, harness):
        w = await make_world(live)
        before, _ = await _head(w.gp.client)
        await harness.attack("stale_head")
        await _grow(live, w, "late")
        held, _ = await _head(w.gp.client)
        assert held.record == before.record
        directory = await w.gp.client.api.get(f"/api/v1/orgs/{w.service_id}/directory")
        assert b64d(directory["tree_head"]) == before.record
        harness.reset()
        now, _ = await _head(w.gp.client)
        assert now.tree_size > before.tree_size


async def test_rewrite_log_serves_a_signed_head_over_another_history(tmp_path: Path) -> None:
    async with harnessed(tmp_path) as (live, harness):
        w = await make_world(live)
        pinned, log_key = await _head(w.gp.client)
        await _grow(live, w, "late")
        await harness.attack("rewrite_log", index=0)
        forged, _ = await _head(w.gp.client)  # verifies: signed with the log's real key
        assert forged.tree_size > pinned.tree_size
        # Self-consistent: the entries it serves hash to the forged root ...
        page = await w.gp.client.api.get(
            "/api/v1/transparency/entries", start=0, end=forged.tree_size
        )
        leaves = [merkle.leaf_hash(b64d(e["entry"])) for e in page["entries"]]
        assert merkle.root_hash(leaves) == forged.root_hash
        # ... but no consistency proof links the pinned head to it.
        proof = await w.gp.client.api.get(
            "/api/v1/transparency/consistency", **{"from": pinned.tree_size, "to": forged.tree_size}
        )
        with pytest.raises(CryptoError):
            verify_tree_head_extends(pinned, forged, [b64d(h) for h in proof["proof"]])
        harness.reset()
        honest, _ = await _head(w.gp.client)
        proof = await w.gp.client.api.get(
            "/api/v1/transparency/consistency", **{"from": pinned.tree_size, "to": honest.tree_size}
        )
        verify_tree_head_extends(pinned, honest, [b64d(h) for h in proof["proof"]])
        assert log_key


async def test_replace_org_key_names_the_attackers_statement(tmp_path: Path) -> None:
    async with harnessed(tmp_path) as (live, harness):
        w = await make_world(live)
        evil = generate_key_pair()
        statement = make_organisation_key_statement(
            org_id=uuid.UUID(w.practice_id),
            org_kind=OrganisationKind.PRACTICE,
            name="Elm Surgery",
            org_key=evil,
            issued_at_ms=1_700_000_000_000,
        )
        await harness.attack("replace_org_key", org_id=w.practice_id, statement=b64e(statement))
        directory = await w.gp.client.api.get(f"/api/v1/orgs/{w.practice_id}/directory")
        entry = parse_log_entry(b64d(directory["org"]["org_key"]["entry"]))
        assert isinstance(entry, StatementEntry) and entry.statement.record == statement
        assert directory["org"]["org_key_id"] == key_id(evil.public_key).hex()


async def test_hide_removal_keeps_quiet_about_a_disabled_account(tmp_path: Path) -> None:
    async with harnessed(tmp_path) as (live, harness):
        w = await make_world(live)
        gp, derm_id = w.gp.client, w.derm.user_id
        case_id = await gp.create_case(w.practice_id, w.service_id, HISTORY)
        await w.admin.client.api.post(f"/api/v1/users/{derm_id}/disable")

        def removed_in(directory: dict[str, Any]) -> bool:
            for ref in directory["removals"]:
                entry = parse_log_entry(b64d(ref["entry"]))
                if isinstance(entry, RemovalEntry) and str(entry.user_id) == derm_id:
                    return True
            return False

        honest = await gp.api.get(f"/api/v1/orgs/{w.service_id}/directory")
        assert removed_in(honest)
        assert (await gp.api.get(f"/api/v1/cases/{case_id}"))["rotation"] is not None
        await harness.attack("hide_removal", user_id=derm_id)
        assert not removed_in(await gp.api.get(f"/api/v1/orgs/{w.service_id}/directory"))
        detail = await gp.api.get(f"/api/v1/cases/{case_id}")
        assert detail["rotation"] is None and detail["removed"] == []
        assert derm_id in [p["user_id"] for p in detail["participants"]]
        # The log itself still holds the removal: that is how a client finds out.
        head, _ = await _head(gp)
        page = await gp.api.get("/api/v1/transparency/entries", start=0, end=head.tree_size)
        entries = [parse_log_entry(b64d(e["entry"])) for e in page["entries"]]
        assert any(isinstance(e, RemovalEntry) and str(e.user_id) == derm_id for e in entries)
