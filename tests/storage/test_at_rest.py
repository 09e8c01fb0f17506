"""Encryption at rest at the storage boundary (issue 3, item 6): the canary byte scan, the
master key's sources and permissions, and key rotation (resumable, reads served throughout).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import asyncpg
import pytest

from storage import (
    AtRestKeyError,
    Attachment,
    AuditEvent,
    CaseState,
    Invite,
    KeyRecipientKind,
    Membership,
    NewCase,
    NewMessage,
    Organisation,
    OrgKind,
    Outcome,
    OutcomeCategory,
    Participant,
    Passkey,
    Priority,
    Role,
    Session,
    Storage,
    StorageConfig,
    WrappedCaseKey,
    open_storage,
)
from storage.keys import encode_master_key
from tests.storage.conftest import PG_DSN, T0, fresh_key, new_user

CANARIES = [f"CANARY{i:02d}-zebra-quartz-{i * 7919:06d}".encode() for i in range(44)]


def forms(canary: bytes) -> list[bytes]:
    """The canary raw, in hex (both cases) and in base64 at each of the three alignments
    (the inner characters that do not depend on neighbouring bytes)."""
    out = [canary, canary.hex().encode(), canary.hex().upper().encode()]
    for shift in range(3):
        enc = base64.b64encode(b"\0" * shift + canary)
        skip = -(-shift * 4 // 3) + 1
        out.append(enc[skip:-4])
        out.append(base64.urlsafe_b64encode(b"\0" * shift + canary)[skip:-4])
    return out


async def fill_with_canaries(store: Storage) -> None:
    c = iter(CANARIES)
    t = lambda: next(c).decode()  # noqa: E731
    b = lambda: next(c)  # noqa: E731
    await store.create_organisation(Organisation("prac", OrgKind.PRACTICE, t(), b(), T0))
    await store.create_organisation(Organisation("serv", OrgKind.SERVICE, t(), None, T0))
    await store.create_user(
        new_user(
            "gp",
            login=t(),
            display_name=t(),
            kdf_params=b(),
            auth_key_hash=t(),
            wrapped_usk=b(),
            encryption_public_key=b(),
            signing_public_key=b(),
            sealed_private_keys=b(),
            recovery_wrapped_usk=b(),
            org_wrapped_usk=b(),
        ),
        [Membership("prac", Role.GP)],
    )
    await store.begin_totp_enrolment("gp", b(), T0)
    await store.confirm_totp("gp", 5, [t(), t()], T0)
    await store.create_session(
        Session(hashlib.sha256(b"s").digest(), "gp", T0, T0, T0, t(), t(), True)
    )
    await store.create_invite(
        Invite(hashlib.sha256(b"i").digest(), "prac", Role.GP, "gp", T0, T0, login_name=t())
    )
    await store.create_case(
        NewCase("case", "prac", "serv", "gp", Priority.URGENT, T0),
        [Participant("case", "gp", Role.GP, T0)],
        [WrappedCaseKey("case", 0, KeyRecipientKind.USER, "gp", b(), T0)],
    )
    for i in range(5):
        await store.append_message("case", f"m{i}", "gp", b(), T0)
    await store.create_attachment(
        Attachment("att", "case", "gp", "a" * 32, hashlib.sha256(b()).digest(), 9, t(), b(), T0)
    )
    await store.transition_case(
        "case", CaseState.SUBMITTED, CaseState.IN_REVIEW, T0, message=NewMessage("mv", "gp", b())
    )
    await store.transition_case(
        "case",
        CaseState.IN_REVIEW,
        CaseState.CLOSED,
        T0,
        outcome=Outcome("case", OutcomeCategory.REFERRAL, b(), "gp", T0),
    )
    await store.append_audit(
        AuditEvent(t(), T0, actor_id="gp", target="case", client_address=t(), detail=b())
    )
    await store.checkpoint_audit(T0)
    await store.add_passkey(
        Passkey(
            passkey_id="pk",
            user_id="gp",
            credential_id=b(),
            public_key=b(),
            sign_count=0,
            name=t(),
            created_at=T0,
            prf_wrap=b(),
        )
    )

    async def blob() -> AsyncIterator[bytes]:
        for _ in range(3):
            yield next(c) * 1000

    await store.blobs.put(blob(), max_size=1 << 20)


def scan_files(paths: list[Path]) -> list[str]:
    hits = []
    for path in paths:
        data = path.read_bytes()
        for canary in CANARIES:
            for form in forms(canary):
                if form in data:
                    hits.append(f"{path.name}: {canary.decode()}")
    return hits


def data_files(data_dir: Path) -> list[Path]:
    return [p for p in data_dir.rglob("*") if p.is_file() and not p.name.startswith("master")]


async def test_no_plaintext_at_rest_sqlite(tmp_path: Path) -> None:
    cfg = StorageConfig(data_dir=tmp_path, master_key_env="DERMLINE_TEST_UNSET")
    store = await open_storage(cfg)
    try:
        await fill_with_canaries(store)
        files = data_files(tmp_path)
        names = {p.name for p in files}
        # The scan covers the live WAL (not yet checkpointed) and the blob folder.
        assert {"dermline.sqlite3", "dermline.sqlite3-wal"} <= names
        assert any(p.suffix == ".blob" for p in files)
        assert scan_files(files) == []
    finally:
        await store.close()
    assert scan_files(data_files(tmp_path)) == []  # after the final checkpoint too


async def test_scan_finds_plaintext_when_encryption_is_off(tmp_path: Path) -> None:
    """The scanner itself works: with the benchmark-only switch the canaries are found."""
    cfg = StorageConfig(
        data_dir=tmp_path,
        master_key_env="DERMLINE_TEST_UNSET",
        insecure_disable_at_rest_encryption=True,
    )
    store = await open_storage(cfg)
    try:
        await store.create_organisation(
            Organisation("prac", OrgKind.PRACTICE, CANARIES[0].decode(), None, T0)
        )
        await store.create_user(new_user("u", kdf_params=CANARIES[1]))
    finally:
        await store.close()
    hits = scan_files(data_files(tmp_path))
    assert any(CANARIES[0].decode() in h for h in hits)
    assert any(CANARIES[1].decode() in h for h in hits)


async def test_no_plaintext_in_a_table_dump(
    make_config: Callable[..., StorageConfig], backend: str, tmp_path: Path
) -> None:
    """PostgreSQL's files belong to its server, so the scan reads a text dump of every table
    of the test schema instead (bytea appears as hex there), plus the blob folder. On the
    SQLite parametrisation this checks the same through SQLite's own table dump."""
    cfg = make_config()
    store = await open_storage(cfg)
    try:
        await fill_with_canaries(store)
    finally:
        await store.close()
    dump: list[str] = []
    if backend == "postgres":
        assert PG_DSN is not None
        conn = await asyncpg.connect(PG_DSN)
        try:
            tables = await conn.fetch(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = $1",
                cfg.postgres_schema,
            )
            for (name,) in tables:
                rows = await conn.fetch(f'SELECT t::text FROM "{cfg.postgres_schema}"."{name}" t')
                dump += [r[0] for r in rows]
        finally:
            await conn.close()
    else:
        with sqlite3.connect(cfg.sqlite_path) as db:
            dump = list(db.iterdump())
    text = "\n".join(dump).encode()
    assert len(dump) > 20
    hits = [c for c in CANARIES for f in forms(c) if f in text or f.lower() in text]
    assert hits == []
    assert scan_files(data_files(cfg.data_dir)) == []  # blob folder (and SQLite files)


# ------------------------------------------------------------------ master key sources


async def test_key_file_created_0600_and_reused(tmp_path: Path) -> None:
    cfg = StorageConfig(data_dir=tmp_path, master_key_env="DERMLINE_TEST_UNSET")
    store = await open_storage(cfg)
    await store.create_organisation(Organisation("p", OrgKind.PRACTICE, "name", None, T0))
    await store.close()
    key_file = tmp_path / "master.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert len(base64.b64decode(key_file.read_text())) == 32
    store = await open_storage(cfg)
    try:
        assert (await store.get_organisation("p")).name == "name"
    finally:
        await store.close()


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
async def test_group_or_world_readable_key_file_is_refused(tmp_path: Path, mode: int) -> None:
    key_file = tmp_path / "master.key"
    key_file.write_text(fresh_key())
    key_file.chmod(mode)
    with pytest.raises(AtRestKeyError) as e:
        await open_storage(StorageConfig(data_dir=tmp_path, master_key_env="DERMLINE_TEST_UNSET"))
    assert "readable" in str(e.value)


@pytest.mark.parametrize("content", ["not base64!", base64.b64encode(b"short").decode()])
async def test_malformed_key_file_is_refused(tmp_path: Path, content: str) -> None:
    key_file = tmp_path / "master.key"
    key_file.write_text(content)
    key_file.chmod(0o600)
    with pytest.raises(AtRestKeyError) as e:
        await open_storage(StorageConfig(data_dir=tmp_path, master_key_env="DERMLINE_TEST_UNSET"))
    assert content not in str(e.value)


async def test_environment_key_and_wrong_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = fresh_key()
    monkeypatch.setenv("DERMLINE_TEST_MK", key)
    cfg = StorageConfig(data_dir=tmp_path, master_key_env="DERMLINE_TEST_MK")
    store = await open_storage(cfg)
    await store.create_organisation(Organisation("p", OrgKind.PRACTICE, "n", None, T0))
    await store.close()
    assert not (tmp_path / "master.key").exists()
    monkeypatch.setenv("DERMLINE_TEST_MK", fresh_key())
    with pytest.raises(AtRestKeyError) as e:
        await open_storage(cfg)
    assert key not in str(e.value)


# ------------------------------------------------------------------ rotation


async def stored_field_key_ids(cfg: StorageConfig) -> set[int]:
    """Key ids in the headers of stored message envelopes (read straight from the DB)."""
    if cfg.backend == "sqlite":
        with sqlite3.connect(cfg.sqlite_path) as db:
            rows = db.execute("SELECT envelope_sealed FROM messages").fetchall()
    else:
        assert PG_DSN is not None
        conn = await asyncpg.connect(PG_DSN)
        try:
            rows = await conn.fetch(f'SELECT envelope_sealed FROM "{cfg.postgres_schema}".messages')
        finally:
            await conn.close()
    return {int.from_bytes(bytes(r[0])[1:5], "big") for r in rows}


async def seed(store: Storage, n: int = 60) -> None:
    await store.create_organisation(Organisation("prac", OrgKind.PRACTICE, "P", None, T0))
    await store.create_organisation(Organisation("serv", OrgKind.SERVICE, "S", None, T0))
    await store.create_user(new_user("gp"))
    await store.create_case(NewCase("case", "prac", "serv", "gp", Priority.ROUTINE, T0), [], [])
    for i in range(n):
        await store.append_message("case", f"m{i:03d}", "gp", f"body {i}".encode(), T0)
    await store.append_audit(AuditEvent("login.ok", T0, actor_id="gp"))


async def collect(store: Storage, blob_id: str) -> bytes:
    return b"".join([c async for c in store.blobs.open(blob_id)])


async def one_blob() -> AsyncIterator[bytes]:
    yield b"photo-bytes" * 1000


async def test_data_key_rotation_reencrypts_everything_and_serves_reads(
    make_config: Callable[..., StorageConfig],
) -> None:
    cfg = make_config()
    store = await open_storage(cfg)
    try:
        await seed(store)
        blob = await store.blobs.put(one_blob(), max_size=1 << 20)
        before = await stored_field_key_ids(cfg)
        assert len(before) == 1

        async def reader() -> int:
            reads = 0
            while not rotation.done():
                msgs = await store.list_messages("case", limit=100)
                assert [m.envelope for m in msgs] == [f"body {i}".encode() for i in range(60)]
                reads += 1
                await asyncio.sleep(0)
            return reads

        rotation = asyncio.ensure_future(store.rotate_keys(batch_size=7))
        reads = await reader()
        report = await rotation
        assert reads > 0
        assert len(report.new_data_key_ids) == 2
        assert report.rows_reencrypted >= 60
        assert report.blobs_reencrypted == 1
        after = await stored_field_key_ids(cfg)
        assert after.isdisjoint(before) and len(after) == 1
        assert await collect(store, blob.blob_id) == b"photo-bytes" * 1000
        assert (await store.get_user("gp")).kdf_params == b"kdf:gp"
        assert (await store.verify_audit()).entries == 1
    finally:
        await store.close()
    store = await open_storage(cfg)  # a restart loads the new keys
    try:
        assert len(await store.list_messages("case")) == 60
        assert await collect(store, blob.blob_id) == b"photo-bytes" * 1000
    finally:
        await store.close()


async def test_interrupted_rotation_resumes(
    make_config: Callable[..., StorageConfig], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = make_config()
    store = await open_storage(cfg)
    await seed(store, n=50)
    original = store._write  # type: ignore[attr-defined]
    calls = {"n": 0}

    async def flaky(fn):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 6:
            raise RuntimeError("simulated crash mid-rotation")
        return await original(fn)

    monkeypatch.setattr(store, "_write", flaky)
    with pytest.raises(RuntimeError):
        await store.rotate_keys(batch_size=10)
    await store.close()
    mixed = await stored_field_key_ids(cfg)
    assert len(mixed) == 2  # half done: some rows under the old key, some under the new

    store = await open_storage(cfg)
    try:
        assert len(await store.list_messages("case")) == 50  # readable mid-rotation
        report = await store.rotate_keys(batch_size=10)
        assert report.new_data_key_ids == ()  # resumed, did not start over with new keys
        assert len(await stored_field_key_ids(cfg)) == 1
        assert len(await store.list_messages("case")) == 50
        again = await store.rotate_keys(batch_size=10)  # a fresh rotation starts a new one
        assert len(again.new_data_key_ids) == 2
    finally:
        await store.close()


async def test_master_key_rotation_with_key_file(tmp_path: Path) -> None:
    cfg = StorageConfig(data_dir=tmp_path, master_key_env="DERMLINE_TEST_UNSET")
    store = await open_storage(cfg)
    await seed(store, n=3)
    old = (tmp_path / "master.key").read_text()
    new = os.urandom(32)
    report = await store.rotate_keys(new_master_key=new, rotate_data_keys=False)
    assert report.master_key_rotated and report.rows_reencrypted == 0
    await store.close()
    assert (tmp_path / "master.key").read_text().strip() == encode_master_key(new)
    assert (tmp_path / "master.key").stat().st_mode & 0o777 == 0o600
    assert not (tmp_path / "master.key.new").exists()
    store = await open_storage(cfg)
    try:
        assert len(await store.list_messages("case")) == 3
    finally:
        await store.close()
    (tmp_path / "master.key").write_text(old)  # the old key no longer opens anything
    with pytest.raises(AtRestKeyError):
        await open_storage(cfg)


async def test_master_rotation_interrupted_before_rename_completes_on_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = StorageConfig(data_dir=tmp_path, master_key_env="DERMLINE_TEST_UNSET")
    store = await open_storage(cfg)
    await seed(store, n=3)
    new = os.urandom(32)

    def crash() -> None:
        raise RuntimeError("crash before rename")

    monkeypatch.setattr(store, "_finish_master_file_rotation", crash)
    with pytest.raises(RuntimeError):
        await store.rotate_keys(new_master_key=new, rotate_data_keys=False)
    await store.close()
    assert (tmp_path / "master.key.new").exists()
    store = await open_storage(cfg)  # finishes the rotation
    try:
        assert len(await store.list_messages("case")) == 3
    finally:
        await store.close()
    assert (tmp_path / "master.key").read_text().strip() == encode_master_key(new)
    assert not (tmp_path / "master.key.new").exists()


async def test_master_key_rotation_from_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DERMLINE_TEST_MK", fresh_key())
    cfg = StorageConfig(data_dir=tmp_path, master_key_env="DERMLINE_TEST_MK")
    store = await open_storage(cfg)
    await seed(store, n=2)
    new = os.urandom(32)
    await store.rotate_keys(new_master_key=new, rotate_data_keys=False)
    await store.close()
    with pytest.raises(AtRestKeyError):
        await open_storage(cfg)  # the operator has not deployed the new key yet
    monkeypatch.setenv("DERMLINE_TEST_MK", encode_master_key(new))
    store = await open_storage(cfg)
    try:
        assert len(await store.list_messages("case")) == 2
    finally:
        await store.close()


async def test_a_running_server_keeps_reading_after_another_process_rotates(
    make_config: Callable[..., StorageConfig],
) -> None:
    """`dermline keys rotate` runs as a second process beside the server: the server meets
    records under keys it has not loaded, reloads its key ring and carries on."""
    server = await open_storage(make_config())
    try:
        await seed(server, n=5)
        blob = await server.blobs.put(one_blob(), max_size=1 << 20)
        cli = await open_storage(make_config())
        try:
            report = await cli.rotate_keys(batch_size=3)
            assert report.rows_reencrypted > 0 and report.blobs_reencrypted == 1
            await cli.append_message("case", "after-rotation", "gp", b"new-key", T0)
        finally:
            await cli.close()
        msgs = await server.list_messages("case")
        assert [m.envelope for m in msgs][-1] == b"new-key" and len(msgs) == 6
        assert await collect(server, blob.blob_id) == b"photo-bytes" * 1000
        # the server's own writes after the rotation are readable by a fresh process
        await server.append_message("case", "from-server", "gp", b"server", T0)
    finally:
        await server.close()
    fresh = await open_storage(make_config())
    try:
        [last] = await fresh.list_messages("case", after_seq=6)
        assert (last.client_msg_id, last.envelope) == ("from-server", b"server")
    finally:
        await fresh.close()


def test_config_repr_hides_the_dsn(tmp_path: Path) -> None:
    cfg = StorageConfig(backend="postgres", postgres_dsn="postgresql://u:s3cret@h/db")
    assert "s3cret" not in repr(cfg)


async def test_key_file_owned_by_someone_else_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = tmp_path / "master.key"
    key_file.write_text(fresh_key())
    key_file.chmod(0o600)
    monkeypatch.setattr(os, "getuid", lambda: os.stat(key_file).st_uid + 1)
    with pytest.raises(AtRestKeyError, match="another user"):
        await open_storage(StorageConfig(data_dir=tmp_path, master_key_env="DERMLINE_TEST_UNSET"))


async def test_rotation_with_concurrent_writers_loses_nothing(
    make_config: Callable[..., StorageConfig],
) -> None:
    store = await open_storage(make_config())
    try:
        await seed(store, n=40)
        written: list[str] = []

        async def keep_writing() -> None:
            i = 0
            while not rotation.done():
                mid = f"live{i:04d}"
                await store.append_message("case", mid, "gp", mid.encode(), T0)
                written.append(mid)
                i += 1

        rotation = asyncio.ensure_future(store.rotate_keys(batch_size=5))
        await asyncio.gather(keep_writing(), rotation)
        assert written
        msgs = await store.list_messages("case", limit=10_000)
        assert len(msgs) == 40 + len(written)
        assert [m.seq for m in msgs] == list(range(1, len(msgs) + 1))
        live = {m.client_msg_id: m.envelope for m in msgs if m.client_msg_id.startswith("live")}
        assert live == {mid: mid.encode() for mid in written}
    finally:
        await store.close()


@pytest.mark.parametrize("kind", ["symlink", "dangling_symlink", "fifo", "directory", "huge"])
async def test_hostile_key_file_is_refused(tmp_path: Path, kind: str) -> None:
    """Whatever sits where the key file should be, the start fails with AtRestKeyError and
    a message without key material: a symlink (the checks would be about another file, and an
    attacker could point it at a key of theirs), a FIFO (would hang a naive read), a folder,
    a file far larger than a key. A dangling symlink is not replaced by a fresh key either."""
    key_file = tmp_path / "master.key"
    elsewhere = tmp_path / "elsewhere.key"
    key = fresh_key()
    if kind == "symlink":
        elsewhere.write_text(key)
        elsewhere.chmod(0o600)
        key_file.symlink_to(elsewhere)
    elif kind == "dangling_symlink":
        key_file.symlink_to(tmp_path / "missing.key")
    elif kind == "fifo":
        os.mkfifo(key_file, 0o600)
    elif kind == "directory":
        key_file.mkdir(mode=0o700)
    else:
        key_file.write_text(key + "\n" * 1000)
        key_file.chmod(0o600)
    with pytest.raises(AtRestKeyError) as e:
        await open_storage(StorageConfig(data_dir=tmp_path, master_key_env="DERMLINE_TEST_UNSET"))
    assert key not in str(e.value)
    assert not (tmp_path / "missing.key").exists()


async def test_key_file_that_cannot_be_created_is_an_at_rest_key_error(tmp_path: Path) -> None:
    parent = tmp_path / "not-a-folder"
    parent.write_text("")
    cfg = StorageConfig(
        data_dir=tmp_path, master_key_file=parent / "master.key", master_key_env="DERMLINE_UNSET"
    )
    with pytest.raises(AtRestKeyError, match="cannot be created"):
        await open_storage(cfg)


async def test_new_data_folder_is_private(tmp_path: Path) -> None:
    data = tmp_path / "fresh" / "data"
    store = await open_storage(StorageConfig(data_dir=data, master_key_env="DERMLINE_TEST_UNSET"))
    await store.close()
    assert data.stat().st_mode & 0o077 == 0
    for name in ("dermline.sqlite3", "master.key"):
        assert (data / name).stat().st_mode & 0o077 == 0


async def test_writes_that_read_sealed_rows_reload_keys_after_another_process_rotates(
    make_config: Callable[..., StorageConfig],
) -> None:
    """Write units that read a sealed value inside their transaction (a case row carries the
    sealed outcome category, a user row its credentials) meet keys made by another process
    too: each such method reloads and retries (its transaction was rolled back)."""
    from storage import (
        Attachment,
        KeyRecipientKind,
        Outcome,
        OutcomeCategory,
        Participant,
        ReceiptKind,
        Role,
        WrappedCaseKey,
    )
    from storage.keys import KeyRing

    server = await open_storage(make_config())
    try:
        await seed(server, n=1)
        await server.transition_case(
            "case",
            CaseState.SUBMITTED,
            CaseState.CLOSED,
            T0,
            outcome=Outcome("case", OutcomeCategory.REFERRAL, b"clinical", "gp", T0),
        )
        stale = KeyRing()
        stale.replace(server._ring)  # type: ignore[attr-defined]
        cli = await open_storage(make_config())
        try:
            await cli.rotate_keys(batch_size=50)
        finally:
            await cli.close()
        calls = [
            server.add_participants_with_keys(
                [Participant("case", "gp", Role.GP, T0)],
                [WrappedCaseKey("case", 0, KeyRecipientKind.USER, "gp", b"k0", T0)],
            ),
            server.create_attachment(
                Attachment("att", "case", "gp", "b" * 32, b"\0" * 32, 1, "image/jpeg", b"m", T0)
            ),
            server.record_receipt("case", "gp", ReceiptKind.READ, 1, T0),
            server.update_auth_key_hash("gp", "$argon2id$new"),
            server.reset_auth_failures("gp"),
            server.transition_case(
                "case",
                CaseState.CLOSED,
                CaseState.SUBMITTED,
                T0,
                message=NewMessage("resubmit", "gp", b"again"),
            ),
        ]
        for call in calls:
            server._ring.replace(stale)  # type: ignore[attr-defined]
            await call
        assert (await server.get_user("gp")).auth_key_hash == "$argon2id$new"
        [key] = await server.get_case_keys("case")
        assert key.wrapped_key == b"k0"
        assert (await server.get_case("case")).state is CaseState.SUBMITTED
    finally:
        await server.close()
