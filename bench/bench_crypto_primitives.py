"""Benchmark of the crypto primitives layer (one process, one thread, so one core).

Run: ``.venv/bin/python -m bench.bench_crypto_primitives [--repeat N]``

Reports the median of ``N`` repeats for:

* C2SP chunked AES-256-GCM (the attachment format) on a 10 MiB buffer: one-shot encrypt and
  decrypt, and streaming with 64 KiB reads (what an upload/download loop does), in MB/s
  (1 MB = 10**6 bytes; the figure for MiB/s is lower by 4.6%);
* HPKE base-mode seal and open (DHKEM(P-256), HKDF-SHA256, AES-256-GCM, 32-byte payload: a
  case-key wrap), per second;
* ECDSA P-256 sign (RFC 6979) and verify (P1363), 200-byte message, per second;
* AES-256-GCM seal/open of a 1 KiB message and P-256 DeriveKeyPair, per second.

Inputs are fixed (no randomness), so runs are comparable.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from crypto.primitives import aead, chunked, ecc, hpke

MIB = 1024 * 1024
SIZE = 10 * MIB


def _median_seconds(fn: Callable[[], object], repeat: int, inner: int = 1) -> float:
    fn()  # warm-up (allocations, caches)
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter() - start) / inner)
    return statistics.median(samples)


def _rate(fn: Callable[[], object], repeat: int, inner: int) -> float:
    return 1.0 / _median_seconds(fn, repeat, inner)


def _stream(feed: Callable[[bytes], bytes], done: Callable[[], bytes], data: bytes) -> int:
    view = memoryview(data)
    n = 0
    for start in range(0, len(data), 64 * 1024):
        n += len(feed(bytes(view[start : start + 64 * 1024])))
    return n + len(done())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    repeat: int = args.repeat

    key, salt = bytes(range(32)), bytes(range(24))
    message = (bytes(range(256)) * (SIZE // 256 + 1))[:SIZE]
    ct = chunked.encrypt(key, b"ctx", message, salt=salt)
    assert chunked.decrypt(key, b"ctx", ct) == message

    def stream_encrypt() -> int:
        enc = chunked.ChunkedEncryptor(key, b"ctx", salt=salt)
        return _stream(enc.update, enc.finalize, message)

    def stream_decrypt() -> int:
        dec = chunked.ChunkedDecryptor(key, b"ctx")
        return _stream(dec.update, dec.finalize, ct)

    rows: list[tuple[str, float, str]] = []
    for name, fn in (
        (
            "chunked encrypt, one-shot, 10 MiB",
            lambda: chunked.encrypt(key, b"ctx", message, salt=salt),
        ),
        ("chunked decrypt, one-shot, 10 MiB", lambda: chunked.decrypt(key, b"ctx", ct)),
        ("chunked encrypt, 64 KiB stream, 10 MiB", stream_encrypt),
        ("chunked decrypt, 64 KiB stream, 10 MiB", stream_decrypt),
    ):
        rows.append((name, SIZE / _median_seconds(fn, repeat) / 1e6, "MB/s"))

    sk_r, pk_r = ecc.p256_derive_keypair(b"r" * 32)
    ikm_e, info, payload = b"e" * 32, b"bench|case|1|key", b"k" * 32
    enc, sealed = hpke.seal_base(pk_r, info, b"", payload, ikm_e=ikm_e)
    sk_s, pk_s = ecc.p256_derive_keypair(b"s" * 32)
    msg = b"m" * 200
    sig = ecc.p256_sign(sk_s, msg)
    gcm_key, nonce, kib = bytes(32), bytes(12), b"p" * 1024
    gcm_ct = aead.aes256gcm_seal(gcm_key, nonce, kib, b"aad")
    inner = 200
    for name, fn in (
        (
            "HPKE seal_base (P-256, 32 B)",
            lambda: hpke.seal_base(pk_r, info, b"", payload, ikm_e=ikm_e),
        ),
        ("HPKE open_base (P-256, 32 B)", lambda: hpke.open_base(sk_r, enc, info, b"", sealed)),
        ("ECDSA P-256 sign (RFC 6979)", lambda: ecc.p256_sign(sk_s, msg)),
        ("ECDSA P-256 verify (P1363)", lambda: ecc.p256_verify(pk_s, msg, sig)),
        ("AES-256-GCM seal 1 KiB", lambda: aead.aes256gcm_seal(gcm_key, nonce, kib, b"aad")),
        ("AES-256-GCM open 1 KiB", lambda: aead.aes256gcm_open(gcm_key, nonce, gcm_ct, b"aad")),
        ("P-256 DeriveKeyPair", lambda: ecc.p256_derive_keypair(ikm_e)),
    ):
        rows.append((name, _rate(fn, repeat, inner), "ops/s"))

    width = max(len(r[0]) for r in rows)
    print(f"crypto primitives benchmark (median of {repeat}, one thread)")
    for name, value, unit in rows:
        print(f"  {name:<{width}}  {value:>10,.0f} {unit}")


if __name__ == "__main__":
    main()
