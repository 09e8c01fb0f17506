"""A small command line over the Python client, for scripts.

    dermline-client [--url URL] accept-invite [--token T] --login NAME --name "Dr X"
    dermline-client [--url URL] enrol-totp            (prints the otpauth URI; then confirm)
    dermline-client [--url URL] cases
    dermline-client [--url URL] create-case --practice P --service S --history FILE.json
    dermline-client [--url URL] send --case C --text "..."
    dermline-client [--url URL] read --case C
    dermline-client [--url URL] close --case C --category advice_and_guidance --summary "..."

Credentials come from the environment so they never appear in the process list:
``DERMLINE_URL``, ``DERMLINE_LOGIN``, ``DERMLINE_PASSWORD`` and ``DERMLINE_TOTP_SECRET``
(base32, as in the otpauth URI) or ``DERMLINE_TOTP_CODE``; the invite token may come from
``DERMLINE_INVITE_TOKEN`` instead of ``--token`` (an argument is visible to every local
user in the process list). Each command signs in, acts and signs out. Output is JSON lines.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyotp

from client_py.api import ApiError
from client_py.client import DermlineClient

__all__ = ["main", "run"]


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
    return p


def _out(obj: Any) -> None:
    print(json.dumps(obj, sort_keys=True), flush=True)


async def run(argv: Sequence[str], env: Mapping[str, str]) -> int:
    args = _parser().parse_args(argv)
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

        step = await client.login(login, password, totp=code)
        if args.command == "enrol-totp":
            if step != "enrol":
                _out({"error": "already enrolled"})
                return 1
            totp = await client.begin_totp_enrolment()
            secret = pyotp.parse_uri(totp["otpauth_uri"]).secret
            codes = await client.confirm_totp(pyotp.TOTP(secret).now())
            _out({"otpauth_uri": totp["otpauth_uri"], "recovery_codes": codes})
            return 0
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
        _out({"error": exc.code, "message": exc.message, "status": exc.status})
        return 1
    finally:
        await client.close()


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(run(sys.argv[1:] if argv is None else argv, os.environ))
