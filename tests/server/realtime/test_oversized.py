"""Socket.IO packets over the size cap (``DERMLINE_MAX_BODY_BYTES``).

* An event up to four times the cap that carries an acknowledgement id is answered
  ``payload_too_large`` and dropped; the socket stays open.
* A frame over four times the cap cannot be read: the server closes the WebSocket (close
  code 1009, message too big), as documented in docs/api.md.
* The Python client refuses to send an event over the cap (``payload_too_large``) at once,
  instead of retrying a send that can never be acknowledged.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from pathlib import Path

import aiohttp
import pytest

from client_py.realtime import RealtimeError
from tests.samples import HISTORY
from tests.server.harness import ORIGIN, live_server, make_world
from tests.server.logcapture import captured_log

CAP = 64 * 1024


async def test_an_oversized_event_is_answered_and_the_socket_stays(tmp_path: Path) -> None:
    with captured_log() as log:
        async with live_server(tmp_path, max_body_bytes=CAP) as live:
            w = await make_world(live)
            case_id = await w.gp.client.create_case(w.practice_id, w.service_id, HISTORY)
            rt = await w.gp.client.connect_realtime()
            payload = {
                "case_id": case_id,
                "client_msg_id": str(uuid.uuid4()),
                "envelope": "A" * (CAP + 1),
            }
            for event in ("send", "no_such_event"):
                answer = await rt.sio.call(event, payload, timeout=10)
                assert answer["ok"] is False
                assert answer["error"]["code"] == "payload_too_large"
            # Still connected, never reconnected, and the next event is served.
            assert rt.connect_count == 1 and rt.sio.connected
            seq = await w.gp.client.send_text(case_id, "after the refusal")
            assert seq == 2
            # Without an acknowledgement id there is nobody to answer: dropped, still open.
            await rt.sio.emit("send", payload)
            assert (await rt.call("join", {"case_id": case_id}))["ok"] is True
            assert rt.connect_count == 1
    assert log.events(logging.WARNING) == []
    assert [f["reason"] for f in log.fields("realtime.oversized")] == ["ack", "ack", "no_ack"]


async def test_a_frame_beyond_what_the_transport_reads_closes_the_websocket(
    tmp_path: Path,
) -> None:
    with captured_log() as log:
        async with (
            live_server(tmp_path, max_body_bytes=CAP) as live,
            aiohttp.ClientSession() as http,
        ):
            w = await make_world(live)
            async with http.ws_connect(
                live.url + "/socket.io/?EIO=4&transport=websocket",
                headers={"Origin": ORIGIN, "Cookie": w.gp.client.api.cookie_header()},
            ) as ws:
                assert str((await ws.receive(timeout=10)).data).startswith("0{")
                await ws.send_str("40")
                assert str((await ws.receive(timeout=10)).data).startswith("40{")
                await ws.send_str('421["send",{"envelope":"' + "A" * (4 * CAP) + '"}]')
                async with asyncio.timeout(10):
                    while (msg := await ws.receive()).type is aiohttp.WSMsgType.TEXT:
                        pass  # a ping, perhaps
                assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
                assert ws.close_code == 1009
    assert log.events(logging.WARNING) == []
    assert [f["reason"] for f in log.fields("realtime.oversized")] == ["transport"]


async def test_the_python_client_does_not_retry_an_event_over_the_cap(tmp_path: Path) -> None:
    async with live_server(tmp_path) as live:
        w = await make_world(live)
        case_id = await w.gp.client.create_case(w.practice_id, w.service_id, HISTORY)
        rt = await w.gp.client.connect_realtime()
        envelope = "A" * (live.settings.max_body_bytes * 5)  # beyond what the server reads
        with pytest.raises(RealtimeError) as err:
            await asyncio.wait_for(rt.send(case_id, str(uuid.uuid4()), envelope), 10)
        assert err.value.code == "payload_too_large"
        with pytest.raises(RealtimeError) as err:
            await asyncio.wait_for(rt.call("send", {"envelope": envelope}), 10)
        assert err.value.code == "payload_too_large"
        # Nothing was sent: the connection never dropped.
        assert rt.connect_count == 1 and rt.sio.connected
        assert await w.gp.client.send_text(case_id, "small") == 2
