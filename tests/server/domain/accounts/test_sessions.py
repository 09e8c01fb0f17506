"""Sessions against the domain services: idle timeout, touching at most once a minute,
logout, revoking one's own session, and who is told."""

from __future__ import annotations

import pytest

from server.errors import AuthError, NotFound
from tests.server.domain.world import Clinic


async def test_a_session_idles_out_and_use_keeps_it_alive(cast: Clinic) -> None:
    w = cast.world
    token = (await w.enrol(cast.gp)).token
    idle = w.services.settings.session_idle_timeout
    w.clock.advance(idle - 1)
    auth = await w.services.sessions.authenticate(token)
    assert auth.session.last_seen_at == w.clock.now()  # used: refreshed
    w.clock.advance(30)
    again = await w.services.sessions.authenticate(token)
    assert again.session.last_seen_at == auth.session.last_seen_at  # < a minute: no write
    w.clock.advance(idle - 30)
    with pytest.raises(AuthError):
        await w.services.sessions.authenticate(token)


async def test_checking_without_touching_does_not_keep_a_session_alive(cast: Clinic) -> None:
    w = cast.world
    token = (await w.enrol(cast.gp)).token
    idle = w.services.settings.session_idle_timeout
    w.clock.advance(idle - 1)
    await w.services.sessions.authenticate(token, touch=False)
    w.clock.advance(1)
    with pytest.raises(AuthError):
        await w.services.sessions.authenticate(token, touch=False)


async def test_logout_and_revoking_ones_own_session(cast: Clinic) -> None:
    w = cast.world
    enrolled = await w.enrol(cast.gp)
    second = await w.sign_in(cast.gp, enrolled.secret)
    auth = await w.services.sessions.authenticate(enrolled.token)
    sessions = await w.services.sessions.list_sessions(cast.gp.user_id)
    # Two full sessions and the two pending ones they replaced (revoked).
    live = [s for s in sessions if s.revoked_at is None]
    assert len(live) == 2 and all(s.mfa_verified for s in live)
    other = next(s for s in live if s.session_id_hash != auth.session.session_id_hash)
    with pytest.raises(NotFound):
        await w.services.sessions.revoke_own_session(auth, "00" * 32, None)
    await w.services.sessions.revoke_own_session(auth, other.session_id_hash.hex(), None)
    with pytest.raises(AuthError):
        await w.services.sessions.authenticate(second)
    await w.services.sessions.logout(enrolled.token, None)
    with pytest.raises(AuthError):
        await w.services.sessions.authenticate(enrolled.token)
    assert w.revoked == [cast.gp.user_id, cast.gp.user_id]
    await w.services.sessions.logout(enrolled.token, None)  # twice: nothing more happens
    assert w.revoked == [cast.gp.user_id, cast.gp.user_id]
    with pytest.raises(AuthError):
        await w.services.sessions.authenticate(None)
