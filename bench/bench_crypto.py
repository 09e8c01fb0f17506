"""Protocol-level benchmarks: ``.venv/bin/python -m bench.bench_crypto``.

Measures, on one core (Python runs these on one thread):

* message seal, and open + verify (the 5,000/s target), for a 200-byte text body;
* attachment encryption and decryption of a 10 MB photo (the 500 MB/s target), streamed in
  64 KiB pieces as an upload handler would, including the SHA-256 of the ciphertext, and
  the one-shot ``encrypt_attachment`` that returns one 10 MB ``bytes`` (slower: it pays for
  fresh memory pages);
* one password unlock: PBKDF2 at 600,000 iterations, HKDF split, USK unwrap, and unsealing
  the two account private keys.

Prints one line per figure; ``--json`` prints a JSON object instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import time
import uuid
from collections.abc import Callable

from crypto import account, attachment, content, envelope, password, usk

PHOTO_BYTES = 10 * 1000 * 1000
PIECE = 64 * 1024


def _rate(fn: Callable[[], object], seconds: float = 1.5) -> float:
    """Calls per second over about ``seconds`` (after a short warm-up)."""
    for _ in range(50):
        fn()
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(100):
            fn()
        count += 100
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - start)


def _best_of(fn: Callable[[], object], runs: int = 5) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def run() -> dict[str, float]:
    sender = account.generate_account_keys()
    case_id, user_id = uuid.uuid4(), uuid.uuid4()
    ck = os.urandom(32)
    body = content.encode_content(content.ContentType.TEXT, {"text": "x" * 180})

    def seal() -> bytes:
        return envelope.seal_message(
            body,
            case_key=ck,
            case_id=case_id,
            epoch=0,
            client_message_id=uuid.uuid4(),
            sender_user_id=user_id,
            sender_signing_key=sender.signing,
            content_type=content.ContentType.TEXT,
            previous_hash=envelope.GENESIS_HASH,
        )

    record = seal()

    def open_verify() -> object:
        return envelope.open_message(
            record,
            case_key=ck,
            case_id=case_id,
            epoch=0,
            sender_signing_public_key=sender.signing.public_key,
        )

    photo = os.urandom(PHOTO_BYTES)
    file_key = attachment.new_file_key()
    view = memoryview(photo)
    # Output goes into a preallocated buffer, as an upload handler writes each piece to a
    # file or socket as it comes; collecting and joining 600 pieces would mostly measure the
    # allocator (fresh pages for every run), not the encryption.
    sink = bytearray(attachment.attachment_length(PHOTO_BYTES))
    out = memoryview(sink)

    def encrypt_photo() -> bytes:
        enc = attachment.AttachmentEncryptor(file_key, salt=os.urandom(24))
        pos = 0
        for i in range(0, PHOTO_BYTES, PIECE):
            piece = enc.update(view[i : i + PIECE])
            out[pos : pos + len(piece)] = piece
            pos += len(piece)
        piece = enc.finalize()
        out[pos : pos + len(piece)] = piece
        return enc.sha256

    digest = encrypt_photo()
    blob = bytes(sink)
    assert hashlib.sha256(blob).digest() == digest
    blob_view = memoryview(blob)
    plain_sink = memoryview(bytearray(PHOTO_BYTES))

    def decrypt_photo() -> None:
        dec = attachment.AttachmentDecryptor(file_key, expected_sha256=digest)
        pos = 0
        for i in range(0, len(blob), PIECE):
            piece = dec.update(blob_view[i : i + PIECE])
            plain_sink[pos : pos + len(piece)] = piece
            pos += len(piece)
        piece = dec.finalize()
        plain_sink[pos : pos + len(piece)] = piece

    decrypt_photo()
    assert plain_sink == view  # checked once, outside the timed runs

    salt = password.new_salt()
    keys = password.derive_login_keys("correct horse battery staple", salt)
    the_usk = usk.generate_usk()
    wrapped = usk.wrap_usk_with_kek(the_usk, keys.kek, user_id)
    sealed_enc = account.seal_private_key(
        sender.encryption, account.KeyPurpose.ENCRYPTION, the_usk, user_id
    )
    sealed_sig = account.seal_private_key(
        sender.signing, account.KeyPurpose.SIGNING, the_usk, user_id
    )

    def unlock() -> None:
        k = password.derive_login_keys("correct horse battery staple", salt)
        u = usk.unwrap_usk_with_kek(wrapped, k.kek, user_id)
        account.unseal_private_key(sealed_enc, account.KeyPurpose.ENCRYPTION, u, user_id)
        account.unseal_private_key(sealed_sig, account.KeyPurpose.SIGNING, u, user_id)

    return {
        "message_seal_per_s": _rate(seal),
        "message_open_verify_per_s": _rate(open_verify),
        "attachment_encrypt_MB_per_s": PHOTO_BYTES / 1e6 / _best_of(encrypt_photo),
        "attachment_decrypt_MB_per_s": PHOTO_BYTES / 1e6 / _best_of(decrypt_photo),
        "attachment_encrypt_one_shot_MB_per_s": PHOTO_BYTES
        / 1e6
        / _best_of(lambda: attachment.encrypt_attachment(file_key, photo)),
        "password_unlock_s": _best_of(unlock, runs=3),
    }


def main(argv: list[str]) -> int:
    figures = run()
    if "--json" in argv:
        print(json.dumps({k: round(v, 4) for k, v in figures.items()}, indent=1))
        return 0
    print(f"python {platform.python_version()} on {platform.machine()}, one core")
    print(f"message seal:         {figures['message_seal_per_s']:10,.0f} /s")
    print(
        f"message open+verify:  {figures['message_open_verify_per_s']:10,.0f} /s  (target >= 5,000)"
    )
    enc_rate = figures["attachment_encrypt_MB_per_s"]
    print(f"attachment encrypt:   {enc_rate:10,.0f} MB/s (10 MB, target >= 500)")
    print(f"attachment decrypt:   {figures['attachment_decrypt_MB_per_s']:10,.0f} MB/s (10 MB)")
    one_shot = figures["attachment_encrypt_one_shot_MB_per_s"]
    print(f"attachment one-shot:  {one_shot:10,.0f} MB/s (10 MB in memory, one joined bytes)")
    print(
        f"password unlock:      {figures['password_unlock_s']:10.3f} s (PBKDF2 600,000 + unwraps)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
