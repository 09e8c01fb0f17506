"""crypto.records_key: the passphrase-protected records key file."""

from __future__ import annotations

import pytest

from crypto import account, records_key
from crypto.errors import RecordsKeyFileError
from crypto.primitives.ecc import P256_N


def test_round_trip_with_the_real_count() -> None:
    pair = records_key.generate_records_key()
    record = records_key.seal_records_key_file(pair, "a long passphrase")
    assert len(record) == 101
    assert int.from_bytes(record[20:24], "big") == 600_000
    assert records_key.open_records_key_file(record, "a long passphrase") == pair
    with pytest.raises(RecordsKeyFileError):
        records_key.open_records_key_file(record, "a long passphrasE")


@pytest.mark.parametrize("scalar", [0, P256_N, 2**256 - 1])
def test_authentic_but_invalid_scalar_is_refused(scalar: int) -> None:
    pair = records_key.generate_records_key()
    zero = account.KeyPair(
        private_key=scalar.to_bytes(32, "big"), public_key=pair.public_key, key_id=pair.key_id
    )
    record = records_key.seal_records_key_file_from_parts(
        zero, "pw", salt=bytes(16), nonce=bytes(12), iterations=1
    )
    with pytest.raises(RecordsKeyFileError):
        records_key.open_records_key_file(record, "pw")


def test_short_salt_in_a_file_is_refused() -> None:
    pair = records_key.generate_records_key()
    record = records_key.seal_records_key_file_from_parts(
        pair, "pw", salt=bytes(16), nonce=bytes(12), iterations=1
    )
    shortened = record[:24] + b"\x0f" + record[25:40] + record[41:]
    with pytest.raises(RecordsKeyFileError):
        records_key.open_records_key_file(shortened, "pw")


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"salt": bytes(15)}, ValueError),
        ({"nonce": bytes(11)}, ValueError),
        ({"iterations": 0}, ValueError),
        ({"iterations": 2_000_001}, ValueError),
        ({"iterations": "1"}, TypeError),
        ({"passphrase": ""}, ValueError),
        ({"passphrase": b"pw"}, TypeError),
        ({"pair": b"key"}, TypeError),
    ],
)
def test_misuse(kwargs: dict[str, object], error: type) -> None:
    args: dict[str, object] = {
        "pair": records_key.generate_records_key(),
        "passphrase": "pw",
        "salt": bytes(16),
        "nonce": bytes(12),
        "iterations": 1,
    }
    args.update(kwargs)
    pair, phrase = args.pop("pair"), args.pop("passphrase")
    with pytest.raises(error):
        records_key.seal_records_key_file_from_parts(pair, phrase, **args)  # type: ignore[arg-type]


def test_public_wrapper_needs_the_real_count() -> None:
    with pytest.raises(ValueError, match="600,000"):
        records_key.seal_records_key_file(records_key.generate_records_key(), "pw", iterations=1)
