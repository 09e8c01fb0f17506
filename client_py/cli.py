"""A small command line over the Python client, for scripts.

    dermline-client [--url URL] accept-invite [--token T] --login NAME --name "Dr X"
    dermline-client [--url URL] enrol-totp            (prints the otpauth URI; then confirm)
    dermline-client [--url URL] cases
    dermline-client [--url URL] create-case --practice P --service S --history FILE.json
    dermline-client [--url URL] send --case C --text "..."
    dermline-client [--url URL] read --case C
    dermline-client [--url URL] close --case C --category advice_and_guidance --summary "..."
    dermline-client records-key new --out DIR      (offline: a practice's records key pair)
    dermline-client records-key check --key FILE [--public FILE]

Credentials come from the environment so they never appear in the process list:
``DERMLINE_URL``, ``DERMLINE_LOGIN``, ``DERMLINE_PASSWORD`` and ``DERMLINE_TOTP_SECRET``
(base32, as in the otpauth URI) or ``DERMLINE_TOTP_CODE``, or ``DERMLINE_RECOVERY_CODE`` (one
of the recovery codes, each works once); the invite token may come from
``DERMLINE_INVITE_TOKEN`` instead of ``--token`` (an argument is visible to every local
user in the process list). Each command signs in, acts and signs out. Output is JSON lines.

Passkeys need a browser (WebAuthn); this client has none. Under an organisation's passkey
requirement it stops with ``passkey_enrol`` (no passkey yet: add one by signing in with the
web client) or ``passkey_required`` (the security code is refused), each with a message
saying so; a recovery code still signs in here, once per code (``docs/api.md``, "Passkeys").

``records-key`` needs no server and no account: it is what a records officer runs on a machine
of their own (``docs/operations.md``, "Records key"). ``new`` makes the practice's records key
pair (``crypto.records_key``), writes ``DIR/records.key``, the private key sealed under a
passphrase (record type 0x09, ``docs/protocol.md`` section 12, mode 0600), and
``DIR/records.pub``, the 65-byte public key that ``dermline org create --records-key-file``
reads, then opens what it wrote again to prove that it opens. The passphrase comes from
``DERMLINE_RECORDS_PASSPHRASE`` or is asked for twice without echo; it is never an argument.
Existing files are never overwritten: losing a records key makes records unreadable.
The fingerprint printed is the key id (``crypto.fingerprint.key_id``: SHA-256 of the public
key's SubjectPublicKeyInfo, first 16 bytes) as 8 groups of 4 hex digits; the web client's
"create a practice" page shows the same string for the same key.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import pyotp

from client_py.api import ApiError
from client_py.client import DermlineClient
from crypto.errors import RecordsKeyFileError
from crypto.records_key import (
    generate_records_key,
    open_records_key_file,
    seal_records_key_file,
)

__all__ = ["main", "records_key_fingerprint", "run"]

# The name of an environment variable, not a secret.
RECORDS_PASSPHRASE_ENV: Final = "DERMLINE_RECORDS_PASSPHRASE"  # noqa: S105
# The same floor as an account password (client_web/src/app/validation.ts): the file is
# protected by PBKDF2 600,000 only, so the passphrase is the real defence of an offline copy.
MIN_PASSPHRASE_LENGTH: Final = 12
PRIVATE_KEY_FILE: Final = "records.key"
PUBLIC_KEY_FILE: Final = "records.pub"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dermline-client")
    p.add_argument("--url", default=None)
    sub = p.add_subparsers(dest="command", required=True)
    a = sub.add_parser("accept-invite")
    a.add_argument("--token", help="prefer DERMLINE_INVITE_TOKEN: arguments are visible in ps")
    a.add_argument("--login", required=True)
    a.add_argument("--name", required=True)
    sub.add_parser("enrol-totp")
    sub.add_parser("cases")
    c = sub.add_parser("create-case")
    c.add_argument("--practice", required=True)
    c.add_argument("--service", required=True)
    c.add_argument("--history", type=Path, required=True)
    c.add_argument("--priority", choices=["routine", "urgent"], default="routine")
    s = sub.add_parser("send")
    s.add_argument("--case", required=True)
    s.add_argument("--text", required=True)
    r = sub.add_parser("read")
    r.add_argument("--case", required=True)
    cl = sub.add_parser("close")
    cl.add_argument("--case", required=True)
    cl.add_argument("--category", required=True)
    cl.add_argument("--summary", required=True)
    cl.add_argument("--urgency", default=None)
    cl.add_argument("--destination", default=None)
    cl.add_argument("--reason", action="append", default=None)
    rk = sub.add_parser("records-key", help="a practice's records key (offline, no server)")
    rk_sub = rk.add_subparsers(dest="records_command", required=True)
    new = rk_sub.add_parser("new", help="make a records key pair: records.key and records.pub")
    new.add_argument("--out", type=Path, required=True, help="folder for the two files")
    chk = rk_sub.add_parser("check", help="open a records key file with its passphrase")
    chk.add_argument("--key", type=Path, required=True, help="the sealed records.key file")
    chk.add_argument("--public", type=Path, default=None, help="records.pub to compare with")
    return p


def _value_options(parser: argparse.ArgumentParser) -> set[str]:
    """Every ``--option`` of ``parser`` and its sub-commands that takes one value."""
    found: set[str] = set()
    for action in parser._actions:  # argparse offers no public walk of its actions
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found |= _value_options(sub)
        elif action.option_strings and action.nargs is None:
            found.update(o for o in action.option_strings if o.startswith("--"))
    return found


def _attach_values(parser: argparse.ArgumentParser, argv: Sequence[str]) -> list[str]:
    """``--text "- itchy"`` as ``--text=- itchy``: a value may begin with ``-``.

    argparse takes an argument that begins with ``-`` for an option, so a message that starts
    with a dash, or an invite token that does (one in 64 of them: base64url uses ``-``), would
    be refused as a missing value. Joined to its option with ``=``, any value is a value.
    """
    options = _value_options(parser)
    out: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        # A value that is itself one of our options is not taken as a value: "--text --case C"
        # stays an error about --text, as a person would expect.
        if arg in options and i + 1 < len(argv) and argv[i + 1] not in options:
            out.append(f"{arg}={argv[i + 1]}")
            i += 2
        else:
            out.append(arg)
            i += 1
    return out


class _Refused(Exception):
    """A records-key command cannot go on; the message is fixed text, never a secret."""

    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def records_key_fingerprint(key_id: bytes) -> str:
    """The records key id as people compare it: ``"1f0c 93ab ... 77d2"`` (8 groups of 4)."""
    digits = key_id.hex()
    return " ".join(digits[i : i + 4] for i in range(0, len(digits), 4))


def _passphrase(env: Mapping[str, str], prompt: Callable[[str], str], *, twice: bool) -> str:
    value = env.get(RECORDS_PASSPHRASE_ENV, "")
    if not value:
        value = prompt("Passphrase for the records key file: ")
        if twice and prompt("Type the same passphrase again: ") != value:
            raise _Refused("the two passphrases are different")
    if twice and len(value) < MIN_PASSPHRASE_LENGTH:
        raise _Refused(f"the passphrase must be {MIN_PASSPHRASE_LENGTH} characters or more")
    if not value:
        raise _Refused("give the passphrase (" + RECORDS_PASSPHRASE_ENV + " or the prompt)")
    return value


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` (never replace it, never follow a link), exactly ``mode``, synced."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, mode)
    with os.fdopen(fd, "wb") as f:
        os.fchmod(f.fileno(), mode)  # the umask may have taken bits we mean to set
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _records_key_new(out: Path, passphrase: str) -> dict[str, str]:
    private_path, public_path = out / PRIVATE_KEY_FILE, out / PUBLIC_KEY_FILE
    for path in (private_path, public_path):
        if path.exists() or path.is_symlink():
            raise _Refused(f"{path.name} exists already in that folder: choose another", 1)
    try:
        out.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:
        raise _Refused("cannot create the output folder") from None
    pair = generate_records_key()
    sealed = seal_records_key_file(pair, passphrase)
    try:
        _write_new(private_path, sealed, 0o600)
    except OSError:
        raise _Refused("cannot write records.key in that folder", 1) from None
    try:
        _write_new(public_path, pair.public_key, 0o644)
        # Read back from disk and open: the file the officer keeps is proven to open.
        if open_records_key_file(private_path.read_bytes(), passphrase) != pair:
            raise RecordsKeyFileError
    except (OSError, RecordsKeyFileError):
        # A pair without its public file on record is useless; do not leave half of it.
        private_path.unlink(missing_ok=True)
        public_path.unlink(missing_ok=True)
        raise _Refused("writing the key files failed; nothing was kept", 1) from None
    return {
        "key_id": pair.key_id.hex(),
        "fingerprint": records_key_fingerprint(pair.key_id),
        "private_key_file": str(private_path),
        "public_key_file": str(public_path),
    }


def _records_key_check(key: Path, public: Path | None, passphrase: str) -> dict[str, Any]:
    try:
        record = key.read_bytes()
        expected = public.read_bytes() if public is not None else None
    except OSError:
        raise _Refused("cannot read the key file") from None
    try:
        pair = open_records_key_file(record, passphrase)
    except RecordsKeyFileError:
        raise _Refused("the file does not open with this passphrase, or it is damaged", 1) from None
    result: dict[str, Any] = {
        "key_id": pair.key_id.hex(),
        "fingerprint": records_key_fingerprint(pair.key_id),
    }
    if expected is not None:
        if expected != pair.public_key:
            raise _Refused("the public key file belongs to another records key", 1)
        result["public_key_matches"] = True
    return result


def _records_key(
    args: argparse.Namespace, env: Mapping[str, str], prompt: Callable[[str], str]
) -> int:
    try:
        if args.records_command == "new":
            passphrase = _passphrase(env, prompt, twice=True)
            _out(_records_key_new(args.out, passphrase))
            print(
                "Keep records.key and its passphrase apart, each in at least two safe places. "
                "If both the file and the passphrase are lost, no one can read this practice's "
                "records with the records key. Give only records.pub to the server.",
                file=sys.stderr,
            )
        else:
            _out(_records_key_check(args.key, args.public, _passphrase(env, prompt, twice=False)))
    except _Refused as exc:
        _out({"error": exc.message})
        return exc.status
    return 0


#: What to do when the organisation requires a passkey (this client cannot use one).
PASSKEY_HELP: Final = (
    "your organisation requires a passkey, which this command line client cannot use: "
    "sign in with the web client (add a passkey there if you have none); here, sign in "
    "with one of your recovery codes in DERMLINE_RECOVERY_CODE"
)


def _out(obj: Any) -> None:
    print(json.dumps(obj, sort_keys=True), flush=True)


async def run(
    argv: Sequence[str],
    env: Mapping[str, str],
    *,
    prompt: Callable[[str], str] = getpass.getpass,
) -> int:
    parser = _parser()
    args = parser.parse_args(_attach_values(parser, argv))
    if args.command == "records-key":
        # Offline: key generation and PBKDF2 run in a thread, off the event loop.
        return await asyncio.to_thread(_records_key, args, env, prompt)
    url = args.url or env.get("DERMLINE_URL", "http://127.0.0.1:8443")
    password = env.get("DERMLINE_PASSWORD", "")
    login = env.get("DERMLINE_LOGIN", "")
    client = DermlineClient(url)
    try:
        if args.command == "accept-invite":
            token = args.token or env.get("DERMLINE_INVITE_TOKEN", "")
            if not token:
                _out({"error": "give the invite token in DERMLINE_INVITE_TOKEN"})
                return 2
            enrolment = await client.accept_invite(token, args.login, args.name, password)
            _out({"user_id": enrolment.identity.user_id, "recovery_key": enrolment.recovery_key})
            return 0

        def code() -> str:
            if env.get("DERMLINE_TOTP_CODE"):
                return env["DERMLINE_TOTP_CODE"]
            return pyotp.TOTP(env.get("DERMLINE_TOTP_SECRET", "")).now()

        recovery = env.get("DERMLINE_RECOVERY_CODE") or None
        step = await client.login(login, password, totp=code, recovery_code=recovery)
        if args.command == "enrol-totp":
            if step != "enrol":
                _out({"error": "already enrolled"})
                return 1
            totp = await client.begin_totp_enrolment()
            secret = pyotp.parse_uri(totp["otpauth_uri"]).secret
            codes = await client.confirm_totp(pyotp.TOTP(secret).now())
            _out({"otpauth_uri": totp["otpauth_uri"], "recovery_codes": codes})
            return 0
        if step == "passkey_enrol":
            _out({"error": "passkey_enrol", "message": PASSKEY_HELP})
            return 1
        if step != "done":
            _out({"error": "set up two-factor authentication first (enrol-totp)"})
            return 1
        if args.command == "cases":
            for case in await client.my_cases():
                _out(case)
        elif args.command == "create-case":
            history = json.loads(args.history.read_text(encoding="utf-8"))
            case_id = await client.create_case(
                args.practice, args.service, history, priority=args.priority
            )
            _out({"case_id": case_id})
        elif args.command == "send":
            await client.connect_realtime()
            _out({"seq": await client.send_text(args.case, args.text)})
        elif args.command == "read":
            for m in await client.messages(args.case):
                ctype, body = await client.open(m)
                _out(
                    {
                        "seq": m["seq"],
                        "sender_id": m["sender_id"],
                        "type": ctype.name.lower(),
                        "body": body,
                    }
                )
        elif args.command == "close":
            case = await client.close_case(
                args.case,
                args.category,
                args.summary,
                urgency=args.urgency,
                destination=args.destination,
                reasons=args.reason,
            )
            _out({"state": case["state"], "outcome_category": case["outcome_category"]})
        await client.logout()
        return 0
    except ApiError as exc:
        message = PASSKEY_HELP if exc.code == "passkey_required" else exc.message
        _out({"error": exc.code, "message": message, "status": exc.status})
        return 1
    finally:
        await client.close()


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(run(sys.argv[1:] if argv is None else argv, os.environ))
