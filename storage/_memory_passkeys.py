"""The memory store's passkeys (:class:`storage.interface.PasskeyStore`), with the SQL
backends' checks, errors and compare-and-set."""

from __future__ import annotations

import dataclasses
import datetime as _dt
from collections.abc import Sequence

from storage._memory_base import MemoryBase, op, utc
from storage._passkey_values import (
    check_challenge,
    check_credential_id,
    check_hash,
    check_name,
    check_passkey,
    check_prf_wrap,
    credential_hash,
    role_key,
    role_of,
)
from storage._values import check_id, check_int64
from storage.errors import Conflict, InvalidArgument, NotFound
from storage.records import Passkey, PasskeyChallenge, PasskeyRequirement, Role

__all__ = ["MemoryPasskeys"]


class MemoryPasskeys(MemoryBase):
    def __init__(self) -> None:
        super().__init__()
        self._passkeys: dict[str, Passkey] = {}
        self._passkey_by_hash: dict[bytes, str] = {}
        self._challenges: dict[bytes, PasskeyChallenge] = {}
        self._requirements: dict[tuple[str, str], PasskeyRequirement] = {}

    def _stored_passkey(self, passkey_id: str) -> Passkey:
        p = self._passkeys.get(check_id(passkey_id, "passkey_id"))
        if p is None:
            raise NotFound("passkey")
        return p

    def _put(self, p: Passkey) -> Passkey:
        self._passkeys[p.passkey_id] = p
        return p

    @op
    async def add_passkey(self, passkey: Passkey) -> Passkey:
        p = check_passkey(passkey)
        h = credential_hash(p.credential_id)
        if p.passkey_id in self._passkeys or h in self._passkey_by_hash:
            raise Conflict("duplicate")
        self._user(p.user_id)
        p = dataclasses.replace(
            p,
            created_at=utc(p.created_at),
            last_used_at=None if p.last_used_at is None else utc(p.last_used_at),
        )
        self._passkey_by_hash[h] = p.passkey_id
        return self._put(p)

    @op
    async def find_passkey(self, credential_id: bytes) -> Passkey:
        pid = self._passkey_by_hash.get(credential_hash(check_credential_id(credential_id)))
        if pid is None:
            raise NotFound("passkey")
        return self._passkeys[pid]

    @op
    async def list_passkeys(self, user_id: str) -> list[Passkey]:
        uid = check_id(user_id, "user_id")
        mine = [p for p in self._passkeys.values() if p.user_id == uid]
        return sorted(mine, key=lambda p: (p.created_at, p.passkey_id))

    @op
    async def use_passkey(
        self,
        passkey_id: str,
        *,
        expected_sign_count: int,
        sign_count: int,
        backed_up: bool,
        now: _dt.datetime,
    ) -> Passkey:
        check_id(passkey_id, "passkey_id")
        expected = check_int64(expected_sign_count, "expected_sign_count")
        new = check_int64(sign_count, "sign_count")
        if new >= 2**32 or not isinstance(backed_up, bool):
            raise InvalidArgument("sign_count or backed_up out of range")
        at = utc(now)
        p = self._stored_passkey(passkey_id)
        if p.sign_count != expected:
            raise Conflict("state_changed")
        return self._put(
            dataclasses.replace(p, sign_count=new, backed_up=backed_up, last_used_at=at)
        )

    @op
    async def rename_passkey(self, passkey_id: str, name: str) -> Passkey:
        check_id(passkey_id, "passkey_id")
        name = check_name(name)
        return self._put(dataclasses.replace(self._stored_passkey(passkey_id), name=name))

    @op
    async def set_passkey_prf_wrap(self, passkey_id: str, prf_wrap: bytes | None) -> Passkey:
        check_id(passkey_id, "passkey_id")
        wrap = check_prf_wrap(prf_wrap)
        return self._put(dataclasses.replace(self._stored_passkey(passkey_id), prf_wrap=wrap))

    @op
    async def delete_passkey(self, passkey_id: str) -> None:
        p = self._stored_passkey(passkey_id)
        del self._passkeys[p.passkey_id]
        del self._passkey_by_hash[credential_hash(p.credential_id)]

    @op
    async def delete_user_passkeys(self, user_id: str) -> int:
        uid = check_id(user_id, "user_id")
        mine = [p for p in self._passkeys.values() if p.user_id == uid]
        for p in mine:
            del self._passkeys[p.passkey_id]
            del self._passkey_by_hash[credential_hash(p.credential_id)]
        return len(mine)

    @op
    async def put_passkey_challenge(self, challenge: PasskeyChallenge) -> None:
        c = check_challenge(challenge)
        if c.user_id is not None:
            self._referenced_user(c.user_id)
        c = dataclasses.replace(c, created_at=utc(c.created_at), expires_at=utc(c.expires_at))
        for h in [h for h, old in self._challenges.items() if old.expires_at <= c.created_at]:
            del self._challenges[h]
        if c.challenge_hash in self._challenges:
            raise Conflict("duplicate")
        self._challenges[c.challenge_hash] = c

    @op
    async def get_passkey_challenge(self, challenge_hash: bytes) -> PasskeyChallenge:
        c = self._challenges.get(check_hash(challenge_hash, "challenge_hash"))
        if c is None:
            raise NotFound("passkey_challenge")
        return c

    @op
    async def take_passkey_challenge(self, challenge_hash: bytes) -> PasskeyChallenge:
        c = self._challenges.pop(check_hash(challenge_hash, "challenge_hash"), None)
        if c is None:
            raise NotFound("passkey_challenge")
        return c

    @op
    async def set_passkey_requirement(
        self, org_id: str, role: Role | None, *, created_by: str | None, now: _dt.datetime
    ) -> PasskeyRequirement:
        oid = check_id(org_id, "org_id")
        key = role_key(role)
        by = None if created_by is None else check_id(created_by, "created_by")
        at = utc(now)
        self._org(oid)
        if by is not None:
            self._referenced_user(by)
        old = self._requirements.get((oid, key))
        if old is not None:
            return old
        req = PasskeyRequirement(org_id=oid, role=role_of(key), created_by=by, created_at=at)
        self._requirements[(oid, key)] = req
        return req

    @op
    async def clear_passkey_requirement(self, org_id: str, role: Role | None) -> None:
        self._requirements.pop((check_id(org_id, "org_id"), role_key(role)), None)

    @op
    async def list_passkey_requirements(self, org_ids: Sequence[str]) -> list[PasskeyRequirement]:
        if isinstance(org_ids, str):
            raise InvalidArgument("org_ids must be a sequence of ids")
        ids = {check_id(o, "org_id") for o in org_ids}
        return [self._requirements[k] for k in sorted(self._requirements) if k[0] in ids]
