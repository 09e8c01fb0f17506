"""Socket.IO: authentication, origins, queue and case rooms, delivery, typing, receipts."""

import asyncio
from pathlib import Path

import pytest
import socketio

from client_py.realtime import RealtimeClient, RealtimeError
from crypto.content import ContentType
from tests.samples import HISTORY
from tests.server.harness import BACKENDS, live_server, make_world


async def next_event(q: asyncio.Queue) -> dict:
    return await asyncio.wait_for(q.get(), 5.0)


async def test_queue_claim_messages_typing_receipts(tmp_path: Path) -> None:
    async with live_server(tmp_path) as live:
        w = await make_world(live)
        gp, derm = w.gp.client, w.derm.client
        derm_rt = await derm.connect_realtime()
        gp_rt = await gp.connect_realtime()

        case_id = await gp.create_case(w.practice_id, w.service_id, HISTORY)
        appeared = await next_event(derm_rt.queue_events)
        assert appeared["case_id"] == case_id and appeared["state"] == "submitted"
        assert "name" not in appeared and "CANARY" not in str(appeared)

        await derm.move(case_id, "claim")
        joined = (await derm_rt.call("join", {"case_id": case_id}))["case"]
        # One set of wire shapes: the case event, the join answer and a sync entry carry
        # every field of the HTTP case (same values, same encodings), plus the outcome's
        # coded part and nothing else.
        event = await next_event(gp_rt.case_events)
        while event["state"] != "in_review":
            event = await next_event(gp_rt.case_events)
        http = (await gp.api.get(f"/api/v1/cases/{case_id}"))["case"]
        assert {"created_by", "created_at", "key_epoch"} <= set(http)
        synced = (await gp_rt.call("sync", {"cases": {case_id: 0}}))["cases"][case_id]["case"]
        for live_case in (event, joined, synced):
            assert set(live_case) == set(http) | {"outcome"}
            assert {k: live_case[k] for k in http} == http
            assert live_case["outcome"] is None
        seq = await derm.send_text(case_id, "Hello from the service")
        assert seq == 2
        got = await next_event(gp_rt.messages)
        if got["seq"] == 1:  # the history may arrive first through the sync
            got = await next_event(gp_rt.messages)
        assert got["seq"] == 2
        ctype, body = await gp.open(got)
        assert (ctype, body["text"]) == (ContentType.TEXT, "Hello from the service")

        await gp_rt.call("typing", {"case_id": case_id})
        typing = await next_event(derm_rt.typing_events)
        assert typing == {"case_id": case_id, "user_id": w.gp.user_id}
        await gp_rt.call("receipt", {"case_id": case_id, "kind": "read", "seq": 2})
        receipt = await next_event(derm_rt.receipt_events)
        assert receipt["seq"] == 2 and receipt["user_id"] == w.gp.user_id
        stored = await live.store.list_receipts(case_id)
        assert [(r.user_id, r.kind.value, r.seq) for r in stored] == [(w.gp.user_id, "read", 2)]
        with pytest.raises(RealtimeError) as err:
            await gp_rt.call("receipt", {"case_id": case_id, "kind": "read", "seq": 99})
        assert err.value.code == "validation_failed"


async def test_every_event_is_authorised(tmp_path: Path) -> None:
    async with live_server(tmp_path) as live:
        w = await make_world(live)
        case_id = await w.gp.client.create_case(w.practice_id, w.service_id, HISTORY)
        # A GP of another practice: the case answers not_found, like a missing one.
        other = await w.admin.client.create_organisation("practice", "Oak Surgery")
        stranger = await live.person(
            await w.admin.client.invite(other["org_id"], "gp"), "x@example.org", "Dr X"
        )
        rt = await stranger.client.connect_realtime()
        for event, data in (
            ("join", {"case_id": case_id}),
            ("typing", {"case_id": case_id}),
            ("receipt", {"case_id": case_id, "kind": "read", "seq": 1}),
            ("join", {"case_id": "00000000-0000-4000-8000-000000000000"}),
        ):
            with pytest.raises(RealtimeError) as err:
                await rt.call(event, data)
            assert err.value.code == "not_found"
        msg_id, env = await w.gp.client.seal(case_id, ContentType.TEXT, {"text": "x"})
        with pytest.raises(RealtimeError) as err:
            await rt.call("send", {"case_id": case_id, "client_msg_id": msg_id, "envelope": env})
        assert err.value.code == "not_found"
        # The dermatologist may not post before claiming.
        derm_rt = await w.derm.client.connect_realtime()
        msg_id, env = await w.derm.client.seal(case_id, ContentType.TEXT, {"text": "x"})
        with pytest.raises(RealtimeError) as err:
            await derm_rt.call(
                "send", {"case_id": case_id, "client_msg_id": msg_id, "envelope": env}
            )
        assert err.value.code == "forbidden"
        with pytest.raises(RealtimeError) as err:
            await derm_rt.call("send", {"case_id": case_id})
        assert err.value.code == "validation_failed"


async def test_connect_needs_a_session_and_an_allowed_origin(tmp_path: Path) -> None:
    async with live_server(tmp_path) as live:
        w = await make_world(live)
        anonymous = RealtimeClient(live.url, lambda: "")
        with pytest.raises(socketio.exceptions.ConnectionError):
            await anonymous.connect()
        forged = RealtimeClient(live.url, lambda: "dermline_session=forged")
        with pytest.raises(socketio.exceptions.ConnectionError):
            await forged.connect()
        # A page on another origin, even with the victim's cookie, cannot connect.
        evil = RealtimeClient(
            live.url, w.gp.client.api.cookie_header, origin="https://evil.example"
        )
        with pytest.raises(socketio.exceptions.ConnectionError):
            await evil.connect()
        good = RealtimeClient(
            live.url, w.gp.client.api.cookie_header, origin="http://dermline.test"
        )
        await good.connect()
        await good.disconnect()
        for c in (anonymous, forged, evil):
            # A refused connection leaves no aiohttp session open behind it.
            assert c.sio.eio.http is None


@pytest.mark.parametrize("backend", BACKENDS)
async def test_replay_after_reconnect_is_exactly_once(tmp_path: Path, backend: str) -> None:
    async with live_server(tmp_path, backend) as live:
        w = await make_world(live)
        gp, derm = w.gp.client, w.derm.client
        case_id = await gp.create_case(w.practice_id, w.service_id, HISTORY)
        await derm.move(case_id, "claim")
        gp_rt = await gp.connect_realtime()
        derm_rt = await derm.connect_realtime()
        await derm_rt.call("join", {"case_id": case_id})
        # The GP goes away; the dermatologist keeps writing.
        await gp_rt.sio.disconnect()
        for i in range(20):
            await derm.send_text(case_id, f"message {i}")
        await gp_rt.connect()
        seqs = []
        while len(seqs) < 21:
            seqs.append((await next_event(gp_rt.messages))["seq"])
        assert seqs == list(range(1, 22))
        await asyncio.sleep(0.2)
        assert gp_rt.messages.empty()


async def test_logout_closes_the_users_sockets_at_once(tmp_path: Path) -> None:
    async with live_server(tmp_path) as live:
        w = await make_world(live)
        second = await live.relogin(w.gp)  # another session of the same person stays
        rt_gone = await w.gp.client.connect_realtime()
        rt_kept = await second.connect_realtime()
        await w.gp.client.logout()
        await asyncio.wait_for(rt_gone.disconnected.wait(), timeout=5)
        assert rt_kept.connected.is_set()
        assert (await rt_kept.call("sync", {}))["ok"]
        # The closed socket's reconnection attempts are refused (no valid session).
        await asyncio.sleep(1.0)
        assert not rt_gone.connected.is_set()
        await rt_gone.disconnect()


async def test_sync_is_bounded(tmp_path: Path) -> None:
    async with live_server(tmp_path) as live:
        w = await make_world(live)
        rt = await w.gp.client.connect_realtime()
        too_many = {f"00000000-0000-4000-8000-{i:012d}": 0 for i in range(501)}
        for data in ({"cases": too_many}, {"cases": {"x": -1}}, {"limit": 0}):
            with pytest.raises(RealtimeError) as err:
                await rt.call("sync", data)
            assert err.value.code == "validation_failed"


async def test_no_echo_to_the_sending_socket(tmp_path: Path) -> None:
    """A message sent over a socket is not sent back to that socket (its acknowledgement
    carries it), while the sender's other device and the other party get it live; the
    sender's client still shows it, once, in order."""
    async with live_server(tmp_path) as live:
        w = await make_world(live)
        gp, derm = w.gp.client, w.derm.client
        case_id = await gp.create_case(w.practice_id, w.service_id, HISTORY)
        await derm.move(case_id, "claim")
        gp_rt = await gp.connect_realtime()
        derm_rt = await derm.connect_realtime()
        # The dermatologist's second device: same person, its own socket.
        tablet = RealtimeClient(live.url, derm.api.cookie_header, origin=derm._origin)
        await tablet.connect()
        try:
            for rt in (gp_rt, derm_rt, tablet):
                await rt.call("join", {"case_id": case_id})
            raw: dict[str, list[int]] = {"gp": [], "derm": [], "tablet": []}
            for name, rt in (("gp", gp_rt), ("derm", derm_rt), ("tablet", tablet)):
                deliver = rt.sio.handlers["/"]["message"]

                async def counted(data: dict, name: str = name, deliver=deliver) -> None:
                    raw[name].append(int(data["seq"]))
                    await deliver(data)

                rt.sio.on("message", counted)
            seqs = [await derm.send_text(case_id, f"note {i}") for i in range(3)]
            assert seqs == [2, 3, 4]
            async with asyncio.timeout(5):
                while len(raw["gp"]) < 3 or len(raw["tablet"]) < 3:  # noqa: ASYNC110
                    await asyncio.sleep(0.02)
            await asyncio.sleep(0.3)  # room for a late echo to show up
            assert raw == {"gp": seqs, "derm": [], "tablet": seqs}
            # The sending client shows its own messages from the acknowledgements, once.
            shown = []
            while not derm_rt.messages.empty():
                shown.append(derm_rt.messages.get_nowait()["seq"])
            assert shown == [1, 2, 3, 4]  # the history (sync on connect), then its notes
        finally:
            await tablet.disconnect()
