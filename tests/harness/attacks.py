"""Attacks a compromised server can make on its answers, applied by an aiohttp middleware (HTTP)
and by hooks on the Socket.IO server (realtime), to the REAL server app.

``install(app)`` adds the middleware, the ``/__harness/attack`` and ``/__harness/reset`` routes
and the realtime hooks to an app made by ``server.app.create_app`` (before it starts). Only
tests call it; it refuses to run unless ``DERMLINE_HARNESS=1``. Every attack kind and its
parameters are in ``tests/harness/README.md``.

Threads are tampered as one *view* per case and reader (``thread_view``): the harness reads
the whole real thread, removes, copies, injects and swaps messages, then renumbers ``seq``
1, 2, 3 ... so that no sequence gap gives the attack away (only the hash chain can). Every
route and event that shows messages (``GET .../messages``, Socket.IO ``sync`` and ``message``)
and every answer naming a ``seq`` (the send acknowledgements) goes through the same view.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import datetime as dt
import json
import os
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from crypto import merkle
from crypto.envelope import MessageHeaderError, parse_message_header
from crypto.errors import CryptoError
from crypto.fingerprint import key_id
from crypto.log_entry import RemovalEntry, encode_statement_entry, parse_log_entry
from crypto.statement import OrganisationKeyStatement, parse_statement
from crypto.tree_head import sign_tree_head
from server.api.http import SESSION_COOKIE, current
from server.api.keys import SERVICES
from server.app import REALTIME, STORE
from server.errors import DomainError
from server.realtime.server import Realtime
from server.wire.render import message_out

if TYPE_CHECKING:
    from tests.server.harness import Live

__all__ = [
    "HARNESS",
    "KINDS",
    "PENDING_KINDS",
    "Attack",
    "AttackError",
    "Harness",
    "Item",
    "harnessed",
    "install",
    "thread_view",
]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Json = dict[str, Any]

#: Every kind with its parameters (name -> type: "id", "b64", "seq").
KINDS: dict[str, dict[str, str]] = {
    "substitute_encryption_key": {"user_id": "id", "public_key": "b64"},
    "substitute_signing_key": {"user_id": "id", "public_key": "b64"},
    "swap_records_key": {"org_id": "id", "public_key": "b64"},
    "replace_org_key": {"org_id": "id", "statement": "b64"},
    "drop_message": {"case_id": "id", "seq": "seq"},
    "reorder_messages": {"case_id": "id", "seq_a": "seq", "seq_b": "seq"},
    "replay_message": {"case_id": "id", "seq": "seq"},
    "withhold_after": {"case_id": "id", "seq": "seq"},
    "fork": {"case_id": "id", "user_id": "id", "seq": "seq"},
    "inject_message": {"case_id": "id", "envelope": "b64"},
    "hide_removal": {"user_id": "id"},
    "rewrite_log": {},
    "stale_head": {},
}
#: Optional parameters.
OPTIONAL: dict[str, dict[str, str]] = {
    "inject_message": {"after_seq": "seq0", "sender_id": "id", "client_msg_id": "id"},
    "rewrite_log": {"index": "seq0"},
}
#: Kinds that tamper with the transparency log's answers; they need the log on the server
#: (answered 501 ``not_implemented`` when the store has none).
PENDING_KINDS = frozenset({"replace_org_key", "hide_removal", "rewrite_log", "stale_head"})
LOG_KINDS = PENDING_KINDS
MESSAGE_KINDS = frozenset(
    {
        "drop_message",
        "reorder_messages",
        "replay_message",
        "withhold_after",
        "fork",
        "inject_message",
    }
)

_B64 = re.compile(r"[A-Za-z0-9_-]*")
_CASE_MESSAGES = re.compile(r"^/api/v1/cases/([^/]+)/messages$")


class AttackError(ValueError):
    """A malformed attack request (answered 400)."""


@dataclasses.dataclass(frozen=True)
class Attack:
    kind: str
    params: Mapping[str, Any]

    @classmethod
    def parse(cls, body: Any) -> Attack:
        if not isinstance(body, dict) or not isinstance(body.get("kind"), str):
            raise AttackError('the body is {"kind": ..., ...params}')
        kind = body["kind"]
        if kind not in KINDS:
            raise AttackError(f"unknown attack kind {kind!r}")
        required, optional = KINDS[kind], OPTIONAL.get(kind, {})
        params: dict[str, Any] = {}
        for name, value in body.items():
            if name == "kind":
                continue
            if name not in required and name not in optional:
                raise AttackError(f"{kind}: unknown parameter {name!r}")
            params[name] = _check(name, (required | optional)[name], value)
        missing = sorted(set(required) - set(params))
        if missing:
            raise AttackError(f"{kind}: missing {', '.join(missing)}")
        return cls(kind, params)


def _check(name: str, kind: str, value: Any) -> Any:
    if kind == "id":
        if not isinstance(value, str) or not value:
            raise AttackError(f"{name} must be a non-empty string")
        return value
    if kind in ("seq", "seq0"):
        low = 1 if kind == "seq" else 0
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise AttackError(f"{name} must be an integer >= {low}")
        return value
    if not isinstance(value, str) or not _B64.fullmatch(value) or len(value) % 4 == 1:
        raise AttackError(f"{name} must be base64url without padding")
    return value


# ---------------------------------------------------------------------- thread views


@dataclasses.dataclass
class Item:
    """One message as a reader is shown it.

    ``origin`` is the real seq whose stored message this is (None for a replayed copy or an
    injected message); ``release`` the real seq whose realtime delivery also delivers this
    item (a later message's arrival can release an earlier slot: a reordered pair arrives
    together when its second message is stored).
    """

    message: Json
    origin: int | None
    release: int


def thread_view(real: list[Json], attacks: list[Attack], viewer: str | None) -> list[Item]:
    """The thread ``viewer`` is shown: the real messages (``MessageOut`` JSON, in seq order)
    with every message attack on their case applied, renumbered 1, 2, 3 ..."""
    items = [Item(dict(m), m["seq"], m["seq"]) for m in real]
    for a in attacks:
        p = a.params
        if a.kind == "withhold_after":
            items = [i for i in items if i.origin is None or i.origin <= p["seq"]]
        elif a.kind == "drop_message" or (a.kind == "fork" and p["user_id"] == viewer):
            items = [i for i in items if i.origin != p["seq"]]
    for a in attacks:
        p = a.params
        if a.kind == "replay_message":
            at = _index(items, p["seq"])
            if at is not None:
                items.insert(at + 1, Item(dict(items[at].message), None, p["seq"]))
        elif a.kind == "inject_message":
            anchor = p["after_seq"]
            at = _index(items, anchor)
            position = len(items) if at is None else at + 1
            items.insert(position, Item(_injected(p, real), None, anchor + 1))
    for a in attacks:
        if a.kind == "reorder_messages":
            i, j = _index(items, a.params["seq_a"]), _index(items, a.params["seq_b"])
            if i is not None and j is not None:
                items[i], items[j] = items[j], items[i]
    release = 0
    for n, item in enumerate(items, start=1):
        release = max(release, item.release)
        item.release = release
        item.message = {**item.message, "seq": n}
    return items


def _index(items: list[Item], origin: int) -> int | None:
    for n, item in enumerate(items):
        if item.origin == origin:
            return n
    return None


def _injected(p: Mapping[str, Any], real: list[Json]) -> Json:
    envelope: str = p["envelope"]
    sender, client_msg_id = p.get("sender_id"), p.get("client_msg_id")
    try:
        header = parse_message_header(
            base64.urlsafe_b64decode(envelope + "=" * (-len(envelope) % 4))
        )
        sender = sender or str(header.sender_user_id)
        client_msg_id = client_msg_id or str(header.client_message_id)
    except MessageHeaderError:
        pass  # a malformed record is a fine thing to inject
    if sender is None:
        sender = real[0]["sender_id"] if real else str(uuid.UUID(int=0))
    return {
        "case_id": p["case_id"],
        "seq": 0,
        "client_msg_id": client_msg_id or str(uuid.uuid4()),
        "sender_id": sender,
        "envelope": envelope,
        "created_at": dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z"),
    }


def shown_seq(items: list[Item], real_seq: int) -> int:
    """The seq a reader is shown for the stored message ``real_seq`` (itself when hidden)."""
    for item in items:
        if item.origin == real_seq:
            return int(item.message["seq"])
    return real_seq


# ---------------------------------------------------------------------- JSON rewriting


def _b64d(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _walk(value: Any, fn: Callable[[Json], None]) -> None:
    if isinstance(value, dict):
        fn(value)
        for v in value.values():
            _walk(v, fn)
    elif isinstance(value, list):
        for v in value:
            _walk(v, fn)


def _rewrite_keys(data: Any, attacks: list[Attack]) -> bool:
    """Key substitution in every answer that lists a person's or an organisation's keys
    (directory, case detail, organisations, ``/auth/me``); True when something changed."""
    changed = False

    def fn(d: Json) -> None:
        nonlocal changed
        for a in attacks:
            p = a.params
            if a.kind == "substitute_encryption_key" and d.get("user_id") == p["user_id"]:
                field = "encryption_public_key"
            elif a.kind == "substitute_signing_key" and d.get("user_id") == p["user_id"]:
                field = "signing_public_key"
            elif a.kind == "swap_records_key" and d.get("org_id") == p["org_id"]:
                field = "records_public_key"
            else:
                continue
            if field in d:
                d[field] = p["public_key"]
                changed = True

    _walk(data, fn)
    return changed


# ---------------------------------------------------------------------- the harness


class Harness:
    """The attacks in force and how they are applied to one app."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.attacks: list[Attack] = []

    # -- state

    async def set(self, attacks: list[Attack]) -> None:
        """Replace the attacks in force (``inject_message`` without ``after_seq`` goes after
        the case's newest message at this moment)."""
        ready: list[Attack] = []
        for a in attacks:
            if a.kind in LOG_KINDS and not hasattr(self.app[STORE], "list_log"):
                raise NotImplementedError(a.kind)
            if a.kind == "stale_head":
                a = Attack(a.kind, {"head": await self._current_head()})
            if a.kind == "inject_message" and "after_seq" not in a.params:
                real = await self._real_thread(a.params["case_id"])
                a = Attack(a.kind, {**a.params, "after_seq": real[-1]["seq"] if real else 0})
            ready.append(a)
        self.attacks = ready

    async def attack(self, kind: str, **params: Any) -> None:
        """In-process form of ``POST /__harness/attack``: replace the attacks with one."""
        await self.set([Attack.parse({"kind": kind, **params})])

    def reset(self) -> None:
        self.attacks = []

    def _of(self, kind: str) -> list[Attack]:
        return [a for a in self.attacks if a.kind == kind]

    # -- the transparency log (a compromised server holds the log's signing key)

    async def _current_head(self) -> str:
        """The newest signed tree head now (signing one if the log has none yet)."""
        services = self.app[SERVICES]
        return _b64e((await services.transparency.head()).head)

    async def _forged_log(self, index: int) -> tuple[list[bytes], bytes]:
        """The log's entries with entry ``index`` rewritten (its time moved by 1 ms: still a
        well-formed entry) and a head over that history, signed with the log's real key."""
        store: Any = self.app[STORE]
        size = await store.log_size()
        entries: list[bytes] = []
        while len(entries) < size:
            page = await store.list_log(len(entries), min(size, len(entries) + 1000))
            entries.extend(r.entry for r in page)
        if entries:
            at = min(index, len(entries) - 1)
            changed = bytearray(entries[at])
            changed[8] ^= 1
            entries[at] = bytes(changed)
        leaves = [merkle.leaf_hash(e) for e in entries]
        head = sign_tree_head(
            tree_size=len(entries),
            timestamp_ms=int(dt.datetime.now(dt.UTC).timestamp() * 1000),
            root_hash=merkle.root_hash(leaves) if leaves else merkle.EMPTY_ROOT,
            log_key=store._log_key,  # the compromised server's own key
        )
        return entries, head

    async def _rewrite_log_answer(self, request: web.Request, data: Any) -> None:
        """A coherent forged world: every tree head, entry, inclusion and consistency proof
        is computed over the rewritten history, so only a client holding an older head
        (whose root the forged history does not extend) can tell."""
        [attack] = self._of("rewrite_log")
        entries, head = await self._forged_log(attack.params.get("index", 0))
        leaves = [merkle.leaf_hash(e) for e in entries]

        def fn(d: Json) -> None:
            if "tree_head" in d:
                d["tree_head"] = _b64e(head)
            if {"index", "entry", "proof"} <= d.keys() and d["index"] < len(entries):
                d["entry"] = _b64e(entries[d["index"]])
                d["proof"] = [_b64e(h) for h in merkle.inclusion_proof(leaves, d["index"])]

        _walk(data, fn)
        if not isinstance(data, dict):
            return
        path = request.path
        if path.endswith("/transparency/entries"):
            for item in data.get("entries", []):
                if item["index"] < len(entries):
                    item["entry"] = _b64e(entries[item["index"]])
        elif path.endswith("/transparency/consistency") and data.get("to") == len(entries):
            old = data["from"]
            proof = merkle.consistency_proof(leaves, old) if 0 < old < len(leaves) else []
            data["proof"] = [_b64e(h) for h in proof]
        elif path.endswith("/transparency/inclusion") and data.get("size") == len(entries):
            data["proof"] = [_b64e(h) for h in merkle.inclusion_proof(leaves, data["index"])]

    def for_case(self, case_id: str) -> list[Attack]:
        return [
            a for a in self.attacks if a.kind in MESSAGE_KINDS and a.params["case_id"] == case_id
        ]

    def forks_case(self, case_id: str) -> bool:
        return any(a.kind == "fork" for a in self.for_case(case_id))

    async def _real_thread(self, case_id: str) -> list[Json]:
        store = self.app[STORE]
        out: list[Json] = []
        while True:
            page = await store.list_messages(case_id, after_seq=len(out), limit=1000)
            out.extend(message_out(m).model_dump(mode="json") for m in page)
            if len(page) < 1000:
                return out

    async def view(self, case_id: str, viewer: str | None) -> list[Item]:
        return thread_view(await self._real_thread(case_id), self.for_case(case_id), viewer)

    # -- HTTP

    async def control(self, request: web.Request) -> web.Response:
        if request.path == "/__harness/reset":
            self.reset()
            return web.json_response({"attacks": []})
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return _bad("the body is JSON")
        try:
            items = body.get("attacks") if isinstance(body, dict) and "attacks" in body else [body]
            if not isinstance(items, list):
                raise AttackError("attacks is a list")
            await self.set([Attack.parse(x) for x in items])
        except AttackError as exc:
            return _bad(str(exc))
        except NotImplementedError as exc:
            return web.json_response(
                {"error": {"code": "not_implemented", "message": f"{exc}: needs the log"}},
                status=501,
            )
        return web.json_response({"attacks": [{"kind": a.kind, **a.params} for a in self.attacks]})

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not self.attacks:
            return await handler(request)
        listing = _CASE_MESSAGES.match(request.path)
        if listing and request.method == "GET" and self.for_case(listing.group(1)):
            # Authorise as the real route does, then answer the tampered view.
            response = await handler(request)
            if response.status != 200:
                return response
            return await self._list(request, listing.group(1))
        response = await handler(request)
        if not isinstance(response, web.Response) or response.content_type != "application/json":
            return response
        if response.body is None or not isinstance(response.body, bytes):
            return response
        data = json.loads(response.body)
        changed = _rewrite_keys(data, self.attacks)
        if any(a.kind in LOG_KINDS for a in self.attacks):
            changed = await self._log_attacks(request, data) or changed
        if listing and request.method == "POST" and isinstance(data, dict) and "seq" in data:
            case_id = listing.group(1)
            if self.for_case(case_id):
                items = await self.view(case_id, await _viewer(request))
                data["seq"] = shown_seq(items, data["seq"])
                changed = True
        if changed:
            response.body = json.dumps(data, separators=(",", ":")).encode()
        return response

    async def _log_attacks(self, request: web.Request, data: Any) -> bool:
        for a in self._of("stale_head"):
            _walk(
                data,
                lambda d, head=a.params["head"]: (
                    d.update(tree_head=head) if "tree_head" in d else None
                ),
            )
        for a in self._of("replace_org_key"):
            _walk(data, lambda d, p=a.params: _replace_org_key(d, p))
        for a in self._of("hide_removal"):
            await self._hide_removal(data, a.params["user_id"])
        if self._of("rewrite_log"):
            await self._rewrite_log_answer(request, data)
        return True

    async def _hide_removal(self, data: Any, user_id: str) -> None:
        """The server keeps quiet about a removal: no removal in directory answers, no
        required rotation, the person still listed as a participant (the log itself still
        holds the removal: hiding it there would fork the log)."""
        store: Any = self.app[STORE]
        hidden: list[Json] = []

        def fn(d: Json) -> None:
            if isinstance(d.get("removals"), list):
                d["removals"] = [r for r in d["removals"] if not _removes(r, user_id)]
            rotation = d.get("rotation")
            if isinstance(rotation, dict) and user_id in rotation.get("removed", []):
                left = [u for u in rotation["removed"] if u != user_id]
                d["rotation"] = {**rotation, "removed": left} if left else None
            if (
                isinstance(d.get("removed"), list)
                and isinstance(d.get("participants"), list)
                and any(r.get("user_id") == user_id for r in d["removed"])
            ):
                d["removed"] = [r for r in d["removed"] if r.get("user_id") != user_id]
                hidden.append(d)

        _walk(data, fn)
        for d in hidden:
            user = await store.get_user(user_id)
            creator = d.get("case", {}).get("created_by")
            d["participants"].append(
                {
                    "user_id": user_id,
                    "role": "gp" if creator == user_id else "dermatologist",
                    "display_name": user.display_name,
                    "encryption_public_key": _b64e(user.encryption_public_key),
                    "signing_public_key": _b64e(user.signing_public_key),
                }
            )

    async def _list(self, request: web.Request, case_id: str) -> web.Response:
        after = int(request.query.get("after_seq", "0"))
        limit = int(request.query.get("limit", "500"))
        viewer = await _viewer(request) if self.forks_case(case_id) else None
        items = await self.view(case_id, viewer)
        shown = [i.message for i in items if i.message["seq"] > after][:limit]
        return web.json_response({"messages": shown}, headers={"Cache-Control": "no-store"})

    # -- Socket.IO

    def hook(self, realtime: Realtime) -> None:
        sio = realtime.sio
        emit = sio.emit

        async def tampered_emit(event: str, data: Any = None, *args: Any, **kwargs: Any) -> Any:
            room = kwargs.get("room")
            if event != "message" or not isinstance(room, str) or not isinstance(data, dict):
                return await emit(event, data, *args, **kwargs)
            case_id = data.get("case_id", "")
            if not self.for_case(case_id):
                return await emit(event, data, *args, **kwargs)
            for sid, _eio in list(sio.manager.get_participants("/", room)):
                viewer = await _socket_viewer(realtime, sid)
                for item in await self.view(case_id, viewer):
                    if item.release == data["seq"]:
                        await emit("message", item.message, to=sid)
            return None

        sio.emit = tampered_emit  # type: ignore[method-assign]
        handlers = sio.handlers["/"]
        sync, send = handlers["sync"], handlers["send"]

        async def tampered_sync(sid: str, *args: Any) -> Any:
            answer = await sync(sid, *args)
            if not self.attacks or not answer.get("ok"):
                return answer
            asked = args[0] if args and isinstance(args[0], dict) else {}
            limit = min(int(asked.get("limit", 500)), realtime._settings.replay_batch)
            viewer = await _socket_viewer(realtime, sid)
            for case_id, out in answer["cases"].items():
                if "error" in out or not self.for_case(case_id):
                    continue
                after = int(asked.get("cases", {}).get(case_id, 0))
                shown = [i.message for i in await self.view(case_id, viewer)]
                shown = [m for m in shown if m["seq"] > after]
                out["messages"], out["more"] = shown[:limit], len(shown) > limit
            return answer

        async def tampered_send(sid: str, *args: Any) -> Any:
            answer = await send(sid, *args)
            if answer.get("ok") and args and isinstance(args[0], dict):
                case_id = str(args[0].get("case_id"))
                if self.for_case(case_id):
                    items = await self.view(case_id, await _socket_viewer(realtime, sid))
                    answer["seq"] = shown_seq(items, answer["seq"])
            return answer

        handlers["sync"], handlers["send"] = tampered_sync, tampered_send


async def _viewer(request: web.Request) -> str | None:
    if SESSION_COOKIE not in request.cookies:
        return None
    try:
        return (await current(request)).user.user_id
    except DomainError:
        return None


async def _socket_viewer(realtime: Realtime, sid: str) -> str | None:
    try:
        token = (await realtime.sio.get_session(sid))["token"]
        auth = await realtime.services.sessions.authenticate(token, touch=False)
    except (KeyError, DomainError):
        return None
    return auth.user.user_id


def _stale_head(d: Json, head: str) -> None:
    if "tree_head" in d:
        d["tree_head"] = head


def _removes(ref: Any, user_id: str) -> bool:
    """Whether a log reference is a removal entry (0x03) of ``user_id``."""
    try:
        entry = parse_log_entry(_b64d(ref["entry"]))
    except (CryptoError, KeyError, TypeError, ValueError):
        return False
    return isinstance(entry, RemovalEntry) and str(entry.user_id) == user_id


def _replace_org_key(d: Json, p: Mapping[str, Any]) -> None:
    """An organisation's key swapped for the statement of the attacker's: the log reference
    names the new statement (its proof is left as it was: no entry of the log has it)."""
    if d.get("org_id") != p["org_id"] or "org_key" not in d:
        return
    old = d["org_key"] if isinstance(d["org_key"], dict) else {"index": 0, "proof": []}
    statement = _b64d(p["statement"])
    entry = encode_statement_entry(statement, appended_at_ms=0)
    d["org_key"] = {"index": old["index"], "entry": _b64e(entry), "proof": old["proof"]}
    if "org_key_id" in d:
        parsed = parse_statement(statement)
        if isinstance(parsed, OrganisationKeyStatement):
            d["org_key_id"] = key_id(parsed.org_public_key).hex()


def _bad(message: str) -> web.Response:
    return web.json_response({"error": {"code": "bad_request", "message": message}}, status=400)


HARNESS: web.AppKey[Harness] = web.AppKey("harness", Harness)


@contextlib.asynccontextmanager
async def harnessed(
    data_dir: Path, backend: str = "sqlite", **overrides: Any
) -> AsyncIterator[tuple[Live, Harness]]:
    """The real server on a random port with the harness installed (pytest, in process):
    ``async with harnessed(tmp_path) as (live, harness): await harness.attack(...)``."""
    from tests.server.harness import live_server

    async with live_server(
        data_dir, backend, app_hook=lambda app: install(app, {"DERMLINE_HARNESS": "1"}), **overrides
    ) as live:
        yield live, live.app[HARNESS]


def install(app: web.Application, environ: Mapping[str, str] | None = None) -> Harness:
    """Turn a server app (not yet started) into the malicious server of the tests."""
    env = os.environ if environ is None else environ
    if env.get("DERMLINE_HARNESS") != "1":
        raise RuntimeError("the malicious-server harness runs only with DERMLINE_HARNESS=1")
    harness = Harness(app)
    app[HARNESS] = harness
    # Outermost, so that it sees every answer after the error mapper has made it JSON.
    app.middlewares.insert(0, harness.middleware)
    app.router.add_post("/__harness/attack", harness.control)
    app.router.add_post("/__harness/reset", harness.control)
    harness.hook(app[REALTIME])
    return harness
