"""Suite 1 against suite 2 (post-quantum hybrid): ``.venv/bin/python -m bench.bench_hybrid``.

Measures, on one core, per case-key wrap record (docs/protocol.md sections 8 and 26):

* wrap: HPKE seal to one recipient (DHKEM(P-256), or X-Wing with a fresh encapsulation),
  the key commitment and the ECDSA signature;
* open: signature check, HPKE open (decapsulation), commitment check;
* a new epoch for a case with 10 participants: 11 wraps (the 10 and the records key);
* the X-Wing KEM alone (encapsulate, decapsulate) and key generation;
* bytes per wrap record, i.e. what suite 2 adds per recipient and epoch (messages and
  attachments are unchanged: they use the case key, whatever wrapped it).

Each rate is measured ``--rounds`` times (default 5) and printed as median with min and max,
with the load average before and after, since the machine is shared. ``--json`` prints one
JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import uuid
from collections.abc import Callable

import cryptography

from crypto import account, case_key
from crypto.primitives import xwing


def _rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second over about ``seconds`` (after a short warm-up)."""
    for _ in range(10):
        fn()
    count = 0
    start = time.perf_counter()
    while True:
        fn()
        count += 1
        now = time.perf_counter()
        if now - start >= seconds:
            return count / (now - start)


def _spread(fn: Callable[[], object], rounds: int, seconds: float) -> dict[str, float]:
    rates = [_rate(fn, seconds) for _ in range(rounds)]
    return {"median": statistics.median(rates), "min": min(rates), "max": max(rates)}


def run(rounds: int = 5, seconds: float = 1.0) -> dict[str, object]:
    load_before = os.getloadavg()
    gp = account.generate_account_keys()
    classical = account.generate_key_pair()
    hybrid = account.generate_hybrid_key_pair()
    case, user = uuid.uuid4(), uuid.uuid4()
    ck = case_key.generate_case_key()
    common = {
        "case_id": case,
        "epoch": 0,
        "wrapper_user_id": user,
        "wrapper_signing_key": gp.signing,
    }

    def wrap1() -> bytes:
        return case_key.wrap_case_key(ck, recipient_public_key=classical.public_key, **common)  # type: ignore[arg-type]

    def wrap2() -> bytes:
        return case_key.wrap_case_key_hybrid(ck, recipient_public_key=hybrid.public_key, **common)  # type: ignore[arg-type]

    rec1, rec2 = wrap1(), wrap2()

    def open_with(record: bytes, recipient: account.KeyPair | account.HybridKeyPair) -> object:
        return case_key.open_case_key_wrap(
            record,
            case_id=case,
            epoch=0,
            recipient=recipient,
            wrapper_signing_public_key=gp.signing.public_key,
            wrapper_user_id=user,
        )

    participants1 = [account.generate_key_pair().public_key for _ in range(11)]
    participants2 = [account.generate_hybrid_key_pair().public_key for _ in range(11)]

    def epoch1() -> object:
        return [
            case_key.wrap_case_key(ck, recipient_public_key=pk, **common)  # type: ignore[arg-type]
            for pk in participants1
        ]

    def epoch2() -> object:
        return [
            case_key.wrap_case_key_hybrid(ck, recipient_public_key=pk, **common)  # type: ignore[arg-type]
            for pk in participants2
        ]

    encapsulation = xwing.encapsulate(hybrid.public_key)
    figures: dict[str, object] = {
        "suite1_wrap_per_s": _spread(wrap1, rounds, seconds),
        "suite2_wrap_per_s": _spread(wrap2, rounds, seconds),
        "suite1_open_per_s": _spread(lambda: open_with(rec1, classical), rounds, seconds),
        "suite2_open_per_s": _spread(lambda: open_with(rec2, hybrid), rounds, seconds),
        "suite1_epoch_of_10_participants_ms": _ms(_spread(epoch1, rounds, seconds)),
        "suite2_epoch_of_10_participants_ms": _ms(_spread(epoch2, rounds, seconds)),
        "xwing_encapsulate_per_s": _spread(
            lambda: xwing.encapsulate(hybrid.public_key), rounds, seconds
        ),
        "xwing_decapsulate_per_s": _spread(
            lambda: xwing.decapsulate(encapsulation.ciphertext, hybrid.seed), rounds, seconds
        ),
        "xwing_keygen_per_s": _spread(account.generate_hybrid_key_pair, rounds, seconds),
        "suite1_wrap_bytes": len(rec1),
        "suite2_wrap_bytes": len(rec2),
        "suite2_bytes_added_per_recipient_and_epoch": len(rec2) - len(rec1),
        "suite2_bytes_added_per_message": 0,
        "hybrid_public_key_bytes": len(hybrid.public_key),
        "python": platform.python_version(),
        "cryptography": cryptography.__version__,
        "cpus": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
    }
    return figures


def _ms(rate: dict[str, float]) -> dict[str, float]:
    """Per-call milliseconds from calls per second (min and max swap)."""
    return {"median": 1000 / rate["median"], "min": 1000 / rate["max"], "max": 1000 / rate["min"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    figures = run(args.rounds, args.seconds)
    if args.json:
        print(json.dumps(figures, indent=1))
        return 0
    for name, value in figures.items():
        if isinstance(value, dict):
            print(
                f"{name}: {value['median']:,.1f} (min {value['min']:,.1f}, max {value['max']:,.1f})"
            )
        else:
            print(f"{name}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
