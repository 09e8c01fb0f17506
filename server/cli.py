"""The `dermline` command line (placeholder until the server lands: serves /healthz)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from aiohttp import web


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dermline")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="start the server")
    serve.add_argument("--data-dir", default="./var")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8443)
    args = parser.parse_args(argv)
    app = web.Application()
    app.router.add_get("/healthz", _healthz)
    web.run_app(app, host=args.host, port=args.port)
    return 0
