"""The server binds the case key wraps of a new case to one case key (docs/protocol.md
section 8): every wrap is a committed wrap (type 0x0b) and all carry the same commitment.

The GP's real client makes the case; a hook rewrites its request on the way out, the way a
malicious or buggy client would, with wraps still signed by the GP's own key. Every refusal
rule is tested on the case service (``tests/server/domain/test_cases.py``); here, one
refusal shows its HTTP answer.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from client_py.api import ApiError, b64d, b64e
from client_py.client import DermlineClient
from crypto import case_key
from crypto.errors import CaseKeyUnwrapError
from tests.samples import HISTORY
from tests.server.harness import World, live_server, make_world
from tools.gen_vectors import _forge_committed_wrap

Rewrite = Callable[[dict[str, Any], dict[str, Any]], None]


def hook(client: DermlineClient, rewrite: Rewrite) -> None:
    """Let ``rewrite(body, wrap)`` change each case key wrap of the next case created."""
    original = client.api.post

    async def post(path: str, body: object = None) -> object:
        if path == "/api/v1/cases" and isinstance(body, dict):
            for wrap in body["case_keys"]:
                rewrite(body, wrap)
        return await original(path, body)

    client.api.post = post  # type: ignore[method-assign]


def records_wrap_of(w: World, make: Callable[[uuid.UUID], bytes]) -> Rewrite:
    def rewrite(body: dict[str, Any], wrap: dict[str, Any]) -> None:
        if wrap["recipient_kind"] == "organisation":
            wrap["wrapped_key"] = b64e(make(uuid.UUID(body["case_id"])))

    return rewrite


async def test_a_correct_case_is_accepted_and_every_wrap_commits_to_one_key(
    tmp_path: Path,
) -> None:
    async with live_server(tmp_path) as live:
        w = await make_world(live)
        gp, derm = w.gp.client, w.derm.client
        case_id = await gp.create_case(w.practice_id, w.service_id, HISTORY)
        stored = await live.store.get_case_keys(case_id)
        headers = [case_key.parse_case_key_wrap_header(k.wrapped_key) for k in stored]
        assert len(headers) == 3  # GP, dermatologist, records key
        assert all(k.wrapped_key[:3] == b"\x01\x01\x0b" for k in stored)
        assert len({h.commitment for h in headers}) == 1
        # The records officer's copy opens to the key the participants use.
        org = next(k for k in stored if k.recipient_kind.value == "organisation")
        assert gp.identity is not None
        records_ck = case_key.open_case_key_wrap(
            org.wrapped_key,
            case_id=uuid.UUID(case_id),
            epoch=0,
            recipient=w.records_key,
            wrapper_signing_public_key=gp.identity.signing.public_key,
            wrapper_user_id=uuid.UUID(w.gp.user_id),
        )
        assert records_ck == await derm.case_key(case_id)
        _, body = await derm.open((await derm.messages(case_id))[0])
        assert body["question"] == HISTORY["question"]


async def test_a_records_wrap_of_another_key_is_refused(tmp_path: Path) -> None:
    async with live_server(tmp_path) as live:
        w = await make_world(live)
        gp = w.gp.client
        assert gp.identity is not None
        me = gp.identity

        def other_key(case: uuid.UUID) -> bytes:
            # Properly made and signed by the GP, but of another case key: its commitment
            # differs from the participants' wraps.
            return case_key.wrap_case_key(
                case_key.generate_case_key(),
                case_id=case,
                epoch=0,
                recipient_public_key=w.records_key.public_key,
                wrapper_user_id=uuid.UUID(me.user_id),
                wrapper_signing_key=me.signing,
            )

        hook(gp, records_wrap_of(w, other_key))
        with pytest.raises(ApiError) as err:
            await gp.create_case(w.practice_id, w.service_id, HISTORY)
        assert (err.value.status, err.value.code) == (422, "case_key_mismatch")
        assert await gp.my_cases() == []


async def test_a_wrong_key_under_the_right_commitment_is_caught_by_the_opener(
    tmp_path: Path,
) -> None:
    # The limit of what the server can check (docs/protocol.md section 8): a wrap with the
    # right commitment but another key inside looks like every other wrap to the server. The
    # records officer's opener refuses it instead of reading a different case.
    async with live_server(tmp_path) as live:
        w = await make_world(live)
        gp = w.gp.client
        assert gp.identity is not None
        me = gp.identity
        committed: dict[str, bytes] = {}

        def forge(body: dict[str, Any], wrap: dict[str, Any]) -> None:
            header = case_key.parse_case_key_wrap_header(b64d(wrap["wrapped_key"]))
            assert header.commitment is not None
            committed["c"] = header.commitment
            if wrap["recipient_kind"] == "organisation":
                wrap["wrapped_key"] = b64e(
                    _forge_committed_wrap(
                        case_key.generate_case_key(),
                        header.commitment,
                        case_id=uuid.UUID(body["case_id"]),
                        epoch=0,
                        recipient=w.records_key,
                        wrapper_user_id=uuid.UUID(me.user_id),
                        wrapper=me.signing,
                        ikm_e=bytes(32),
                    )
                )

        hook(gp, forge)
        case_id = await gp.create_case(w.practice_id, w.service_id, HISTORY)
        stored = await live.store.get_case_keys(case_id)
        org = next(k for k in stored if k.recipient_kind.value == "organisation")
        assert case_key.parse_case_key_wrap_header(org.wrapped_key).commitment == committed["c"]
        with pytest.raises(CaseKeyUnwrapError):
            case_key.open_case_key_wrap(
                org.wrapped_key,
                case_id=uuid.UUID(case_id),
                epoch=0,
                recipient=w.records_key,
                wrapper_signing_public_key=me.signing.public_key,
                wrapper_user_id=uuid.UUID(me.user_id),
            )


async def test_the_python_client_checks_its_cached_key_against_the_commitment(
    tmp_path: Path,
) -> None:
    async with live_server(tmp_path) as live:
        w = await make_world(live)
        gp, derm = w.gp.client, w.derm.client
        case_id = await gp.create_case(w.practice_id, w.service_id, HISTORY)
        ck = await derm.case_key(case_id)  # unwrapped: the commitment is kept with it
        assert await derm.case_key(case_id) == ck
        for client in (gp, derm):
            client._case_keys[(case_id, 0)] = case_key.generate_case_key()
            with pytest.raises(CaseKeyUnwrapError):
                await client.case_key(case_id)
