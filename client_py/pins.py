"""The keys this device trusts: a JSON file per server and user (docs/protocol.md section 18).

Default path: ``$XDG_CONFIG_HOME/dermline/<server host>/<user id>/pins.json``
(``~/.config`` when ``XDG_CONFIG_HOME`` is unset), mode 0600 in 0700 folders, rewritten
atomically (a new file, synced, renamed over the old one) after every change, so a crash
leaves either the old pins or the new ones.

What is pinned, and the rules:

* **people**: signing and encryption public keys, certified or not, verified (safety number
  compared) or not, when first seen. First contact pins silently. Keys that differ later
  are kept as a *pending change*; encryption to an unverified person whose keys changed is
  blocked (:class:`~client_py.errors.KeyChangedError`, naming them) until the user accepts
  (:meth:`PinStore.accept`); for a verified person it is a hard stop
  (:class:`~client_py.errors.VerifiedKeyChangedError`) until they verify again. Signing keys
  accepted earlier stay trusted for the messages they signed.
* **organisations**: the organisation key, and the records key with the highest sequence
  accepted (``None`` for an uncertified key pinned on first use).
* **the log**: its public key and the last tree head accepted.

Nothing here talks to the server; :class:`~client_py.client.DermlineClient` feeds it.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import secrets
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from client_py.errors import (
    KeyChangedError,
    NoPendingChangeError,
    OrgKeyChangedError,
    RecordsKeyChangedError,
    VerifiedKeyChangedError,
)

__all__ = ["OrgPin", "PersonPin", "PinStore", "default_pins_path"]

FORMAT_VERSION: Final = 1
FILE_NAME: Final = "pins.json"


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _opt_b64d(text: str | None) -> bytes | None:
    return None if text is None else _b64d(text)


def _opt_b64e(data: bytes | None) -> str | None:
    return None if data is None else _b64e(data)


def default_pins_path(base_url: str, user_id: str, environ: Mapping[str, str]) -> Path:
    """``<config>/dermline/<host>[_<port>]/<user id>/pins.json``; ``<config>`` is
    ``DERMLINE_CONFIG_DIR``, else ``XDG_CONFIG_HOME``, else ``~/.config``."""
    root = environ.get("DERMLINE_CONFIG_DIR") or environ.get("XDG_CONFIG_HOME")
    config = Path(root) if root else Path.home() / ".config"
    url = urllib.parse.urlsplit(base_url)
    host = (url.hostname or "localhost") + (f"_{url.port}" if url.port else "")
    return config / "dermline" / host / user_id / FILE_NAME


@dataclass
class PersonPin:
    user_id: str
    name: str
    signing_public_key: bytes = field(repr=False)
    encryption_public_key: bytes = field(repr=False)
    certified: bool
    verified: bool
    first_seen: str
    #: signing keys accepted before the current one: they still verify what they signed
    previous_signing_keys: list[bytes] = field(default_factory=list, repr=False)
    #: keys the server showed that differ from the pinned ones, not accepted (yet)
    pending: tuple[bytes, bytes] | None = field(default=None, repr=False)

    @property
    def keys(self) -> tuple[bytes, bytes]:
        return self.signing_public_key, self.encryption_public_key

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "signing_public_key": _b64e(self.signing_public_key),
            "encryption_public_key": _b64e(self.encryption_public_key),
            "certified": self.certified,
            "verified": self.verified,
            "first_seen": self.first_seen,
            "previous_signing_keys": [_b64e(k) for k in self.previous_signing_keys],
            "pending": None if self.pending is None else [_b64e(k) for k in self.pending],
        }

    @classmethod
    def from_json(cls, user_id: str, raw: Mapping[str, Any]) -> PersonPin:
        pending = raw.get("pending")
        return cls(
            user_id=user_id,
            name=str(raw["name"]),
            signing_public_key=_b64d(raw["signing_public_key"]),
            encryption_public_key=_b64d(raw["encryption_public_key"]),
            certified=bool(raw["certified"]),
            verified=bool(raw["verified"]),
            first_seen=str(raw["first_seen"]),
            previous_signing_keys=[_b64d(k) for k in raw.get("previous_signing_keys", [])],
            pending=None if pending is None else (_b64d(pending[0]), _b64d(pending[1])),
        )


@dataclass
class OrgPin:
    org_id: str
    name: str
    org_public_key: bytes | None = field(default=None, repr=False)
    #: the highest records-key sequence accepted; None for an uncertified key (first use)
    records_sequence: int | None = None
    records_public_key: bytes | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "org_public_key": _opt_b64e(self.org_public_key),
            "records_sequence": self.records_sequence,
            "records_public_key": _opt_b64e(self.records_public_key),
        }

    @classmethod
    def from_json(cls, org_id: str, raw: Mapping[str, Any]) -> OrgPin:
        return cls(
            org_id=org_id,
            name=str(raw["name"]),
            org_public_key=_opt_b64d(raw.get("org_public_key")),
            records_sequence=raw.get("records_sequence"),
            records_public_key=_opt_b64d(raw.get("records_public_key")),
        )


class PinStore:
    """The pins of one user of one server, kept in ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.people: dict[str, PersonPin] = {}
        self.orgs: dict[str, OrgPin] = {}
        self.log_public_key: bytes | None = None
        self.tree_head: bytes | None = None
        if path.exists():
            raw = json.loads(path.read_text(encoding="utf-8"))
            if raw.get("version") != FORMAT_VERSION:
                raise ValueError("unknown pins file version")
            self.people = {u: PersonPin.from_json(u, p) for u, p in raw["people"].items()}
            self.orgs = {o: OrgPin.from_json(o, p) for o, p in raw["orgs"].items()}
            self.log_public_key = _opt_b64d(raw["log"]["public_key"])
            self.tree_head = _opt_b64d(raw["log"]["tree_head"])

    # ---------------------------------------------------------------- the file

    def save(self) -> None:
        """Write the whole file anew and rename it over the old one (0600, synced)."""
        data = json.dumps(
            {
                "version": FORMAT_VERSION,
                "log": {
                    "public_key": _opt_b64e(self.log_public_key),
                    "tree_head": _opt_b64e(self.tree_head),
                },
                "orgs": {o: p.to_json() for o, p in sorted(self.orgs.items())},
                "people": {u: p.to_json() for u, p in sorted(self.people.items())},
            },
            indent=1,
            sort_keys=True,
        ).encode("utf-8")
        folder = self.path.parent
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = folder / f".{FILE_NAME}.{secrets.token_hex(8)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                os.fchmod(f.fileno(), 0o600)
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        finally:
            tmp.unlink(missing_ok=True)
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    # ---------------------------------------------------------------- people

    def observe_person(
        self,
        user_id: str,
        name: str,
        signing_public_key: bytes,
        encryption_public_key: bytes,
        *,
        certified: bool = False,
        now: dt.datetime | None = None,
    ) -> PersonPin:
        """Pin on first contact; note a change as pending. Never raises: reading goes on with
        the pinned keys; :meth:`require_person` is what encryption calls."""
        keys = (signing_public_key, encryption_public_key)
        pin = self.people.get(user_id)
        if pin is None:
            when = (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
            pin = PersonPin(user_id, name, *keys, certified, False, when)
            self.people[user_id] = pin
            self.save()
        elif pin.keys == keys:
            if pin.pending is not None or pin.certified != certified or pin.name != name:
                pin.pending, pin.certified, pin.name = None, certified, name
                self.save()
        elif pin.pending != keys:
            pin.pending = keys
            self.save()
        return pin

    def require_person(
        self,
        user_id: str,
        name: str,
        signing_public_key: bytes,
        encryption_public_key: bytes,
        *,
        certified: bool = False,
    ) -> PersonPin:
        """:meth:`observe_person`, then refuse a person whose listed keys are not the pinned
        ones (before encrypting to them or trusting their signature on a key)."""
        pin = self.observe_person(
            user_id, name, signing_public_key, encryption_public_key, certified=certified
        )
        if pin.keys != (signing_public_key, encryption_public_key):
            if pin.verified:
                raise VerifiedKeyChangedError(user_id, pin.name)
            raise KeyChangedError(user_id, pin.name)
        return pin

    def signing_keys(self, user_id: str) -> list[bytes]:
        """Every signing key trusted for this person: the pinned one first, then older
        accepted ones (never a pending one)."""
        pin = self.people.get(user_id)
        if pin is None:
            return []
        return [pin.signing_public_key, *pin.previous_signing_keys]

    def _promote(self, pin: PersonPin) -> None:
        assert pin.pending is not None
        if pin.pending[0] != pin.signing_public_key:
            pin.previous_signing_keys.append(pin.signing_public_key)
        pin.signing_public_key, pin.encryption_public_key = pin.pending
        pin.pending = None

    def accept(self, user_id: str) -> PersonPin:
        """The user compared the safety number of the changed keys and accepts them."""
        pin = self.people[user_id]
        if pin.pending is None:
            raise NoPendingChangeError(pin.name)
        if pin.verified:
            raise VerifiedKeyChangedError(user_id, pin.name)
        self._promote(pin)
        self.save()
        return pin

    def verify(self, user_id: str) -> PersonPin:
        """The user compared the safety number in person: the keys shown (the pending ones
        if they changed) become pinned and verified."""
        pin = self.people[user_id]
        if pin.pending is not None:
            self._promote(pin)
        pin.verified = True
        self.save()
        return pin

    # ---------------------------------------------------------------- organisations

    def org(self, org_id: str, name: str) -> OrgPin:
        pin = self.orgs.get(org_id)
        if pin is None:
            pin = self.orgs[org_id] = OrgPin(org_id, name)
        return pin

    def pin_org_key(self, org_id: str, name: str, org_public_key: bytes) -> OrgPin:
        """First use pins; another key for a pinned organisation is a hard stop."""
        pin = self.org(org_id, name)
        if pin.org_public_key is None:
            pin.org_public_key = org_public_key
            self.save()
        elif pin.org_public_key != org_public_key:
            raise OrgKeyChangedError(pin.name)
        return pin

    def check_records_key(
        self, org_id: str, name: str, public_key: bytes, sequence: int | None
    ) -> OrgPin:
        """The records key to encrypt to: pinned on first use; ``sequence`` is None for an
        uncertified key. A different key is accepted only through :meth:`advance_records_key`
        (after the chain verified); here it is a hard stop."""
        pin = self.org(org_id, name)
        if pin.records_public_key is None:
            pin.records_public_key, pin.records_sequence = public_key, sequence
            self.save()
        elif pin.records_public_key != public_key:
            raise RecordsKeyChangedError(pin.name)
        elif sequence is not None and pin.records_sequence != sequence:
            pin.records_sequence = sequence
            self.save()
        return pin

    def advance_records_key(
        self, org_id: str, name: str, public_key: bytes, sequence: int
    ) -> OrgPin:
        """Pin a newer records key whose chain from the pinned one the caller verified."""
        pin = self.org(org_id, name)
        pin.records_public_key, pin.records_sequence = public_key, sequence
        self.save()
        return pin

    # ---------------------------------------------------------------- the log

    def pin_log(self, log_public_key: bytes, tree_head: bytes) -> None:
        """Store the log key (first use) and the newest verified tree head."""
        self.log_public_key = log_public_key
        self.tree_head = tree_head
        self.save()
