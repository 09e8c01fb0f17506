"""crypto.account: key pairs and sealed private keys."""

from __future__ import annotations

import uuid

import pytest

from crypto import account, fingerprint
from crypto.errors import PrivateKeyUnsealError
from crypto.primitives.aead import aes256gcm_seal
from crypto.primitives.ecc import P256_N
from crypto.primitives.kdf import hkdf_sha256

USK = b"u" * 32


def test_generated_pairs_are_consistent(alice: account.AccountKeys) -> None:
    for pair in (alice.encryption, alice.signing):
        assert len(pair.private_key) == 32 and len(pair.public_key) == 65
        assert pair.key_id == fingerprint.key_id(pair.public_key)
        assert account.key_pair_from_private(pair.private_key) == pair
        assert pair.private_key.hex() not in repr(pair)
    assert alice.encryption != alice.signing
    fresh = account.generate_account_keys()
    assert fresh.encryption.key_id != fresh.signing.key_id


def test_seal_round_trip(alice: account.AccountKeys, user_id: uuid.UUID) -> None:
    for purpose, pair in (
        (account.KeyPurpose.ENCRYPTION, alice.encryption),
        (account.KeyPurpose.SIGNING, alice.signing),
    ):
        record = account.seal_private_key(pair, purpose, USK, user_id)
        assert len(record) == 80
        assert account.unseal_private_key(record, purpose, USK, user_id) == pair
        other = account.KeyPurpose(3 - purpose)
        with pytest.raises(PrivateKeyUnsealError):
            account.unseal_private_key(record, other, USK, user_id)


@pytest.mark.parametrize("scalar", [0, P256_N, P256_N + 1, 2**256 - 1])
def test_authentic_but_invalid_scalar_is_refused(user_id: uuid.UUID, scalar: int) -> None:
    # Built by hand with the real seal key: only a holder of the USK could make this, and it
    # must still be refused with the same opaque error (not a ValueError from the curve code).
    head = b"\x01\x01\x05\x01" + bytes(16)
    key = hkdf_sha256(USK, salt=b"", info=b"dermline/v1/private-key-seal", length=32)
    aad = head + b"dermline/v1/private-key\x00" + user_id.bytes
    record = head + bytes(12) + aes256gcm_seal(key, bytes(12), scalar.to_bytes(32, "big"), aad)
    with pytest.raises(PrivateKeyUnsealError):
        account.unseal_private_key(record, account.KeyPurpose.ENCRYPTION, USK, user_id)


def test_misuse(alice: account.AccountKeys, user_id: uuid.UUID) -> None:
    with pytest.raises(TypeError):
        account.seal_private_key(alice.signing.private_key, 1, USK, user_id)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        account.seal_private_key(alice.signing, 9, USK, user_id)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        account.seal_private_key(alice.signing, account.KeyPurpose.SIGNING, bytes(31), user_id)
    with pytest.raises(ValueError):
        account.key_pair_from_private(bytes(32))
    with pytest.raises(ValueError):
        account.key_pair_from_seed(bytes(16))
    with pytest.raises(TypeError):
        account.unseal_private_key(b"", account.KeyPurpose.SIGNING, USK, "id")  # type: ignore[arg-type]
