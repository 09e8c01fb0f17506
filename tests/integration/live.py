"""A real server process (``python -m server serve``) on a random port, on SQLite in a
temporary data directory, with its log in a file; and people driven by real Python
clients with real TOTP codes (RFC 6238 at the real time)."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

import aiohttp
import pyotp

from client_py.client import DermlineClient
from crypto.account import KeyPair, generate_key_pair

ORIGIN = "http://dermline.test"
PASSWORD = "correct horse battery staple"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    def __init__(
        self, data_dir: Path, port: int | None = None, tls: tuple[Path, Path] | None = None
    ) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.tls = tls
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self.ssl: Any = ssl.create_default_context(cafile=str(tls[0])) if tls else None
        self.log_file = data_dir.parent / f"{data_dir.name}-server.log"
        self.stdout_file = data_dir.parent / f"{data_dir.name}-stdout.txt"
        self.proc: subprocess.Popen[bytes] | None = None

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            DERMLINE_ALLOWED_ORIGINS=f"{ORIGIN},{self.url}",
            DERMLINE_ARGON2_TIME_COST="1",
            DERMLINE_ARGON2_MEMORY_KIB="1024",
            DERMLINE_AUTH_RATE_PER_MINUTE="1000",
            DERMLINE_LOG_FILE=str(self.log_file),
            DERMLINE_LOG_LEVEL="DEBUG",
        )
        env.pop("DERMLINE_CONFIG", None)
        return env

    async def start(self) -> None:
        out = self.stdout_file.open("ab")
        self.proc = subprocess.Popen(  # noqa: ASYNC220 - a child we supervise
            [
                sys.executable,
                "-m",
                "server",
                "serve",
                "--data-dir",
                str(self.data_dir),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                *(
                    ["--tls-cert", str(self.tls[0]), "--tls-key", str(self.tls[1])]
                    if self.tls
                    else []
                ),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=self.env(),
        )
        out.close()
        deadline = time.monotonic() + 30
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError("server exited: " + self.stdout_file.read_text()[-2000:])
                try:
                    async with http.get(self.url + "/healthz", ssl=self.ssl) as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError("server did not start")

    def setup_token(self) -> str:
        match = re.findall(r"#/invite/([A-Za-z0-9_-]+)", self.stdout_file.read_text())
        assert match, "no setup link printed"
        return match[-1]

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclasses.dataclass
class Person:
    client: DermlineClient
    login_name: str
    secret: str
    recovery_codes: list[str]
    last_step: int

    @property
    def user_id(self) -> str:
        assert self.client.identity is not None
        return self.client.identity.user_id

    def next_code(self) -> str:
        """A code for the current time step, or for the step after the last one used
        (valid_window=1 allows the next step early), so back-to-back logins never reuse a code.

        Never the previous step: the server checks the code a moment after it is made, and if a
        step boundary passes meanwhile, a previous-step code is two steps old and refused (one
        sign-in in a few hundred). A current-step code stays valid for a whole step longer."""
        now_step = int(time.time()) // 30
        step = max(now_step, self.last_step + 1)
        assert step <= now_step + 1, "used more than two codes in this 30 s step"
        self.last_step = step
        return pyotp.TOTP(self.secret).generate_otp(step)


async def enrol_person(
    url: str, token: str, login_name: str, display: str, ssl_context: Any = None
) -> Person:
    c = DermlineClient(url, ssl=ssl_context)
    try:
        await c.accept_invite(token, login_name, display, PASSWORD)
        assert await c.login(login_name, PASSWORD) == "enrol"
        uri = (await c.begin_totp_enrolment())["otpauth_uri"]
        secret = urllib.parse.parse_qs(urllib.parse.urlparse(uri).query)["secret"][0]
        person = Person(c, login_name, secret, [], int(time.time()) // 30 - 2)
        person.recovery_codes = await c.confirm_totp(person.next_code())
    except BaseException:
        await c.close()  # the caller never gets the client to close
        raise
    return person


@dataclasses.dataclass
class World:
    admin: Person
    gp: Person
    derm: Person
    practice_id: str
    service_id: str
    records_key: KeyPair


async def make_world(server: ServerProcess) -> World:
    """The world's three clients are the caller's to close; if making it fails, the ones
    already made are closed here."""
    admin = await enrol_person(server.url, server.setup_token(), "admin@example.org", "Ada")
    made = [admin]
    try:
        records = generate_key_pair()
        practice = await admin.client.create_organisation(
            "practice", "Elm Surgery", records.public_key
        )
        service = await admin.client.create_organisation("service", "Skin Service")
        gp = await enrol_person(
            server.url,
            await admin.client.invite(practice["org_id"], "gp"),
            "gp@example.org",
            "Dr Gee",
        )
        made.append(gp)
        derm = await enrol_person(
            server.url,
            await admin.client.invite(service["org_id"], "dermatologist"),
            "derm@example.org",
            "Dr Derm",
        )
    except BaseException:
        for person in made:
            await person.client.close()
        raise
    return World(admin, gp, derm, practice["org_id"], service["org_id"], records)
