"""At-rest encryption recipes: envelope encryption of stored fields and blobs.

Rules of this module (DESIGN.md section 3, layer 2; ``docs/storage.md``):

* A **master key** (32 random bytes, from a key file or the environment) never encrypts
  data. It only wraps **data keys** (32 random bytes each, one or more per *purpose*:
  ``field``, ``index``, ``blob``, ...). Every data key has an integer **key id** and the
  wrap binds that id and the purpose, so a wrapped key cannot be swapped for another.
* **Fields** are sealed with AES-256-GCM under a data key with a random 96-bit nonce. The
  associated data binds the table, the column, the row id and the key id, so a sealed value
  copied to another row, column or table does not open.
* Every sealed record starts with a **version byte** and the **key id** (the same idea as
  Fernet's ``0x80``): a rotation reads the key id to know which key sealed a record without
  trying keys, and a later suite can be added without breaking stored records.
* A **blind index** (HMAC-SHA256 under a per-purpose index key) lets storage look up an
  encrypted value by equality (the login name) without storing it in the clear.
* **Blobs** are sealed in chunks (a STREAM-like construction): a per-blob subkey is derived
  with HKDF-SHA256 from the data key, a random per-blob salt and the blob id; each chunk is
  AES-256-GCM with nonce = chunk index || final flag and the blob header as associated data.
  Reordering, dropping or truncating chunks fails authentication.

Pure functions over bytes: no I/O, and no randomness except in the thin public wrappers
(``seal_field``, ``wrap_data_key``, ``new_blob_salt``), whose inner functions take the nonce
(or salt) as an argument so that tests can pin it (STYLE.md, pyca ``fernet.py``).

Wire formats::

    sealed field   = 0x01 | key_id:u32be | nonce:12 | ciphertext | tag:16
    field AD       = "dermline/at-rest/field/v1" | lp(table) | lp(column) | lp(row_id)
                     | key_id:u32be                       (lp(x) = len(x):u16be | x, UTF-8)
    wrapped key    = 0x01 | nonce:12 | ciphertext(32) | tag:16
    wrap AD        = "dermline/at-rest/data-key/v1" | key_id:u32be | lp(purpose)
    blob header    = "DLB" | 0x01 | key_id:u32be | salt:32 | chunk_size:u32be   (44 bytes)
    blob subkey    = HKDF-SHA256(ikm=data_key, salt=salt, info="dermline/at-rest/blob/v1" | blob_id)
    chunk nonce    = index:u64be | 0x000000 | final:u8
    chunk AD       = blob header
    blind index    = HMAC-SHA256(index_key, "dermline/at-rest/index/v1" | lp(purpose) | value)
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from crypto.errors import CryptoError

__all__ = [
    "BLOB_HEADER_LEN",
    "BLOB_TAG_LEN",
    "FIELD_OVERHEAD",
    "KEY_LEN",
    "NONCE_LEN",
    "RECORD_VERSION",
    "AtRestError",
    "BlobHeader",
    "FieldKey",
    "blind_index",
    "blob_header",
    "blob_subkey",
    "master_key_id",
    "new_blob_salt",
    "open_blob_chunk",
    "open_field",
    "parse_blob_header",
    "record_key_id",
    "seal_blob_chunk",
    "seal_field",
    "seal_field_with_nonce",
    "unwrap_data_key",
    "wrap_data_key",
    "wrap_data_key_with_nonce",
]

RECORD_VERSION = 0x01
KEY_LEN = 32
NONCE_LEN = 12
TAG_LEN = 16
_KEY_ID_MAX = 0xFFFFFFFF
_HEADER = struct.Struct(">BI")  # version, key id
FIELD_OVERHEAD = _HEADER.size + NONCE_LEN + TAG_LEN
_WRAPPED_LEN = 1 + NONCE_LEN + KEY_LEN + TAG_LEN

_FIELD_LABEL = b"dermline/at-rest/field/v1"
_WRAP_LABEL = b"dermline/at-rest/data-key/v1"
_INDEX_LABEL = b"dermline/at-rest/index/v1"
_BLOB_LABEL = b"dermline/at-rest/blob/v1"
_MASTER_ID_LABEL = b"dermline/at-rest/master-key-id/v1"

_BLOB_MAGIC = b"DLB"
_BLOB_HEADER = struct.Struct(">3sBI32sI")  # magic, version, key id, salt, chunk size
BLOB_HEADER_LEN = _BLOB_HEADER.size
BLOB_TAG_LEN = TAG_LEN
BLOB_SALT_LEN = 32
_MAX_CHUNK = 1 << 24  # 16 MiB: a sanity bound on the header's chunk size


class AtRestError(CryptoError):
    """A stored record, wrapped key or blob chunk is malformed or fails authentication."""

    message = "at-rest record is invalid or corrupted"


def _check_key(key: bytes, name: str) -> None:
    if not isinstance(key, bytes):
        raise TypeError(f"{name} must be bytes")
    if len(key) != KEY_LEN:
        raise ValueError(f"{name} must be {KEY_LEN} bytes")


def _check_key_id(key_id: int) -> None:
    if not isinstance(key_id, int) or isinstance(key_id, bool):
        raise TypeError("key_id must be an int")
    if not 0 <= key_id <= _KEY_ID_MAX:
        raise ValueError("key_id must fit in 32 bits")


def _lp(text: str) -> bytes:
    raw = text.encode("utf-8")
    if len(raw) > 0xFFFF:
        raise ValueError("label too long")
    return struct.pack(">H", len(raw)) + raw


# --------------------------------------------------------------------------- master key


def master_key_id(master_key: bytes) -> str:
    """A short public identifier of a master key (16 hex digits), stored beside every
    wrapped data key so that a rotation knows which master key wrapped it. A hash of 32
    random bytes reveals nothing about them."""
    _check_key(master_key, "master_key")
    return hashlib.sha256(_MASTER_ID_LABEL + master_key).hexdigest()[:16]


# --------------------------------------------------------------------------- data keys


def _wrap_ad(key_id: int, purpose: str) -> bytes:
    return _WRAP_LABEL + struct.pack(">I", key_id) + _lp(purpose)


def wrap_data_key_with_nonce(
    master_key: bytes, data_key: bytes, *, key_id: int, purpose: str, nonce: bytes
) -> bytes:
    """Wrap ``data_key`` under ``master_key`` with the given 12-byte nonce (inner function;
    production code calls :func:`wrap_data_key`)."""
    _check_key(master_key, "master_key")
    _check_key(data_key, "data_key")
    _check_key_id(key_id)
    if len(nonce) != NONCE_LEN:
        raise ValueError("nonce must be 12 bytes")
    sealed = AESGCM(master_key).encrypt(nonce, data_key, _wrap_ad(key_id, purpose))
    return bytes([RECORD_VERSION]) + nonce + sealed


def wrap_data_key(master_key: bytes, data_key: bytes, *, key_id: int, purpose: str) -> bytes:
    """Wrap a data key under the master key (AES-256-GCM, random nonce), binding its key id
    and purpose."""
    return wrap_data_key_with_nonce(
        master_key, data_key, key_id=key_id, purpose=purpose, nonce=os.urandom(NONCE_LEN)
    )


def unwrap_data_key(master_key: bytes, wrapped: bytes, *, key_id: int, purpose: str) -> bytes:
    """Unwrap a data key; :class:`AtRestError` if it is malformed, was wrapped for another
    key id or purpose, or under another master key."""
    _check_key(master_key, "master_key")
    _check_key_id(key_id)
    if len(wrapped) != _WRAPPED_LEN or wrapped[0] != RECORD_VERSION:
        raise AtRestError
    nonce = wrapped[1 : 1 + NONCE_LEN]
    try:
        return AESGCM(master_key).decrypt(
            nonce, wrapped[1 + NONCE_LEN :], _wrap_ad(key_id, purpose)
        )
    except InvalidTag:
        raise AtRestError from None


# --------------------------------------------------------------------------- fields


@functools.lru_cache(maxsize=256)
def _field_ad_prefix(table: str, column: str) -> bytes:
    # A handful of (table, column) pairs exist; caching their prefix keeps the hot path short.
    return _FIELD_LABEL + _lp(table) + _lp(column)


def _field_ad(table: str, column: str, row_id: str, key_id: int) -> bytes:
    return _field_ad_prefix(table, column) + _lp(row_id) + struct.pack(">I", key_id)


def seal_field_with_nonce(
    data_key: bytes,
    key_id: int,
    plaintext: bytes,
    *,
    table: str,
    column: str,
    row_id: str,
    nonce: bytes,
) -> bytes:
    """Seal one stored value with the given 12-byte nonce (inner function; production code
    calls :func:`seal_field`). Returns ``0x01 | key_id | nonce | ciphertext | tag``."""
    _check_key(data_key, "data_key")
    _check_key_id(key_id)
    if len(nonce) != NONCE_LEN:
        raise ValueError("nonce must be 12 bytes")
    sealed = AESGCM(data_key).encrypt(nonce, plaintext, _field_ad(table, column, row_id, key_id))
    return _HEADER.pack(RECORD_VERSION, key_id) + nonce + sealed


def seal_field(
    data_key: bytes, key_id: int, plaintext: bytes, *, table: str, column: str, row_id: str
) -> bytes:
    """Seal one stored value under a data key with a random 96-bit nonce, bound to its
    table, column and row id. With random nonces one data key may seal up to 2**32 values
    (NIST SP 800-38D, section 8.3); rotation replaces data keys long before that."""
    return seal_field_with_nonce(
        data_key,
        key_id,
        plaintext,
        table=table,
        column=column,
        row_id=row_id,
        nonce=os.urandom(NONCE_LEN),
    )


class FieldKey:
    """One data key prepared for sealing many fields: the AES-GCM key schedule is built once
    (the functions above rebuild it per call). Same wire format as :func:`seal_field` /
    :func:`open_field`; used on the storage layer's hot path, where it also skips what the
    functions above repeat per call (``docs/performance.md``, "At-rest overhead"): the key
    id's bytes are packed once, and opening checks the header against the key's own and
    hands the nonce and ciphertext to AES-GCM as views, not copies."""

    __slots__ = ("_aead", "_header", "_kid", "key_id")

    def __init__(self, data_key: bytes, key_id: int) -> None:
        _check_key(data_key, "data_key")
        _check_key_id(key_id)
        self.key_id = key_id
        self._aead = AESGCM(data_key)
        self._header = _HEADER.pack(RECORD_VERSION, key_id)
        self._kid = struct.pack(">I", key_id)

    def __repr__(self) -> str:
        return f"FieldKey(key_id={self.key_id})"  # never the key

    def seal_with_nonce(
        self, plaintext: bytes, *, table: str, column: str, row_id: str, nonce: bytes
    ) -> bytes:
        """Inner function of :meth:`seal` (the nonce is passed in)."""
        if len(nonce) != NONCE_LEN:
            raise ValueError("nonce must be 12 bytes")
        # The bytes of _field_ad, with the (table, column) prefix cached and the key id
        # packed once.
        ad = _field_ad_prefix(table, column) + _lp(row_id) + self._kid
        return self._header + nonce + self._aead.encrypt(nonce, plaintext, ad)

    def seal(self, plaintext: bytes, *, table: str, column: str, row_id: str) -> bytes:
        """Like :func:`seal_field` under this key (random 96-bit nonce)."""
        nonce = os.urandom(NONCE_LEN)
        ad = _field_ad_prefix(table, column) + _lp(row_id) + self._kid
        return self._header + nonce + self._aead.encrypt(nonce, plaintext, ad)

    def open(self, record: bytes, *, table: str, column: str, row_id: str) -> bytes:
        """Like :func:`open_field`; :class:`AtRestError` also if another key sealed it."""
        if len(record) < FIELD_OVERHEAD or record[: _HEADER.size] != self._header:
            raise AtRestError  # too short, another version, or sealed under another key
        view = memoryview(record)
        try:
            return self._aead.decrypt(
                view[_HEADER.size : _HEADER.size + NONCE_LEN],
                view[_HEADER.size + NONCE_LEN :],
                _field_ad_prefix(table, column) + _lp(row_id) + self._kid,
            )
        except InvalidTag:
            raise AtRestError from None


def record_key_id(record: bytes) -> int:
    """The id of the data key that sealed ``record``; :class:`AtRestError` if the record is
    too short or of an unknown version."""
    if len(record) < FIELD_OVERHEAD or record[0] != RECORD_VERSION:
        raise AtRestError
    key_id: int = _HEADER.unpack_from(record)[1]
    return key_id


def open_field(data_key: bytes, record: bytes, *, table: str, column: str, row_id: str) -> bytes:
    """Open a sealed value; :class:`AtRestError` if it is malformed, was tampered with, was
    moved from another table/column/row, or was sealed under another key."""
    _check_key(data_key, "data_key")
    key_id = record_key_id(record)
    nonce = record[_HEADER.size : _HEADER.size + NONCE_LEN]
    try:
        return AESGCM(data_key).decrypt(
            nonce,
            record[_HEADER.size + NONCE_LEN :],
            _field_ad(table, column, row_id, key_id),
        )
    except InvalidTag:
        raise AtRestError from None


# --------------------------------------------------------------------------- blind index


def blind_index(index_key: bytes, purpose: str, value: bytes) -> bytes:
    """HMAC-SHA256 of ``value`` under a per-purpose index key: equal values give equal
    indexes, so storage can look a value up without holding it in the clear. Callers
    normalise ``value`` first (e.g. case-fold a login name)."""
    _check_key(index_key, "index_key")
    return hmac.new(index_key, _INDEX_LABEL + _lp(purpose) + value, hashlib.sha256).digest()


# --------------------------------------------------------------------------- blobs


@dataclass(frozen=True)
class BlobHeader:
    """The parsed header of an encrypted blob file."""

    key_id: int
    salt: bytes
    chunk_size: int
    raw: bytes


def new_blob_salt() -> bytes:
    """A fresh random 32-byte per-blob salt."""
    return os.urandom(BLOB_SALT_LEN)


def blob_header(key_id: int, salt: bytes, chunk_size: int) -> bytes:
    """Serialise a blob header (44 bytes)."""
    _check_key_id(key_id)
    if len(salt) != BLOB_SALT_LEN:
        raise ValueError("salt must be 32 bytes")
    if not 0 < chunk_size <= _MAX_CHUNK:
        raise ValueError("chunk_size out of range")
    return _BLOB_HEADER.pack(_BLOB_MAGIC, RECORD_VERSION, key_id, salt, chunk_size)


def parse_blob_header(raw: bytes) -> BlobHeader:
    """Parse a blob header; :class:`AtRestError` if malformed."""
    if len(raw) != BLOB_HEADER_LEN:
        raise AtRestError
    magic, version, key_id, salt, chunk_size = _BLOB_HEADER.unpack(raw)
    if magic != _BLOB_MAGIC or version != RECORD_VERSION or not 0 < chunk_size <= _MAX_CHUNK:
        raise AtRestError
    return BlobHeader(key_id=key_id, salt=salt, chunk_size=chunk_size, raw=bytes(raw))


def blob_subkey(data_key: bytes, header: BlobHeader, blob_id: str) -> bytes:
    """Derive the per-blob AES-256-GCM key. A unique key per blob lets the chunk nonce be a
    plain counter (no nonce reuse across blobs, whatever their number)."""
    _check_key(data_key, "data_key")
    return HKDF(
        algorithm=hashes.SHA256(),
        length=KEY_LEN,
        salt=header.salt,
        info=_BLOB_LABEL + blob_id.encode("utf-8"),
    ).derive(data_key)


def _chunk_nonce(index: int, final: bool) -> bytes:
    if not 0 <= index < (1 << 64):
        raise ValueError("chunk index out of range")
    return struct.pack(">Q3xB", index, 1 if final else 0)


def seal_blob_chunk(
    subkey: bytes, header: BlobHeader, index: int, final: bool, chunk: bytes
) -> bytes:
    """Seal chunk number ``index`` (the last one with ``final=True``); returns ciphertext
    plus 16-byte tag."""
    _check_key(subkey, "subkey")
    if len(chunk) > header.chunk_size:
        raise ValueError("chunk larger than the header's chunk size")
    return AESGCM(subkey).encrypt(_chunk_nonce(index, final), chunk, header.raw)


def open_blob_chunk(
    subkey: bytes, header: BlobHeader, index: int, final: bool, sealed: bytes
) -> bytes:
    """Open chunk ``index``; :class:`AtRestError` if it was altered, moved, or if a
    non-final chunk is presented as final (truncation) or vice versa."""
    _check_key(subkey, "subkey")
    try:
        return AESGCM(subkey).decrypt(_chunk_nonce(index, final), sealed, header.raw)
    except InvalidTag:
        raise AtRestError from None
