"""The restore drill, on both engines (``docs/operations.md``, "Backups"): a real server
process serves; two clients talk live; a backup is taken while they write; the server and
its data are destroyed; the backup is restored; then every message acknowledged before the
backup started is back (gap-free, the photo too), ``dermline audit verify`` passes, the old
sessions are refused (a restore signs everyone out: a client that saw messages after the
backup point would take the next ones for duplicates), and the clients resume: signed in
again, the GP sends and the dermatologist receives the whole thread and the new message.

SQLite: ``dermline backup --out`` / ``backup verify`` / ``restore --master-key-file``.
PostgreSQL (with ``DERMLINE_TEST_POSTGRES_DSN``): ``pg_dump --format=custom`` and a tar of the
blob folder under the maintenance lock (``flock``), ``pg_restore`` into a fresh database,
then the documented ``UPDATE sessions`` that signs everyone out.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from client_py.api import ApiError
from client_py.client import DermlineClient
from crypto.content import ContentType
from storage.maintenance import LOCK_NAME
from tests.integration.live import PASSWORD, ServerProcess, World, make_world
from tests.samples import HISTORY

pytestmark = pytest.mark.slow

PG_DSN = os.environ.get("DERMLINE_TEST_POSTGRES_DSN")
#: The statement docs/operations.md gives for a PostgreSQL restore.
SIGN_EVERYONE_OUT = (
    "UPDATE sessions SET revoked_at = (extract(epoch FROM now()) * 1000000)::bigint"
    " WHERE revoked_at IS NULL"
)
ENGINES = ["sqlite", "postgres"] if PG_DSN else ["sqlite"]


def _dermline(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _with_db(dsn: str, database: str) -> str:
    return dsn.rsplit("/", 1)[0] + "/" + database


class Deployment:
    """One server process and its data, for either engine; the secrets live apart (as an
    operator keeps them), in the environment, never in the backup."""

    def __init__(self, tmp: Path, engine: str) -> None:
        self.tmp = tmp
        self.engine = engine
        self.data = tmp / "data"
        self.database = f"drill_{secrets.token_hex(4)}"
        self.server = ServerProcess(self.data)
        self.env = self.server.env()
        self.env["DERMLINE_MASTER_KEY"] = _b64(os.urandom(32))
        self.env["DERMLINE_SERVER_SECRET"] = _b64(os.urandom(32))
        if engine == "postgres":
            assert PG_DSN is not None
            self.env["DERMLINE_DATABASE_URL"] = _with_db(PG_DSN, self.database)
        self.server.env = lambda: self.env  # type: ignore[method-assign]

    async def create_database(self) -> None:
        if self.engine == "postgres":
            conn = await asyncpg.connect(PG_DSN)
            try:
                await conn.execute(f'CREATE DATABASE "{self.database}"')
            finally:
                await conn.close()

    async def drop_database(self) -> None:
        if self.engine == "postgres":
            conn = await asyncpg.connect(PG_DSN)
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            finally:
                await conn.close()

    def admin(self, *args: str) -> subprocess.CompletedProcess[str]:
        return _dermline(self.env, *args, "--data-dir", str(self.data))

    def backup(self, out: Path) -> None:
        if self.engine == "sqlite":
            done = self.admin("backup", "--out", str(out))
            assert done.returncode == 0, done.stderr
            assert "needs master key" in done.stdout
            return
        out.mkdir(mode=0o700)
        blobs = self.data / "blobs"
        # As docs/operations.md: the dump, then the blob archive, under the maintenance lock.
        script = (
            f'pg_dump --format=custom --file="{out}/dermline.pgdump" "$DERMLINE_DATABASE_URL"'
            f' && tar -C "{blobs}" --exclude=tmp --exclude={LOCK_NAME} -cf "{out}/blobs.tar" .'
        )
        done = subprocess.run(
            ["flock", str(blobs / LOCK_NAME), "sh", "-c", script],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr

    async def restore(self, backup: Path) -> None:
        if self.engine == "sqlite":
            key_file = self.tmp / "kept-apart" / "master.key"
            key_file.parent.mkdir(mode=0o700)
            key_file.write_text(self.env.pop("DERMLINE_MASTER_KEY") + "\n")
            key_file.chmod(0o600)
            done = self.admin("backup", "verify", str(backup), "--master-key-file", str(key_file))
            assert done.returncode == 0, done.stdout + done.stderr
            assert "backup verifies" in done.stdout
            done = self.admin("restore", str(backup), "--master-key-file", str(key_file))
            assert done.returncode == 0, done.stdout + done.stderr
            return
        await self.create_database()
        done = await asyncio.to_thread(
            subprocess.run,
            [
                "pg_restore",
                "--no-owner",
                f"--dbname={self.env['DERMLINE_DATABASE_URL']}",
                str(backup / "dermline.pgdump"),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        (self.data / "blobs").mkdir(parents=True, mode=0o700)
        await asyncio.to_thread(
            subprocess.run,
            ["tar", "-C", str(self.data / "blobs"), "-xf", str(backup / "blobs.tar")],
            check=True,
            timeout=60,
        )
        # docs/operations.md, "Restoring": everyone signs in again after a restore.
        await asyncio.to_thread(
            subprocess.run,
            ["psql", self.env["DERMLINE_DATABASE_URL"], "-c", SIGN_EVERYONE_OUT],
            check=True,
            timeout=60,
            capture_output=True,
        )

    def destroy(self) -> None:
        self.server.kill()
        shutil.rmtree(self.data)


def _b64(raw: bytes) -> str:
    import base64

    return base64.b64encode(raw).decode()


@pytest.fixture(params=ENGINES)
async def deployment(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Deployment]:
    d = Deployment(tmp_path, str(request.param))
    await d.create_database()
    try:
        yield d
    finally:
        d.server.stop()
        await d.drop_database()


async def test_backup_while_writing_destroy_restore_resume(deployment: Deployment) -> None:
    d = deployment
    await d.server.start()
    w: World = await make_world(d.server)
    gp, derm = w.gp.client, w.derm.client
    clients: list[DermlineClient] = [gp, derm, w.admin.client]
    try:
        case_id = await gp.create_case(w.practice_id, w.service_id, HISTORY)
        photo = b"\xff\xd8 drill photo " * 500
        await gp.upload_photo(case_id, photo, tag="close_up", body_site="arm")
        await derm.move(case_id, "claim")
        gp_rt = await gp.connect_realtime()
        acked: list[tuple[str, int]] = []
        stop = asyncio.Event()
        reached = asyncio.Event()
        target = [20]

        async def write() -> None:
            i = 0
            while not stop.is_set():
                msg_id, env = await gp.seal(case_id, ContentType.TEXT, {"text": f"live {i}"})
                acked.append((msg_id, await gp_rt.send(case_id, msg_id, env)))
                if len(acked) >= target[0]:
                    reached.set()
                i += 1
                await asyncio.sleep(0.01)

        writer = asyncio.create_task(write())
        await asyncio.wait_for(reached.wait(), 60)
        before_backup = list(acked)  # acknowledged before the backup started
        reached.clear()
        await asyncio.to_thread(d.backup, d.tmp / "backup")
        target[0] = len(acked) + 10  # go on writing after it too
        await asyncio.wait_for(reached.wait(), 60)
        stop.set()
        await writer

        d.destroy()  # the process and its data: gone
        await d.drop_database()
        await d.restore(d.tmp / "backup")
        await d.server.start()

        audit = d.admin("audit", "verify")
        assert audit.returncode == 0 and "audit log verifies" in audit.stdout, audit.stdout

        # Every message acknowledged before the backup is back, in order and gap-free.
        again = DermlineClient(d.server.url)
        clients.append(again)
        await again.login(w.derm.login_name, PASSWORD, totp=w.derm.next_code)
        stored = await again.messages(case_id)
        by_id = {m["client_msg_id"]: m["seq"] for m in stored}
        assert all(by_id.get(msg_id) == seq for msg_id, seq in before_backup)
        assert [m["seq"] for m in stored] == list(range(1, len(stored) + 1))
        photos = await again.photos(case_id)
        assert [await again.download_photo(case_id, p.reference) for p in photos] == [photo]

        # Everyone was signed out by the restore: the GP's old session is refused (its client
        # may have seen messages the restored database no longer has). Signed in again, the
        # clients resume: the dermatologist, connected afresh, gets the thread and then the
        # GP's new message live.
        with pytest.raises(ApiError) as refused:
            await gp.get_case(case_id)
        assert refused.value.status == 401
        await gp_rt.disconnect()
        gp_again = DermlineClient(d.server.url)
        clients.append(gp_again)
        await gp_again.login(w.gp.login_name, PASSWORD, totp=w.gp.next_code)
        gp_rt = await gp_again.connect_realtime()
        derm_rt = await again.connect_realtime()
        await derm_rt.call("join", {"case_id": case_id})
        msg_id, env = await gp_again.seal(case_id, ContentType.TEXT, {"text": "after restore"})
        seq = await gp_rt.send(case_id, msg_id, env)
        assert seq == len(stored) + 1
        seen = []
        async with asyncio.timeout(30):
            while not seen or seen[-1]["client_msg_id"] != msg_id:
                seen.append(await derm_rt.messages.get())
        assert [m["seq"] for m in seen] == list(range(1, seq + 1))
    finally:
        for c in clients:
            await c.close()
