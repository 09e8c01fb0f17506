"""Where the at-rest encryption of one stored value spends its time (issue 13, item 6;
``docs/performance.md``, "At-rest overhead").

    python -m bench.bench_at_rest [--size 600] [--runs 5] [--number 20000]

Thread CPU time per call (not wall time: on a shared machine other jobs inflate wall time,
CPU time much less), for a value of ``--size`` bytes (600: a short chat envelope), at each
layer from the raw AES-256-GCM call up to what storage calls (``SealingFieldCipher``), and
the parts in between (the random nonce, the associated data). Each figure is the best of
``--runs`` runs of ``--number`` calls; the spread between runs is printed with it, with the
load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import timeit
from collections.abc import Callable

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from crypto import at_rest
from storage.keys import PURPOSE_FIELD, KeyRing, SealingFieldCipher

TABLE, COLUMN = "messages", "envelope_sealed"
ROW = "0b6f9d3c-1111-4222-8333-444455556666/7c1e2f3a-5555-4666-8777-888899990000"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--size", type=int, default=600)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--number", type=int, default=20000)
    args = p.parse_args()
    key = os.urandom(32)
    value = os.urandom(args.size)
    nonce = os.urandom(12)
    aead = AESGCM(key)
    ad = at_rest._field_ad(TABLE, COLUMN, ROW, 1)
    raw_ct = aead.encrypt(nonce, value, ad)
    ring = KeyRing()
    ring.add(1, PURPOSE_FIELD, key, active=True)
    cipher = SealingFieldCipher(ring)
    fk = at_rest.FieldKey(key, 1)
    record = cipher.seal(TABLE, COLUMN, ROW, value)

    cases: list[tuple[str, Callable[[], object]]] = [
        ("raw AES-256-GCM encrypt", lambda: aead.encrypt(nonce, value, ad)),
        ("os.urandom(12) (the nonce)", lambda: os.urandom(12)),
        (
            "associated data (table, column, row, key id)",
            lambda: at_rest._field_ad(TABLE, COLUMN, ROW, 1),
        ),
        ("FieldKey.seal", lambda: fk.seal(value, table=TABLE, column=COLUMN, row_id=ROW)),
        (
            "SealingFieldCipher.seal (what storage calls)",
            lambda: cipher.seal(TABLE, COLUMN, ROW, value),
        ),
        ("raw AES-256-GCM decrypt", lambda: aead.decrypt(nonce, raw_ct, ad)),
        ("FieldKey.open", lambda: fk.open(record, table=TABLE, column=COLUMN, row_id=ROW)),
        (
            "SealingFieldCipher.open (what storage calls)",
            lambda: cipher.open(TABLE, COLUMN, ROW, record),
        ),
    ]
    print(f"value {args.size} bytes, {args.runs} runs x {args.number} calls, thread CPU time")
    before = os.getloadavg()[0]
    for name, call in cases:
        runs = [
            t / args.number * 1e6
            for t in timeit.repeat(
                call, number=args.number, repeat=args.runs, timer=time.thread_time
            )
        ]
        print(
            f"  {name:48s} {min(runs):6.2f} us  (runs {min(runs):.2f}-{max(runs):.2f},"
            f" median {statistics.median(runs):.2f})"
        )
    print(f"load average {before:.1f} -> {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
