"""Schemathesis against a live server: every answer the server gives to generated requests
(valid and invalid ones, signed out and signed in) is one the OpenAPI document names, with
the documented content type, headers and body schema, and never a server error.

Response conformance only (``not_a_server_error``, ``status_code_conformance``,
``content_type_conformance``, ``response_headers_conformance``,
``response_schema_conformance``): the document and the server cannot drift apart.
Bounded and deterministic: a fixed number of examples per operation, generation
derandomized (the same requests every run), no per-example deadline.

The server is the one of ``tests/server/harness.py`` (real SQLite storage, a seeded practice,
service, admin, GP and dermatologist, and a case) in a thread of its own, because
schemathesis calls it with a blocking HTTP client.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.core.failures import FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from client_py.client import DermlineClient
from crypto.content import ContentType
from server.api.middleware import CSRF_HEADER, SESSION_COOKIE
from tests.samples import HISTORY
from tests.server.harness import Live, Person, live_server, make_world

json = "application/json"
#: Examples per operation, identity and generation mode.
EXAMPLES = 4
#: Signing out would end the session the signed-in pass runs on; it is covered signed out.
SIGNED_IN_SKIPS = {("POST", "/api/v1/auth/logout")}


def _checks() -> list[Any]:
    return [
        schemathesis.checks.not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
    ]


@dataclass
class _Identity:
    name: str
    cookies: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    #: real ids for path parameters (a case the GP made, its organisations); else generated
    path_ids: dict[str, str] = field(default_factory=dict)


class _Server:
    """The harness's live server and world, served from a thread with its own event loop."""

    def __init__(self, data_dir: Path) -> None:
        self._data_dir = data_dir
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._ready: Future[tuple[Live, Any, str, dict[str, str]]] = Future()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())
        self._loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        try:
            async with live_server(self._data_dir) as live:
                world = await make_world(live)
                case_id = await world.gp.client.create_case(
                    world.practice_id, world.service_id, HISTORY
                )
                # A second case, which the generated requests never name (they may withdraw
                # the first one), for the message sent twice.
                quiet = await world.gp.client.create_case(
                    world.practice_id, world.service_id, HISTORY
                )
                msg_id, envelope = await world.gp.client.seal(
                    quiet, ContentType.TEXT, {"text": "sent twice"}
                )
                message = {"case_id": quiet, "client_msg_id": msg_id, "envelope": envelope}
                self._ready.set_result((live, world, case_id, message))
                await self._stop.wait()
        except BaseException as exc:
            if not self._ready.done():
                self._ready.set_exception(exc)
            raise

    def start(self) -> tuple[Live, Any, str, dict[str, str]]:
        self._thread.start()
        return self._ready.result(timeout=120)

    def stop(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=60)


def _signed_in(client: DermlineClient) -> tuple[dict[str, str], dict[str, str]]:
    token = client.api.session_token or ""
    return {SESSION_COOKIE: token}, {CSRF_HEADER: client.api.csrf_token or ""}


@dataclass
class _Served:
    url: str
    identities: list[_Identity]
    #: the GP's signed-in identity with real ids, and a sealed message for another case
    #: ("case_id", "client_msg_id", "envelope")
    gp: _Identity
    message: dict[str, str]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Served]:
    server = _Server(tmp_path_factory.mktemp("schemathesis"))
    live, world, case_id, message = server.start()
    try:
        gp: Person = world.gp
        admin: Person = world.admin
        gp_cookies, gp_headers = _signed_in(gp.client)
        admin_cookies, admin_headers = _signed_in(admin.client)
        ids = {
            "case_id": case_id,
            "org_id": world.practice_id,
            "service_id": world.service_id,
            "user_id": gp.user_id,
        }
        identities = [
            _Identity("signed out"),
            _Identity("gp", gp_cookies, gp_headers),
            _Identity("gp, own ids", gp_cookies, gp_headers, ids),
            _Identity("admin", admin_cookies, admin_headers),
        ]
        yield _Served(live.url, identities, identities[2], message)
    finally:
        server.stop()


def _schema(url: str) -> Any:
    document = requests.get(url + "/api/v1/openapi.json", timeout=30).json()
    return schemathesis.openapi.from_dict(document)


def _operations(url: str) -> list[Any]:
    return [result.ok() for result in _schema(url).get_all_operations()]


def _exercise(
    url: str,
    http: requests.Session,
    identity: _Identity,
    operation: Any,
    mode: GenerationMode,
    path_ids: dict[str, str],
    failures: list[str],
) -> None:
    """Send ``EXAMPLES`` generated requests for one operation; record each non-conformance."""
    strategy = operation.as_strategy(mode, path_parameters=path_ids or None)

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        response = case.call(
            base_url=url,
            session=http,
            headers=dict(identity.headers),
            cookies=dict(identity.cookies),
            timeout=30,
        )
        http.cookies.clear()  # what the server set (a pending session) must not carry over
        try:
            case.validate_response(response, checks=_checks())
        except FailureGroup as group:  # every failure is collected, then reported together
            for failure in group.exceptions:
                failures.append(
                    f"{identity.name} {mode.value} {operation.method.upper()} "
                    f"{operation.path} -> {response.status_code}: {failure.title}"
                )

    try:
        run()
    except Unsatisfiable:
        # Nothing of this operation can be made invalid (no parameters, no body).
        assert mode is GenerationMode.NEGATIVE, operation.path


def test_every_answer_to_generated_requests_is_documented(served: _Served) -> None:
    url, identities = served.url, served.identities
    operations = _operations(url)
    assert len(operations) >= 45
    failures: list[str] = []
    http = requests.Session()
    for identity in identities:
        for operation in operations:
            if identity.cookies and (operation.method.upper(), operation.path) in SIGNED_IN_SKIPS:
                continue
            wanted = {
                name: value
                for name, value in identity.path_ids.items()
                if f"{{{name}}}" in operation.path
            }
            if identity.path_ids and not wanted:
                continue  # the same requests as the identity without ids
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                _exercise(url, http, identity, operation, mode, wanted, failures)
    if failures:
        pytest.fail("answers the document does not name:\n" + "\n".join(sorted(set(failures))))


def test_answers_that_generation_does_not_reach_are_documented(served: _Served) -> None:
    """Answers that need a particular request, sent as schemathesis cases and checked the
    same way: a retried message (200 after 201), bodies of the wrong type or none at all
    (415), a second factor for a session that has one (409), an unsafe request from another
    site (403)."""
    schema = _schema(served.url)
    gp = served.gp
    message = {k: v for k, v in served.message.items() if k != "case_id"}
    case_path = {"case_id": served.message["case_id"]}
    org_path = {"org_id": gp.path_ids["org_id"]}
    messages = schema["/api/v1/cases/{case_id}/messages"]["POST"]
    sent = [
        (who, messages.Case(path_parameters=case_path, body=message, media_type=json))
        for who in (gp, gp)
    ]
    no_body = [
        (gp, schema["/api/v1/orgs/{org_id}/records-key"]["PUT"].Case(path_parameters=org_path)),
        (gp, schema["/api/v1/cases"]["POST"].Case()),
        (_Identity("signed out"), schema["/api/v1/auth/prelogin"]["POST"].Case()),
        (_Identity("signed out"), schema["/api/v1/invites/inspect"]["POST"].Case()),
    ]
    wrong_type = [
        (
            gp,
            schema["/api/v1/cases/{case_id}/attachments"]["POST"].Case(
                path_parameters=case_path, body={"not": "octet-stream"}, media_type=json
            ),
        ),
    ]
    totp = schema["/api/v1/auth/totp"]["POST"].Case(body={"code": "123456"}, media_type=json)
    foreign = _Identity("another site", gp.cookies, {**gp.headers, "Origin": "https://evil.test"})
    other_site = messages.Case(path_parameters=case_path, body=message, media_type=json)
    expected = [201, 200, 415, 415, 415, 415, 415, 409, 403]
    cases = [*sent, *no_body, *wrong_type, (gp, totp), (foreign, other_site)]
    statuses = []
    with requests.Session() as http:
        for who, case in cases:
            response = case.call(
                base_url=served.url,
                session=http,
                headers=dict(who.headers),
                cookies=dict(who.cookies),
                timeout=30,
            )
            http.cookies.clear()
            statuses.append(response.status_code)
            case.validate_response(response, checks=_checks())
    assert statuses == expected
