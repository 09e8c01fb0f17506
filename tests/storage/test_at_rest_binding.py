"""Sealed values are bound to their table, column and row (DESIGN.md section 3: "AES-256-GCM
with the table, column and row id bound as associated data").

An attacker with write access to the database file (but not the keys) moves ciphertexts
around directly in the database: to another row, another column of the same row, or the same
column name and row id in another table. Every such value must fail to open with
``CorruptRecord`` naming the place, on both backends, and the error must not carry content.
"""

from __future__ import annotations

import pytest

from storage import CorruptRecord, Invite, Role, Storage
from tests.storage.conftest import T0, Raw, make_case, make_world, new_user


async def swap(raw: Raw, table: str, pk: str, col_a: str, id_a: str, col_b: str, id_b: str) -> None:
    [(a,)] = await raw(f"SELECT {col_a} FROM {table} WHERE {pk} = ?", id_a)
    [(b,)] = await raw(f"SELECT {col_b} FROM {table} WHERE {pk} = ?", id_b)
    await raw(f"UPDATE {table} SET {col_a} = ? WHERE {pk} = ?", bytes(b), id_a)
    await raw(f"UPDATE {table} SET {col_b} = ? WHERE {pk} = ?", bytes(a), id_b)


async def test_value_moved_to_another_row_does_not_open(sql_store: Storage, raw: Raw) -> None:
    w = await make_world(sql_store)
    await swap(raw, "users", "user_id", "auth_hash_sealed", w.gp, "auth_hash_sealed", w.derm)
    for uid in (w.gp, w.derm):
        with pytest.raises(CorruptRecord) as e:
            await sql_store.get_user(uid)
        assert e.value.where == "users.auth_hash_sealed"
    # the untouched row still opens
    assert (await sql_store.get_user(w.derm2)).user_id == w.derm2


async def test_value_moved_to_another_column_does_not_open(sql_store: Storage, raw: Raw) -> None:
    w = await make_world(sql_store)
    await swap(raw, "users", "user_id", "wrapped_usk_sealed", w.gp, "sign_pub_sealed", w.gp)
    with pytest.raises(CorruptRecord) as e:
        await sql_store.get_user(w.gp)
    assert e.value.where in {"users.wrapped_usk_sealed", "users.sign_pub_sealed"}
    assert "usk-gp-1" not in str(e.value) and w.gp not in str(e.value)


async def test_value_moved_to_another_table_does_not_open(sql_store: Storage, raw: Raw) -> None:
    """``login_sealed`` exists in ``users`` and ``invites``; give a user the id that is the
    invite's row id (the token hash in hex), so that only the table name differs."""
    w = await make_world(sql_store)
    token_hash = bytes(range(16))
    uid = token_hash.hex()
    await sql_store.create_user(new_user(uid, login="victim@example.org"))
    await sql_store.create_invite(
        Invite(token_hash, w.practice, Role.GP, None, T0, T0, login_name="attacker@example.org")
    )
    [(invite_login,)] = await raw(
        "SELECT login_sealed FROM invites WHERE token_hash = ?", token_hash
    )
    await raw("UPDATE users SET login_sealed = ? WHERE user_id = ?", bytes(invite_login), uid)
    with pytest.raises(CorruptRecord) as e:
        await sql_store.get_user(uid)
    assert e.value.where == "users.login_sealed"


async def test_messages_swapped_within_a_case_do_not_open(sql_store: Storage, raw: Raw) -> None:
    await make_world(sql_store)
    await make_case(sql_store, "c1")
    await sql_store.append_message("c1", "m1", "gp-1", b"first", T0)
    await sql_store.append_message("c1", "m2", "derm-1", b"second", T0)
    rows = await raw(
        "SELECT seq, envelope_sealed FROM messages WHERE case_id = ? ORDER BY seq", "c1"
    )
    (s1, e1), (s2, e2) = rows
    await raw("UPDATE messages SET envelope_sealed = ? WHERE case_id = 'c1' AND seq = ?", e2, s1)
    await raw("UPDATE messages SET envelope_sealed = ? WHERE case_id = 'c1' AND seq = ?", e1, s2)
    with pytest.raises(CorruptRecord) as e:
        await sql_store.list_messages("c1")
    assert e.value.where == "messages.envelope_sealed"
    with pytest.raises(CorruptRecord):
        await sql_store.list_messages("c1", after_seq=1)


async def test_case_key_moved_to_another_recipient_does_not_open(
    sql_store: Storage, raw: Raw
) -> None:
    await make_world(sql_store)
    await make_case(sql_store, "c1")
    await raw(
        "UPDATE case_keys SET wrapped_sealed = (SELECT wrapped_sealed FROM case_keys"
        " WHERE case_id = 'c1' AND recipient_kind = 'organisation')"
        " WHERE case_id = 'c1' AND recipient_kind = 'user'"
    )
    with pytest.raises(CorruptRecord) as e:
        await sql_store.get_case_keys("c1")
    assert e.value.where == "case_keys.wrapped_sealed"


async def test_sealed_values_use_fresh_nonces(sql_store: Storage, raw: Raw) -> None:
    """The same plaintext sealed twice for the same place gives different records (random
    96-bit nonces): equal values are not recognisable as equal in the database."""
    await make_world(sql_store)
    await make_case(sql_store, "c1")
    await sql_store.append_message("c1", "m1", "gp-1", b"same", T0)
    [(first,)] = await raw("SELECT envelope_sealed FROM messages WHERE client_msg_id = 'm1'")
    await raw("DELETE FROM messages WHERE client_msg_id = 'm1'")
    await sql_store.append_message("c1", "m1", "gp-1", b"same", T0)
    [(second,)] = await raw("SELECT envelope_sealed FROM messages WHERE client_msg_id = 'm1'")
    first, second = bytes(first), bytes(second)
    assert first[:5] == second[:5]  # version byte and key id
    assert first[5:17] != second[5:17]  # nonce
    assert first != second
    # and nonces differ across all the users' sealed columns too
    rows = await raw("SELECT kdf_params_sealed, wrapped_usk_sealed, auth_hash_sealed FROM users")
    nonces = [bytes(v)[5:17] for r in rows for v in r]
    assert len(set(nonces)) == len(nonces)


async def test_blind_index_is_keyed_and_normalised(sql_store: Storage, raw: Raw) -> None:
    """The login index is an HMAC under a data key (not a plain hash anyone could compute),
    equal for logins that differ only in case or Unicode compatibility form."""
    import hashlib

    await sql_store.create_user(new_user("u1", login="Anna.Smith@Example.org"))
    [(index,)] = await raw("SELECT login_index FROM users WHERE user_id = 'u1'")
    for guess in (b"anna.smith@example.org", b"Anna.Smith@Example.org"):
        assert bytes(index) not in (hashlib.sha256(guess).digest(), guess)
    assert len(bytes(index)) == 32
    found = await sql_store.find_user_by_login("  ANNA.SMITH@EXAMPLE.ORG ")
    assert found is not None and found.user_id == "u1"
    found = await sql_store.find_user_by_login("\uff41nna.smith@example.org")  # fullwidth a
    assert found is not None and found.user_id == "u1"
    assert await sql_store.find_user_by_login("anna.smith@example.com") is None
