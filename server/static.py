"""Serve the built web client (``client_web/dist``) at ``/`` when it exists.

Hashed assets are cacheable for a year; ``index.html`` is never cached so a new release
is picked up at once. Unknown paths that look like client-side routes (no dot in the last
segment) get ``index.html``; anything else is a 404. Paths are resolved inside the folder
only. A path the file system cannot even look up is a 404 before it gets there, never a 500:
one with a NUL or another control character, a backslash (a separator on no platform we
serve from, and a traversal on some), a ``..`` segment, or longer than a path or file name
on disk may be (``tests/server/test_static.py`` lists the hostile paths).

The build leaves pre-compressed copies beside its text files (``x.js.br``, ``x.js.gz``:
``client_web/vite.config.ts``, ``precompress``); aiohttp's ``FileResponse`` sends the one the
browser accepts (Brotli first), so every response here varies by ``Accept-Encoding``. A
copy older than the file beside it is never sent (a release copied over an old folder, or a
file edited after the build, would otherwise serve the previous content): the file itself is.
"""

from __future__ import annotations

import os
from pathlib import Path

from aiohttp import web

__all__ = ["add_static_routes"]

#: Longer request paths, or path segments, are refused as not found: no file of the build
#: (and no client-side route) is near this long, and the file system would refuse the name
#: (ENAMETOOLONG) anyway.
MAX_PATH_CHARS = 1024
MAX_SEGMENT_CHARS = 255


class _FreshFileResponse(web.FileResponse):
    """A FileResponse that sends a pre-compressed sibling only if it is not older than the
    file itself (aiohttp picks the sibling by name alone)."""

    def _get_file_path_stat_encoding(
        self, accept_encoding: str
    ) -> tuple[Path | None, os.stat_result, str | None]:
        path, st, encoding = super()._get_file_path_stat_encoding(accept_encoding)
        if encoding is None:
            return path, st, encoding
        original = self._path.stat()
        if st.st_mtime_ns < original.st_mtime_ns:
            return self._path, original, None
        return path, st, encoding


def _hostile(tail: str) -> bool:
    """A path no file of the build can have (see the module doc)."""
    if len(tail) > MAX_PATH_CHARS or "\\" in tail:
        return True
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in tail):
        return True
    segments = tail.split("/")
    return ".." in segments or any(len(s) > MAX_SEGMENT_CHARS for s in segments)


def _file(root: Path, tail: str) -> Path | None:
    """The regular file ``tail`` names inside ``root``, if there is one."""
    try:
        candidate = (root / tail).resolve()
        if candidate.is_relative_to(root) and candidate.is_file():
            return candidate
    except (OSError, ValueError):  # a name too long for the file system, and the like
        return None
    return None


def add_static_routes(app: web.Application, root: Path) -> None:
    root = root.resolve()
    index = root / "index.html"

    async def serve(request: web.Request) -> web.StreamResponse:
        tail = request.match_info.get("tail", "")
        if tail:
            if _hostile(tail):
                raise web.HTTPNotFound()
            candidate = _file(root, tail)
            if candidate is not None:
                response = _FreshFileResponse(candidate)
                response.headers["Vary"] = "Accept-Encoding"
                if "/assets/" in f"/{tail}":
                    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
                return response
            if "." in tail.rsplit("/", 1)[-1] or tail.startswith("api/"):
                raise web.HTTPNotFound()
        if not index.is_file():
            raise web.HTTPNotFound()
        response = _FreshFileResponse(index)
        response.headers["Cache-Control"] = "no-cache"
        response.headers["Vary"] = "Accept-Encoding"
        return response

    app.router.add_get("/", serve)
    app.router.add_get("/{tail:(?!api/|socket\\.io/).*}", serve)
