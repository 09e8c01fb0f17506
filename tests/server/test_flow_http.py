"""The whole case flow over HTTP with the Python client, on SQLite, with real crypto.

The rules of each step (headers of envelopes, drafts, outcome payloads, wraps) are tested
on the case service itself (``tests/server/domain/test_cases.py``)."""

from pathlib import Path

import pytest

from client_py.api import ApiError
from crypto.content import ContentType
from tests.samples import HISTORY
from tests.server.harness import BACKENDS, live_server, make_world


@pytest.mark.parametrize("backend", BACKENDS)
async def test_case_flow_over_http(tmp_path: Path, backend: str) -> None:
    async with live_server(tmp_path, backend) as live:
        w = await make_world(live)
        gp, derm = w.gp.client, w.derm.client
        case_id = await gp.create_case(w.practice_id, w.service_id, HISTORY, priority="urgent")

        queue = await derm.queue(w.service_id)
        assert [c["case_id"] for c in queue] == [case_id]
        assert queue[0]["state"] == "submitted" and queue[0]["priority"] == "urgent"

        # The dermatologist decrypts the history: the case key was wrapped to them.
        msgs = await derm.messages(case_id)
        ctype, body = await derm.open(msgs[0])
        assert ctype is ContentType.CLINICAL_HISTORY
        assert body["question"] == HISTORY["question"]

        # A send is idempotent by its id: the retry answers 200 with the same seq.
        msg_id, envelope = await gp.seal(case_id, ContentType.TEXT, {"text": "hello"})
        body = {"client_msg_id": msg_id, "envelope": envelope}
        first = await gp.api.post(f"/api/v1/cases/{case_id}/messages", body)
        again = await gp.api.post(f"/api/v1/cases/{case_id}/messages", body)
        assert (first, again) == ({"seq": 2, "duplicate": False}, {"seq": 2, "duplicate": True})

        claimed = await derm.move(case_id, "claim")
        assert claimed["state"] == "in_review" and claimed["claimed_by"] == w.derm.user_id
        asked = await derm.move(case_id, "ask", ContentType.QUESTION, {"text": "How big is it?"})
        assert asked["state"] == "awaiting_gp" and asked["last_seq"] == 3
        answered = await gp.move(case_id, "answer", ContentType.TEXT, {"text": "6 mm"})
        assert answered["state"] == "in_review"

        closed = await derm.close_case(
            case_id, "advice_and_guidance", "Emollients; re-refer if it bleeds again"
        )
        assert closed["state"] == "closed"
        assert closed["outcome_category"] == "advice_and_guidance"
        coded, content = await gp.outcome(case_id)
        assert coded["category"] == "advice_and_guidance"
        assert content["summary"].startswith("Emollients")

        # The whole thread decrypts, in order, for the GP.
        texts = [(await gp.open(m))[0] for m in await gp.messages(case_id)]
        assert texts == [
            ContentType.CLINICAL_HISTORY,
            ContentType.TEXT,
            ContentType.QUESTION,
            ContentType.TEXT,
        ]

        # Closed: no more messages, no second close.
        with pytest.raises(ApiError) as err:
            await gp.post_message(case_id, ContentType.TEXT, {"text": "late"})
        assert err.value.status == 409 and err.value.code == "invalid_transition"
        with pytest.raises(ApiError) as err:
            await derm.close_case(case_id, "advice_and_guidance", "again")
        assert err.value.status == 409

        actions = [e.event.action for e in await live.store.list_audit()]
        for expected in (
            "case.create",
            "case.claim",
            "case.ask",
            "case.answer",
            "case.close",
            "message.post",
            "login.ok",
            "totp.enrolled",
            "invite.accept",
        ):
            assert expected in actions


async def test_image_rejection_then_resubmit_into_the_same_case(tmp_path: Path) -> None:
    async with live_server(tmp_path) as live:
        w = await make_world(live)
        gp, derm = w.gp.client, w.derm.client
        case_id = await gp.create_case(w.practice_id, w.service_id, HISTORY)
        await derm.move(case_id, "claim")
        with pytest.raises(ApiError) as err:  # a rejection needs reason codes
            await derm.close_case(case_id, "image_rejected", "retake please")
        assert err.value.status == 422
        await derm.close_case(
            case_id, "image_rejected", "retake in daylight", reasons=["poor_lighting", "too_far"]
        )
        coded, _ = await gp.outcome(case_id)
        assert coded["reasons"] == ["poor_lighting", "too_far"]
        assert coded["urgency"] is None
        resubmitted = await gp.move(case_id, "resubmit")
        assert resubmitted["state"] == "submitted"
        assert [c["case_id"] for c in await derm.queue(w.service_id)] == [case_id]
        await derm.move(case_id, "claim")
        await derm.close_case(
            case_id,
            "referral",
            "two-week-wait: suspicious pigmented lesion",
            urgency="two_week_wait",
            destination="dermatology_clinic",
        )
        coded, content = await gp.outcome(case_id)
        assert (coded["category"], coded["urgency"], coded["destination"]) == (
            "referral",
            "two_week_wait",
            "dermatology_clinic",
        )
        assert content["category"] == "referral"
        # Only an image rejection can be resubmitted.
        with pytest.raises(ApiError) as err:
            await gp.move(case_id, "resubmit")
        assert err.value.status == 409
