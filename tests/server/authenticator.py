"""A software WebAuthn authenticator for server tests: P-256 credentials, "none"
attestation, assertions with a signature counter, the PRF extension (CTAP2 hmac-secret as
WebAuthn Level 3 section 10.1.4 defines it), and switches to make each answer wrong on
purpose (origin, relying party, user verification, counter, challenge, user handle).

It speaks the JSON forms the browser's ``PublicKeyCredential.toJSON()`` gives
(``RegistrationResponseJSON``, ``AuthenticationResponseJSON``), which is what the server's
routes take."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import struct
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

__all__ = ["Credential", "SoftAuthenticator", "b64u", "unb64u"]

UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Credential:
    credential_id: bytes
    private_key: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: bytes
    sign_count: int = 0
    prf_secret: bytes = field(default_factory=lambda: os.urandom(32))

    def cose_key(self) -> bytes:
        nums = self.private_key.public_key().public_numbers()
        return cbor2.dumps(
            {1: 2, 3: -7, -1: 1, -2: nums.x.to_bytes(32, "big"), -3: nums.y.to_bytes(32, "big")}
        )

    def prf(self, salt: bytes) -> bytes:
        """What the authenticator answers to ``prf.eval.first = salt``."""
        return hmac.new(
            self.prf_secret, hashlib.sha256(b"WebAuthn PRF\x00" + salt).digest(), "sha256"
        ).digest()


class SoftAuthenticator:
    """One authenticator holding credentials for one or more relying parties."""

    def __init__(
        self,
        origin: str,
        rp_id: str,
        *,
        keeps_counter: bool = True,
        backup_eligible: bool = False,
    ) -> None:
        self.origin = origin
        self.rp_id = rp_id
        self.keeps_counter = keeps_counter
        self.backup_eligible = backup_eligible
        self.credentials: dict[bytes, Credential] = {}

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        return json.dumps(
            {
                "type": kind,
                "challenge": challenge,
                "origin": origin or self.origin,
                "crossOrigin": False,
            }
        ).encode()

    def _flags(self, uv: bool) -> int:
        flags = UP | (UV if uv else 0)
        if self.backup_eligible:
            flags |= BE | BS
        return flags

    def create(
        self,
        options: dict[str, Any],
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        uv: bool = True,
        challenge: str | None = None,
        credential_id: bytes | None = None,
    ) -> dict[str, Any]:
        """``navigator.credentials.create({publicKey: options})`` as JSON (with a chosen
        credential id: an authenticator that ignores ``excludeCredentials``)."""
        rp = rp_id or options["rp"]["id"]
        cred = Credential(
            credential_id=credential_id or os.urandom(16),
            private_key=ec.generate_private_key(ec.SECP256R1()),
            rp_id=rp,
            user_handle=unb64u(options["user"]["id"]),
        )
        self.credentials[cred.credential_id] = cred
        attested = (
            bytes(16) + struct.pack(">H", len(cred.credential_id)) + cred.credential_id
        ) + cred.cose_key()
        auth_data = (
            hashlib.sha256(rp.encode()).digest()
            + bytes([self._flags(uv) | AT])
            + struct.pack(">I", 0)
            + attested
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = self._client_data(
            "webauthn.create", challenge or options["challenge"], origin
        )
        return {
            "id": b64u(cred.credential_id),
            "rawId": b64u(cred.credential_id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "response": {
                "clientDataJSON": b64u(client_data),
                "attestationObject": b64u(attestation),
                "transports": ["internal", "hybrid"],
            },
            "clientExtensionResults": {},
        }

    def get(
        self,
        options: dict[str, Any],
        *,
        credential_id: bytes | None = None,
        origin: str | None = None,
        rp_id: str | None = None,
        uv: bool = True,
        challenge: str | None = None,
        sign_count: int | None = None,
        user_handle: bytes | None = None,
    ) -> dict[str, Any]:
        """``navigator.credentials.get({publicKey: options})`` as JSON, by the credential
        named (or the only one allowed, or the only one held)."""
        if credential_id is None:
            allowed = [unb64u(c["id"]) for c in options.get("allowCredentials") or []]
            held = [c for c in allowed if c in self.credentials] or list(self.credentials)
            credential_id = held[0]
        cred = self.credentials[credential_id]
        if sign_count is not None:
            cred.sign_count = sign_count
        elif self.keeps_counter:
            cred.sign_count += 1
        rp = rp_id or options.get("rpId") or cred.rp_id
        auth_data = (
            hashlib.sha256(rp.encode()).digest()
            + bytes([self._flags(uv)])
            + struct.pack(">I", cred.sign_count)
        )
        client_data = self._client_data("webauthn.get", challenge or options["challenge"], origin)
        signature = cred.private_key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        return {
            "id": b64u(cred.credential_id),
            "rawId": b64u(cred.credential_id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "response": {
                "clientDataJSON": b64u(client_data),
                "authenticatorData": b64u(auth_data),
                "signature": b64u(signature),
                "userHandle": b64u(user_handle if user_handle is not None else cred.user_handle),
            },
            "clientExtensionResults": {},
        }
