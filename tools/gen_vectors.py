"""Generate the Dermline v1 protocol test vectors in ``tests/vectors/dermline/``.

Run ``.venv/bin/python -m tools.gen_vectors`` (or ``make vectors``). Every input is fixed:
"random" bytes come from SHAKE-256 of a label (:func:`rnd`), the clock is a constant, so the
output is byte-for-byte reproducible; ``tests/crypto/test_vectors.py`` regenerates in memory
and fails if a committed file differs. The JSON shape is documented in
``tests/vectors/dermline/README.md``; the browser port must pass exactly these files.

Invalid cases are made by flipping one bit in one field of a valid record, by cutting or
extending it, by opening it in the wrong context, or by re-signing a modified record with the
right key (which shows that the AEAD/HPKE layer binds the header by itself, independently of
the signature).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kyber_py.ml_kem import ML_KEM_768

from crypto import (
    account,
    at_rest,
    attachment,
    case_key,
    content,
    envelope,
    fingerprint,
    invite,
    log_entry,
    merkle,
    org_key,
    password,
    patient_drop,
    records_key,
    recovery_key,
    statement,
    transcript,
    tree_head,
    usk,
)
from crypto.errors import (
    ConsistencyProofError,
    InclusionProofError,
    OrgKeyWrapHeaderError,
    PatientDropError,
    RecoveryKeyFormatError,
    StatementError,
    TreeHeadError,
)
from crypto.primitives import hpke as primitives_hpke
from crypto.primitives import xwing
from crypto.primitives.aead import aes256gcm_seal
from crypto.primitives.ecc import p256_sign
from crypto.primitives.kdf import hkdf_sha256

OUT_DIR = Path(__file__).resolve().parent.parent / "tests" / "vectors" / "dermline"
TIMESTAMP_MS = 1_790_000_000_000  # 2026-09-21T12:53:20Z, fixed
FORMAT_VERSION = 1

FLAGS: dict[str, str] = {
    "Normal": "An ordinary valid case.",
    "FullIterations": "Uses the real 600,000 PBKDF2 iterations (slow).",
    "FewIterations": "Fewer PBKDF2 iterations than the record allows; only for the recipe.",
    "UnicodeNormalisation": "Input given in another Unicode form; the result equals the NFC one.",
    "LoginNameNormalisation": "Login name differs only by case, width or spaces.",
    "UnknownVersion": "The version byte (offset 0) is not 0x01.",
    "UnknownSuite": "The suite byte (offset 1) is not 0x01.",
    "WrongRecordType": "The record-type byte (offset 2) names another record.",
    "ModifiedField": "One bit flipped in the field named in the comment.",
    "ModifiedCiphertext": "One bit flipped in the AEAD ciphertext.",
    "ModifiedTag": "One bit flipped in the AEAD tag.",
    "ModifiedSignature": "One bit flipped in the signature.",
    "Resigned": "A field was modified and the record re-signed with the right key: the "
    "signature verifies, and the AEAD/HPKE context must still reject it.",
    "Truncated": "The record is cut short.",
    "TrailingData": "Bytes appended after the record.",
    "WrongKey": "Opened with a different key than it was made with.",
    "WrongUserId": "Opened for a different user id (AAD/info mismatch).",
    "WrongPurpose": "Opened for the other key purpose.",
    "WrongContext": "Opened with a different expected case id or epoch.",
    "WrongRecipient": "Opened by a key pair the record is not wrapped to.",
    "WrongSigner": "Checked against another signing public key.",
    "KeyIdMismatch": "Authentic record whose key id does not match the key inside.",
    "BadParameter": "A parameter is outside the range v1 accepts.",
    "UnknownContentType": "The content-type byte is not defined in v1.",
    "LengthMismatch": "A length field disagrees with the bytes present.",
    "InvalidPublicKey": "Not a valid 65-byte uncompressed P-256 point.",
    "RecoveryKeyTypo": "A mistyped recovery key: rejected before any decryption.",
    "RecoveryKeyVariant": "Accepted spelling variant (case, spaces, O/I/L for 0/1).",
    "Canonical": "Body bytes are what encode_content writes for the decoded object.",
    "NonCanonicalEncoding": "Valid JSON with other spacing/key order: decodes, not canonical.",
    "SchemaViolation": "Body does not match its content type's schema.",
    "InvalidJson": "Body is not strict UTF-8 JSON (bad UTF-8, duplicate key, NaN, ...).",
    "WrongHash": "The expected SHA-256 does not match the attachment record.",
    "ChunkReordering": "Two ciphertext chunks swapped.",
    "EmptyRecord": "Zero bytes.",
    "MalleableSignature": "Signature replaced by its (r, n - s) twin: verifies, same hash.",
    "WrongLink": "Opened for another link id than the record names.",
    "ReservedBits": "Base64url whose spare bits are not zero (a second encoding).",
    "ModifiedCommitment": "The key commitment (case key wrap 0x0b) was changed.",
    "WrongIndex": "A leaf index or tree size that does not match the proof.",
    "WrongLeaf": "A leaf hash other than the one the proof is for.",
    "WrongRoot": "A root hash other than the tree's (or two heads of one size that differ).",
    "WrongProofLength": "A proof with hashes missing or added.",
    "ModifiedProof": "A proof hash changed, shortened or moved.",
    "Concurrent": "Legitimate concurrency: two messages name the same predecessor.",
    "Gap": "A message names a hash this reader was not shown (dropped, withheld, or a fork).",
    "Reorder": "A message names one that comes later in the server's order.",
    "Replay": "A message hash, or a client message id with another hash, shown again.",
    "Genesis": "The zero hash named by a message other than the first, or not by the first.",
    "BadPadding": "The decrypted body's padding is not 0x80 then at most 255 zero bytes up to a "
    "multiple of 256.",
    "WrongCredential": "Opened for another passkey credential id than it was made for.",
    "LongCredentialId": "A credential id of the WebAuthn maximum length (1023 bytes).",
    "CommitmentMismatch": "Signed and HPKE-valid, but the case key inside is not the one the "
    "signed key commitment names: only the commitment check refuses it.",
    "ModifiedPostQuantumHalf": "One bit flipped in the ML-KEM-768 ciphertext of an X-Wing enc "
    "(implicit rejection: a wrong shared secret, so the AEAD fails).",
    "ModifiedClassicalHalf": "The X25519 ephemeral key of an X-Wing enc changed (a flipped bit, "
    "or a small-order point).",
    "WrongSuite": "The suite byte names the other suite than the record's layout and keys.",
    "SuiteDowngrade": "A suite-1 (classical) wrap to a recipient whose hybrid key was known.",
}


def rnd(label: str, length: int) -> bytes:
    """Deterministic stand-in for randomness: SHAKE-256 of the label."""
    return hashlib.shake_256(b"dermline-vectors/" + label.encode()).digest(length)


def rid(label: str) -> uuid.UUID:
    """A deterministic UUID (version 4 layout) for a label."""
    raw = bytearray(rnd("uuid/" + label, 16))
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    return uuid.UUID(bytes=bytes(raw))


def flip(record: bytes, offset: int, mask: int = 0x01) -> bytes:
    out = bytearray(record)
    out[offset] ^= mask
    return bytes(out)


def set_byte(record: bytes, offset: int, value: int) -> bytes:
    out = bytearray(record)
    out[offset] = value
    return bytes(out)


def key_pair(label: str) -> account.KeyPair:
    return account.key_pair_from_seed(rnd("ikm/" + label, 32))


def kp_fields(prefix: str, pair: account.KeyPair) -> dict[str, str]:
    return {
        f"{prefix}_private_key": pair.private_key.hex(),
        f"{prefix}_public_key": pair.public_key.hex(),
        f"{prefix}_key_id": pair.key_id.hex(),
    }


class VectorFile:
    """One JSON file: groups of tests with a file-wide tcId counter."""

    def __init__(self, name: str, description: str) -> None:
        self.name = name
        self.description = description
        self.groups: dict[str, list[dict[str, Any]]] = {}
        self.count = 0
        self.used: set[str] = set()

    def add(self, group: str, result: str, comment: str, flags: list[str], **fields: Any) -> None:
        assert result in ("valid", "invalid")
        for flag in flags:
            assert flag in FLAGS, flag
        self.count += 1
        self.used.update(flags)
        test = {"tcId": self.count, "comment": comment, "result": result, "flags": flags}
        test.update(fields)
        self.groups.setdefault(group, []).append(test)

    def dumps(self) -> str:
        doc = {
            "format": f"dermline-v1/{self.name}",
            "formatVersion": FORMAT_VERSION,
            "description": self.description,
            "generator": "tools/gen_vectors.py",
            "notes": {flag: FLAGS[flag] for flag in sorted(self.used)},
            "numberOfTests": self.count,
            "testGroups": [{"type": name, "tests": tests} for name, tests in self.groups.items()],
        }
        return json.dumps(doc, indent=1, ensure_ascii=False) + "\n"


def prefix_mutations(record: bytes) -> list[tuple[str, list[str], bytes]]:
    """The mutations every record gets: version, suite, type, truncation, trailing bytes."""
    return [
        ("version 0x02", ["UnknownVersion"], set_byte(record, 0, 0x02)),
        ("version 0x00", ["UnknownVersion"], set_byte(record, 0, 0x00)),
        (
            "suite 0x02 (reserved for the post-quantum hybrid)",
            ["UnknownSuite"],
            set_byte(record, 1, 0x02),
        ),
        ("suite 0x00", ["UnknownSuite"], set_byte(record, 1, 0x00)),
        ("record type changed", ["WrongRecordType"], flip(record, 2, 0x0F)),
        ("last byte removed", ["Truncated"], record[:-1]),
        ("only the 3-byte prefix", ["Truncated"], record[:3]),
        ("one zero byte appended", ["TrailingData"], record + b"\x00"),
        ("empty record", ["EmptyRecord"], b""),
    ]


def field_mutations(
    record: bytes, fields: list[tuple[str, int, int]], flags: dict[str, str] | None = None
) -> list[tuple[str, list[str], bytes]]:
    """Flip the first and last byte of each named field (offset, length)."""
    flags = flags or {}
    out = []
    for name, offset, length in fields:
        flag = flags.get(name, "ModifiedField")
        out.append((f"{name}: first byte flipped", [flag], flip(record, offset)))
        if length > 1:
            out.append(
                (f"{name}: last byte flipped", [flag], flip(record, offset + length - 1, 0x80))
            )
    return out


# --- password ---------------------------------------------------------------------------


def gen_password() -> VectorFile:
    f = VectorFile(
        "password",
        "Password to master key (PBKDF2-HMAC-SHA256) and the HKDF split "
        "into auth key and KEK: crypto.password.derive_login_keys.",
    )
    cases = [
        (
            "correct horse battery staple",
            rnd("salt/1", 16),
            password.PBKDF2_ITERATIONS,
            ["FullIterations"],
            "v1 parameters: 600,000 iterations",
        ),
        ("p\u00e4ssword", rnd("salt/2", 16), 1000, ["FewIterations"], "NFC input"),
        (
            "pa\u0308ssword",
            rnd("salt/2", 16),
            1000,
            ["FewIterations", "UnicodeNormalisation"],
            "NFD input: same keys as the NFC case before",
        ),
        (
            "\u2603 \U0001f511 long passphrase with spaces and emoji",
            rnd("salt/3", 32),
            1,
            ["FewIterations"],
            "32-byte salt, non-ASCII",
        ),
    ]
    for pw, salt, iterations, flags, comment in cases:
        master = password.derive_master_key(pw, salt, iterations=iterations)
        keys = password.split_master_key(master)
        f.add(
            "LoginKeys",
            "valid",
            comment,
            flags,
            password=pw,
            password_nfc_utf8=__import__("unicodedata").normalize("NFC", pw).encode().hex(),
            salt=salt.hex(),
            iterations=iterations,
            master_key=master.hex(),
            auth_key=keys.auth_key.hex(),
            kek=keys.kek.hex(),
        )
    return f


def gen_kdf_params() -> VectorFile:
    f = VectorFile(
        "kdf_params",
        "KDF-parameters record (type 0x01) handed out at pre-login: "
        "crypto.password.encode_kdf_params / parse_kdf_params.",
    )
    salt = rnd("salt/kdf", 16)
    record = password.encode_kdf_params(salt)
    f.add(
        "KdfParams",
        "valid",
        "16-byte salt, 600,000 iterations",
        ["Normal"],
        record=record.hex(),
        algorithm=1,
        iterations=600_000,
        salt=salt.hex(),
    )
    long_salt = rnd("salt/kdf-long", 64)
    rec2 = password.encode_kdf_params(long_salt, iterations=password.MAX_PBKDF2_ITERATIONS)
    f.add(
        "KdfParams",
        "valid",
        "64-byte salt, 2,000,000 iterations (the maxima)",
        ["Normal"],
        record=rec2.hex(),
        algorithm=1,
        iterations=2_000_000,
        salt=long_salt.hex(),
    )

    def raw(alg: int, iterations: int, salt_bytes: bytes, length: int | None = None) -> bytes:
        n = len(salt_bytes) if length is None else length
        return (
            b"\x01\x01\x01"
            + bytes((alg,))
            + iterations.to_bytes(4, "big")
            + bytes((n,))
            + salt_bytes
        )

    bad = [
        ("algorithm 0x02 (unknown)", ["BadParameter"], raw(2, 600_000, salt)),
        ("algorithm 0x00", ["BadParameter"], raw(0, 600_000, salt)),
        ("599,999 iterations (downgrade)", ["BadParameter"], raw(1, 599_999, salt)),
        ("1 iteration (downgrade)", ["BadParameter"], raw(1, 1, salt)),
        ("2,000,001 iterations (denial of service)", ["BadParameter"], raw(1, 2_000_001, salt)),
        ("15-byte salt", ["BadParameter"], raw(1, 600_000, salt[:15])),
        ("65-byte salt", ["BadParameter"], raw(1, 600_000, rnd("salt/65", 65))),
        ("salt length says 17, 16 bytes present", ["LengthMismatch"], raw(1, 600_000, salt, 17)),
        ("salt length says 15, 16 bytes present", ["LengthMismatch"], raw(1, 600_000, salt, 15)),
    ]
    for comment, flags, rec in prefix_mutations(record) + bad:
        f.add("KdfParams", "invalid", comment, flags, record=rec.hex())
    return f


def gen_fake_salt() -> VectorFile:
    f = VectorFile(
        "fake_salt",
        "Deterministic fake salt and KDF-parameters record for unknown "
        "login names: crypto.password.fake_salt / fake_kdf_params (server side).",
    )
    secret = rnd("server-secret", 32)
    names = [
        ("alice@example.org", ["Normal"], "plain name"),
        ("  Alice@Example.ORG ", ["LoginNameNormalisation"], "same salt as the plain name"),
        ("\uff41lice@example.org", ["LoginNameNormalisation"], "fullwidth a (NFKC)"),
        ("Stra\u00dfe@example.de", ["LoginNameNormalisation"], "sharp s case-folds to ss"),
        ("bob@example.org", ["Normal"], "another name, another salt"),
        (
            "J\u030cane@example.org",
            ["LoginNameNormalisation"],
            "J + caron folds to j + caron, which the second NFKC composes to U+01F0",
        ),
    ]
    for name, flags, comment in names:
        f.add(
            "FakeSalt",
            "valid",
            comment,
            flags,
            server_secret=secret.hex(),
            login_name=name,
            normalised_login_name=password.normalise_login_name(name),
            salt=password.fake_salt(secret, name).hex(),
            record=password.fake_kdf_params(secret, name).hex(),
        )
    return f


# --- recovery key -------------------------------------------------------------------------


def gen_recovery_key() -> VectorFile:
    f = VectorFile(
        "recovery_key",
        "Printed recovery key: 32-byte secret + 3-byte checksum in "
        "Crockford base32, 14 groups of 4: crypto.recovery_key.",
    )
    secrets = [bytes(32), b"\xff" * 32, rnd("recovery/1", 32), rnd("recovery/2", 32)]
    for i, secret in enumerate(secrets):
        f.add(
            "RecoveryKeyEncode",
            "valid",
            f"secret {i}",
            ["Normal"],
            secret=secret.hex(),
            text=recovery_key.encode_recovery_key(secret),
        )
    secret = secrets[2]
    text = recovery_key.encode_recovery_key(secret)
    plain = text.replace("-", "")
    variants = [
        (text.lower(), "lower case"),
        (" ".join(text.split("-")), "spaces instead of hyphens"),
        (plain, "no separators"),
        ("\t" + text + "\n", "surrounding whitespace"),
        (text.replace("0", "O").replace("1", "I"), "O for 0 and I for 1"),
        (text.replace("1", "l"), "l for 1"),
    ]
    for variant, comment in variants:
        f.add(
            "RecoveryKeyDecode",
            "valid",
            comment,
            ["RecoveryKeyVariant"],
            text=variant,
            secret=secret.hex(),
        )
    f.add(
        "RecoveryKeyDecode", "valid", "canonical form", ["Normal"], text=text, secret=secret.hex()
    )

    def substitute(pos: int) -> str:
        chars = list(plain)
        alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
        chars[pos] = alphabet[(alphabet.index(chars[pos]) + 1) % 32]
        return "".join(chars)

    swap_at = next(i for i in range(55) if plain[i] != plain[i + 1])
    swapped = plain[:swap_at] + plain[swap_at + 1] + plain[swap_at] + plain[swap_at + 2 :]
    typos = [
        (substitute(0), "first character mistyped"),
        (substitute(30), "middle character mistyped"),
        (substitute(55), "last character mistyped (in the checksum)"),
        (swapped, "two neighbouring characters swapped"),
        (plain[:-1], "one character missing"),
        (plain + "A", "one character too many"),
        (plain[:20] + "U" + plain[21:], "U is not in the alphabet"),
        (plain[:20] + "*" + plain[21:], "punctuation"),
        ("", "empty"),
        (recovery_key.encode_recovery_key(secrets[3])[:35] + text[35:], "groups from two keys"),
    ]
    for typo, comment in typos:
        with_error = _recovery_error(typo)
        f.add(
            "RecoveryKeyDecode",
            "invalid",
            comment,
            ["RecoveryKeyTypo"],
            text=typo,
            error=with_error,
        )
    return f


def _recovery_error(text: str) -> str:
    try:
        recovery_key.decode_recovery_key(text)
    except RecoveryKeyFormatError:
        return "RecoveryKeyFormatError"
    raise AssertionError("typo vector decodes")  # pragma: no cover


# --- USK wraps ----------------------------------------------------------------------------


def gen_usk_wrap() -> VectorFile:
    f = VectorFile(
        "usk_wrap",
        "User symmetric key wraps: under the KEK (type 0x02), under the "
        "recovery key (0x03), HPKE to the organisation recovery key (0x04): "
        "crypto.usk.",
    )
    user = rid("user/gp")
    other_user = rid("user/other")
    the_usk = rnd("usk/gp", 32)
    kek = rnd("kek/gp", 32)
    nonce = rnd("nonce/usk-kek", 12)
    rec = usk.wrap_usk_with_kek_from_parts(the_usk, kek, user, nonce=nonce)
    base = {"user_id": str(user), "usk": the_usk.hex(), "kek": kek.hex(), "nonce": nonce.hex()}
    f.add("UskKekWrap", "valid", "wrap under the KEK", ["Normal"], **base, record=rec.hex())
    sym_fields = [("nonce", 3, 12), ("ciphertext", 15, 32), ("tag", 47, 16)]
    sym_flags = {"ciphertext": "ModifiedCiphertext", "tag": "ModifiedTag"}
    muts = prefix_mutations(rec) + field_mutations(rec, sym_fields, sym_flags)
    for comment, flags, bad in muts:
        f.add("UskKekWrap", "invalid", comment, flags, **base, record=bad.hex())
    f.add(
        "UskKekWrap",
        "invalid",
        "other user id",
        ["WrongUserId"],
        **{**base, "user_id": str(other_user)},
        record=rec.hex(),
    )
    f.add(
        "UskKekWrap",
        "invalid",
        "wrong KEK (wrong password)",
        ["WrongKey"],
        **{**base, "kek": rnd("kek/wrong", 32).hex()},
        record=rec.hex(),
    )

    secret = rnd("recovery/gp", 32)
    nonce = rnd("nonce/usk-recovery", 12)
    rec = usk.wrap_usk_with_recovery_key_from_parts(the_usk, secret, user, nonce=nonce)
    base = {
        "user_id": str(user),
        "usk": the_usk.hex(),
        "recovery_secret": secret.hex(),
        "recovery_key": recovery_key.encode_recovery_key(secret),
        "nonce": nonce.hex(),
    }
    f.add(
        "UskRecoveryWrap",
        "valid",
        "wrap under the recovery key",
        ["Normal"],
        **base,
        record=rec.hex(),
    )
    for comment, flags, bad in prefix_mutations(rec) + field_mutations(rec, sym_fields, sym_flags):
        f.add("UskRecoveryWrap", "invalid", comment, flags, **base, record=bad.hex())
    f.add(
        "UskRecoveryWrap",
        "invalid",
        "other user id",
        ["WrongUserId"],
        **{**base, "user_id": str(other_user)},
        record=rec.hex(),
    )
    wrong = rnd("recovery/wrong", 32)
    f.add(
        "UskRecoveryWrap",
        "invalid",
        "another (well-formed) recovery key",
        ["WrongKey"],
        **{
            **base,
            "recovery_secret": wrong.hex(),
            "recovery_key": recovery_key.encode_recovery_key(wrong),
        },
        record=rec.hex(),
    )

    org = key_pair("org-recovery")
    ikm_e = rnd("ikm-e/usk-org", 32)
    rec = usk.wrap_usk_for_org_from_parts(the_usk, org.public_key, user, ikm_e=ikm_e)
    base = {
        "user_id": str(user),
        "usk": the_usk.hex(),
        **kp_fields("org", org),
        "ikm_e": ikm_e.hex(),
    }
    f.add(
        "UskOrgWrap",
        "valid",
        "HPKE wrap to the organisation recovery key",
        ["Normal"],
        **base,
        record=rec.hex(),
    )
    org_fields = [("org_key_id", 3, 16), ("enc", 19, 65), ("ciphertext", 84, 32), ("tag", 116, 16)]
    for comment, flags, bad in prefix_mutations(rec) + field_mutations(rec, org_fields, sym_flags):
        f.add("UskOrgWrap", "invalid", comment, flags, **base, record=bad.hex())
    f.add(
        "UskOrgWrap",
        "invalid",
        "other user id (HPKE info mismatch)",
        ["WrongUserId"],
        **{**base, "user_id": str(other_user)},
        record=rec.hex(),
    )
    f.add(
        "UskOrgWrap",
        "invalid",
        "opened with another organisation key",
        ["WrongKey"],
        **{**base, **kp_fields("org", key_pair("org-other"))},
        record=rec.hex(),
    )
    return f


# --- account keys -------------------------------------------------------------------------


def gen_private_key_seal() -> VectorFile:
    f = VectorFile(
        "private_key_seal",
        "Account private keys sealed under the USK (type 0x05): "
        "crypto.account.seal_private_key / unseal_private_key.",
    )
    user = rid("user/derm")
    the_usk = rnd("usk/derm", 32)
    first: dict[str, Any] = {}
    for purpose in (account.KeyPurpose.ENCRYPTION, account.KeyPurpose.SIGNING):
        label = purpose.name.lower()
        ikm = rnd("ikm/derm-" + label, 32)
        pair = account.key_pair_from_seed(ikm)
        nonce = rnd("nonce/seal-" + label, 12)
        rec = account.seal_private_key_from_parts(pair, purpose, the_usk, user, nonce=nonce)
        base = {
            "user_id": str(user),
            "usk": the_usk.hex(),
            "purpose": int(purpose),
            "ikm": ikm.hex(),
            "private_key": pair.private_key.hex(),
            "public_key": pair.public_key.hex(),
            "key_id": pair.key_id.hex(),
            "nonce": nonce.hex(),
        }
        f.add("SealedPrivateKey", "valid", f"{label} key", ["Normal"], **base, record=rec.hex())
        first = first or {"base": base, "record": rec, "pair": pair}
    base, rec, pair = first["base"], first["record"], first["pair"]
    fields = [
        ("purpose", 3, 1),
        ("key_id", 4, 16),
        ("nonce", 20, 12),
        ("ciphertext", 32, 32),
        ("tag", 64, 16),
    ]
    flags = {"ciphertext": "ModifiedCiphertext", "tag": "ModifiedTag"}
    for comment, fl, bad in prefix_mutations(rec) + field_mutations(rec, fields, flags):
        f.add("SealedPrivateKey", "invalid", comment, fl, **base, record=bad.hex())
    f.add(
        "SealedPrivateKey",
        "invalid",
        "opened as a signing key",
        ["WrongPurpose"],
        **{**base, "purpose": 2},
        record=rec.hex(),
    )
    f.add(
        "SealedPrivateKey",
        "invalid",
        "purpose byte rewritten to signing",
        ["WrongPurpose"],
        **{**base, "purpose": 2},
        record=set_byte(rec, 3, 2).hex(),
    )
    f.add(
        "SealedPrivateKey",
        "invalid",
        "other user id",
        ["WrongUserId"],
        **{**base, "user_id": str(rid("user/other"))},
        record=rec.hex(),
    )
    f.add(
        "SealedPrivateKey",
        "invalid",
        "wrong USK",
        ["WrongKey"],
        **{**base, "usk": rnd("usk/wrong", 32).hex()},
        record=rec.hex(),
    )
    other = key_pair("other-key")
    liar = dataclasses.replace(pair, key_id=other.key_id)
    nonce = rnd("nonce/seal-liar", 12)
    bad = account.seal_private_key_from_parts(
        liar, account.KeyPurpose.ENCRYPTION, the_usk, user, nonce=nonce
    )
    f.add(
        "SealedPrivateKey",
        "invalid",
        "authentic record naming another key's id",
        ["KeyIdMismatch"],
        **{**base, "nonce": nonce.hex()},
        record=bad.hex(),
    )
    return f


def gen_key_id() -> VectorFile:
    f = VectorFile(
        "key_id",
        "Key ids (SHA-256 of the SPKI DER, first 16 bytes), account "
        "fingerprints and safety numbers: crypto.fingerprint.",
    )
    pairs = {}
    for label in ("gp-signing", "gp-encryption", "derm-signing", "derm-encryption"):
        ikm = rnd("ikm/" + label, 32)
        pair = account.key_pair_from_seed(ikm)
        pairs[label] = pair
        f.add(
            "KeyId",
            "valid",
            label,
            ["Normal"],
            ikm=ikm.hex(),
            private_key=pair.private_key.hex(),
            public_key=pair.public_key.hex(),
            spki=fingerprint.spki_der(pair.public_key).hex(),
            key_id=pair.key_id.hex(),
        )
    pk = pairs["gp-signing"].public_key
    p = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
    bad_keys = [
        ("compressed point", b"\x02" + pk[1:33]),
        ("uncompressed prefix replaced by 0x02", set_byte(pk, 0, 0x02)),
        ("point not on the curve (y flipped)", flip(pk, 64)),
        ("64 bytes (prefix missing)", pk[1:]),
        ("66 bytes", pk + b"\x00"),
        ("point at infinity encoding", b"\x00"),
        ("all zeros", bytes(65)),
        ("x = p (out of range)", b"\x04" + p.to_bytes(32, "big") + pk[33:]),
    ]
    for comment, bad in bad_keys:
        f.add("KeyId", "invalid", comment, ["InvalidPublicKey"], public_key=bad.hex())
    for who in ("gp", "derm"):
        s, e = pairs[f"{who}-signing"], pairs[f"{who}-encryption"]
        f.add(
            "AccountFingerprint",
            "valid",
            who,
            ["Normal"],
            signing_public_key=s.public_key.hex(),
            encryption_public_key=e.public_key.hex(),
            fingerprint=fingerprint.account_fingerprint(s.public_key, e.public_key),
        )
    gp = (pairs["gp-signing"].public_key, pairs["gp-encryption"].public_key)
    derm = (pairs["derm-signing"].public_key, pairs["derm-encryption"].public_key)
    for comment, ours, theirs in (("GP's view", gp, derm), ("dermatologist's view", derm, gp)):
        f.add(
            "SafetyNumber",
            "valid",
            comment + " (same number)",
            ["Normal"],
            ours_signing_public_key=ours[0].hex(),
            ours_encryption_public_key=ours[1].hex(),
            theirs_signing_public_key=theirs[0].hex(),
            theirs_encryption_public_key=theirs[1].hex(),
            safety_number=fingerprint.safety_number(ours, theirs),
        )
    return f


# --- case keys ----------------------------------------------------------------------------


CASE_WRAP_FIELDS = [
    ("case_id", 3, 16),
    ("epoch", 19, 4),
    ("recipient_key_id", 23, 16),
    ("wrapper_user_id", 39, 16),
    ("wrapper_key_id", 55, 16),
    ("enc", 71, 65),
    ("ciphertext", 136, 32),
    ("tag", 168, 16),
    ("signature", 184, 64),
]


COMMITTED_WRAP_FIELDS = [
    ("case_id", 3, 16),
    ("epoch", 19, 4),
    ("recipient_key_id", 23, 16),
    ("wrapper_user_id", 39, 16),
    ("wrapper_key_id", 55, 16),
    ("commitment", 71, 32),
    ("enc", 103, 65),
    ("ciphertext", 168, 32),
    ("tag", 200, 16),
    ("signature", 216, 64),
]


def _sign_case_key_wrap(wrapper: account.KeyPair, body: bytes) -> bytes:
    """``body`` followed by the wrapper's signature over it: a (re-)signed case key wrap."""
    return body + p256_sign(wrapper.private_key, b"dermline/v1/sig/case-key-wrap\x00" + body)


@dataclasses.dataclass(frozen=True)
class _CaseKeyWrapFile:
    """The parties, case key, first valid record and ``add`` of a case key wrap file."""

    case_id: uuid.UUID
    gp_user: uuid.UUID
    gp_sig: account.KeyPair
    derm_enc: account.KeyPair
    records: account.KeyPair
    ck: bytes
    rec: bytes
    add: Callable[..., None]


def _case_key_wrap_common(f: VectorFile, group: str, *, committed: bool) -> _CaseKeyWrapFile:
    """The cases the two wrap types share, in this order: the valid records (to the
    dermatologist at epoch 0, to the records key at epoch 7), the prefix and field
    mutations of the first, and each of its fields modified and re-signed by the wrapper."""
    case_id = rid("case/1")
    gp_user = rid("user/gp")
    gp_sig = key_pair("gp-signing")
    derm_enc = key_pair("derm-encryption")
    records = key_pair("practice-records")
    ck = rnd("case-key/1", 32)
    if committed:
        wrap = case_key.wrap_case_key_from_parts
        fields, ikm_label = COMMITTED_WRAP_FIELDS, "ikm-e/committed-case-"
    else:
        wrap = case_key.wrap_legacy_case_key_from_parts
        fields, ikm_label = CASE_WRAP_FIELDS, "ikm-e/case-"
    valid = []
    for label, recipient, epoch in (("dermatologist", derm_enc, 0), ("records key", records, 7)):
        ikm_e = rnd(ikm_label + label, 32)
        rec = wrap(
            ck,
            case_id=case_id,
            epoch=epoch,
            recipient_public_key=recipient.public_key,
            wrapper_user_id=gp_user,
            wrapper_signing_key=gp_sig,
            ikm_e=ikm_e,
        )
        commitment = case_key.case_key_commitment(ck, case_id=case_id, epoch=epoch)
        base = {
            "case_id": str(case_id),
            "epoch": epoch,
            "case_key": ck.hex(),
            **({"commitment": commitment.hex()} if committed else {}),
            **kp_fields("recipient", recipient),
            "wrapper_user_id": str(gp_user),
            **kp_fields("wrapper_signing", gp_sig),
            "ikm_e": ikm_e.hex(),
        }
        f.add(
            group,
            "valid",
            f"wrapped to the {label}, epoch {epoch}",
            ["Normal"],
            **base,
            record=rec.hex(),
            header_parses=True,
            signature_verifies=True,
        )
        valid.append((base, rec))
    base, rec = valid[0]

    def add(
        comment: str, flags: list[str], bad: bytes, parses: bool, verifies: bool, **over: Any
    ) -> None:
        f.add(
            group,
            "invalid",
            comment,
            flags,
            **{**base, **over},
            record=bad.hex(),
            header_parses=parses,
            signature_verifies=verifies,
        )

    for comment, flags, bad in prefix_mutations(rec):
        add(comment, flags, bad, False, False)
    sig_flags = {
        "commitment": "ModifiedCommitment",
        "ciphertext": "ModifiedCiphertext",
        "tag": "ModifiedTag",
        "signature": "ModifiedSignature",
    }
    for comment, flags, bad in field_mutations(rec, fields, sig_flags):
        add(comment, flags, bad, True, False)
    for name, offset, length in fields:
        if name in ("wrapper_key_id", "signature"):
            continue
        resigned = _sign_case_key_wrap(gp_sig, flip(rec[:-64], offset + length - 1))
        flags = ["Resigned", "ModifiedCommitment"] if name == "commitment" else ["Resigned"]
        add(f"{name} modified, re-signed by the wrapper", flags, resigned, True, True)
    return _CaseKeyWrapFile(case_id, gp_user, gp_sig, derm_enc, records, ck, rec, add)


def _case_key_wrap_wrong_context(w: _CaseKeyWrapFile) -> None:
    """The first valid record opened for another case, epoch or recipient, or checked
    against another signing key."""
    w.add(
        "expected case id differs", ["WrongContext"], w.rec, True, True, case_id=str(rid("case/2"))
    )
    w.add("expected epoch differs", ["WrongContext"], w.rec, True, True, epoch=1)
    w.add(
        "opened by the records key, wrapped to the dermatologist",
        ["WrongRecipient"],
        w.rec,
        True,
        True,
        **kp_fields("recipient", w.records),
    )
    w.add(
        "checked against another signing key",
        ["WrongSigner"],
        w.rec,
        True,
        False,
        **kp_fields("wrapper_signing", key_pair("derm-signing")),
    )


def gen_case_key_wrap() -> VectorFile:
    f = VectorFile(
        "case_key_wrap",
        "Case key wrap records (type 0x06): HPKE base mode "
        "DHKEM(P-256)/HKDF-SHA256/AES-256-GCM to one recipient, signed by the "
        "wrapper: crypto.case_key.",
    )
    _case_key_wrap_wrong_context(_case_key_wrap_common(f, "CaseKeyWrap", committed=False))
    return f


def _forge_committed_wrap(
    sealed_key: bytes,
    commitment: bytes,
    *,
    case_id: uuid.UUID,
    epoch: int,
    recipient: account.KeyPair,
    wrapper_user_id: uuid.UUID,
    wrapper: account.KeyPair,
    ikm_e: bytes,
) -> bytes:
    """A well-formed, correctly signed 0x0b record whose commitment is chosen freely: what a
    malicious wrapper can make. HPKE opens it; only the commitment check refuses it."""
    header = (
        bytes((1, 1, 0x0B))
        + case_id.bytes
        + epoch.to_bytes(4, "big")
        + recipient.key_id
        + wrapper_user_id.bytes
        + wrapper.key_id
        + commitment
    )
    info = b"dermline/v1/case-key\x00" + case_id.bytes + epoch.to_bytes(4, "big")
    enc, ct = primitives_hpke.seal_base(
        recipient.public_key, info + recipient.key_id, header, sealed_key, ikm_e=ikm_e
    )
    return _sign_case_key_wrap(wrapper, header + enc + ct)


def gen_case_key_wrap_committed() -> VectorFile:
    f = VectorFile(
        "case_key_wrap_committed",
        "Committed case key wrap records (type 0x0b): the 0x06 record plus a signed key "
        "commitment HMAC-SHA256(CK, 'dermline/v1/case-key-commitment' 0x00 case id epoch) "
        "in the clear header; the opener refuses a key that does not match it: "
        "crypto.case_key.",
    )
    w = _case_key_wrap_common(f, "CommittedCaseKeyWrap", committed=True)
    case_id, ck = w.case_id, w.ck
    other_ck = rnd("case-key/other", 32)
    forged = [
        (
            "another case key inside than the one the signed commitment names",
            other_ck,
            case_key.case_key_commitment(ck, case_id=case_id, epoch=0),
            ck,
        ),
        (
            "the signed commitment names another case key than the one inside",
            ck,
            case_key.case_key_commitment(other_ck, case_id=case_id, epoch=0),
            other_ck,
        ),
        (
            "commitment of the right key, but for another case",
            ck,
            case_key.case_key_commitment(ck, case_id=rid("case/2"), epoch=0),
            ck,
        ),
        (
            "commitment of the right key, but for another epoch",
            ck,
            case_key.case_key_commitment(ck, case_id=case_id, epoch=1),
            ck,
        ),
    ]
    for comment, sealed, commitment, shown in forged:
        bad = _forge_committed_wrap(
            sealed,
            commitment,
            case_id=case_id,
            epoch=0,
            recipient=w.derm_enc,
            wrapper_user_id=w.gp_user,
            wrapper=w.gp_sig,
            ikm_e=rnd("ikm-e/forged/" + comment, 32),
        )
        w.add(
            comment,
            ["CommitmentMismatch"],
            bad,
            True,
            True,
            case_key=shown.hex(),
            commitment=commitment.hex(),
        )
    _case_key_wrap_wrong_context(w)
    # Type confusion between the two wrap records: relabelled and re-signed, the lengths no
    # longer match the type, so neither parses.
    legacy = case_key.wrap_legacy_case_key_from_parts(
        ck,
        case_id=case_id,
        epoch=0,
        recipient_public_key=w.derm_enc.public_key,
        wrapper_user_id=w.gp_user,
        wrapper_signing_key=w.gp_sig,
        ikm_e=rnd("ikm-e/committed-case-dermatologist", 32),
    )
    for comment, body in (
        ("legacy 0x06 record relabelled 0x0b and re-signed", set_byte(legacy, 2, 0x0B)[:184]),
        ("this record relabelled 0x06 and re-signed", set_byte(w.rec, 2, 0x06)[:216]),
    ):
        w.add(comment, ["WrongRecordType"], _sign_case_key_wrap(w.gp_sig, body), False, False)
    return f


# --- envelope -----------------------------------------------------------------------------


ENVELOPE_FIELDS = [
    ("case_id", 3, 16),
    ("epoch", 19, 4),
    ("client_message_id", 23, 16),
    ("sender_user_id", 39, 16),
    ("sender_key_id", 55, 16),
    ("timestamp_ms", 72, 8),
    ("previous_hash", 80, 32),
    ("nonce", 112, 12),
]


def gen_envelope() -> VectorFile:
    f = VectorFile(
        "envelope",
        "Message envelopes (type 0x07): AES-256-GCM under a per-epoch "
        "message key with the header as AAD, ECDSA P-256 signature: "
        "crypto.envelope.seal_message / open_message / parse_message_header.",
    )
    case_id = rid("case/1")
    ck = rnd("case-key/1", 32)
    gp_user, derm_user = rid("user/gp"), rid("user/derm")
    gp_sig, derm_sig = key_pair("gp-signing"), key_pair("derm-signing")
    ref = content.PhotoReference(
        attachment_id=rid("attachment/1"),
        file_key=rnd("file-key/1", 32),
        ciphertext_sha256=hashlib.sha256(b"example").digest(),
        ciphertext_size=1_234_567,
        media_type="image/jpeg",
        tag="dermoscopic",
        body_site="left forearm, dorsal",
    )
    bodies = [
        (
            gp_user,
            gp_sig,
            content.ContentType.TEXT,
            content.encode_content(
                content.ContentType.TEXT, {"text": "Please advise \u2014 thank you."}
            ),
        ),
        (gp_user, gp_sig, content.ContentType.PHOTO_REFERENCE, content.encode_photo_reference(ref)),
        (
            derm_user,
            derm_sig,
            content.ContentType.QUESTION,
            content.encode_content(
                content.ContentType.QUESTION, {"text": "How long has it been there?"}
            ),
        ),
        (derm_user, derm_sig, content.ContentType.RECEIPT, b""),
    ]
    previous = envelope.GENESIS_HASH
    valid = []
    for i, (user, sig, ctype, body) in enumerate(bodies):
        mid = rid(f"message/{i}")
        nonce = rnd(f"nonce/message-{i}", 12)
        rec = envelope.seal_legacy_message_from_parts(
            body,
            case_key=ck,
            case_id=case_id,
            epoch=3,
            client_message_id=mid,
            sender_user_id=user,
            sender_signing_key=sig,
            content_type=ctype,
            timestamp_ms=TIMESTAMP_MS + 60_000 * i,
            previous_hash=previous,
            nonce=nonce,
        )
        base = {
            "case_key": ck.hex(),
            "case_id": str(case_id),
            "epoch": 3,
            "client_message_id": str(mid),
            "sender_user_id": str(user),
            **kp_fields("sender_signing", sig),
            "content_type": int(ctype),
            "timestamp_ms": TIMESTAMP_MS + 60_000 * i,
            "previous_hash": previous.hex(),
            "nonce": nonce.hex(),
            "body": body.hex(),
        }
        comment = f"message {i}: {ctype.name.lower()}" + (" (empty body)" if not body else "")
        f.add(
            "MessageEnvelope",
            "valid",
            comment,
            ["Normal"],
            **base,
            record=rec.hex(),
            message_hash=envelope.message_hash(rec).hex(),
            header_parses=True,
            signature_verifies=True,
        )
        valid.append((base, rec))
        previous = envelope.message_hash(rec)
    base, rec = valid[0]
    n = len(rec)

    def add(comment: str, flags: list[str], bad: bytes, parses: bool, **over: Any) -> None:
        f.add(
            "MessageEnvelope",
            "invalid",
            comment,
            flags,
            **{**base, **over},
            record=bad.hex(),
            header_parses=parses,
            # The signature still verifies (with the sender key given) only when the record
            # parses and was either untouched or re-signed.
            signature_verifies=parses
            and bool({"Resigned", "WrongKey", "WrongContext"} & set(flags)),
        )

    def resign(body: bytes) -> bytes:
        return body + p256_sign(gp_sig.private_key, b"dermline/v1/sig/message\x00" + body)

    for comment, flags, bad in prefix_mutations(rec):
        add(comment, flags, bad, False)
    fields = [
        *ENVELOPE_FIELDS,
        ("content_type", 71, 1),
        ("ciphertext", 128, n - 128 - 80),
        ("tag", n - 80, 16),
        ("signature", n - 64, 64),
    ]
    field_flags = {
        "ciphertext": "ModifiedCiphertext",
        "tag": "ModifiedTag",
        "signature": "ModifiedSignature",
    }
    for comment, fl, bad in field_mutations(rec, fields, field_flags):
        # Flipping bit 0 of content type 0x01 gives 0x00, which is not a content type.
        parses = not comment.startswith("content_type")
        add(comment, ["UnknownContentType"] if not parses else fl, bad, parses)
    for name, offset, length in [*ENVELOPE_FIELDS, ("ciphertext", 128, n - 128 - 80)]:
        if name == "sender_key_id":
            continue
        bad = resign(flip(rec[:-64], offset + length - 1))
        add(f"{name} modified, re-signed by the sender", ["Resigned"], bad, True)
    add(
        "content type text -> question, re-signed (AAD binds it)",
        ["Resigned"],
        resign(set_byte(rec[:-64], 71, 4)),
        True,
    )
    add(
        "content type 0x08 (unknown), re-signed",
        ["UnknownContentType"],
        resign(set_byte(rec[:-64], 71, 8)),
        False,
    )
    add(
        "content type 0x00, re-signed",
        ["UnknownContentType"],
        resign(set_byte(rec[:-64], 71, 0)),
        False,
    )
    length_field = int.from_bytes(rec[124:128], "big")
    add(
        "ciphertext length field + 1",
        ["LengthMismatch"],
        rec[:124] + (length_field + 1).to_bytes(4, "big") + rec[128:],
        False,
    )
    add(
        "ciphertext length field - 1",
        ["LengthMismatch"],
        rec[:124] + (length_field - 1).to_bytes(4, "big") + rec[128:],
        False,
    )
    add(
        "ciphertext length 15 (shorter than a tag), re-signed",
        ["LengthMismatch"],
        resign(rec[:124] + (15).to_bytes(4, "big") + rec[128:143]),
        False,
    )
    add("signature removed", ["Truncated"], rec[:-64], False)
    add("wrong case key", ["WrongKey"], rec, True, case_key=rnd("case-key/wrong", 32).hex())
    add("expected case id differs", ["WrongContext"], rec, True, case_id=str(rid("case/2")))
    add("expected epoch differs", ["WrongContext"], rec, True, epoch=4)
    add(
        "checked against the dermatologist's signing key",
        ["WrongSigner"],
        rec,
        True,
        **kp_fields("sender_signing", derm_sig),
    )
    # ECDSA malleability: (r, n - s) verifies too. Such a twin must open, and its
    # message_hash (which leaves the signature out) must equal the original's.
    n_order = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    s_value = int.from_bytes(rec[-32:], "big")
    twin = rec[:-32] + (n_order - s_value).to_bytes(32, "big")
    f.add(
        "MessageEnvelopeMalleableSignature",
        "valid",
        "the (r, n - s) twin of message 0's signature",
        ["MalleableSignature"],
        **base,
        record=twin.hex(),
        message_hash=envelope.message_hash(rec).hex(),
    )
    return f


# --- content ------------------------------------------------------------------------------


def gen_content() -> VectorFile:
    f = VectorFile(
        "content",
        "Message bodies inside envelopes: UTF-8 JSON per content type: "
        "crypto.content.encode_content / decode_content.",
    )
    T = content.ContentType
    history = {
        "patient": {
            "nhs_number": "9434765919",
            "name": "Ada Example",
            "date_of_birth": "1961-04-12",
            "sex": "female",
        },
        "body_site": "left forearm, dorsal",
        "duration": "3 months",
        "changes": {"size": True, "shape": False, "colour": True},
        "symptoms": {"itch": False, "bleeding": True, "scaling": False, "soreness": False},
        "previous_skin_cancer": False,
        "skin_type": "II",
        "relevant_history": "Renal transplant 2015",
        "medicines": "tacrolimus",
        "question": "Is this a squamous cell carcinoma? Urgent referral?",
        "consent_to_photography": True,
    }
    photo: dict[str, Any] = {
        "attachment_id": str(rid("attachment/1")),
        "file_key": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
        "ciphertext_sha256": hashlib.sha256(b"example").hexdigest(),
        "ciphertext_size": 1_234_567,
        "media_type": "image/jpeg",
        "tag": "close_up",
        "body_site": "left forearm, dorsal",
        "caption": "ruler for scale",
    }
    valid: list[tuple[content.ContentType, dict[str, Any]]] = [
        (T.TEXT, {"text": "Please advise \u2014 \u00e7a va? \U0001f44d"}),
        (T.CLINICAL_HISTORY, history),
        (T.PHOTO_REFERENCE, photo),
        (T.QUESTION, {"text": "Any lymphadenopathy?"}),
        (
            T.RETAKE_REQUEST,
            {
                "attachment_ids": [str(rid("attachment/1"))],
                "reasons": ["out_of_focus", "no_dermoscopic_image"],
                "text": "Please retake closer, with the dermatoscope.",
            },
        ),
        (
            T.OUTCOME,
            {
                "category": "referral",
                "summary": "Suspected SCC",
                "details": {
                    "urgency": "two_week_wait",
                    "destination": "skin_surgery",
                    "reasons": ["rapid growth", "bleeding"],
                },
            },
        ),
        (
            T.RECEIPT,
            {"kind": "read", "message_ids": [str(rid("message/0")), str(rid("message/1"))]},
        ),
    ]
    for ctype, body in valid:
        data = content.encode_content(ctype, body)
        f.add(
            "ContentBody",
            "valid",
            ctype.name.lower(),
            ["Canonical"],
            content_type=int(ctype),
            body=data.hex(),
            decoded={**body, "v": 1},
        )
    noncanon = b'{ "v" : 1 ,\n "text" : "hi" }'
    f.add(
        "ContentBody",
        "valid",
        "spaces and newline",
        ["NonCanonicalEncoding"],
        content_type=int(T.TEXT),
        body=noncanon.hex(),
        decoded={"text": "hi", "v": 1},
    )

    def bad(
        ctype: content.ContentType, data: bytes | dict[str, Any], comment: str, flag: str
    ) -> None:
        raw = data if isinstance(data, bytes) else json.dumps(data).encode()
        f.add("ContentBody", "invalid", comment, [flag], content_type=int(ctype), body=raw.hex())

    bad(T.TEXT, {"text": "hi"}, "no version field", "SchemaViolation")
    bad(T.TEXT, {"v": 2, "text": "hi"}, "body version 2", "SchemaViolation")
    bad(T.TEXT, {"v": True, "text": "hi"}, "version true", "SchemaViolation")
    bad(T.TEXT, b'{"v":1.0,"text":"hi"}', "version 1.0", "SchemaViolation")
    bad(T.TEXT, {"v": 1, "text": ""}, "empty text", "SchemaViolation")
    bad(T.TEXT, {"v": 1, "text": 5}, "text is a number", "SchemaViolation")
    bad(T.TEXT, {"v": 1, "text": "hi", "extra": 1}, "unknown field", "SchemaViolation")
    bad(T.TEXT, {"v": 1}, "missing field", "SchemaViolation")
    bad(T.TEXT, b'["v",1]', "not an object", "SchemaViolation")
    bad(T.QUESTION, {"v": 1, "text": "x" * 100_001}, "text longer than 100,000", "SchemaViolation")
    bad(T.TEXT, b'{"v":1,"text":"a","text":"b"}', "duplicate key", "InvalidJson")
    bad(T.TEXT, b'{"v":1,"text":"\xff"}', "invalid UTF-8", "InvalidJson")
    bad(T.TEXT, b'{"v":1,"text":"hi"', "truncated JSON", "InvalidJson")
    bad(
        T.PHOTO_REFERENCE,
        {**photo, "v": 1, "ciphertext_size": float("nan")},
        "NaN size",
        "InvalidJson",
    )
    bad(
        T.PHOTO_REFERENCE,
        {**photo, "v": 1, "file_key": photo["file_key"][:-1] + "9"},
        "file key with non-zero spare bits (non-canonical base64url)",
        "SchemaViolation",
    )
    bad(
        T.PHOTO_REFERENCE,
        {**photo, "v": 1, "file_key": photo["file_key"] + "="},
        "file key with padding",
        "SchemaViolation",
    )
    bad(
        T.PHOTO_REFERENCE,
        {**photo, "v": 1, "ciphertext_sha256": photo["ciphertext_sha256"].upper()},
        "upper-case hex hash",
        "SchemaViolation",
    )
    bad(
        T.PHOTO_REFERENCE,
        {**photo, "v": 1, "tag": "selfie"},
        "unknown photo tag",
        "SchemaViolation",
    )
    bad(
        T.PHOTO_REFERENCE,
        {**photo, "v": 1, "ciphertext_size": -1},
        "negative size",
        "SchemaViolation",
    )
    bad(
        T.PHOTO_REFERENCE,
        {**photo, "v": 1, "ciphertext_size": True},
        "size true",
        "SchemaViolation",
    )
    bad(
        T.PHOTO_REFERENCE,
        {**photo, "v": 1, "attachment_id": photo["attachment_id"].upper()},
        "upper-case UUID",
        "SchemaViolation",
    )
    bad(
        T.CLINICAL_HISTORY,
        {**history, "v": 1, "changes": {"size": True, "shape": False}},
        "nested object missing a field",
        "SchemaViolation",
    )
    bad(
        T.CLINICAL_HISTORY,
        {**history, "v": 1, "previous_skin_cancer": "no"},
        "boolean given as a string",
        "SchemaViolation",
    )
    bad(
        T.OUTCOME,
        {"v": 1, "category": "maybe", "summary": "x", "details": {}},
        "unknown outcome category",
        "SchemaViolation",
    )
    bad(
        T.OUTCOME,
        {"v": 1, "category": "referral", "summary": "x", "details": {"a": 1}},
        "detail value is a number",
        "SchemaViolation",
    )
    bad(T.RECEIPT, {"v": 1, "kind": "read", "message_ids": []}, "empty id list", "SchemaViolation")
    bad(
        T.RETAKE_REQUEST,
        {"v": 1, "attachment_ids": ["x"], "reasons": ["blur"]},
        "attachment id not a UUID",
        "SchemaViolation",
    )
    bad(T.TEXT, b"", "empty body", "InvalidJson")
    # Added later (vectors are never reshaped, so new cases go at the end): a photo
    # reference that carries its thumbnail, the patient drop's thumbnail shape.
    thumbnail: dict[str, Any] = {
        "attachment_id": str(rid("attachment/1/thumbnail")),
        "file_key": base64.urlsafe_b64encode(rnd("file-key/attachment/1/thumbnail", 32))
        .rstrip(b"=")
        .decode("ascii"),
        "ciphertext_sha256": hashlib.sha256(b"example thumbnail").hexdigest(),
        "ciphertext_size": 23_456,
    }
    with_thumb = {**photo, "thumbnail": thumbnail}
    f.add(
        "ContentBody",
        "valid",
        "photo_reference with thumbnail",
        ["Canonical"],
        content_type=int(T.PHOTO_REFERENCE),
        body=content.encode_content(T.PHOTO_REFERENCE, with_thumb).hex(),
        decoded={**with_thumb, "v": 1},
    )
    bad(
        T.PHOTO_REFERENCE,
        {**with_thumb, "v": 1, "thumbnail": {**thumbnail, "file_key": thumbnail["file_key"][:-1]}},
        "thumbnail file key of 42 characters (not 32 bytes)",
        "SchemaViolation",
    )
    bad(
        T.PHOTO_REFERENCE,
        {
            **with_thumb,
            "v": 1,
            "thumbnail": {**thumbnail, "attachment_id": photo["attachment_id"]},
        },
        "thumbnail attachment id equal to the photo's",
        "SchemaViolation",
    )
    bad(
        T.PHOTO_REFERENCE,
        {**with_thumb, "v": 1, "thumbnail": {**thumbnail, "media_type": "image/jpeg"}},
        "unknown field inside the thumbnail",
        "SchemaViolation",
    )
    bad(
        T.PHOTO_REFERENCE,
        {**with_thumb, "v": 1, "thumbnail": None},
        "thumbnail null (absent is the only way to say none)",
        "SchemaViolation",
    )
    return f


# --- attachment ---------------------------------------------------------------------------


def gen_attachment() -> VectorFile:
    f = VectorFile(
        "attachment",
        "Attachment records (type 0x08): 01 01 08 || C2SP chunked "
        "AES-256-GCM (Cobblestone-256, 16 KiB chunks, context "
        '"dermline/v1/attachment"): crypto.attachment.',
    )
    file_key = rnd("file-key/attachment", 32)
    valid = {}
    for size in (0, 5, 16383, 16384, 16385, 32769):
        plaintext = rnd(f"photo/{size}", size) if size else b""
        salt = rnd(f"salt/attachment-{size}", 24)
        rec, digest = attachment.encrypt_attachment_from_parts(file_key, plaintext, salt=salt)
        valid[size] = (plaintext, salt, rec, digest)
        f.add(
            "Attachment",
            "valid",
            f"{size} bytes",
            ["Normal"],
            file_key=file_key.hex(),
            salt=salt.hex(),
            plaintext=plaintext.hex(),
            record=rec.hex(),
            sha256=digest.hex(),
            size=len(rec),
        )
    small = valid[5][2]
    rec = valid[32769][2]

    def add(
        comment: str,
        flags: list[str],
        bad: bytes,
        *,
        key: bytes = file_key,
        expected: bytes | None = None,
    ) -> None:
        f.add(
            "Attachment",
            "invalid",
            comment,
            flags,
            file_key=key.hex(),
            record=bad.hex(),
            expected_sha256=(expected or hashlib.sha256(bad).digest()).hex(),
        )

    # expected_sha256 is the hash of the (bad) record itself, so these fail in the chunked
    # layer, not at the hash check. Most use the 5-byte attachment to keep the file small;
    # the chunk-boundary cases need the 32769-byte one (two full chunks and a final one).
    for comment, flags, bad in prefix_mutations(small):
        add(comment, flags, bad)
    for name, offset in {"salt": 3, "commitment": 27, "final chunk": 59}.items():
        add(f"{name}: first byte flipped", ["ModifiedField"], flip(small, offset))
    add("last byte (final tag) flipped", ["ModifiedTag"], flip(small, len(small) - 1))
    add("an empty final chunk appended after the real one", ["TrailingData"], small + small[-16:])
    chunk = 16384 + 16
    add("32769 bytes: chunk 1 first byte flipped", ["ModifiedField"], flip(rec, 59 + chunk))
    add(
        "32769 bytes: final chunk removed (cut at a chunk boundary)",
        ["Truncated"],
        rec[: 59 + 2 * chunk],
    )
    add(
        "32769 bytes: chunks 0 and 1 swapped",
        ["ChunkReordering"],
        rec[:59] + rec[59 + chunk : 59 + 2 * chunk] + rec[59 : 59 + chunk] + rec[59 + 2 * chunk :],
    )
    add("wrong file key", ["WrongKey"], small, key=rnd("file-key/wrong", 32))
    add("expected SHA-256 of another record", ["WrongHash"], small, expected=valid[0][3])
    return f


def gen_records_key_file() -> VectorFile:
    f = VectorFile(
        "records_key_file",
        "The records officer's passphrase-protected records private key (type 0x09): "
        "crypto.records_key.seal_records_key_file / open_records_key_file.",
    )
    pair = key_pair("practice-records")
    cases = [
        ("correct horse battery staple", 600_000, ["FullIterations"], "600,000 iterations"),
        ("r\u00e9cords officer", 1000, ["FewIterations"], "NFC passphrase"),
    ]
    made = []
    for i, (phrase, iterations, flags, comment) in enumerate(cases):
        salt, nonce = rnd(f"salt/records-{i}", 16), rnd(f"nonce/records-{i}", 12)
        rec = records_key.seal_records_key_file_from_parts(
            pair, phrase, salt=salt, nonce=nonce, iterations=iterations
        )
        base: dict[str, Any] = {
            "passphrase": phrase,
            **kp_fields("records", pair),
            "iterations": iterations,
            "salt": salt.hex(),
            "nonce": nonce.hex(),
        }
        f.add("RecordsKeyFile", "valid", comment, flags, **base, record=rec.hex())
        made.append((base, rec))
    base, rec = made[1]
    f.add(
        "RecordsKeyFile",
        "valid",
        "NFD passphrase opens the NFC-sealed file",
        ["UnicodeNormalisation"],
        **{**base, "passphrase": "re\u0301cords officer"},
        record=rec.hex(),
    )
    fields = [
        ("key_id", 3, 16),
        ("algorithm", 19, 1),
        ("iterations", 20, 4),
        ("salt", 25, 16),
        ("nonce", 41, 12),
        ("ciphertext", 53, 32),
        ("tag", 85, 16),
    ]
    field_flags = {"ciphertext": "ModifiedCiphertext", "tag": "ModifiedTag"}
    for comment, fl, bad in prefix_mutations(rec) + field_mutations(rec, fields, field_flags):
        f.add("RecordsKeyFile", "invalid", comment, fl, **base, record=bad.hex())
    f.add(
        "RecordsKeyFile",
        "invalid",
        "salt length byte 17",
        ["LengthMismatch"],
        **base,
        record=set_byte(rec, 24, 17).hex(),
    )
    f.add(
        "RecordsKeyFile",
        "invalid",
        "iterations 2,000,001 (refused before any work)",
        ["BadParameter"],
        **base,
        record=(rec[:20] + (2_000_001).to_bytes(4, "big") + rec[24:]).hex(),
    )
    f.add(
        "RecordsKeyFile",
        "invalid",
        "wrong passphrase",
        ["WrongKey"],
        **{**base, "passphrase": "records officer"},
        record=rec.hex(),
    )
    other = key_pair("org-other")
    liar = dataclasses.replace(pair, key_id=other.key_id)
    bad = records_key.seal_records_key_file_from_parts(
        liar,
        base["passphrase"],
        salt=h_(base["salt"]),
        nonce=h_(base["nonce"]),
        iterations=base["iterations"],
    )
    f.add(
        "RecordsKeyFile",
        "invalid",
        "authentic file naming another key's id",
        ["KeyIdMismatch"],
        **base,
        record=bad.hex(),
    )
    return f


def _drop_header_parses(record: bytes) -> bool:
    try:
        patient_drop.parse_patient_photo_header(record)
    except PatientDropError:
        return False
    return True


def gen_patient_drop() -> VectorFile:
    f = VectorFile(
        "patient_drop",
        "The patient photo link: link fragment (token and drop-box public key, base64url), "
        "drop records (type 0x0A, HPKE base mode to the drop-box key, info "
        '"dermline/v1/patient-drop" || 0x00 || link id || index, no signature) and the '
        "patient_link content body (type 9): crypto.patient_drop, crypto.content.",
    )
    box = key_pair("patient-drop-box")
    other = key_pair("patient-drop-other")
    link = rid("patient-link")
    token = rnd("patient-link-token", 32)
    text = patient_drop.format_link_fragment(token, box.public_key)
    f.add(
        "LinkFragment",
        "valid",
        "token and public key",
        ["Normal"],
        token=token.hex(),
        public_key=box.public_key.hex(),
        text=text,
    )
    tok, key = text.split(".")
    not_a_point = base64.urlsafe_b64encode(b"\x04" + bytes(64)).rstrip(b"=").decode()
    for comment, flags, bad_text in [
        ("empty", ["EmptyRecord"], ""),
        ("no dot", ["Truncated"], tok + key),
        ("public key cut by one character", ["Truncated"], tok + "." + key[:-1]),
        ("token cut by one character", ["Truncated"], tok[:-1] + "." + key),
        ("padding added", ["ModifiedField"], tok + "=." + key),
        ("token spare bits set", ["ReservedBits"], tok[:-1] + "B." + key),
        ("key spare bits set", ["ReservedBits"], tok + "." + key[:-1] + "B"),
        ("standard base64 alphabet", ["ModifiedField"], tok + "." + key[:-2] + "+A"),
        ("public key not on the curve", ["InvalidPublicKey"], tok + "." + not_a_point),
        ("trailing text", ["TrailingData"], text + ".x"),
    ]:
        f.add("LinkFragment", "invalid", comment, flags, text=bad_text)

    def photo(n: int, full: bool) -> patient_drop.PatientPhoto:
        thumb = patient_drop.PatientThumbnail(
            attachment_id=rid(f"patient-thumb-{n}"),
            file_key=rnd(f"file-key/patient-thumb-{n}", 32),
            ciphertext_sha256=rnd(f"sha/patient-thumb-{n}", 32),
            ciphertext_size=20_000 + n,
        )
        return patient_drop.PatientPhoto(
            attachment_id=rid(f"patient-photo-{n}"),
            file_key=rnd(f"file-key/patient-photo-{n}", 32),
            ciphertext_sha256=rnd(f"sha/patient-photo-{n}", 32),
            ciphertext_size=900_000 + n,
            media_type="image/jpeg",
            tag=("locator", "close_up", "dermoscopic")[n % 3],
            body_site="Left forearm, 5 cm below the elbow",
            thumbnail=thumb if full else None,
            quality_verdict=("warn" if n else "ok") if full else None,
            quality_reasons=("Blurred: hold the phone still",) if full and n else (),
            send_anyway_reason="Cannot get closer: the rash is on my back" if full and n else None,
        )

    common = {
        "link_id": str(link),
        **kp_fields("drop_box", box),
    }
    valid: list[bytes] = []
    for n, full in ((0, True), (1, True), (2, False)):
        ph = photo(n, full)
        ikm = rnd(f"ikm-e/patient-drop-{n}", 32)
        rec = patient_drop.seal_patient_photo_from_parts(
            ph, link_id=link, index=n, drop_box_public_key=box.public_key, ikm_e=ikm
        )
        body = patient_drop._encode_body(ph)
        valid.append(rec)
        f.add(
            "PatientDrop",
            "valid",
            f"photo {n}" + (" with thumbnail and quality" if full else ", required fields only"),
            ["Normal"],
            **common,
            index=n,
            ikm_e=ikm.hex(),
            body=body.hex(),
            decoded=json.loads(body),
            record=rec.hex(),
            header_parses=True,
        )
    rec = valid[0]
    n = len(rec)

    def bad(comment: str, flags: list[str], record: bytes, parses: bool, **over: Any) -> None:
        fields = {**common, **over}
        f.add(
            "PatientDrop",
            "invalid",
            comment,
            flags,
            **fields,
            record=record.hex(),
            header_parses=parses,
        )

    for comment, flags, mutated in prefix_mutations(rec):
        bad(comment, flags, mutated, _drop_header_parses(mutated))
    fields = [("link_id", 3, 16), ("index", 19, 4), ("enc", 23, 65)]
    for comment, flags, mutated in field_mutations(rec, fields):
        bad(comment, flags, mutated, True)
    bad("ciphertext: first byte flipped", ["ModifiedCiphertext"], flip(rec, 88), True)
    bad("tag: last byte flipped", ["ModifiedTag"], flip(rec, n - 1), True)
    bad(
        "photo 0's record relabelled as index 1",
        ["ModifiedField"],
        rec[:19] + valid[1][19:23] + rec[23:],
        True,
    )
    bad("opened for another link", ["WrongLink"], rec, True, link_id=str(rid("other-link")))
    bad("opened with another drop-box key", ["WrongKey"], rec, True, **kp_fields("drop_box", other))
    header = rec[:23]
    info = b"dermline/v1/patient-drop\x00" + link.bytes + bytes(4)
    for comment, body in [
        ("body not JSON", b"photo"),
        (
            "body with an unknown field",
            json.dumps(
                {**json.loads(patient_drop._encode_body(photo(0, False))), "gps": "51.5,-0.1"}
            ).encode(),
        ),
        (
            "body with version 2",
            patient_drop._encode_body(photo(0, False)).replace(b'"v":1', b'"v":2'),
        ),
    ]:
        enc, ct = primitives_hpke.seal_base(
            box.public_key, info, header, body, ikm_e=rnd("ikm-e/bad-" + comment, 32)
        )
        bad(f"authentic record, {comment}", ["SchemaViolation"], header + enc + ct, True)

    key_text = base64.urlsafe_b64encode(box.private_key).rstrip(b"=").decode()
    link_body = {
        "link_id": str(link),
        "expires_at_ms": TIMESTAMP_MS + 7 * 86_400_000,
        "max_photos": 6,
        "drop_box_private_key": key_text,
    }
    data = content.encode_content(content.ContentType.PATIENT_LINK, link_body)
    f.add(
        "PatientLinkContent",
        "valid",
        "patient_link body",
        ["Canonical"],
        content_type=9,
        body=data.hex(),
        decoded=json.loads(data),
    )
    for comment, body_obj in [
        (
            "private key missing",
            {k: v for k, v in link_body.items() if k != "drop_box_private_key"},
        ),
        ("private key spare bits set", {**link_body, "drop_box_private_key": key_text[:-1] + "B"}),
        ("max_photos negative", {**link_body, "max_photos": -1}),
        ("extra field", {**link_body, "token": "abc"}),
    ]:
        raw = json.dumps({**body_obj, "v": 1}, sort_keys=True, separators=(",", ":")).encode()
        f.add(
            "PatientLinkContent",
            "invalid",
            comment,
            ["SchemaViolation"],
            content_type=9,
            body=raw.hex(),
        )
    return f


# --- the directory: organisation keys, invites, members (shared fixtures) ------------------


@dataclasses.dataclass(frozen=True)
class _Directory:
    """The practice of the statement and transparency vectors, its people and statements."""

    org_id: uuid.UUID
    org_key: account.KeyPair
    org_statement: bytes
    gp_user: uuid.UUID
    gp_sig: account.KeyPair
    gp_enc: account.KeyPair
    gp_token: str
    gp_secret: bytes
    gp_invite: bytes
    gp_member: bytes
    admins: list[tuple[uuid.UUID, account.KeyPair, account.KeyPair, bytes]]
    records: account.KeyPair
    records_statement: bytes


def _token(label: str) -> str:
    return base64.urlsafe_b64encode(rnd("invite-token/" + label, 32)).rstrip(b"=").decode()


def _directory() -> _Directory:
    org_id = rid("org/practice")
    org_key = key_pair("org-key/practice")
    at = TIMESTAMP_MS
    org_statement = statement.make_organisation_key_statement(
        org_id=org_id,
        org_kind=statement.OrganisationKind.PRACTICE,
        name="Riverside Medical Practice",
        org_key=org_key,
        issued_at_ms=at,
    )
    gp_user, gp_sig, gp_enc = rid("user/gp"), key_pair("gp-signing"), key_pair("gp-encryption")
    gp_token, gp_secret = _token("gp"), rnd("invite-secret/gp", 32)
    gp_invite = statement.make_invite_statement(
        org_id=org_id,
        role=statement.Role.GP,
        invite_public_key=invite.derive_invite_key(gp_secret).public_key,
        expires_at_ms=at + 7 * 86_400_000,
        token_hash=statement.invite_token_hash(gp_token),
        org_key=org_key,
        issued_at_ms=at + 1000,
    )
    gp_member = statement.make_member_statement(
        user_id=gp_user,
        org_id=org_id,
        role=statement.Role.GP,
        signing_public_key=gp_sig.public_key,
        encryption_public_key=gp_enc.public_key,
        invite_statement_hash=statement.statement_hash(gp_invite),
        signer=invite.derive_invite_key(gp_secret),
        issued_at_ms=at + 2000,
    )
    admins = []
    for n in (1, 2, 3):
        user, sig = rid(f"user/admin-{n}"), key_pair(f"admin-{n}-signing")
        enc = key_pair(f"admin-{n}-encryption")
        member = statement.make_member_statement(
            user_id=user,
            org_id=org_id,
            role=statement.Role.ADMIN,
            signing_public_key=sig.public_key,
            encryption_public_key=enc.public_key,
            invite_statement_hash=None,
            signer=org_key,
            issued_at_ms=at + 3000 + n,
        )
        admins.append((user, sig, enc, member))
    records = key_pair("practice-records")
    records_statement = statement.make_records_key_statement(
        org_id=org_id,
        sequence=0,
        records_public_key=records.public_key,
        records_signing_public_key=records_key.derive_records_signing_key(
            records.private_key
        ).public_key,
        previous_records_key_id=None,
        signer=org_key,
        issued_at_ms=at + 4000,
    )
    return _Directory(
        org_id=org_id,
        org_key=org_key,
        org_statement=org_statement,
        gp_user=gp_user,
        gp_sig=gp_sig,
        gp_enc=gp_enc,
        gp_token=gp_token,
        gp_secret=gp_secret,
        gp_invite=gp_invite,
        gp_member=gp_member,
        admins=admins,
        records=records,
        records_statement=records_statement,
    )


# --- transparency log -----------------------------------------------------------------------


def _log_entries(d: _Directory) -> list[tuple[str, bytes, dict[str, Any]]]:
    """(comment, entry, fields) for a small log: one entry of every type and reason."""
    at = TIMESTAMP_MS + 60_000
    out: list[tuple[str, bytes, dict[str, Any]]] = []

    def add_statement(comment: str, record: bytes) -> None:
        when = at + len(out)
        out.append(
            (
                comment,
                log_entry.encode_statement_entry(record, appended_at_ms=when),
                {"entry_type": 1, "appended_at_ms": when, "statement": record.hex()},
            )
        )

    add_statement("organisation key statement", d.org_statement)
    add_statement("invite statement", d.gp_invite)
    add_statement("member statement (through the invite)", d.gp_member)
    add_statement("records key statement", d.records_statement)
    derm_sig, derm_enc = key_pair("derm-signing"), key_pair("derm-encryption")
    when = at + len(out)
    out.append(
        (
            "uncertified member (server-made invite)",
            log_entry.encode_uncertified_member_entry(
                user_id=rid("user/derm"),
                org_id=rid("org/service"),
                role=statement.Role.DERMATOLOGIST,
                signing_public_key=derm_sig.public_key,
                encryption_public_key=derm_enc.public_key,
                appended_at_ms=when,
            ),
            {
                "entry_type": 2,
                "appended_at_ms": when,
                "user_id": str(rid("user/derm")),
                "org_id": str(rid("org/service")),
                "role": 2,
                "signing_public_key": derm_sig.public_key.hex(),
                "encryption_public_key": derm_enc.public_key.hex(),
            },
        )
    )
    for comment, org, reason, role in [
        ("removal: one role removed", d.org_id, 3, 1),
        ("removal: removed from the organisation", d.org_id, 1, 0),
        ("removal: account disabled", None, 2, 0),
    ]:
        when = at + len(out)
        out.append(
            (
                comment,
                log_entry.encode_removal_entry(
                    user_id=d.gp_user,
                    org_id=org,
                    reason=log_entry.RemovalReason(reason),
                    role=None if role == 0 else statement.Role(role),
                    appended_at_ms=when,
                ),
                {
                    "entry_type": 3,
                    "appended_at_ms": when,
                    "user_id": str(d.gp_user),
                    "org_id": None if org is None else str(org),
                    "reason": reason,
                    "role": role,
                },
            )
        )
    for _user, _sig, _enc, member in d.admins:
        add_statement("member statement (signed by the organisation key)", member)
    return out


TREE_HEAD_FIELDS = [
    ("tree size", 3, 8),
    ("timestamp", 11, 8),
    ("root hash", 19, 32),
    ("log key id", 51, 16),
    ("signature", 67, 64),
]


def _head_parses(record: bytes) -> bool:
    try:
        tree_head.parse_tree_head(record)
    except TreeHeadError:
        return False
    return True


def gen_transparency_log() -> VectorFile:
    f = VectorFile(
        "transparency_log",
        "The transparency log (docs/protocol.md section 18): log entries (crypto.log_entry), "
        "the RFC 9162 Merkle tree over them (crypto.merkle: MTH, inclusion and consistency "
        "proofs), and the signed tree head, type 0x0d (crypto.tree_head).",
    )
    d = _directory()
    entries = _log_entries(d)
    for comment, entry, fields in entries:
        f.add(
            "LogEntry",
            "valid",
            comment,
            ["Normal"],
            entry=entry.hex(),
            leaf_hash=merkle.leaf_hash(entry).hex(),
            **fields,
        )
    statement_entry, member_entry, removal_entry = entries[0][1], entries[4][1], entries[5][1]
    bad_entries: list[tuple[str, list[str], bytes]] = [
        ("empty entry", ["EmptyRecord"], b""),
        ("entry type 0x00", ["WrongRecordType"], set_byte(statement_entry, 0, 0x00)),
        ("entry type 0x04", ["WrongRecordType"], set_byte(statement_entry, 0, 0x04)),
        ("only type and time", ["Truncated"], statement_entry[:9]),
        ("statement entry, last byte removed", ["Truncated"], statement_entry[:-1]),
        ("statement entry, a byte appended", ["TrailingData"], statement_entry + b"\x00"),
        (
            "statement entry holding an envelope prefix",
            ["WrongRecordType"],
            set_byte(statement_entry, 11, 0x07),
        ),
        ("uncertified member, last byte removed", ["Truncated"], member_entry[:-1]),
        ("uncertified member, a byte appended", ["TrailingData"], member_entry + b"\x00"),
        ("uncertified member, role 0", ["BadParameter"], set_byte(member_entry, 41, 0)),
        ("uncertified member, role 6", ["BadParameter"], set_byte(member_entry, 41, 6)),
        (
            "uncertified member, signing key not on the curve",
            ["InvalidPublicKey"],
            flip(member_entry, 42 + 64),
        ),
        (
            "uncertified member, encryption key compressed",
            ["InvalidPublicKey"],
            set_byte(member_entry, 107, 0x02),
        ),
        ("removal, a byte appended", ["TrailingData"], removal_entry + b"\x00"),
        ("removal, last byte removed", ["Truncated"], removal_entry[:-1]),
        (
            "appended at 2**53",
            ["BadParameter"],
            removal_entry[:1] + (1 << 53).to_bytes(8, "big") + removal_entry[9:],
        ),
    ]
    # Removal: user id at 9, org id at 25, reason at 41, role at 42.
    for comment, org, reason, role in [
        ("removal, reason 0", rid("org/practice").bytes, 0, 0),
        ("removal, reason 4", rid("org/practice").bytes, 4, 0),
        ("removal from the organisation naming a role", rid("org/practice").bytes, 1, 1),
        ("removal from no organisation", bytes(16), 1, 0),
        ("account disabled naming an organisation", rid("org/practice").bytes, 2, 0),
        ("account disabled naming a role", bytes(16), 2, 1),
        ("role removed without a role", rid("org/practice").bytes, 3, 0),
        ("role removed from no organisation", bytes(16), 3, 1),
        ("role removed, role 6", rid("org/practice").bytes, 3, 6),
    ]:
        bad_entries.append(
            (comment, ["BadParameter"], removal_entry[:25] + org + bytes((reason, role)))
        )
    for comment, flags, entry in bad_entries:
        f.add("LogEntry", "invalid", comment, flags, entry=entry.hex())

    leaves = [merkle.leaf_hash(entry) for _c, entry, _f in entries]
    tree = merkle.MerkleTree(leaves)
    n = len(leaves)
    for size in range(n + 1):
        f.add(
            "MerkleRoot",
            "valid",
            f"the first {size} entries",
            ["Normal"],
            leaf_hashes=[leaf.hex() for leaf in leaves[:size]],
            root=tree.root(size).hex(),
        )

    def inclusion(result: str, comment: str, flags: list[str], **fields: Any) -> None:
        try:
            merkle.verify_inclusion(
                leaf_hash=h_(fields["leaf_hash"]),
                index=fields["index"],
                tree_size=fields["tree_size"],
                proof=[h_(p) for p in fields["proof"]],
                root=h_(fields["root"]),
            )
        except InclusionProofError:
            assert result == "invalid", comment
        else:
            assert result == "valid", comment
        f.add("MerkleInclusion", result, comment, flags, **fields)

    for size in (1, 2, 3, 5, 8, n):
        for index in sorted({0, size // 2, size - 1}):
            inclusion(
                "valid",
                f"leaf {index} of {size}",
                ["Normal"],
                leaf_hash=leaves[index].hex(),
                index=index,
                tree_size=size,
                proof=[p.hex() for p in tree.inclusion_proof(index, size)],
                root=tree.root(size).hex(),
            )
    # The last leaf: a size one larger changes the shape of its path (for a leaf in a
    # complete left subtree, a larger size with the same right-hand hash would verify).
    index, size = n - 1, n
    good = tree.inclusion_proof(index, size)
    base: dict[str, Any] = {
        "leaf_hash": leaves[index].hex(),
        "index": index,
        "tree_size": size,
        "proof": [p.hex() for p in good],
        "root": tree.root(size).hex(),
    }
    other = rnd("merkle/other-hash", 32).hex()
    probes: list[tuple[str, list[str], dict[str, Any]]] = [
        ("index + 1", ["WrongIndex"], {"index": index + 1}),
        ("index - 1", ["WrongIndex"], {"index": index - 1}),
        ("index equal to the tree size", ["WrongIndex"], {"index": size}),
        ("tree size + 1", ["WrongIndex"], {"tree_size": size + 1}),
        ("tree size 0", ["WrongIndex"], {"tree_size": 0, "index": 0}),
        ("another leaf hash", ["WrongLeaf"], {"leaf_hash": leaves[index - 1].hex()}),
        ("another root", ["WrongRoot"], {"root": tree.root(size - 1).hex()}),
        ("proof one hash short", ["WrongProofLength"], {"proof": base["proof"][:-1]}),
        ("proof with a hash appended", ["WrongProofLength"], {"proof": [*base["proof"], other]}),
        ("proof with a hash prepended", ["WrongProofLength"], {"proof": [other, *base["proof"]]}),
        ("empty proof", ["WrongProofLength"], {"proof": []}),
        (
            "first proof hash flipped",
            ["ModifiedProof"],
            {"proof": [flip(good[0], 0).hex(), *base["proof"][1:]]},
        ),
        (
            "last proof hash flipped",
            ["ModifiedProof"],
            {"proof": [*base["proof"][:-1], flip(good[-1], 31).hex()]},
        ),
        (
            "proof hash of 31 bytes",
            ["ModifiedProof"],
            {"proof": [good[0][:31].hex(), *base["proof"][1:]]},
        ),
        ("proof in reverse order", ["ModifiedProof"], {"proof": base["proof"][::-1]}),
    ]
    for comment, flags, change in probes:
        inclusion("invalid", comment, flags, **{**base, **change})

    def consistency(result: str, comment: str, flags: list[str], **fields: Any) -> None:
        try:
            merkle.verify_consistency(
                old_size=fields["old_size"],
                new_size=fields["new_size"],
                old_root=h_(fields["old_root"]),
                new_root=h_(fields["new_root"]),
                proof=[h_(p) for p in fields["proof"]],
            )
        except ConsistencyProofError:
            assert result == "invalid", comment
        else:
            assert result == "valid", comment
        f.add("MerkleConsistency", result, comment, flags, **fields)

    for old, new in [
        (0, 0),
        (0, 5),
        (1, 1),
        (1, 2),
        (1, n),
        (2, 5),
        (3, 7),
        (4, 8),
        (6, n),
        (7, n),
        (8, n),
        (n, n),
    ]:
        consistency(
            "valid",
            f"{old} to {new}",
            ["Normal"],
            old_size=old,
            new_size=new,
            old_root=tree.root(old).hex(),
            new_root=tree.root(new).hex(),
            proof=[p.hex() for p in tree.consistency_proof(old, new)],
        )
    # Sizes whose proof shape the probes below change (RFC 9162 verification binds the
    # sizes only through the path's shape; the signed tree head binds size and root).
    old, new = 9, n
    good = tree.consistency_proof(old, new)
    base = {
        "old_size": old,
        "new_size": new,
        "old_root": tree.root(old).hex(),
        "new_root": tree.root(new).hex(),
        "proof": [p.hex() for p in good],
    }
    probes = [
        ("old size + 1", ["WrongIndex"], {"old_size": old + 1}),
        ("old size - 1", ["WrongIndex"], {"old_size": old - 1}),
        ("new size - 1", ["WrongIndex"], {"new_size": new - 1}),
        (
            "new size smaller than the old",
            ["WrongIndex"],
            {
                "old_size": new,
                "new_size": old,
                "old_root": base["new_root"],
                "new_root": base["old_root"],
            },
        ),
        ("another old root", ["WrongRoot"], {"old_root": tree.root(old + 1).hex()}),
        ("another new root", ["WrongRoot"], {"new_root": tree.root(new - 1).hex()}),
        (
            "roots swapped",
            ["WrongRoot"],
            {"old_root": base["new_root"], "new_root": base["old_root"]},
        ),
        ("empty proof", ["WrongProofLength"], {"proof": []}),
        ("proof one hash short", ["WrongProofLength"], {"proof": base["proof"][:-1]}),
        ("proof with a hash appended", ["WrongProofLength"], {"proof": [*base["proof"], other]}),
        (
            "proof with the old root prepended",
            ["WrongProofLength"],
            {"proof": [base["old_root"], *base["proof"]]},
        ),
        (
            "first proof hash flipped",
            ["ModifiedProof"],
            {"proof": [flip(good[0], 0).hex(), *base["proof"][1:]]},
        ),
        (
            "last proof hash flipped",
            ["ModifiedProof"],
            {"proof": [*base["proof"][:-1], flip(good[-1], 31).hex()]},
        ),
        (
            "same size, different roots (a fork)",
            ["WrongRoot"],
            {"old_size": new, "old_root": other, "proof": []},
        ),
        (
            "same size, non-empty proof",
            ["WrongProofLength"],
            {"old_size": new, "old_root": base["new_root"], "proof": [other]},
        ),
        (
            "from 0 with a non-empty proof",
            ["WrongProofLength"],
            {"old_size": 0, "old_root": merkle.EMPTY_ROOT.hex(), "proof": [other]},
        ),
        (
            "from 0 with a root other than the empty tree's",
            ["WrongRoot"],
            {"old_size": 0, "old_root": other, "proof": []},
        ),
    ]
    for comment, flags, change in probes:
        consistency("invalid", comment, flags, **{**base, **change})

    log_key = key_pair("log-key")
    other_log_key = key_pair("log-key/other")
    heads = {}
    for size, at in (
        (0, TIMESTAMP_MS + 50_000),
        (6, TIMESTAMP_MS + 70_000),
        (n, TIMESTAMP_MS + 80_000),
    ):
        record = tree_head.sign_tree_head(
            tree_size=size, timestamp_ms=at, root_hash=tree.root(size), log_key=log_key
        )
        heads[size] = record
        f.add(
            "TreeHead",
            "valid",
            f"tree head of size {size}",
            ["Normal"],
            **kp_fields("log", log_key),
            tree_size=size,
            timestamp_ms=at,
            root_hash=tree.root(size).hex(),
            record=record.hex(),
            parses=True,
            signature_verifies=True,
        )
    head = heads[n]
    head_fields = {
        **kp_fields("log", log_key),
        "tree_size": n,
        "timestamp_ms": TIMESTAMP_MS + 80_000,
        "root_hash": tree.root(n).hex(),
    }

    def bad_head(comment: str, flags: list[str], record: bytes, **extra: Any) -> None:
        fields = {**head_fields, **extra}
        f.add(
            "TreeHead",
            "invalid",
            comment,
            flags,
            **fields,
            record=record.hex(),
            parses=_head_parses(record),
            signature_verifies=False,
        )

    for comment, flags, mutated in prefix_mutations(head):
        bad_head(comment, flags, mutated)
    for comment, flags, mutated in field_mutations(head, TREE_HEAD_FIELDS):
        bad_head(comment, flags if "signature" not in comment else ["ModifiedSignature"], mutated)
    bad_head(
        "checked with another log key", ["WrongSigner"], head, **kp_fields("log", other_log_key)
    )

    def resigned(size: int, at: int, root: bytes) -> bytes:
        signed = b"\x01\x01\x0d" + size.to_bytes(8, "big") + at.to_bytes(8, "big") + root
        signed += log_key.key_id
        return signed + p256_sign(log_key.private_key, b"dermline/v1/sig/tree-head\x00" + signed)

    for comment, record in [
        ("size 0 with a non-empty root, signed", resigned(0, TIMESTAMP_MS, tree.root(1))),
        ("size 2**53, signed", resigned(1 << 53, TIMESTAMP_MS, tree.root(1))),
        ("timestamp 2**53, signed", resigned(1, 1 << 53, tree.root(1))),
    ]:
        bad_head(comment, ["BadParameter"], record)

    def extends(
        result: str, comment: str, flags: list[str], old: bytes, new: bytes, proof: list[bytes]
    ) -> None:
        f.add(
            "TreeHeadExtends",
            result,
            comment,
            flags,
            old_head=old.hex(),
            new_head=new.hex(),
            proof=[p.hex() for p in proof],
        )

    extends("valid", "6 to 10", ["Normal"], heads[6], heads[n], tree.consistency_proof(6, n))
    extends("valid", "0 to 6", ["Normal"], heads[0], heads[6], [])
    extends("valid", "the same head", ["Normal"], heads[n], heads[n], [])
    fork = tree_head.sign_tree_head(
        tree_size=n,
        timestamp_ms=TIMESTAMP_MS + 90_000,
        root_hash=rnd("merkle/fork", 32),
        log_key=log_key,
    )
    extends("invalid", "same size, another root (a fork)", ["WrongRoot"], heads[n], fork, [])
    extends(
        "invalid",
        "the new head is smaller",
        ["WrongIndex"],
        heads[n],
        heads[6],
        tree.consistency_proof(6, n),
    )
    extends(
        "invalid",
        "proof for other sizes",
        ["ModifiedProof"],
        heads[6],
        heads[n],
        tree.consistency_proof(5, n),
    )
    rewritten = tree_head.sign_tree_head(
        tree_size=n,
        timestamp_ms=TIMESTAMP_MS + 90_000,
        root_hash=merkle.MerkleTree([*leaves[:5], rnd("merkle/replaced", 32), *leaves[6:]]).root(),
        log_key=log_key,
    )
    extends(
        "invalid",
        "entry 5 rewritten",
        ["WrongRoot"],
        heads[6],
        rewritten,
        tree.consistency_proof(6, n),
    )
    other_log = tree_head.sign_tree_head(
        tree_size=n,
        timestamp_ms=TIMESTAMP_MS + 80_000,
        root_hash=tree.root(n),
        log_key=other_log_key,
    )
    extends(
        "invalid",
        "the new head is from another log key",
        ["WrongSigner"],
        heads[6],
        other_log,
        tree.consistency_proof(6, n),
    )
    return f


# --- signed statements ------------------------------------------------------------------------


def _resign_statement(signed: bytes, signer: account.KeyPair) -> bytes:
    """``signed`` (a statement without its signature) followed by ``signer``'s signature."""
    return signed + p256_sign(signer.private_key, b"dermline/v1/sig/statement\x00" + signed)


def _restatement(record: bytes, signer: account.KeyPair, **changes: bytes) -> bytes:
    """A statement with its body (or the header fields named) replaced, re-signed."""
    kind = changes.get("kind", record[3:4])
    signer_id = changes.get("signer_key_id", record[4:20])
    issued = changes.get("issued_at", record[20:28])
    length = int.from_bytes(record[28:30], "big")
    body = changes.get("body", record[30 : 30 + length])
    length_field = changes.get("length", len(body).to_bytes(2, "big"))
    signed = record[:3] + kind + signer_id + issued + length_field + body
    return _resign_statement(signed, signer)


def _statement_fields(record: bytes) -> dict[str, Any]:
    """The parsed fields of a valid statement, as the vectors spell them."""
    s = statement.parse_statement(record)
    out: dict[str, Any] = {
        "kind": int(s.kind),
        "signer_key_id": s.signer_key_id.hex(),
        "issued_at_ms": s.issued_at_ms,
        "statement_hash": s.hash.hex(),
    }
    if isinstance(s, statement.OrganisationKeyStatement):
        out.update(
            org_id=str(s.org_id),
            org_kind=int(s.org_kind),
            org_public_key=s.org_public_key.hex(),
            name=s.name,
        )
    elif isinstance(s, statement.InviteStatement):
        out.update(
            org_id=str(s.org_id),
            role=int(s.role),
            invite_public_key=s.invite_public_key.hex(),
            expires_at_ms=s.expires_at_ms,
            token_hash=s.token_hash.hex(),
        )
    elif isinstance(s, statement.MemberStatement):
        out.update(
            user_id=str(s.user_id),
            org_id=str(s.org_id),
            role=int(s.role),
            signing_public_key=s.signing_public_key.hex(),
            encryption_public_key=s.encryption_public_key.hex(),
            invite_statement_hash=None
            if s.invite_statement_hash is None
            else s.invite_statement_hash.hex(),
        )
    elif isinstance(s, statement.RecordsKeyStatement):
        out.update(
            org_id=str(s.org_id),
            sequence=s.sequence,
            records_public_key=s.records_public_key.hex(),
            records_signing_public_key=s.records_signing_public_key.hex(),
            previous_records_key_id=None
            if s.previous_records_key_id is None
            else s.previous_records_key_id.hex(),
        )
    else:
        assert isinstance(s, statement.ApprovalStatement)
        out.update(
            approved_statement_hash=s.approved_statement_hash.hex(),
            approver_user_id=str(s.approver_user_id),
        )
    return out


def _statement_parses(record: bytes) -> bool:
    try:
        statement.parse_statement(record)
    except StatementError:
        return False
    return True


@dataclasses.dataclass(frozen=True)
class _RecordsChain:
    """Three records keys of the practice and the statements that chain them."""

    keys: list[account.KeyPair]
    seq0: bytes
    rollover1: bytes
    two_person1: bytes
    approvals1: list[bytes]
    rollover2: bytes


def _records_chain(d: _Directory) -> _RecordsChain:
    keys = [d.records, key_pair("practice-records/1"), key_pair("practice-records/2")]

    def link(seq: int, signer: account.KeyPair, at: int) -> bytes:
        return statement.make_records_key_statement(
            org_id=d.org_id,
            sequence=seq,
            records_public_key=keys[seq].public_key,
            records_signing_public_key=records_key.derive_records_signing_key(
                keys[seq].private_key
            ).public_key,
            previous_records_key_id=None if seq == 0 else keys[seq - 1].key_id,
            signer=signer,
            issued_at_ms=at,
        )

    rsk = [records_key.derive_records_signing_key(k.private_key) for k in keys]
    two_person1 = link(1, d.org_key, TIMESTAMP_MS + 20_000)
    approvals1 = [
        statement.make_approval_statement(
            approved_statement_hash=statement.statement_hash(two_person1),
            approver_user_id=user,
            approver_signing_key=sig,
            issued_at_ms=TIMESTAMP_MS + 21_000 + n,
        )
        for n, (user, sig, _enc, _member) in enumerate(d.admins)
    ]
    return _RecordsChain(
        keys=keys,
        seq0=d.records_statement,
        rollover1=link(1, rsk[0], TIMESTAMP_MS + 10_000),
        two_person1=two_person1,
        approvals1=approvals1,
        rollover2=link(2, rsk[1], TIMESTAMP_MS + 30_000),
    )


def _signer_fields(signer: account.KeyPair) -> dict[str, str]:
    """The signing key pair of a statement case (its key id is the header's signer key id)."""
    return {
        "signer_private_key": signer.private_key.hex(),
        "signer_public_key": signer.public_key.hex(),
    }


def gen_statement() -> VectorFile:
    f = VectorFile(
        "statement",
        "Signed directory statements, type 0x0c, and their trust rules (docs/protocol.md "
        "section 20): parse_statement, statement_hash, verify_statement, the make_* functions, "
        "verify_organisation_key_statement, verify_invite_statement, verify_member_statement "
        "and verify_records_key_chain (crypto.statement).",
    )
    d = _directory()
    chain = _records_chain(d)
    gp_invite_key = invite.derive_invite_key(d.gp_secret)
    admin1_sig = d.admins[0][1]
    member_via_ok = d.admins[0][3]
    valid: list[tuple[str, bytes, account.KeyPair]] = [
        ("organisation key", d.org_statement, d.org_key),
        ("invite", d.gp_invite, d.org_key),
        ("member through an invite", d.gp_member, gp_invite_key),
        ("member certified directly by the organisation key", member_via_ok, d.org_key),
        ("records key, sequence 0", chain.seq0, d.org_key),
        (
            "records key, sequence 1 (rollover)",
            chain.rollover1,
            records_key.derive_records_signing_key(chain.keys[0].private_key),
        ),
        ("approval", chain.approvals1[0], admin1_sig),
    ]
    name_nfd = statement.make_organisation_key_statement(
        org_id=rid("org/service"),
        org_kind=statement.OrganisationKind.SERVICE,
        name="Clinique Dermatologie\u0301 Sud",
        org_key=key_pair("org-key/service"),
        issued_at_ms=TIMESTAMP_MS,
    )
    valid.append(
        (
            "organisation key of a service, name with an accent",
            name_nfd,
            key_pair("org-key/service"),
        )
    )
    for comment, record, signer in valid:
        f.add(
            "Statement",
            "valid",
            comment,
            ["Normal"],
            record=record.hex(),
            **_signer_fields(signer),
            **_statement_fields(record),
            parses=True,
            signature_verifies=True,
        )

    def bad(comment: str, flags: list[str], record: bytes, signer: account.KeyPair) -> None:
        f.add(
            "Statement",
            "invalid",
            comment,
            flags,
            record=record.hex(),
            **_signer_fields(signer),
            parses=_statement_parses(record),
            signature_verifies=False,
        )

    member = d.gp_member
    for comment, flags, mutated in prefix_mutations(member):
        bad(comment, flags, mutated, gp_invite_key)
    fields = [
        ("kind", 3, 1),
        ("signer key id", 4, 16),
        ("issued at", 20, 8),
        ("body length", 28, 2),
        ("user id", 30, 16),
        ("org id", 46, 16),
        ("signing public key", 63, 65),
        ("invite statement hash", 193, 32),
        ("signature", 225, 64),
    ]
    for comment, flags, mutated in field_mutations(member, fields):
        bad(
            comment,
            ["ModifiedSignature"] if "signature" in comment else flags,
            mutated,
            gp_invite_key,
        )
    bad("checked with another key", ["WrongSigner"], member, d.org_key)
    org = d.org_statement
    org_body = org[30 : 30 + int.from_bytes(org[28:30], "big")]
    for comment, flags, record, signer in [
        (
            "kind 0x00, re-signed",
            ["WrongRecordType"],
            _restatement(member, gp_invite_key, kind=b"\x00"),
            gp_invite_key,
        ),
        (
            "kind 0x06, re-signed",
            ["WrongRecordType"],
            _restatement(member, gp_invite_key, kind=b"\x06"),
            gp_invite_key,
        ),
        (
            "member body labelled as an invite, re-signed",
            ["WrongRecordType"],
            _restatement(member, gp_invite_key, kind=b"\x02"),
            gp_invite_key,
        ),
        (
            "body length one more than the body, re-signed",
            ["LengthMismatch"],
            _restatement(member, gp_invite_key, length=(195 + 1).to_bytes(2, "big")),
            gp_invite_key,
        ),
        (
            "body with a byte appended (and counted), re-signed",
            ["TrailingData"],
            _restatement(member, gp_invite_key, body=member[30:225] + b"\x00"),
            gp_invite_key,
        ),
        (
            "body length over 1024, re-signed",
            ["BadParameter"],
            _restatement(member, gp_invite_key, body=member[30:225] + bytes(830)),
            gp_invite_key,
        ),
        (
            "issued at 2**53, re-signed",
            ["BadParameter"],
            _restatement(member, gp_invite_key, issued_at=(1 << 53).to_bytes(8, "big")),
            gp_invite_key,
        ),
        (
            "member role 0, re-signed",
            ["BadParameter"],
            _restatement(member, gp_invite_key, body=member[30:62] + b"\x00" + member[63:225]),
            gp_invite_key,
        ),
        (
            "member role 6, re-signed",
            ["BadParameter"],
            _restatement(member, gp_invite_key, body=member[30:62] + b"\x06" + member[63:225]),
            gp_invite_key,
        ),
        (
            "member encryption key compressed, re-signed",
            ["InvalidPublicKey"],
            _restatement(member, gp_invite_key, body=member[30:128] + b"\x02" + member[129:225]),
            gp_invite_key,
        ),
        (
            "member signing key off the curve, re-signed",
            ["InvalidPublicKey"],
            _restatement(member, gp_invite_key, body=flip(member[30:225], 97)),
            gp_invite_key,
        ),
        (
            "organisation kind 0, re-signed",
            ["BadParameter"],
            _restatement(org, d.org_key, body=org_body[:16] + b"\x00" + org_body[17:]),
            d.org_key,
        ),
        (
            "organisation kind 3, re-signed",
            ["BadParameter"],
            _restatement(org, d.org_key, body=org_body[:16] + b"\x03" + org_body[17:]),
            d.org_key,
        ),
        (
            "name length 0, re-signed",
            ["BadParameter"],
            _restatement(org, d.org_key, body=org_body[:82] + b"\x00"),
            d.org_key,
        ),
        (
            "name length one more than the name, re-signed",
            ["LengthMismatch"],
            _restatement(
                org, d.org_key, body=org_body[:82] + bytes((org_body[82] + 1,)) + org_body[83:]
            ),
            d.org_key,
        ),
        (
            "name not in NFC, re-signed",
            ["UnicodeNormalisation"],
            _restatement(
                org,
                d.org_key,
                body=org_body[:82] + bytes((len("Cafe\u0301".encode()),)) + "Cafe\u0301".encode(),
            ),
            d.org_key,
        ),
        (
            "name with a control character, re-signed",
            ["BadParameter"],
            _restatement(org, d.org_key, body=org_body[:82] + b"\x05Ward\n"),
            d.org_key,
        ),
        (
            "name not UTF-8, re-signed",
            ["BadParameter"],
            _restatement(org, d.org_key, body=org_body[:82] + b"\x04Caf\xe9"),
            d.org_key,
        ),
        (
            "name of 201 bytes, re-signed",
            ["BadParameter"],
            _restatement(org, d.org_key, body=org_body[:82] + b"\xc9" + b"a" * 201),
            d.org_key,
        ),
        (
            "records key sequence 0 naming a previous key, re-signed",
            ["BadParameter"],
            _restatement(chain.seq0, d.org_key, body=chain.seq0[30:180] + chain.keys[1].key_id),
            d.org_key,
        ),
        (
            "records key sequence 1 naming no previous key, re-signed",
            ["BadParameter"],
            _restatement(chain.two_person1, d.org_key, body=chain.two_person1[30:180] + bytes(16)),
            d.org_key,
        ),
    ]:
        bad(comment, flags, record, signer)
    long_named = statement.make_organisation_key_statement(
        org_id=d.org_id,
        org_kind=statement.OrganisationKind.PRACTICE,
        name="n" * 200,
        org_key=d.org_key,
        issued_at_ms=TIMESTAMP_MS,
    )
    f.add(
        "Statement",
        "valid",
        "organisation name of exactly 200 bytes",
        ["Normal"],
        record=long_named.hex(),
        **_signer_fields(d.org_key),
        **_statement_fields(long_named),
        parses=True,
        signature_verifies=True,
    )

    # --- organisation key statements ---
    def org_case(
        result: str, comment: str, flags: list[str], record: bytes, org_id: uuid.UUID
    ) -> None:
        extra = {}
        if result == "valid":
            extra = {"org_public_key": d.org_key.public_key.hex()}
        f.add(
            "OrganisationKeyStatement",
            result,
            comment,
            flags,
            record=record.hex(),
            org_id=str(org_id),
            **extra,
        )

    org_case("valid", "self-signed organisation key", ["Normal"], d.org_statement, d.org_id)
    impostor = key_pair("org-key/impostor")
    org_case(
        "invalid",
        "names the organisation key but signed by another key (its id in the header)",
        ["WrongSigner"],
        _restatement(d.org_statement, impostor, signer_key_id=impostor.key_id),
        d.org_id,
    )
    org_case(
        "invalid",
        "names the organisation key, signed by another key under the organisation key's id",
        ["WrongSigner"],
        _restatement(d.org_statement, impostor),
        d.org_id,
    )
    org_case(
        "invalid",
        "expected for another organisation",
        ["WrongContext"],
        d.org_statement,
        rid("org/service"),
    )
    org_case("invalid", "an invite statement", ["WrongRecordType"], d.gp_invite, d.org_id)
    org_case(
        "invalid",
        "signature flipped",
        ["ModifiedSignature"],
        flip(d.org_statement, len(d.org_statement) - 1),
        d.org_id,
    )

    # --- invites ---
    def invite_case(
        result: str,
        comment: str,
        flags: list[str],
        record: bytes,
        org_id: uuid.UUID,
        org_key: account.KeyPair,
    ) -> None:
        f.add(
            "InviteStatement",
            result,
            comment,
            flags,
            record=record.hex(),
            org_id=str(org_id),
            org_public_key=org_key.public_key.hex(),
        )

    invite_case(
        "valid",
        "invite signed by the organisation key",
        ["Normal"],
        d.gp_invite,
        d.org_id,
        d.org_key,
    )
    invite_case(
        "invalid",
        "checked with another organisation key",
        ["WrongSigner"],
        d.gp_invite,
        d.org_id,
        impostor,
    )
    invite_case(
        "invalid",
        "expected for another organisation",
        ["WrongContext"],
        d.gp_invite,
        rid("org/service"),
        d.org_key,
    )
    invite_case(
        "invalid",
        "a member statement signed by the organisation key",
        ["WrongRecordType"],
        member_via_ok,
        d.org_id,
        d.org_key,
    )
    invite_case(
        "invalid",
        "invite of another organisation, signed by this organisation's key",
        ["WrongContext"],
        _restatement(d.gp_invite, d.org_key, body=rid("org/service").bytes + d.gp_invite[46:152]),
        d.org_id,
        d.org_key,
    )

    # --- members ---
    def member_case(
        result: str,
        comment: str,
        flags: list[str],
        record: bytes,
        invite_record: bytes | None,
        *,
        org_id: uuid.UUID | None = None,
        org_key: account.KeyPair | None = None,
    ) -> None:
        fields: dict[str, Any] = _statement_fields(record) if result == "valid" else {}
        fields.update(
            record=record.hex(),
            invite_statement=None if invite_record is None else invite_record.hex(),
            org_id=str(org_id or d.org_id),
            org_public_key=(org_key or d.org_key).public_key.hex(),
        )
        f.add("MemberStatement", result, comment, flags, **fields)

    member_case("valid", "member certified through an invite", ["Normal"], d.gp_member, d.gp_invite)
    member_case(
        "valid",
        "member certified directly by the organisation key",
        ["Normal"],
        member_via_ok,
        None,
    )
    expired = statement.make_invite_statement(
        org_id=d.org_id,
        role=statement.Role.DERMATOLOGIST,
        invite_public_key=invite.derive_invite_key(rnd("invite-secret/expired", 32)).public_key,
        expires_at_ms=TIMESTAMP_MS - 1,
        token_hash=statement.invite_token_hash(_token("expired")),
        org_key=d.org_key,
        issued_at_ms=TIMESTAMP_MS - 86_400_000,
    )
    late_member = statement.make_member_statement(
        user_id=rid("user/late"),
        org_id=d.org_id,
        role=statement.Role.DERMATOLOGIST,
        signing_public_key=key_pair("late-signing").public_key,
        encryption_public_key=key_pair("late-encryption").public_key,
        invite_statement_hash=statement.statement_hash(expired),
        signer=invite.derive_invite_key(rnd("invite-secret/expired", 32)),
        issued_at_ms=TIMESTAMP_MS + 5,
    )
    member_case(
        "valid",
        "invite expired before the member statement was issued: readers do not check expiry",
        ["Normal"],
        late_member,
        expired,
    )
    member_case(
        "invalid",
        "checked with another organisation key",
        ["WrongSigner"],
        d.gp_member,
        d.gp_invite,
        org_key=impostor,
    )
    member_case(
        "invalid",
        "expected for another organisation",
        ["WrongContext"],
        d.gp_member,
        d.gp_invite,
        org_id=rid("org/service"),
    )
    member_case("invalid", "names an invite, given without it", ["WrongContext"], d.gp_member, None)
    member_case(
        "invalid",
        "certified by the organisation key, given with an invite",
        ["WrongContext"],
        member_via_ok,
        d.gp_invite,
    )
    member_case(
        "invalid",
        "given another invite than the one it names",
        ["WrongContext"],
        d.gp_member,
        expired,
    )
    forged_invite = _restatement(d.gp_invite, impostor, signer_key_id=d.org_key.key_id)
    member_case(
        "invalid",
        "its invite is not signed by the organisation key",
        ["WrongSigner"],
        statement.make_member_statement(
            user_id=d.gp_user,
            org_id=d.org_id,
            role=statement.Role.GP,
            signing_public_key=d.gp_sig.public_key,
            encryption_public_key=d.gp_enc.public_key,
            invite_statement_hash=statement.statement_hash(forged_invite),
            signer=gp_invite_key,
            issued_at_ms=TIMESTAMP_MS + 2000,
        ),
        forged_invite,
    )
    member_case(
        "invalid",
        "role differs from the invite's (an invite for a GP used to become an admin)",
        ["WrongContext"],
        statement.make_member_statement(
            user_id=d.gp_user,
            org_id=d.org_id,
            role=statement.Role.ADMIN,
            signing_public_key=d.gp_sig.public_key,
            encryption_public_key=d.gp_enc.public_key,
            invite_statement_hash=statement.statement_hash(d.gp_invite),
            signer=gp_invite_key,
            issued_at_ms=TIMESTAMP_MS + 2000,
        ),
        d.gp_invite,
    )
    member_case(
        "invalid",
        "names the invite but signed by another key than the invite key",
        ["WrongSigner"],
        statement.make_member_statement(
            user_id=d.gp_user,
            org_id=d.org_id,
            role=statement.Role.GP,
            signing_public_key=d.gp_sig.public_key,
            encryption_public_key=d.gp_enc.public_key,
            invite_statement_hash=statement.statement_hash(d.gp_invite),
            signer=impostor,
            issued_at_ms=TIMESTAMP_MS + 2000,
        ),
        d.gp_invite,
    )
    member_case(
        "invalid",
        "names no invite but signed by an invite key",
        ["WrongSigner"],
        statement.make_member_statement(
            user_id=d.gp_user,
            org_id=d.org_id,
            role=statement.Role.GP,
            signing_public_key=d.gp_sig.public_key,
            encryption_public_key=d.gp_enc.public_key,
            invite_statement_hash=None,
            signer=gp_invite_key,
            issued_at_ms=TIMESTAMP_MS + 2000,
        ),
        None,
    )
    member_case(
        "invalid",
        "member of another organisation through this organisation's invite",
        ["WrongContext"],
        statement.make_member_statement(
            user_id=d.gp_user,
            org_id=rid("org/service"),
            role=statement.Role.GP,
            signing_public_key=d.gp_sig.public_key,
            encryption_public_key=d.gp_enc.public_key,
            invite_statement_hash=statement.statement_hash(d.gp_invite),
            signer=gp_invite_key,
            issued_at_ms=TIMESTAMP_MS + 2000,
        ),
        d.gp_invite,
    )
    member_case(
        "invalid",
        "signature flipped",
        ["ModifiedSignature"],
        flip(d.gp_member, len(d.gp_member) - 1),
        d.gp_invite,
    )
    member_case("invalid", "an invite statement", ["WrongRecordType"], d.gp_invite, None)

    # --- records-key chains ---
    admins = [{"statement": m.hex(), "invite_statement": None} for _u, _s, _e, m in d.admins]
    gp_as_admin = {"statement": d.gp_member.hex(), "invite_statement": d.gp_invite.hex()}

    def change(record: bytes, approvals: list[bytes] | None = None) -> dict[str, Any]:
        return {"statement": record.hex(), "approvals": [a.hex() for a in approvals or []]}

    def chain_case(
        result: str,
        comment: str,
        flags: list[str],
        changes: list[dict[str, Any]],
        *,
        admin_list: list[dict[str, Any]] | None = None,
        pin: tuple[int, account.KeyPair] | None = None,
        org_key: account.KeyPair | None = None,
    ) -> None:
        extra = {}
        if result == "valid":
            last = statement.parse_statement(h_(changes[-1]["statement"]))
            assert isinstance(last, statement.RecordsKeyStatement)
            extra = {"sequence": last.sequence, "records_public_key": last.records_public_key.hex()}
        f.add(
            "RecordsKeyChain",
            result,
            comment,
            flags,
            changes=changes,
            org_id=str(d.org_id),
            org_public_key=(org_key or d.org_key).public_key.hex(),
            admins=admins if admin_list is None else admin_list,
            pin=None
            if pin is None
            else {"sequence": pin[0], "records_public_key": pin[1].public_key.hex()},
            **extra,
        )

    keys = chain.keys
    a = chain.approvals1
    chain_case("valid", "sequence 0 only", ["Normal"], [change(chain.seq0)])
    chain_case(
        "valid", "rollover to sequence 1", ["Normal"], [change(chain.seq0), change(chain.rollover1)]
    )
    chain_case(
        "valid",
        "two-person change to sequence 1, two approvals",
        ["Normal"],
        [change(chain.seq0), change(chain.two_person1, a[:2])],
    )
    chain_case(
        "valid",
        "two-person change with three approvals",
        ["Normal"],
        [change(chain.seq0), change(chain.two_person1, a)],
    )
    chain_case(
        "valid",
        "rollover, rollover; pinned at sequence 1",
        ["Normal"],
        [change(chain.seq0), change(chain.rollover1), change(chain.rollover2)],
        pin=(1, keys[1]),
    )
    chain_case(
        "valid",
        "an admin entry that does not verify is ignored (two others approve)",
        ["Normal"],
        [change(chain.seq0), change(chain.two_person1, a[:2])],
        admin_list=[*admins, {"statement": d.gp_member.hex(), "invite_statement": None}],
    )
    chain_case("invalid", "no statements", ["EmptyRecord"], [])
    chain_case(
        "invalid",
        "checked with another organisation key",
        ["WrongSigner"],
        [change(chain.seq0)],
        org_key=impostor,
    )
    chain_case(
        "invalid",
        "sequence 0 signed by a records signing key",
        ["WrongSigner"],
        [
            change(
                _restatement(
                    chain.seq0,
                    records_key.derive_records_signing_key(keys[0].private_key),
                    signer_key_id=records_key.derive_records_signing_key(
                        keys[0].private_key
                    ).key_id,
                )
            )
        ],
    )
    chain_case("invalid", "starts at sequence 1", ["WrongContext"], [change(chain.rollover1)])
    chain_case(
        "invalid",
        "sequence 2 after 0",
        ["WrongContext"],
        [change(chain.seq0), change(chain.rollover2)],
    )
    chain_case(
        "invalid",
        "two-person change with one approval",
        ["WrongSigner"],
        [change(chain.seq0), change(chain.two_person1, a[:1])],
    )
    chain_case(
        "invalid",
        "two-person change approved twice by the same admin",
        ["WrongSigner"],
        [change(chain.seq0), change(chain.two_person1, [a[0], a[0]])],
    )
    chain_case(
        "invalid",
        "two-person change without approvals",
        ["WrongSigner"],
        [change(chain.seq0), change(chain.two_person1)],
    )
    gp_approval = statement.make_approval_statement(
        approved_statement_hash=statement.statement_hash(chain.two_person1),
        approver_user_id=d.gp_user,
        approver_signing_key=d.gp_sig,
        issued_at_ms=TIMESTAMP_MS + 21_500,
    )
    chain_case(
        "invalid",
        "second approval by a GP (certified, not an admin)",
        ["WrongSigner"],
        [change(chain.seq0), change(chain.two_person1, [a[0], gp_approval])],
        admin_list=[*admins, gp_as_admin],
    )
    chain_case(
        "invalid",
        "second approval by an admin whose member statement does not verify",
        ["WrongSigner"],
        [change(chain.seq0), change(chain.two_person1, a[:2])],
        admin_list=[
            admins[0],
            {
                "statement": _restatement(
                    d.admins[1][3], impostor, signer_key_id=d.org_key.key_id
                ).hex(),
                "invite_statement": None,
            },
        ],
    )
    other_hash_approval = statement.make_approval_statement(
        approved_statement_hash=statement.statement_hash(chain.rollover1),
        approver_user_id=d.admins[1][0],
        approver_signing_key=d.admins[1][1],
        issued_at_ms=TIMESTAMP_MS + 21_600,
    )
    chain_case(
        "invalid",
        "an approval of another statement",
        ["WrongContext"],
        [change(chain.seq0), change(chain.two_person1, [a[0], other_hash_approval, a[2]])],
    )
    chain_case(
        "invalid",
        "an approval with a flipped signature (two good ones besides)",
        ["ModifiedSignature"],
        [change(chain.seq0), change(chain.two_person1, [a[0], flip(a[1], len(a[1]) - 1), a[2]])],
    )
    chain_case(
        "invalid",
        "an approval signed by another key than the admin's",
        ["WrongSigner"],
        [
            change(chain.seq0),
            change(
                chain.two_person1,
                [a[0], _restatement(a[1], impostor, signer_key_id=d.admins[1][1].key_id)],
            ),
        ],
    )
    chain_case(
        "invalid",
        "an approval that is a member statement",
        ["WrongRecordType"],
        [change(chain.seq0), change(chain.two_person1, [a[0], a[1], d.gp_member])],
    )
    chain_case(
        "invalid",
        "sequence 1 signed by a key that is neither the OK nor the previous RSK",
        ["WrongSigner"],
        [
            change(chain.seq0),
            change(_restatement(chain.rollover1, impostor, signer_key_id=impostor.key_id)),
        ],
    )
    chain_case(
        "invalid",
        "sequence 2 signed by the records signing key of sequence 0",
        ["WrongSigner"],
        [
            change(chain.seq0),
            change(chain.rollover1),
            change(
                statement.make_records_key_statement(
                    org_id=d.org_id,
                    sequence=2,
                    records_public_key=keys[2].public_key,
                    records_signing_public_key=records_key.derive_records_signing_key(
                        keys[2].private_key
                    ).public_key,
                    previous_records_key_id=keys[1].key_id,
                    signer=records_key.derive_records_signing_key(keys[0].private_key),
                    issued_at_ms=TIMESTAMP_MS + 30_000,
                )
            ),
        ],
    )
    chain_case(
        "invalid",
        "sequence 1 names another previous key",
        ["WrongContext"],
        [
            change(chain.seq0),
            change(
                statement.make_records_key_statement(
                    org_id=d.org_id,
                    sequence=1,
                    records_public_key=keys[1].public_key,
                    records_signing_public_key=records_key.derive_records_signing_key(
                        keys[1].private_key
                    ).public_key,
                    previous_records_key_id=keys[2].key_id,
                    signer=records_key.derive_records_signing_key(keys[0].private_key),
                    issued_at_ms=TIMESTAMP_MS + 10_000,
                )
            ),
        ],
    )
    other_org_seq0 = statement.make_records_key_statement(
        org_id=rid("org/service"),
        sequence=0,
        records_public_key=keys[0].public_key,
        records_signing_public_key=records_key.derive_records_signing_key(
            keys[0].private_key
        ).public_key,
        previous_records_key_id=None,
        signer=d.org_key,
        issued_at_ms=TIMESTAMP_MS,
    )
    chain_case(
        "invalid", "sequence 0 of another organisation", ["WrongContext"], [change(other_org_seq0)]
    )
    chain_case(
        "invalid", "an invite statement in the chain", ["WrongRecordType"], [change(d.gp_invite)]
    )
    chain_case(
        "invalid",
        "pinned at sequence 2, chain ends at 1",
        ["WrongContext"],
        [change(chain.seq0), change(chain.rollover1)],
        pin=(2, keys[2]),
    )
    chain_case(
        "invalid",
        "pinned sequence 1 holds another key (a rewritten chain)",
        ["WrongContext"],
        [change(chain.seq0), change(chain.rollover1)],
        pin=(1, keys[2]),
    )
    chain_case(
        "invalid",
        "sequence 0 with a flipped signature",
        ["ModifiedSignature"],
        [change(flip(chain.seq0, len(chain.seq0) - 1))],
    )
    return f


# --- invites, organisation key custody, records signing key ---------------------------------


def gen_invite() -> VectorFile:
    f = VectorFile(
        "invite",
        "The invite secret, the invite key derived from it, and the invite link fragment "
        "(docs/protocol.md section 21): derive_invite_key, format_invite_fragment, "
        "parse_invite_fragment (crypto.invite).",
    )
    for label in ("gp", "admin", "zero"):
        secret = bytes(32) if label == "zero" else rnd("invite-secret/" + label, 32)
        pair = invite.derive_invite_key(secret)
        f.add(
            "InviteKey",
            "valid",
            f"invite secret {label}",
            ["Normal"],
            secret=secret.hex(),
            private_key=pair.private_key.hex(),
            public_key=pair.public_key.hex(),
            key_id=pair.key_id.hex(),
        )
    token = _token("gp")
    secret = rnd("invite-secret/gp", 32)
    org_key_id = key_pair("org-key/practice").key_id
    for comment, fields in [
        ("certified invite: token, secret, organisation key id", (token, secret, org_key_id)),
        ("server-made invite: the token alone", (token, None, None)),
        ("all-zero secret and key id", (_token("zero"), bytes(32), bytes(16))),
    ]:
        text = invite.format_invite_fragment(*fields)
        f.add(
            "InviteFragment",
            "valid",
            comment,
            ["Normal"],
            text=text,
            token=fields[0],
            secret=None if fields[1] is None else fields[1].hex(),
            org_key_id=None if fields[2] is None else fields[2].hex(),
        )
    good = invite.format_invite_fragment(token, secret, org_key_id)
    t, s, k = good.split(".")
    for comment, flags, text in [
        ("empty", ["EmptyRecord"], ""),
        ("token one character short", ["Truncated"], t[:-1]),
        ("token one character long", ["TrailingData"], t + "A"),
        ("token spare bits set", ["ReservedBits"], t[:-1] + "B"),
        ("token with padding", ["ReservedBits"], t + "="),
        ("token in standard base64 (+)", ["ReservedBits"], "+" + t[1:]),
        ("a trailing dot", ["TrailingData"], t + "."),
        ("secret without key id", ["Truncated"], f"{t}.{s}"),
        ("secret spare bits set", ["ReservedBits"], f"{t}.{s[:-1]}B.{k}"),
        ("key id spare bits set", ["ReservedBits"], f"{t}.{s}.{k[:-1]}B"),
        ("key id one character short", ["Truncated"], f"{t}.{s}.{k[:-1]}"),
        ("key id of 32 bytes", ["LengthMismatch"], f"{t}.{s}.{s}"),
        ("a fourth part", ["TrailingData"], f"{good}.{k}"),
        ("empty secret", ["Truncated"], f"{t}..{k}"),
        ("spaces around", ["TrailingData"], f" {good} "),
        ("patient link text", ["WrongRecordType"], f"{t}.{'A' * 87}"),
    ]:
        f.add("InviteFragment", "invalid", comment, flags, text=text)
    return f


ORG_WRAP_FIELDS = [
    ("org_id", 3, 16),
    ("recipient_key_id", 19, 16),
    ("wrapper_user_id", 35, 16),
    ("wrapper_key_id", 51, 16),
    ("org_key_id", 67, 16),
    ("enc", 83, 65),
    ("ciphertext", 148, 32),
    ("tag", 180, 16),
    ("signature", 196, 64),
]


def _forge_org_key_wrap(
    scalar: bytes,
    *,
    org_id: uuid.UUID,
    org_key_id: bytes,
    recipient: account.KeyPair,
    wrapper_user_id: uuid.UUID,
    wrapper: account.KeyPair,
    ikm_e: bytes,
) -> bytes:
    """A signed 0x0f record holding any scalar under any claimed key id (what a malicious
    administrator's client can make): HPKE opens it, only the key check refuses it."""
    header = (
        b"\x01\x01\x0f"
        + org_id.bytes
        + recipient.key_id
        + wrapper_user_id.bytes
        + wrapper.key_id
        + org_key_id
    )
    enc, ct = primitives_hpke.seal_base(
        recipient.public_key,
        b"dermline/v1/org-key\x00" + org_id.bytes + recipient.key_id,
        header,
        scalar,
        ikm_e=ikm_e,
    )
    body = header + enc + ct
    return body + p256_sign(wrapper.private_key, b"dermline/v1/sig/org-key-wrap\x00" + body)


def _org_wrap_header_parses(record: bytes) -> bool:
    try:
        org_key.parse_org_key_wrap_header(record)
    except OrgKeyWrapHeaderError:
        return False
    return True


def gen_org_key() -> VectorFile:
    f = VectorFile(
        "org_key",
        "The organisation key's custody (docs/protocol.md section 21): the wrap to an "
        "administrator, type 0x0f (wrap_org_key_from_parts, parse_org_key_wrap_header, "
        "open_org_key_wrap), the handover in an administrator's invite, type 0x10 "
        "(seal_org_key_handover_from_parts, open_org_key_handover), and the records signing "
        "key (records_key.derive_records_signing_key).",
    )
    d = _directory()
    org_id, ok = d.org_id, d.org_key
    admin1_user, admin1_sig, _e1, _m1 = d.admins[0]
    _u2, _s2, admin2_enc, _m2 = d.admins[1]
    other = key_pair("org-key/impostor")
    base: dict[str, Any] = {
        "org_id": str(org_id),
        **kp_fields("org", ok),
        **kp_fields("recipient", admin2_enc),
        "wrapper_user_id": str(admin1_user),
        **kp_fields("wrapper_signing", admin1_sig),
    }
    valid = []
    for label, recipient in (("second admin", admin2_enc), ("the wrapper itself", d.admins[0][2])):
        ikm_e = rnd("ikm-e/org-key-wrap/" + label, 32)
        rec = org_key.wrap_org_key_from_parts(
            ok,
            org_id=org_id,
            recipient_public_key=recipient.public_key,
            wrapper_user_id=admin1_user,
            wrapper_signing_key=admin1_sig,
            ikm_e=ikm_e,
        )
        fields = {**base, **kp_fields("recipient", recipient), "ikm_e": ikm_e.hex()}
        f.add(
            "OrgKeyWrap",
            "valid",
            f"wrapped to the {label}",
            ["Normal"],
            **fields,
            record=rec.hex(),
            header_parses=True,
        )
        valid.append(rec)
    rec = valid[0]

    def bad(comment: str, flags: list[str], record: bytes, **changes: Any) -> None:
        f.add(
            "OrgKeyWrap",
            "invalid",
            comment,
            flags,
            **{**base, **changes},
            record=record.hex(),
            header_parses=_org_wrap_header_parses(record),
        )

    for comment, flags, mutated in prefix_mutations(rec):
        bad(comment, flags, mutated)
    flag_of = {
        "signature": "ModifiedSignature",
        "ciphertext": "ModifiedCiphertext",
        "tag": "ModifiedTag",
    }
    for comment, flags, mutated in field_mutations(rec, ORG_WRAP_FIELDS, flag_of):
        bad(comment, flags, mutated)
    for name, offset, length in ORG_WRAP_FIELDS[:5]:
        changed = flip(rec[:196], offset + length - 1)
        resigned = changed + p256_sign(
            admin1_sig.private_key, b"dermline/v1/sig/org-key-wrap\x00" + changed
        )
        bad(f"{name} changed and re-signed", ["Resigned"], resigned)
    bad(
        "opened by another key pair",
        ["WrongRecipient"],
        rec,
        **kp_fields("recipient", d.admins[2][2]),
    )
    bad("opened for another organisation", ["WrongContext"], rec, org_id=str(rid("org/service")))
    bad(
        "opened expecting another organisation key",
        ["WrongKey"],
        rec,
        **kp_fields("org", other),
    )
    bad(
        "checked with another wrapper key",
        ["WrongSigner"],
        rec,
        **kp_fields("wrapper_signing", d.gp_sig),
    )
    bad("opened naming another wrapper user", ["WrongUserId"], rec, wrapper_user_id=str(d.gp_user))
    forged = _forge_org_key_wrap(
        other.private_key,
        org_id=org_id,
        org_key_id=ok.key_id,
        recipient=admin2_enc,
        wrapper_user_id=admin1_user,
        wrapper=admin1_sig,
        ikm_e=rnd("ikm-e/org-key-wrap/forged", 32),
    )
    bad("authentic record holding another key than the one it names", ["KeyIdMismatch"], forged)
    zero = _forge_org_key_wrap(
        bytes(32),
        org_id=org_id,
        org_key_id=ok.key_id,
        recipient=admin2_enc,
        wrapper_user_id=admin1_user,
        wrapper=admin1_sig,
        ikm_e=rnd("ikm-e/org-key-wrap/zero", 32),
    )
    bad("authentic record holding the scalar 0", ["BadParameter"], zero)

    # --- handover ---
    secret = rnd("invite-secret/admin", 32)
    hbase: dict[str, Any] = {
        "org_id": str(org_id),
        **kp_fields("org", ok),
        "invite_secret": secret.hex(),
    }
    nonce = rnd("nonce/org-key-handover", 12)
    hand = org_key.seal_org_key_handover_from_parts(
        ok, org_id=org_id, invite_secret=secret, nonce=nonce
    )
    f.add(
        "OrgKeyHandover",
        "valid",
        "organisation key for a new administrator",
        ["Normal"],
        **hbase,
        invite_key_id=invite.derive_invite_key(secret).key_id.hex(),
        nonce=nonce.hex(),
        record=hand.hex(),
    )

    def bad_handover(comment: str, flags: list[str], record: bytes, **changes: Any) -> None:
        f.add(
            "OrgKeyHandover", "invalid", comment, flags, **{**hbase, **changes}, record=record.hex()
        )

    for comment, flags, mutated in prefix_mutations(hand):
        bad_handover(comment, flags, mutated)
    handover_fields = [
        ("org_id", 3, 16),
        ("invite_key_id", 19, 16),
        ("nonce", 35, 12),
        ("ciphertext", 47, 32),
        ("tag", 79, 16),
    ]
    for comment, flags, mutated in field_mutations(hand, handover_fields, flag_of):
        bad_handover(comment, flags, mutated)
    bad_handover(
        "opened with another invite secret",
        ["WrongKey"],
        hand,
        invite_secret=rnd("invite-secret/gp", 32).hex(),
    )
    bad_handover(
        "opened for another organisation", ["WrongContext"], hand, org_id=str(rid("org/service"))
    )
    bad_handover(
        "opened expecting another organisation key", ["WrongKey"], hand, **kp_fields("org", other)
    )
    forged_hand = org_key.seal_org_key_handover_from_parts(
        other, org_id=org_id, invite_secret=secret, nonce=rnd("nonce/org-key-handover/forged", 12)
    )
    bad_handover(
        "authentic record holding another organisation key", ["KeyIdMismatch"], forged_hand
    )

    for label in ("practice-records", "practice-records/1"):
        rk = key_pair(label)
        rsk = records_key.derive_records_signing_key(rk.private_key)
        f.add(
            "RecordsSigningKey",
            "valid",
            f"records key {label}",
            ["Normal"],
            records_private_key=rk.private_key.hex(),
            **kp_fields("records_signing", rsk),
        )
    return f


# --- committed, padded envelope (0x0e) -----------------------------------------------------


def _seal_raw_committed(
    plaintext: bytes,
    *,
    header: bytes,
    message_key_from: bytes,
    nonce: bytes,
    signer: account.KeyPair,
) -> bytes:
    """A signed 0x0e record around any plaintext (already padded or not) and any header:
    what a malicious sender can make. Only the reader's own rules can refuse it."""
    case = header[3:19]
    epoch = header[19:23]
    key = hkdf_sha256(
        message_key_from, salt=b"", info=b"dermline/v1/message-key\x00" + case + epoch, length=32
    )
    ct = aes256gcm_seal(key, nonce, plaintext, header)
    signed = header + nonce + len(ct).to_bytes(4, "big") + ct
    return signed + p256_sign(signer.private_key, b"dermline/v1/sig/message\x00" + signed)


def gen_envelope_committed() -> VectorFile:
    f = VectorFile(
        "envelope_committed",
        "Message envelopes, type 0x0e (docs/protocol.md section 22): the 0x07 envelope with "
        "the epoch's case key commitment in the signed header (AAD bytes 0..143) and the body "
        "padded to a multiple of 256 bytes (0x80 then zeros): crypto.envelope."
        "seal_message_from_parts / open_message / parse_message_header / "
        "verify_message_signature / message_hash.",
    )
    case_id = rid("case/1")
    ck = rnd("case-key/1", 32)
    epoch = 3
    gp_user, derm_user = rid("user/gp"), rid("user/derm")
    gp_sig, derm_sig = key_pair("gp-signing"), key_pair("derm-signing")
    commitment = case_key.case_key_commitment(ck, case_id=case_id, epoch=epoch)
    bodies = [
        (
            gp_user,
            gp_sig,
            content.ContentType.TEXT,
            content.encode_content(
                content.ContentType.TEXT, {"text": "Please advise \u2014 thank you."}
            ),
        ),
        (derm_user, derm_sig, content.ContentType.RECEIPT, b""),
        (
            derm_user,
            derm_sig,
            content.ContentType.QUESTION,
            content.encode_content(content.ContentType.QUESTION, {"text": "Q" * 239}),
        ),
        (
            gp_user,
            gp_sig,
            content.ContentType.TEXT,
            content.encode_content(content.ContentType.TEXT, {"text": "A" * 238}),
        ),
    ]
    previous = envelope.GENESIS_HASH
    valid = []
    for i, (user, sig, ctype, body) in enumerate(bodies):
        mid = rid(f"message-committed/{i}")
        nonce = rnd(f"nonce/message-committed-{i}", 12)
        ts = TIMESTAMP_MS + 60_000 * i
        rec = envelope.seal_message_from_parts(
            body,
            case_key=ck,
            case_id=case_id,
            epoch=epoch,
            client_message_id=mid,
            sender_user_id=user,
            sender_signing_key=sig,
            content_type=ctype,
            timestamp_ms=ts,
            previous_hash=previous,
            nonce=nonce,
        )
        base: dict[str, Any] = {
            "case_key": ck.hex(),
            "case_id": str(case_id),
            "epoch": epoch,
            "client_message_id": str(mid),
            "sender_user_id": str(user),
            **kp_fields("sender_signing", sig),
            "content_type": int(ctype),
            "timestamp_ms": ts,
            "previous_hash": previous.hex(),
            "nonce": nonce.hex(),
            "body": body.hex(),
        }
        padded = len(body) // 256 * 256 + 256
        f.add(
            "CommittedMessageEnvelope",
            "valid",
            f"message {i}: {ctype.name.lower()}, body of {len(body)} bytes padded to {padded}",
            ["Normal"],
            **base,
            commitment=commitment.hex(),
            padded_length=padded,
            record=rec.hex(),
            message_hash=envelope.message_hash(rec).hex(),
            header_parses=True,
            signature_verifies=True,
        )
        valid.append((base, rec))
        previous = envelope.message_hash(rec)
    assert [len(h_(b["body"])) for b, _r in valid] == [45, 0, 256, 255], "padding edges"
    base, rec = valid[0]
    n = len(rec)

    def add(
        comment: str, flags: list[str], bad: bytes, parses: bool, verifies: bool, **over: Any
    ) -> None:
        f.add(
            "CommittedMessageEnvelope",
            "invalid",
            comment,
            flags,
            **{**base, **over},
            record=bad.hex(),
            header_parses=parses,
            signature_verifies=verifies,
        )

    def resign(body: bytes, signer: account.KeyPair = gp_sig) -> bytes:
        return body + p256_sign(signer.private_key, b"dermline/v1/sig/message\x00" + body)

    for comment, flags, bad in prefix_mutations(rec):
        add(comment, flags, bad, False, False)
    add(
        "labelled 0x07 (a 0x0e record read as legacy)",
        ["WrongRecordType"],
        set_byte(rec, 2, 0x07),
        False,
        False,
    )
    fields = [
        *ENVELOPE_FIELDS[:-1],
        ("commitment", 112, 32),
        ("nonce", 144, 12),
        ("ciphertext", 160, n - 160 - 80),
        ("tag", n - 80, 16),
        ("signature", n - 64, 64),
    ]
    field_flags = {
        "ciphertext": "ModifiedCiphertext",
        "tag": "ModifiedTag",
        "signature": "ModifiedSignature",
        "commitment": "ModifiedCommitment",
    }
    for comment, fl, bad in field_mutations(rec, fields, field_flags):
        add(comment, fl, bad, True, False)
    for name, offset, length in [
        *ENVELOPE_FIELDS[:-1],
        ("nonce", 144, 12),
        ("ciphertext", 160, n - 160 - 80),
    ]:
        if name == "sender_key_id":
            continue
        bad = resign(flip(rec[:-64], offset + length - 1))
        add(f"{name} modified, re-signed by the sender", ["Resigned"], bad, True, True)
    add(
        "commitment modified, re-signed by the sender (refused before decrypting)",
        ["Resigned", "ModifiedCommitment"],
        resign(flip(rec[:-64], 143)),
        True,
        True,
    )
    length_field = int.from_bytes(rec[156:160], "big")
    for comment, value in [
        ("ciphertext length field + 1", length_field + 1),
        ("ciphertext length field - 1", length_field - 1),
        ("ciphertext length 16 + 255 (not a padded length)", 271),
        ("ciphertext length 16 (no padding block)", 16),
        (
            "ciphertext length 16 + 1 MiB + 512 (more than the largest body needs)",
            (1 << 20) + 512 + 16,
        ),
    ]:
        add(
            comment,
            ["LengthMismatch"],
            rec[:156] + value.to_bytes(4, "big") + rec[160:],
            False,
            False,
        )
    add("signature removed", ["Truncated"], rec[:-64], False, False)
    add(
        "wrong case key (its commitment differs)",
        ["WrongKey"],
        rec,
        True,
        True,
        case_key=rnd("case-key/wrong", 32).hex(),
    )
    add("expected case id differs", ["WrongContext"], rec, True, True, case_id=str(rid("case/2")))
    add("expected epoch differs", ["WrongContext"], rec, True, True, epoch=4)
    add(
        "checked against the dermatologist's signing key",
        ["WrongSigner"],
        rec,
        True,
        False,
        **kp_fields("sender_signing", derm_sig),
    )
    header = rec[:144]
    other_ck = rnd("case-key/other-for-epoch", 32)
    other_header = rec[:112] + case_key.case_key_commitment(other_ck, case_id=case_id, epoch=epoch)
    for comment, flags, bad in [
        (
            "sealed under another case key for the epoch, with that key's commitment "
            "(a sender holding two keys): the reader's key does not match the commitment",
            ["CommitmentMismatch"],
            _seal_raw_committed(
                b"x\x80" + bytes(254),
                header=other_header,
                message_key_from=other_ck,
                nonce=rnd("nonce/forged-1", 12),
                signer=gp_sig,
            ),
        ),
        (
            "the reader's commitment, but sealed under another key (AEAD refuses)",
            ["WrongKey"],
            _seal_raw_committed(
                b"x\x80" + bytes(254),
                header=header,
                message_key_from=other_ck,
                nonce=rnd("nonce/forged-2", 12),
                signer=gp_sig,
            ),
        ),
        (
            "authentic, padding without the 0x80 marker",
            ["BadPadding"],
            _seal_raw_committed(
                bytes(256),
                header=header,
                message_key_from=ck,
                nonce=rnd("nonce/forged-3", 12),
                signer=gp_sig,
            ),
        ),
        (
            "authentic, last byte 0x01",
            ["BadPadding"],
            _seal_raw_committed(
                b"x" * 255 + b"\x01",
                header=header,
                message_key_from=ck,
                nonce=rnd("nonce/forged-4", 12),
                signer=gp_sig,
            ),
        ),
        (
            "authentic, a 1-byte body padded to 512 (a whole block too many)",
            ["BadPadding"],
            _seal_raw_committed(
                b"x\x80" + bytes(510),
                header=header,
                message_key_from=ck,
                nonce=rnd("nonce/forged-5", 12),
                signer=gp_sig,
            ),
        ),
        (
            "authentic, an empty body padded to 512",
            ["BadPadding"],
            _seal_raw_committed(
                b"\x80" + bytes(511),
                header=header,
                message_key_from=ck,
                nonce=rnd("nonce/forged-6", 12),
                signer=gp_sig,
            ),
        ),
    ]:
        add(comment, flags, bad, True, True)
    return f


# --- transcripts ---------------------------------------------------------------------------


def gen_transcript() -> VectorFile:
    f = VectorFile(
        "transcript",
        "The reader's transcript check over a thread in the server's order (docs/protocol.md "
        "section 23): crypto.transcript.check_transcript over (seq, client message id, "
        "previous hash, message hash), and entry_from_record over real 0x0e records. A case is "
        "valid when no message has a finding.",
    )

    def msg(label: str, previous: str | None, cmid: str | None = None) -> dict[str, Any]:
        return {
            "client_message_id": str(rid("transcript/" + (cmid or label))),
            "previous_hash": (
                envelope.GENESIS_HASH if previous is None else rnd("transcript/" + previous, 32)
            ).hex(),
            "message_hash": rnd("transcript/" + label, 32).hex(),
        }

    m1, m2, m3, m4, m5 = (
        msg("m1", None),
        msg("m2", "m1"),
        msg("m3", "m2"),
        msg("m4", "m3"),
        msg("m5", "m4"),
    )
    threads: list[tuple[str, list[str], list[dict[str, Any]], list[list[str]]]] = [
        ("a linear thread", ["Normal"], [m1, m2, m3, m4, m5], [[]] * 5),
        ("an empty thread", ["Normal"], [], []),
        (
            "two messages name the same predecessor (people sending at once)",
            ["Concurrent"],
            [m1, m2, msg("m2b", "m1"), msg("m3b", "m2b")],
            [[]] * 4,
        ),
        (
            "a sender posts twice without reading: its second names its first",
            ["Concurrent"],
            [m1, m2, msg("m2b", "m1"), msg("m3c", "m2"), msg("m4c", "m2b")],
            [[]] * 5,
        ),
        ("a message dropped from the middle", ["Gap"], [m1, m2, m4, m5], [[], [], ["gap"], []]),
        ("the first message withheld", ["Gap", "Genesis"], [m2, m3], [["genesis", "gap"], []]),
        (
            "two messages swapped",
            ["Reorder"],
            [m1, m3, m2, m4],
            [[], ["reorder"], [], []],
        ),
        (
            "the first two swapped",
            ["Reorder", "Genesis"],
            [m2, m1, m3],
            [["genesis", "reorder"], ["genesis"], []],
        ),
        ("a message shown twice", ["Replay"], [m1, m2, m2, m3], [[], [], ["replay"], []]),
        (
            "the first message shown again at the end",
            ["Replay", "Genesis"],
            [m1, m2, m1],
            [[], [], ["genesis", "replay"]],
        ),
        (
            "a client message id reused with another hash",
            ["Replay"],
            [m1, m2, msg("m2-again", "m1", cmid="m2")],
            [[], [], ["replay"]],
        ),
        (
            "a second first message later in the thread",
            ["Genesis"],
            [m1, m2, msg("other-first", None)],
            [[], [], ["genesis"]],
        ),
        (
            "a fork: this reader was shown m2b but a later message names m2",
            ["Gap"],
            [m1, msg("m2b", "m1"), m3],
            [[], [], ["gap"]],
        ),
        (
            "the last message names one this reader was never shown",
            ["Gap"],
            [m1, m2, msg("m4x", "m3x")],
            [[], [], ["gap"]],
        ),
    ]
    for comment, flags, thread, findings in threads:
        messages = [{"seq": i + 1, **m} for i, m in enumerate(thread)]
        entries = [
            transcript.TranscriptEntry(
                seq=m["seq"],
                client_message_id=uuid.UUID(m["client_message_id"]),
                previous_hash=h_(m["previous_hash"]),
                message_hash=h_(m["message_hash"]),
            )
            for m in messages
        ]
        got = [[str(x) for x in per] for per in transcript.check_transcript(entries)]
        assert got == findings, (comment, got)
        result = "valid" if not any(findings) else "invalid"
        f.add("Transcript", result, comment, flags, messages=messages, findings=findings)

    records = [
        h_(t["record"])
        for g in json.loads(gen_envelope_committed().dumps())["testGroups"]
        for t in g["tests"]
        if t["result"] == "valid"
    ]
    r0, r1, r2, r3 = records
    record_threads: list[tuple[str, list[str], list[bytes], list[list[str]]]] = [
        ("the committed envelope vectors in order", ["Normal"], [r0, r1, r2, r3], [[]] * 4),
        ("message 2 dropped", ["Gap"], [r0, r1, r3], [[], [], ["gap"]]),
        ("messages 1 and 2 swapped", ["Reorder"], [r0, r2, r1, r3], [[], ["reorder"], [], []]),
        ("message 1 replayed", ["Replay"], [r0, r1, r1, r2], [[], [], ["replay"], []]),
    ]
    for comment, flags, record_thread, findings in record_threads:
        entries = [transcript.entry_from_record(i + 1, r) for i, r in enumerate(record_thread)]
        got = [[str(x) for x in per] for per in transcript.check_transcript(entries)]
        assert got == findings, (comment, got)
        f.add(
            "TranscriptRecords",
            "valid" if not any(findings) else "invalid",
            comment,
            flags,
            records=[r.hex() for r in record_thread],
            findings=findings,
        )
    return f


# --- the server's at-rest format ------------------------------------------------------------


def gen_at_rest() -> VectorFile:
    f = VectorFile(
        "at_rest",
        "The server's at-rest encryption (crypto.at_rest, docs/storage.md section 4): master "
        "key id, data-key wraps, sealed fields, blind indexes, blob headers and chunks. Known "
        "answers computed once and committed, so a change of the stored format fails the "
        "tests; not a protocol record (no version/suite prefix).",
    )
    mk, dk = rnd("at-rest/master-key", 32), rnd("at-rest/data-key", 32)
    other = rnd("at-rest/other-key", 32)
    f.add(
        "MasterKeyId",
        "valid",
        "id of a master key",
        ["Normal"],
        master_key=mk.hex(),
        master_key_id=at_rest.master_key_id(mk),
    )
    for purpose, key_id in (("field", 1), ("index", 2), ("blob", 0xFFFFFFFF)):
        nonce = rnd(f"at-rest/wrap-nonce/{purpose}", 12)
        wrapped = at_rest.wrap_data_key_with_nonce(
            mk, dk, key_id=key_id, purpose=purpose, nonce=nonce
        )
        f.add(
            "DataKeyWrap",
            "valid",
            f"data key for {purpose}, key id {key_id}",
            ["Normal"],
            master_key=mk.hex(),
            data_key=dk.hex(),
            key_id=key_id,
            purpose=purpose,
            nonce=nonce.hex(),
            wrapped=wrapped.hex(),
        )
    wrapped = at_rest.wrap_data_key_with_nonce(
        mk, dk, key_id=1, purpose="field", nonce=rnd("at-rest/wrap-nonce/field", 12)
    )
    base: dict[str, Any] = {"master_key": mk.hex(), "key_id": 1, "purpose": "field"}
    wrap_cases: list[tuple[str, list[str], bytes, dict[str, Any]]] = [
        ("unwrapped for another key id", ["WrongContext"], wrapped, {"key_id": 2}),
        ("unwrapped for another purpose", ["WrongContext"], wrapped, {"purpose": "index"}),
        ("under another master key", ["WrongKey"], wrapped, {"master_key": other.hex()}),
        ("version 0x02", ["UnknownVersion"], set_byte(wrapped, 0, 2), {}),
        ("tag flipped", ["ModifiedTag"], flip(wrapped, len(wrapped) - 1), {}),
        ("truncated", ["Truncated"], wrapped[:-1], {}),
        ("a byte appended", ["TrailingData"], wrapped + b"\x00", {}),
    ]
    for comment, flags, record, change in wrap_cases:
        f.add("DataKeyWrap", "invalid", comment, flags, **{**base, **change}, wrapped=record.hex())

    place = {"table": "messages", "column": "envelope", "row_id": "case-1/7"}
    for comment, key_id, plaintext in [
        ("a message envelope", 258, b"\x01\x01\x0e" + rnd("at-rest/envelope", 61)),
        ("an empty value", 1, b""),
        ("a UTF-8 value, largest key id", 0xFFFFFFFF, "Dr D\u00e9rm".encode()),
    ]:
        nonce = rnd(f"at-rest/field-nonce/{comment}", 12)
        sealed = at_rest.seal_field_with_nonce(dk, key_id, plaintext, nonce=nonce, **place)
        f.add(
            "SealedField",
            "valid",
            comment,
            ["Normal"],
            data_key=dk.hex(),
            key_id=key_id,
            **place,
            nonce=nonce.hex(),
            plaintext=plaintext.hex(),
            sealed=sealed.hex(),
        )
    sealed = at_rest.seal_field_with_nonce(
        dk, 258, b"canary", nonce=rnd("at-rest/field-nonce/canary", 12), **place
    )
    fbase: dict[str, Any] = {"data_key": dk.hex(), **place}
    field_cases: list[tuple[str, list[str], bytes, dict[str, Any]]] = [
        ("moved to another row", ["WrongContext"], sealed, {"row_id": "case-1/8"}),
        ("moved to another column", ["WrongContext"], sealed, {"column": "outcome"}),
        ("moved to another table", ["WrongContext"], sealed, {"table": "drafts"}),
        ("opened with another data key", ["WrongKey"], sealed, {"data_key": other.hex()}),
        ("key id in the record changed", ["ModifiedField"], flip(sealed, 4), {}),
        ("version 0x02", ["UnknownVersion"], set_byte(sealed, 0, 2), {}),
        ("ciphertext flipped", ["ModifiedCiphertext"], flip(sealed, 17), {}),
        ("tag flipped", ["ModifiedTag"], flip(sealed, len(sealed) - 1), {}),
        ("shorter than the overhead", ["Truncated"], sealed[:32], {}),
    ]
    for comment, flags, record, change in field_cases:
        f.add("SealedField", "invalid", comment, flags, **{**fbase, **change}, sealed=record.hex())

    for purpose, value in (("login", b"alice@example.org"), ("login", b""), ("invite", b"x" * 40)):
        f.add(
            "BlindIndex",
            "valid",
            f"{purpose} index of {len(value)} bytes",
            ["Normal"],
            index_key=dk.hex(),
            purpose=purpose,
            value=value.hex(),
            index=at_rest.blind_index(dk, purpose, value).hex(),
        )

    salt = rnd("at-rest/blob-salt", 32)
    header = at_rest.blob_header(7, salt, 4)
    parsed = at_rest.parse_blob_header(header)
    subkey = at_rest.blob_subkey(dk, parsed, "attachment-1")
    chunks = [(0, False, b"abcd"), (1, False, b"efgh"), (2, True, b"ij")]
    sealed_chunks = [at_rest.seal_blob_chunk(subkey, parsed, i, fin, c) for i, fin, c in chunks]
    f.add(
        "Blob",
        "valid",
        "a 10-byte blob in chunks of 4",
        ["Normal"],
        data_key=dk.hex(),
        key_id=7,
        salt=salt.hex(),
        chunk_size=4,
        blob_id="attachment-1",
        header=header.hex(),
        subkey=subkey.hex(),
        chunks=[
            {"index": i, "final": fin, "plaintext": c.hex(), "sealed": s.hex()}
            for (i, fin, c), s in zip(chunks, sealed_chunks, strict=True)
        ],
    )
    bblob: dict[str, Any] = {
        "data_key": dk.hex(),
        "blob_id": "attachment-1",
        "header": header.hex(),
    }
    s0, s1, s2 = sealed_chunks
    blob_cases: list[tuple[str, list[str], dict[str, Any]]] = [
        (
            "chunks 0 and 1 swapped",
            ["ChunkReordering"],
            {"chunks": [{"index": 0, "final": False, "sealed": s1.hex()}]},
        ),
        (
            "the last chunk dropped: chunk 1 presented as final",
            ["Truncated"],
            {"chunks": [{"index": 1, "final": True, "sealed": s1.hex()}]},
        ),
        (
            "the final chunk presented as not final",
            ["Truncated"],
            {"chunks": [{"index": 2, "final": False, "sealed": s2.hex()}]},
        ),
        (
            "opened under another blob id",
            ["WrongContext"],
            {
                "blob_id": "attachment-2",
                "chunks": [{"index": 0, "final": False, "sealed": s0.hex()}],
            },
        ),
        (
            "a chunk tag flipped",
            ["ModifiedTag"],
            {"chunks": [{"index": 0, "final": False, "sealed": flip(s0, len(s0) - 1).hex()}]},
        ),
        (
            "header with another key id (the header is the chunks' AD)",
            ["ModifiedField"],
            {
                "header": at_rest.blob_header(8, salt, 4).hex(),
                "chunks": [{"index": 0, "final": False, "sealed": s0.hex()}],
            },
        ),
    ]
    for comment, flags, change in blob_cases:
        f.add("Blob", "invalid", comment, flags, **{**bblob, **change})
    for comment, flags, raw in [
        ("bad magic", ["WrongRecordType"], b"DLC" + header[3:]),
        ("version 0x02", ["UnknownVersion"], set_byte(header, 3, 2)),
        ("chunk size 0", ["BadParameter"], header[:40] + bytes(4)),
        (
            "chunk size over 16 MiB",
            ["BadParameter"],
            header[:40] + ((1 << 24) + 1).to_bytes(4, "big"),
        ),
        ("truncated", ["Truncated"], header[:-1]),
        ("a byte appended", ["TrailingData"], header + b"\x00"),
    ]:
        f.add("BlobHeader", "invalid", comment, flags, header=raw.hex())
    f.add(
        "BlobHeader",
        "valid",
        "header of the blob above",
        ["Normal"],
        header=header.hex(),
        key_id=7,
        salt=salt.hex(),
        chunk_size=4,
    )
    return f


# --- passkey (PRF) wrap of the USK ---------------------------------------------------------


def gen_passkey_wrap() -> VectorFile:
    f = VectorFile(
        "passkey_wrap",
        "USK wrapped under a passkey's WebAuthn PRF output (type 0x11), bound to the user id "
        "and the credential id: crypto.usk.wrap_usk_with_passkey_from_parts / "
        "unwrap_usk_with_passkey. prf_input is what the client passes as prf.eval.first; "
        "prf_output is what the authenticator answered.",
    )
    user = rid("user/gp")
    the_usk = rnd("usk/gp", 32)
    prf = rnd("prf/gp-phone", 32)
    cred = rnd("credential/gp-phone", 16)
    nonce = rnd("nonce/usk-passkey", 12)
    rec = usk.wrap_usk_with_passkey_from_parts(the_usk, prf, user, cred, nonce=nonce)
    base = {
        "user_id": str(user),
        "usk": the_usk.hex(),
        "prf_input": usk.PASSKEY_PRF_INPUT.hex(),
        "prf_output": prf.hex(),
        "credential_id": cred.hex(),
        "nonce": nonce.hex(),
    }
    f.add(
        "UskPasskeyWrap",
        "valid",
        "wrap under a phone passkey",
        ["Normal"],
        **base,
        record=rec.hex(),
    )
    long_cred = rnd("credential/security-key", 1023)
    nonce2 = rnd("nonce/usk-passkey-2", 12)
    prf2 = rnd("prf/security-key", 32)
    rec2 = usk.wrap_usk_with_passkey_from_parts(the_usk, prf2, user, long_cred, nonce=nonce2)
    f.add(
        "UskPasskeyWrap",
        "valid",
        "wrap under a security key with a 1023-byte credential id",
        ["LongCredentialId"],
        **{
            **base,
            "prf_output": prf2.hex(),
            "credential_id": long_cred.hex(),
            "nonce": nonce2.hex(),
        },
        record=rec2.hex(),
    )
    sym_fields = [("nonce", 3, 12), ("ciphertext", 15, 32), ("tag", 47, 16)]
    sym_flags = {"ciphertext": "ModifiedCiphertext", "tag": "ModifiedTag"}
    for comment, flags, bad in prefix_mutations(rec) + field_mutations(rec, sym_fields, sym_flags):
        f.add("UskPasskeyWrap", "invalid", comment, flags, **base, record=bad.hex())
    f.add(
        "UskPasskeyWrap",
        "invalid",
        "other user id",
        ["WrongUserId"],
        **{**base, "user_id": str(rid("user/other"))},
        record=rec.hex(),
    )
    f.add(
        "UskPasskeyWrap",
        "invalid",
        "another credential id (the wrap of one passkey presented as another's)",
        ["WrongCredential"],
        **{**base, "credential_id": rnd("credential/other", 16).hex()},
        record=rec.hex(),
    )
    f.add(
        "UskPasskeyWrap",
        "invalid",
        "another passkey's PRF output",
        ["WrongKey"],
        **{**base, "prf_output": prf2.hex()},
        record=rec.hex(),
    )
    kek_rec = usk.wrap_usk_with_kek_from_parts(the_usk, prf, user, nonce=nonce)
    f.add(
        "UskPasskeyWrap",
        "invalid",
        "a KEK wrap (0x02) made with the PRF output as KEK, retyped 0x11",
        ["WrongRecordType"],
        **base,
        record=set_byte(kek_rec, 2, 0x11).hex(),
    )
    return f


def h_(value: str) -> bytes:
    return bytes.fromhex(value)


# --- suite 2: the post-quantum hybrid (X-Wing) records ------------------------------------


def xwing_encapsulation(public_key: bytes, label: str) -> tuple[bytes, xwing.Encapsulation]:
    """``(eseed, encapsulation)``: X-Wing EncapsulateDerand(pk, eseed) with a fixed eseed.

    pyca's ML-KEM draws its own randomness, so the derandomised ML-KEM half comes from
    ``kyber-py`` (an independent FIPS 203 implementation, dev only); the X25519 half and the
    combiner are ours (``xwing.encapsulate_from_parts``). The browser reproduces the same
    bytes with ``@noble/post-quantum`` from ``eseed``.
    """
    eseed = rnd("xwing-eseed/" + label, xwing.ENCAPSULATION_SEED_LEN)
    mlkem_ss, mlkem_ct = ML_KEM_768._encaps_internal(
        public_key[: xwing.MLKEM768_PUBLIC_LEN], eseed[:32]
    )
    return eseed, xwing.encapsulate_from_parts(
        public_key, ek_x=eseed[32:], mlkem_ciphertext=mlkem_ct, mlkem_shared_secret=mlkem_ss
    )


def hybrid_pair(label: str) -> account.HybridKeyPair:
    return account.hybrid_key_pair_from_seed(rnd("xwing-seed/" + label, 32))


def hybrid_fields(prefix: str, pair: account.HybridKeyPair) -> dict[str, str]:
    return {
        f"{prefix}_seed": pair.seed.hex(),
        f"{prefix}_public_key": pair.public_key.hex(),
        f"{prefix}_key_id": pair.key_id.hex(),
    }


def hybrid_prefix_mutations(record: bytes) -> list[tuple[str, list[str], bytes]]:
    """As :func:`prefix_mutations` for a suite-2 record (suite 0x01 is the other suite)."""
    return [
        ("version 0x02", ["UnknownVersion"], set_byte(record, 0, 0x02)),
        (
            "suite 0x01 (the classical suite) with the hybrid layout",
            ["WrongSuite"],
            set_byte(record, 1, 0x01),
        ),
        ("suite 0x03", ["UnknownSuite"], set_byte(record, 1, 0x03)),
        ("record type changed", ["WrongRecordType"], flip(record, 2, 0x0F)),
        ("last byte removed", ["Truncated"], record[:-1]),
        ("only the 3-byte prefix", ["Truncated"], record[:3]),
        ("one zero byte appended", ["TrailingData"], record + b"\x00"),
        ("empty record", ["EmptyRecord"], b""),
    ]


def enc_mutations(record: bytes, enc_offset: int) -> list[tuple[str, list[str], bytes]]:
    """The post-quantum half (ML-KEM ciphertext) and the classical half (X25519) of ``enc``."""
    pq, classical = enc_offset, enc_offset + xwing.MLKEM768_CIPHERTEXT_LEN
    return [
        ("ML-KEM ciphertext: first byte flipped", ["ModifiedPostQuantumHalf"], flip(record, pq)),
        (
            "ML-KEM ciphertext: last byte flipped",
            ["ModifiedPostQuantumHalf"],
            flip(record, classical - 1, 0x80),
        ),
        (
            "X25519 ephemeral key: first byte flipped",
            ["ModifiedClassicalHalf"],
            flip(record, classical),
        ),
        (
            "X25519 ephemeral key: last byte flipped",
            ["ModifiedClassicalHalf"],
            flip(record, classical + 31, 0x40),
        ),
        (
            "X25519 ephemeral key replaced by a small-order point (zero)",
            ["ModifiedClassicalHalf"],
            record[:classical] + bytes(32) + record[classical + 32 :],
        ),
    ]


def gen_hybrid() -> VectorFile:
    f = VectorFile(
        "hybrid",
        "Suite 2, the post-quantum hybrid (docs/protocol.md section 26): X-Wing keys "
        "(ML-KEM-768 + X25519; key id = SHA-256 of the X-Wing SPKI, first 16 bytes), the "
        "fingerprint over three keys, the hybrid private key sealed under the USK (0x05 "
        "purpose 3), and HPKE base mode with KEM X-Wing (0x647a) / HKDF-SHA256 / AES-256-GCM "
        "in the case key wrap (01 02 0b), the organisation recovery wrap (01 02 04), the "
        "patient drop record (01 02 0a) and the records key file with both keys (01 02 09); "
        "the suite downgrade rule. crypto.account, crypto.fingerprint, crypto.case_key, "
        "crypto.usk, crypto.patient_drop, crypto.records_key, crypto.suite. Every X-Wing "
        "encapsulation is EncapsulateDerand(pk, eseed).",
    )
    gp_user, derm_user = rid("user/gp"), rid("user/derm")
    gp_sig = key_pair("gp-signing")
    gp_enc = key_pair("gp-encryption")
    derm = hybrid_pair("derm")
    other = hybrid_pair("other")

    # Keys, ids and fingerprints.
    for label in ("derm", "other", "records"):
        pair = hybrid_pair(label)
        f.add(
            "HybridKeyId",
            "valid",
            f"X-Wing key pair '{label}'",
            ["Normal"],
            seed=pair.seed.hex(),
            public_key=pair.public_key.hex(),
            spki=fingerprint.hybrid_spki_der(pair.public_key).hex(),
            key_id=pair.key_id.hex(),
        )
    bad_keys = [
        ("one byte short", ["InvalidPublicKey"], derm.public_key[:-1]),
        ("one byte appended", ["InvalidPublicKey"], derm.public_key + b"\x00"),
        (
            "ML-KEM key fails the modulus check (all 0xff)",
            ["InvalidPublicKey"],
            b"\xff" * 1184 + derm.public_key[1184:],
        ),
        ("a P-256 point", ["InvalidPublicKey"], gp_enc.public_key),
        (
            "X25519 half is a small-order point (zero)",
            ["InvalidPublicKey"],
            derm.public_key[:1184] + bytes(32),
        ),
        (
            "X25519 half is a small-order point (order 8)",
            ["InvalidPublicKey"],
            derm.public_key[:1184]
            + bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
        ),
    ]
    for comment, flags, bad in bad_keys:
        f.add("HybridKeyId", "invalid", comment, flags, public_key=bad.hex())
    f.add(
        "HybridFingerprint",
        "valid",
        "signing, encryption and hybrid keys",
        ["Normal"],
        signing_public_key=gp_sig.public_key.hex(),
        encryption_public_key=gp_enc.public_key.hex(),
        hybrid_public_key=derm.public_key.hex(),
        fingerprint=fingerprint.account_fingerprint(
            gp_sig.public_key, gp_enc.public_key, derm.public_key
        ),
        classical_fingerprint=fingerprint.account_fingerprint(gp_sig.public_key, gp_enc.public_key),
    )
    derm_sig, derm_enc = key_pair("derm-signing"), key_pair("derm-encryption")
    ours = (gp_sig.public_key, gp_enc.public_key, other.public_key)
    theirs = (derm_sig.public_key, derm_enc.public_key, derm.public_key)
    f.add(
        "HybridSafetyNumber",
        "valid",
        "two accounts with hybrid keys",
        ["Normal"],
        ours_signing_public_key=ours[0].hex(),
        ours_encryption_public_key=ours[1].hex(),
        ours_hybrid_public_key=ours[2].hex(),
        theirs_signing_public_key=theirs[0].hex(),
        theirs_encryption_public_key=theirs[1].hex(),
        theirs_hybrid_public_key=theirs[2].hex(),
        safety_number=fingerprint.safety_number(ours, theirs),
    )

    # The hybrid private key sealed under the USK (0x05, purpose 0x03).
    the_usk, nonce = rnd("usk/hybrid", 32), rnd("nonce/hybrid-seal", 12)
    sealed = account.seal_hybrid_private_key_from_parts(derm, the_usk, derm_user, nonce=nonce)
    seal_base: dict[str, Any] = {
        "user_id": str(derm_user),
        "usk": the_usk.hex(),
        **hybrid_fields("hybrid", derm),
    }
    f.add(
        "SealedHybridPrivateKey",
        "valid",
        "X-Wing seed sealed",
        ["Normal"],
        **seal_base,
        nonce=nonce.hex(),
        record=sealed.hex(),
    )
    seal_bad = [
        *prefix_mutations(sealed)[:2],
        ("purpose 0x01 instead of 0x03", ["WrongPurpose"], set_byte(sealed, 3, 0x01)),
        *field_mutations(sealed, [("key_id", 4, 16), ("nonce", 20, 12), ("ciphertext", 32, 32)]),
        ("tag: last byte flipped", ["ModifiedTag"], flip(sealed, 79)),
        ("last byte removed", ["Truncated"], sealed[:-1]),
    ]
    for comment, flags, bad in seal_bad:
        f.add("SealedHybridPrivateKey", "invalid", comment, flags, **seal_base, record=bad.hex())
    f.add(
        "SealedHybridPrivateKey",
        "invalid",
        "opened for another user",
        ["WrongUserId"],
        **{**seal_base, "user_id": str(gp_user)},
        record=sealed.hex(),
    )

    # Case key wrap, suite 2 (01 02 0b).
    case_id, epoch, ck = rid("case/hybrid"), 2, rnd("case-key/hybrid", 32)
    eseed, encapsulation = xwing_encapsulation(derm.public_key, "case-key")
    wrap = case_key.wrap_case_key_hybrid_from_parts(
        ck,
        encapsulation=encapsulation,
        case_id=case_id,
        epoch=epoch,
        recipient_public_key=derm.public_key,
        wrapper_user_id=gp_user,
        wrapper_signing_key=gp_sig,
    )
    wrap_base: dict[str, Any] = {
        "case_id": str(case_id),
        "epoch": epoch,
        **hybrid_fields("recipient", derm),
        "wrapper_user_id": str(gp_user),
        **kp_fields("wrapper_signing", gp_sig),
    }

    def add_wrap(
        result: str,
        comment: str,
        flags: list[str],
        record: bytes,
        parses: bool,
        verifies: bool,
        **extra: Any,
    ) -> None:
        fields = {**wrap_base, **extra}
        f.add(
            "HybridCaseKeyWrap",
            result,
            comment,
            flags,
            **fields,
            record=record.hex(),
            header_parses=parses,
            signature_verifies=verifies,
        )

    add_wrap(
        "valid",
        "case key to the recipient's X-Wing key",
        ["Normal"],
        wrap,
        True,
        True,
        case_key=ck.hex(),
        eseed=eseed.hex(),
        commitment=case_key.case_key_commitment(ck, case_id=case_id, epoch=epoch).hex(),
    )
    body = wrap[:-64]
    fields = [
        ("case_id", 3, 16),
        ("epoch", 19, 4),
        ("recipient_key_id", 23, 16),
        ("wrapper_user_id", 39, 16),
        ("wrapper_key_id", 55, 16),
        ("commitment", 71, 32),
    ]
    for comment, flags, bad in field_mutations(wrap, fields, {"commitment": "ModifiedCommitment"}):
        add_wrap("invalid", comment, flags, bad, True, False)
    for comment, flags, bad in field_mutations(body, fields, {"commitment": "ModifiedCommitment"}):
        # Re-signed by the right key; with the wrapper key id changed the signature check
        # still fails (the id no longer names the key that signed).
        add_wrap(
            "invalid",
            comment + ", re-signed",
            [*flags, "Resigned"],
            _sign_case_key_wrap(gp_sig, bad),
            True,
            not comment.startswith("wrapper_key_id"),
        )
    for comment, flags, bad in enc_mutations(body, 103):
        add_wrap(
            "invalid",
            comment + ", re-signed",
            [*flags, "Resigned"],
            _sign_case_key_wrap(gp_sig, bad),
            True,
            True,
        )
    for comment, flags, bad in enc_mutations(wrap, 103)[:1]:
        add_wrap("invalid", comment, flags, bad, True, False)
    add_wrap(
        "invalid",
        "HPKE ciphertext: first byte flipped, re-signed",
        ["ModifiedCiphertext", "Resigned"],
        _sign_case_key_wrap(gp_sig, flip(body, 1223)),
        True,
        True,
    )
    add_wrap(
        "invalid",
        "HPKE tag: last byte flipped, re-signed",
        ["ModifiedTag", "Resigned"],
        _sign_case_key_wrap(gp_sig, flip(body, 1270)),
        True,
        True,
    )
    add_wrap(
        "invalid",
        "signature: last byte flipped",
        ["ModifiedSignature"],
        flip(wrap, 1334),
        True,
        False,
    )
    for comment, flags, bad in hybrid_prefix_mutations(wrap):
        add_wrap("invalid", comment, flags, bad, False, False)
    add_wrap(
        "invalid",
        "suite byte set to 0x01 and re-signed (a suite-1 layout is 280 bytes)",
        ["WrongSuite", "Resigned"],
        _sign_case_key_wrap(gp_sig, set_byte(body, 1, 0x01)),
        False,
        False,
    )
    add_wrap(
        "invalid",
        "opened by another X-Wing key",
        ["WrongRecipient"],
        wrap,
        True,
        True,
        **hybrid_fields("recipient", other),
    )
    add_wrap(
        "invalid",
        "checked against another signing key",
        ["WrongSigner"],
        wrap,
        True,
        False,
        **kp_fields("wrapper_signing", derm_sig),
    )
    add_wrap(
        "invalid", "opened for another epoch", ["WrongContext"], wrap, True, True, epoch=epoch + 1
    )

    # Downgrade: a suite-1 wrap to a recipient whose hybrid key was known.
    classical = case_key.wrap_case_key_from_parts(
        ck,
        ikm_e=rnd("ikm-e/hybrid-downgrade", 32),
        case_id=case_id,
        epoch=epoch,
        recipient_public_key=derm_enc.public_key,
        wrapper_user_id=gp_user,
        wrapper_signing_key=gp_sig,
    )
    for result, comment, record, known in (
        ("valid", "suite-2 wrap, hybrid key known", wrap, True),
        ("valid", "suite-2 wrap, no hybrid key known", wrap, False),
        ("valid", "suite-1 wrap to a recipient without a hybrid key", classical, False),
        ("invalid", "suite-1 wrap to a recipient whose hybrid key was known", classical, True),
    ):
        f.add(
            "SuiteDowngrade",
            result,
            comment,
            ["SuiteDowngrade"] if result == "invalid" else ["Normal"],
            record=record.hex(),
            hybrid_key_known=known,
        )

    # Organisation recovery wrap, suite 2 (01 02 04).
    org = hybrid_pair("org-recovery")
    eseed, encapsulation = xwing_encapsulation(org.public_key, "usk-org")
    org_usk = rnd("usk/hybrid-org", 32)
    org_rec = usk.wrap_usk_for_org_hybrid_from_parts(
        org_usk, org.public_key, derm_user, encapsulation=encapsulation
    )
    org_base: dict[str, Any] = {
        "user_id": str(derm_user),
        "usk": org_usk.hex(),
        **hybrid_fields("org", org),
    }
    f.add(
        "HybridUskOrgWrap",
        "valid",
        "USK to the organisation's X-Wing key",
        ["Normal"],
        **org_base,
        eseed=eseed.hex(),
        record=org_rec.hex(),
    )
    org_bad = [
        *hybrid_prefix_mutations(org_rec),
        *field_mutations(org_rec, [("org_key_id", 3, 16)]),
        *enc_mutations(org_rec, 19),
        ("HPKE ciphertext: first byte flipped", ["ModifiedCiphertext"], flip(org_rec, 1139)),
        ("HPKE tag: last byte flipped", ["ModifiedTag"], flip(org_rec, 1186)),
    ]
    for comment, flags, bad in org_bad:
        f.add("HybridUskOrgWrap", "invalid", comment, flags, **org_base, record=bad.hex())
    f.add(
        "HybridUskOrgWrap",
        "invalid",
        "opened for another user",
        ["WrongUserId"],
        **{**org_base, "user_id": str(gp_user)},
        record=org_rec.hex(),
    )
    f.add(
        "HybridUskOrgWrap",
        "invalid",
        "opened with another X-Wing key",
        ["WrongKey"],
        **{**org_base, **hybrid_fields("org", other)},
        record=org_rec.hex(),
    )

    # Patient drop record, suite 2 (01 02 0a).
    box = hybrid_pair("patient-drop-box")
    link = rid("patient-link/hybrid")
    photo = patient_drop.PatientPhoto(
        attachment_id=rid("patient-photo-hybrid"),
        file_key=rnd("file-key/patient-photo-hybrid", 32),
        ciphertext_sha256=rnd("sha/patient-photo-hybrid", 32),
        ciphertext_size=812_345,
        media_type="image/jpeg",
        tag="close_up",
        body_site="Left shin",
    )
    eseed, encapsulation = xwing_encapsulation(box.public_key, "patient-drop")
    drop = patient_drop.seal_patient_photo_hybrid_from_parts(
        photo,
        link_id=link,
        index=1,
        drop_box_public_key=box.public_key,
        encapsulation=encapsulation,
    )
    body_bytes = patient_drop._encode_body(photo)
    drop_base: dict[str, Any] = {"link_id": str(link), **hybrid_fields("drop_box", box)}
    f.add(
        "HybridPatientDrop",
        "valid",
        "one photo to the drop box's X-Wing key",
        ["Normal"],
        **drop_base,
        index=1,
        eseed=eseed.hex(),
        body=body_bytes.hex(),
        decoded=json.loads(body_bytes),
        record=drop.hex(),
        header_parses=True,
    )
    for comment, flags, bad in hybrid_prefix_mutations(drop):
        # The drop record's body length varies, so a cut or extended record, or one whose
        # suite byte says 0x01 (read with the suite-1 layout), still has a parseable header.
        f.add(
            "HybridPatientDrop",
            "invalid",
            comment,
            flags,
            **drop_base,
            record=bad.hex(),
            header_parses=_drop_header_parses(bad),
        )
    for comment, flags, bad in [
        *field_mutations(drop, [("link_id", 3, 16), ("index", 19, 4)]),
        *enc_mutations(drop, 23),
        ("HPKE ciphertext: first byte flipped", ["ModifiedCiphertext"], flip(drop, 1143)),
        ("HPKE tag: last byte flipped", ["ModifiedTag"], flip(drop, len(drop) - 1)),
    ]:
        f.add(
            "HybridPatientDrop",
            "invalid",
            comment,
            flags,
            **drop_base,
            record=bad.hex(),
            header_parses=True,
        )
    f.add(
        "HybridPatientDrop",
        "invalid",
        "opened with another X-Wing key",
        ["WrongKey"],
        **{**drop_base, **hybrid_fields("drop_box", other)},
        record=drop.hex(),
        header_parses=True,
    )
    f.add(
        "HybridPatientDrop",
        "invalid",
        "opened for another link",
        ["WrongLink"],
        **{**drop_base, "link_id": str(rid("patient-link/other"))},
        record=drop.hex(),
        header_parses=True,
    )

    # Records key file with both private keys (01 02 09).
    records_pair, records_hybrid = key_pair("practice-records"), hybrid_pair("records")
    salt, nonce = rnd("salt/records-hybrid", 16), rnd("nonce/records-hybrid", 12)
    phrase, iterations = "r\u00e9cords officer, hybrid", 1000
    rkf = records_key.seal_hybrid_records_key_file_from_parts(
        records_pair, records_hybrid, phrase, salt=salt, nonce=nonce, iterations=iterations
    )
    rkf_base: dict[str, Any] = {
        "passphrase": phrase,
        **kp_fields("records", records_pair),
        **hybrid_fields("records_hybrid", records_hybrid),
    }
    f.add(
        "HybridRecordsKeyFile",
        "valid",
        "both records private keys",
        ["FewIterations"],
        **rkf_base,
        iterations=iterations,
        salt=salt.hex(),
        nonce=nonce.hex(),
        record=rkf.hex(),
    )
    for comment, flags, bad in [
        *hybrid_prefix_mutations(rkf),
        *field_mutations(
            rkf,
            [
                ("records_key_id", 3, 16),
                ("records_hybrid_key_id", 19, 16),
                ("iterations", 36, 4),
                ("salt", 41, 16),
                ("nonce", 57, 12),
            ],
        ),
        ("ciphertext: first byte flipped", ["ModifiedCiphertext"], flip(rkf, 69)),
        ("tag: last byte flipped", ["ModifiedTag"], flip(rkf, len(rkf) - 1)),
    ]:
        f.add("HybridRecordsKeyFile", "invalid", comment, flags, **rkf_base, record=bad.hex())
    f.add(
        "HybridRecordsKeyFile",
        "invalid",
        "wrong passphrase",
        ["WrongKey"],
        **{**rkf_base, "passphrase": "records officer"},
        record=rkf.hex(),
    )
    return f


GENERATORS: list[Callable[[], VectorFile]] = [
    gen_password,
    gen_kdf_params,
    gen_fake_salt,
    gen_recovery_key,
    gen_usk_wrap,
    gen_private_key_seal,
    gen_key_id,
    gen_case_key_wrap,
    gen_case_key_wrap_committed,
    gen_envelope,
    gen_content,
    gen_attachment,
    gen_records_key_file,
    gen_patient_drop,
    gen_transparency_log,
    gen_statement,
    gen_invite,
    gen_org_key,
    gen_envelope_committed,
    gen_transcript,
    gen_at_rest,
    gen_passkey_wrap,
    gen_hybrid,
]


def build_all() -> dict[str, str]:
    """File name -> JSON text, for every vector file."""
    out = {}
    for gen in GENERATORS:
        vf = gen()
        out[f"{vf.name}.json"] = vf.dumps()
    return out


def main() -> int:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for name, text in build_all().items():
        (OUT_DIR / name).write_text(text, encoding="utf-8")
        print(f"wrote {OUT_DIR / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
