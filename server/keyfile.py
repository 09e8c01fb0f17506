"""The server's own long-lived secret (fake salts, CSRF tokens, recovery-code hashes).

Kept in ``<data_dir>/server.secret`` (created 0600 on first start, refused if group or
world readable) or given base64 in ``DERMLINE_SERVER_SECRET``. Purpose keys are derived
from it with HMAC-SHA256 under distinct labels, so one purpose's key says nothing about
another's. Changing it makes pre-login fake salts change (``crypto.password.fake_salt``
explains why that matters) and logs everybody out.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path

from server.settings import SettingsError

__all__ = ["derive_key", "load_server_secret"]

_LENGTH = 32


def load_server_secret(data_dir: Path, environ: Mapping[str, str] | None = None) -> bytes:
    env = os.environ if environ is None else environ
    if env.get("DERMLINE_SERVER_SECRET"):
        try:
            value = base64.b64decode(env["DERMLINE_SERVER_SECRET"], validate=True)
        except (binascii.Error, ValueError):
            raise SettingsError("DERMLINE_SERVER_SECRET is not base64") from None
        if len(value) < _LENGTH:
            raise SettingsError("DERMLINE_SERVER_SECRET must hold at least 32 bytes")
        return value
    path = data_dir / "server.secret"
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise SettingsError("server.secret must not be readable by group or others") from None
        value = path.read_bytes()
        if len(value) < _LENGTH:
            raise SettingsError("server.secret is too short") from None
        return value
    value = secrets.token_bytes(_LENGTH)
    try:
        os.write(fd, value)
        os.fsync(fd)
    finally:
        os.close(fd)
    return value


def derive_key(secret: bytes, purpose: str) -> bytes:
    return hmac.new(secret, b"dermline/v1/server/" + purpose.encode(), "sha256").digest()
