"""At-rest keys: the master key (key file or environment) and the in-memory key ring.

Master key sources, in order (``docs/storage.md``, "At-rest design"):

1. the environment variable named by ``StorageConfig.master_key_env`` (base64 of 32 bytes);
2. the key file ``StorageConfig.resolved_master_key_file``: created on first start with mode
   0600 (``O_CREAT | O_EXCL``, fsynced, folder fsynced); an existing file that the group or
   others may read is refused, as OpenSSH refuses a private key with loose permissions.

A pending key file ``<key file>.new`` exists only during a master-key rotation (written and
fsynced before the data keys are re-wrapped, renamed over the key file afterwards); at start
both are loaded so a rotation interrupted at any point still opens.

The key ring holds the unwrapped data keys by id, and the active id per purpose. Purposes:
``field`` (every sealed column), ``index`` (blind indexes), ``blob`` (blob files).
"""

from __future__ import annotations

import abc
import base64
import binascii
import os
import stat
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from crypto import at_rest
from crypto.at_rest import AtRestError
from storage.config import StorageConfig
from storage.errors import AtRestKeyError, CorruptRecord

__all__ = [
    "PURPOSES",
    "FieldCipher",
    "KeyRing",
    "MasterKeys",
    "PlainFieldCipher",
    "SealingFieldCipher",
    "UnknownDataKey",
    "encode_master_key",
    "generate_master_key",
    "load_master_keys",
    "normalise_login",
]

PURPOSE_FIELD = "field"
PURPOSE_INDEX = "index"
PURPOSE_BLOB = "blob"
PURPOSES = (PURPOSE_FIELD, PURPOSE_INDEX, PURPOSE_BLOB)


def generate_master_key() -> bytes:
    """32 fresh random bytes."""
    return os.urandom(at_rest.KEY_LEN)


def encode_master_key(key: bytes) -> str:
    """The base64 text form used in the key file and ``DERMLINE_MASTER_KEY``."""
    return base64.b64encode(key).decode("ascii")


def _decode_master_key(text: str, source: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise AtRestKeyError(f"master key in {source} is not valid base64") from None
    if len(key) != at_rest.KEY_LEN:
        raise AtRestKeyError(f"master key in {source} must be 32 bytes")
    return key


#: a key file holds 44 base64 characters and a newline; anything much larger is not one
_MAX_KEY_FILE = 256


def _read_key_file(path: Path) -> bytes:
    # Open first, then check what was opened (fstat), so the checks and the read are about
    # the same file: no window in which it could be swapped. O_NOFOLLOW refuses a symlink
    # planted in place of the key file; O_NONBLOCK keeps a FIFO from hanging the start.
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        raise AtRestKeyError("master key file cannot be read (missing, or a symlink)") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise AtRestKeyError("master key file is not a regular file")
        if st.st_uid != os.getuid():
            raise AtRestKeyError("master key file is owned by another user")
        if st.st_mode & 0o077:
            # Like ssh with a private key: a key others can read is treated as compromised.
            raise AtRestKeyError("master key file is readable by group or others; chmod 600 it")
        raw = os.read(fd, _MAX_KEY_FILE + 1)
        text = raw.decode("ascii")
    except (OSError, UnicodeDecodeError):
        raise AtRestKeyError("master key file cannot be read") from None
    finally:
        os.close(fd)
    if len(raw) > _MAX_KEY_FILE:
        raise AtRestKeyError("master key file is too large to be a key file")
    return _decode_master_key(text, "the key file")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_key_file(path: Path, key: bytes) -> None:
    """Create ``path`` with mode 0600 holding ``key`` (fails if it exists), fsync it and its
    folder. New folders are created 0700 (the data folder also holds the database)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, (encode_master_key(key) + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    _fsync_dir(path.parent)


@dataclass(frozen=True)
class MasterKeys:
    """The current master key and, during a file-based rotation, the pending one."""

    current: bytes = field(repr=False)
    pending: bytes | None = field(default=None, repr=False)
    from_env: bool = False
    key_file: Path | None = None

    def by_id(self) -> dict[str, bytes]:
        """Known master keys by their public id."""
        keys = {at_rest.master_key_id(self.current): self.current}
        if self.pending is not None:
            keys[at_rest.master_key_id(self.pending)] = self.pending
        return keys


def load_master_keys(config: StorageConfig, environ: dict[str, str] | None = None) -> MasterKeys:
    """Load the master key from the environment or the key file, creating the file (0600)
    on first start. Raises :class:`AtRestKeyError` with a message that never contains key
    material."""
    env = os.environ if environ is None else environ
    value = env.get(config.master_key_env)
    if value:
        return MasterKeys(current=_decode_master_key(value, "the environment"), from_env=True)
    path = config.resolved_master_key_file
    pending_path = path.with_name(path.name + ".new")
    # lexists: a dangling symlink counts as present (and is then refused by the reader).
    if not os.path.lexists(path) and not os.path.lexists(pending_path):
        try:
            write_key_file(path, generate_master_key())
        except OSError:
            raise AtRestKeyError("master key file cannot be created") from None
    current = _read_key_file(path) if os.path.lexists(path) else None
    pending = _read_key_file(pending_path) if os.path.lexists(pending_path) else None
    if current is None:
        # Interrupted rotation after the old file was removed: the pending key is current.
        assert pending is not None
        return MasterKeys(current=pending, key_file=path)
    return MasterKeys(current=current, pending=pending, key_file=path)


def normalise_login(login_name: str) -> bytes:
    """Login names compare case-insensitively after Unicode NFKC normalisation."""
    return unicodedata.normalize("NFKC", login_name).strip().casefold().encode("utf-8")


class KeyRing:
    """Unwrapped data keys by id and the active key id per purpose (in memory only)."""

    def __init__(self) -> None:
        self._keys: dict[int, bytes] = {}
        self._purpose: dict[int, str] = {}
        self._active: dict[str, int] = {}

    def add(self, key_id: int, purpose: str, key: bytes, *, active: bool) -> None:
        """Add an unwrapped data key."""
        self._keys[key_id] = key
        self._purpose[key_id] = purpose
        if active:
            self._active[purpose] = key_id

    def replace(self, other: KeyRing) -> None:
        """Take over another ring's contents (after a reload)."""
        self._keys = dict(other._keys)
        self._purpose = dict(other._purpose)
        self._active = dict(other._active)

    def active(self, purpose: str) -> tuple[int, bytes]:
        """The active key id and key of ``purpose``."""
        key_id = self._active[purpose]
        return key_id, self._keys[key_id]

    def active_id(self, purpose: str) -> int:
        """The active key id of ``purpose`` (the sealing hot path needs only the id)."""
        return self._active[purpose]

    def get(self, key_id: int) -> bytes | None:
        """The key with this id, or None if unknown (a reload may be due)."""
        return self._keys.get(key_id)

    def ids(self, purpose: str) -> list[int]:
        """All known key ids of ``purpose``."""
        return sorted(k for k, p in self._purpose.items() if p == purpose)

    def purposes(self) -> Iterable[str]:
        """Purposes with an active key."""
        return self._active.keys()


class UnknownDataKey(CorruptRecord):
    """A record names a data key this process has not loaded: another process (``dermline
    keys rotate``, another node) made it. The storage reloads its key ring and retries."""

    def __init__(self, where: str, key_id: int) -> None:
        super().__init__(where)
        self.key_id = key_id


class FieldCipher(abc.ABC):
    """Seals and opens stored values at the storage boundary."""

    enabled = True

    @abc.abstractmethod
    def seal(self, table: str, column: str, row_id: str, value: bytes) -> bytes:
        """Seal ``value`` for ``table.column`` of row ``row_id``."""

    @abc.abstractmethod
    def open(self, table: str, column: str, row_id: str, record: bytes) -> bytes:
        """Open a sealed value; :class:`CorruptRecord` if it does not authenticate."""

    @abc.abstractmethod
    def index(self, purpose: str, value: bytes) -> bytes:
        """Blind index of ``value``."""

    @abc.abstractmethod
    def needs_reseal(self, record: bytes) -> bool:
        """Whether ``record`` was sealed under a key other than the active field key."""


class SealingFieldCipher(FieldCipher):
    """AES-256-GCM field sealing under the active ``field`` data key (crypto.at_rest)."""

    def __init__(self, ring: KeyRing) -> None:
        self.ring = ring
        self._prepared: dict[int, at_rest.FieldKey] = {}

    def _field_key(self, key_id: int, where: str = "record") -> at_rest.FieldKey:
        fk = self._prepared.get(key_id)
        if fk is None:
            key = self.ring.get(key_id)
            if key is None:
                raise UnknownDataKey(where, key_id)
            fk = self._prepared[key_id] = at_rest.FieldKey(key, key_id)
        return fk

    def seal(self, table: str, column: str, row_id: str, value: bytes) -> bytes:
        key_id = self.ring.active_id(PURPOSE_FIELD)
        fk = self._prepared.get(key_id) or self._field_key(key_id)
        return fk.seal(value, table=table, column=column, row_id=row_id)

    def open(self, table: str, column: str, row_id: str, record: bytes) -> bytes:
        try:
            key_id = at_rest.record_key_id(record)
            fk = self._prepared.get(key_id) or self._field_key(key_id, f"{table}.{column}")
            return fk.open(record, table=table, column=column, row_id=row_id)
        except AtRestError:
            raise CorruptRecord(f"{table}.{column}") from None

    def index(self, purpose: str, value: bytes) -> bytes:
        _, key = self.ring.active(PURPOSE_INDEX)
        return at_rest.blind_index(key, purpose, value)

    def needs_reseal(self, record: bytes) -> bool:
        active_id, _ = self.ring.active(PURPOSE_FIELD)
        try:
            return at_rest.record_key_id(record) != active_id
        except AtRestError:
            raise CorruptRecord("record header") from None


class PlainFieldCipher(FieldCipher):
    """NO at-rest encryption. Exists ONLY so ``bench/bench_storage.py`` can measure the
    overhead of :class:`SealingFieldCipher`; the server never builds it."""

    enabled = False

    def seal(self, table: str, column: str, row_id: str, value: bytes) -> bytes:
        return value

    def open(self, table: str, column: str, row_id: str, record: bytes) -> bytes:
        return record

    def index(self, purpose: str, value: bytes) -> bytes:
        return value

    def needs_reseal(self, record: bytes) -> bool:
        return False
