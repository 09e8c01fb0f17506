"""The "hazmat" layer of the Dermline protocol core: primitives over pyca/cryptography.

Application code never calls these directly; it calls the recipes in ``crypto/`` (message
envelope, case-key wrap, attachment format, ...), which are built on them. Each module is pure:
no I/O, no clock, and no randomness drawn inside (the caller passes ``ikm``, salts, nonces).

Modules:

* :mod:`crypto.primitives.aead` -- AES-256-GCM (``ct || tag``), 96-bit nonces.
* :mod:`crypto.primitives.kdf` -- HKDF-SHA256 / SHA-512 Expand, HMAC-SHA256, PBKDF2-HMAC-SHA256.
* :mod:`crypto.primitives.ecc` -- P-256 keys (RFC 9180 DeriveKeyPair), ECDH, ECDSA (P1363,
  RFC 6979), SPKI, DER/P1363 conversion; X25519 for HPKE test vectors.
* :mod:`crypto.primitives.hpke` -- RFC 9180 base mode, single shot, injectable ephemeral key;
  DHKEM(P-256) for suite 1, X-Wing for suite 2.
* :mod:`crypto.primitives.xwing` -- the X-Wing hybrid KEM (ML-KEM-768 + X25519).
* :mod:`crypto.primitives.chunked` -- C2SP chunked encryption (Cobblestone-256), streaming.

Errors: misuse by our own code raises ``TypeError`` / ``ValueError``; hostile or corrupted
input raises :class:`crypto.errors.PrimitiveError` and nothing else, with a fixed message.
"""

from __future__ import annotations

__all__ = ["aead", "chunked", "ecc", "hpke", "kdf", "xwing"]

from crypto.primitives import aead, chunked, ecc, hpke, kdf, xwing
