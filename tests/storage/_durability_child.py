"""Child process of ``test_durability.py``: writes messages as fast as it can and records
every acknowledgement (``case msg_id seq``) in a side file, fsynced before the next write is
considered, until it is SIGKILLed.

Usage: python -m tests.storage._durability_child DATA_DIR ACK_FILE RUN_NUMBER
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sys
from pathlib import Path

from storage import Conflict, StorageConfig, open_storage
from tests.storage.conftest import make_case, make_world

T0 = dt.datetime(2026, 11, 28, tzinfo=dt.UTC)


async def main(data_dir: Path, ack_path: Path, run: int) -> None:
    store = await open_storage(
        StorageConfig(data_dir=data_dir, master_key_env="DERMLINE_TEST_UNSET")
    )
    try:
        await make_world(store)
        for c in range(3):
            await make_case(store, f"case-{c}")
    except Conflict:
        pass  # a previous run created them
    fd = os.open(ack_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    print("ready", flush=True)
    counter = 0

    async def writer(w: int) -> None:
        nonlocal counter
        while True:
            counter += 1
            n = counter
            case = f"case-{n % 3}"
            mid = f"r{run}-w{w}-n{n}"
            res = await store.append_message(case, mid, "gp-1", mid.encode(), T0)
            os.write(fd, f"{case} {mid} {res.message.seq}\n".encode())
            os.fsync(fd)

    await asyncio.gather(*(writer(w) for w in range(16)))


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])))
