"""Argument checks shared by the primitives (private).

These catch *misuse by our own code* (a caller passing a ``str`` or a key of the wrong
length), so they raise ``TypeError`` / ``ValueError``. Checks on hostile input (a peer's
ciphertext, signature or public key) live next to the primitive and raise
:class:`crypto.errors.PrimitiveError` instead.
"""

from __future__ import annotations

__all__ = ["require_bytes", "require_len"]


def require_bytes(name: str, value: object) -> bytes:
    """Return ``value`` if it is ``bytes``; raise ``TypeError`` naming the argument otherwise.

    Only the argument's *name* and *type* appear in the message, never its value, so no key or
    plaintext can leak into a log through an exception.
    """
    if not isinstance(value, bytes):
        raise TypeError(f"{name} must be bytes, not {type(value).__name__}")
    return value


def require_len(name: str, value: object, length: int) -> bytes:
    """Like :func:`require_bytes`, and also require exactly ``length`` bytes (``ValueError``)."""
    data = require_bytes(name, value)
    if len(data) != length:
        raise ValueError(f"{name} must be {length} bytes, got {len(data)}")
    return data
