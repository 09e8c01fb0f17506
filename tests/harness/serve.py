"""``python -m tests.harness.serve --data-dir D --port P``: the real Dermline server with the
malicious-server harness installed (``tests/harness/README.md``). Test use only; it refuses
to start unless ``DERMLINE_HARNESS=1``.

It starts like ``dermline serve`` (same settings, environment and files; it prints the
one-time setup link and ``listening``), so the browser end-to-end scripts can start it the
same way.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

from server.app import create_app
from server.cli import _setup_url, _with_services
from server.settings import load_settings
from tests.harness.attacks import install

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    if os.environ.get("DERMLINE_HARNESS") != "1":
        print(
            "refusing to start: the malicious-server harness is for tests only "
            "(set DERMLINE_HARNESS=1)",
            file=sys.stderr,
        )
        return 2
    parser = argparse.ArgumentParser(prog="python -m tests.harness.serve")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--config", type=Path, default=None)
    args = parser.parse_args(argv)
    overrides: dict[str, Any] = {"data_dir": args.data_dir, "host": args.host, "port": args.port}
    settings = load_settings(config_file=args.config, overrides=overrides)
    if settings.static_dir is None and Path("client_web/dist").is_dir():
        overrides["static_dir"] = Path("client_web/dist")
        settings = load_settings(config_file=args.config, overrides=overrides)
    settings.data_dir.mkdir(parents=True, exist_ok=True)

    async def first_admin_link() -> str | None:
        return await _with_services(
            settings, lambda svc, _store: svc.organisations.first_admin_invite()
        )

    link = asyncio.run(first_admin_link())
    if link is not None:
        print(f"One-time setup link:\n  {_setup_url(settings, link)}", flush=True)
    app = create_app(settings)
    install(app)
    print(
        "MALICIOUS-SERVER HARNESS: answers may be tampered with (POST /__harness/attack)",
        file=sys.stderr,
        flush=True,
    )
    print(f"Dermline (harness) listening on http://{settings.host}:{settings.port}", flush=True)
    web.run_app(app, host=settings.host, port=settings.port, access_log=None, print=None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
