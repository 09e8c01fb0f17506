"""A Web Push service on loopback for the tests (no public push service is reachable), and
an RFC 8291 decrypter written apart from ``crypto.webpush`` (straight on pyca/cryptography)
so that what the server sends is read the way a browser would read it.

``PushService`` accepts RFC 8030 pushes at ``/push/<name>``, checks the VAPID header
(RFC 8292: the ES256 JWT's signature, audience, expiry and the ``k`` key), keeps each
body, and answers 201; a name marked ``gone`` answers 410 (an expired subscription).
``Browser`` holds one subscription's private key and decrypts what arrived.
"""

from __future__ import annotations

import base64
import json
import os
import struct
import time
from dataclasses import dataclass, field

from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hmac import HMAC
from cryptography.hazmat.primitives.kdf.hkdf import HKDF, HKDFExpand
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


def b64url_decode(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def decrypt_aes128gcm(body: bytes, ua_private: ec.EllipticCurvePrivateKey, auth: bytes) -> bytes:
    """RFC 8291 section 3.4 and RFC 8188 section 2, as a user agent does it; returns the
    plaintext without its delimiter and padding."""
    salt, rs, idlen = body[:16], struct.unpack(">I", body[16:20])[0], body[20]
    as_public = body[21 : 21 + idlen]
    record = body[21 + idlen :]
    assert idlen == 65 and len(record) <= rs
    ua_public = ua_private.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    peer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), as_public)
    ecdh = ua_private.exchange(ec.ECDH(), peer)
    ikm = HKDF(
        hashes.SHA256(), 32, salt=auth, info=b"WebPush: info\x00" + ua_public + as_public
    ).derive(ecdh)
    h = HMAC(salt, hashes.SHA256())
    h.update(ikm)
    prk = h.finalize()
    cek = HKDFExpand(hashes.SHA256(), 16, b"Content-Encoding: aes128gcm\x00").derive(prk)
    nonce = HKDFExpand(hashes.SHA256(), 12, b"Content-Encoding: nonce\x00").derive(prk)
    padded = AESGCM(cek).decrypt(nonce, record, None)
    end = padded.rstrip(b"\x00")
    assert end.endswith(b"\x02"), "not the last record"
    return end[:-1]


@dataclass
class Browser:
    """One push subscription as a browser holds it."""

    private: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    @property
    def p256dh(self) -> bytes:
        return self.private.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)

    def read(self, body: bytes) -> dict[str, object]:
        return json.loads(decrypt_aes128gcm(body, self.private, self.auth))  # type: ignore[no-any-return]


def check_vapid(header: str, audience: str) -> bytes:
    """Verify an RFC 8292 ``Authorization: vapid t=..., k=...`` header; returns the key."""
    assert header.startswith("vapid "), header
    parts = dict(p.strip().split("=", 1) for p in header[len("vapid ") :].split(","))
    token, key = parts["t"], b64url_decode(parts["k"])
    head, claims, sig = token.split(".")
    assert json.loads(b64url_decode(head)) == {"typ": "JWT", "alg": "ES256"}
    body = json.loads(b64url_decode(claims))
    assert body["aud"] == audience, body
    assert time.time() < body["exp"] <= time.time() + 24 * 3600 + 60
    assert str(body["sub"]).startswith(("mailto:", "https:"))
    raw = b64url_decode(sig)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), key)
    try:
        public.verify(der, f"{head}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise AssertionError("bad VAPID signature") from None
    return key


@dataclass
class Received:
    name: str
    body: bytes
    headers: dict[str, str]
    vapid_key: bytes


class PushService:
    """``async with PushService() as push``: a push service on 127.0.0.1."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.gone: set[str] = set()
        self.url = ""
        self._runner: web.AppRunner | None = None

    def endpoint(self, name: str) -> str:
        return f"{self.url}/push/{name}"

    async def _push(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name in self.gone:
            return web.Response(status=410)
        assert request.headers["Content-Encoding"] == "aes128gcm"
        assert int(request.headers["TTL"]) > 0
        key = check_vapid(request.headers["Authorization"], self.url)
        body = await request.read()
        self.received.append(Received(name, body, dict(request.headers), key))
        return web.Response(status=201, headers={"Location": f"{self.url}/m/{len(self.received)}"})

    async def __aenter__(self) -> PushService:
        app = web.Application()
        app.router.add_post("/push/{name}", self._push)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()
