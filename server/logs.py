"""Structured logging: one JSON object per line, built from an allow-list of fields.

Why an allow-list: a log line is written in the clear, outside the at-rest encryption, so
it must never hold patient data, keys, passwords, TOTP codes, tokens or login names
(DESIGN section 3; STYLE "Errors"). :func:`event` takes keyword fields and drops any whose
name is not in :data:`SAFE_FIELDS`; values are stringified and cut short. Exceptions are
logged by type name only, never by message or traceback text, because driver and library
messages can quote the data they choked on.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

__all__ = ["SAFE_FIELDS", "configure_logging", "event"]

LOGGER_NAME = "dermline"

#: Field names a log line may carry. Ids are opaque random values; codes are enums.
SAFE_FIELDS = frozenset(
    {
        "action",
        "case_id",
        "client",
        "code",
        "count",
        "duration_ms",
        "error_type",
        "method",
        "org_id",
        "reason",
        "role",
        "route",
        "seq",
        "session",
        "sid",
        "state",
        "status",
        "user_id",
    }
)


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "event": record.getMessage()[:100],
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            out.update(fields)
        if record.exc_info and record.exc_info[0] is not None:
            out["error_type"] = record.exc_info[0].__name__
        return json.dumps(out, separators=(",", ":"), sort_keys=True)


def configure_logging(level: str = "INFO", log_file: Path | None = None) -> logging.Logger:
    """Attach one JSON handler (stderr or a file) to the ``dermline`` logger."""
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(level.upper())
    for old in list(logger.handlers):
        logger.removeHandler(old)
        old.close()
    handler: logging.Handler
    if log_file is not None:
        handler = logging.FileHandler(log_file, encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonFormatter())
    logger.addHandler(handler)
    logger.propagate = False
    # aiohttp's access log would print full URLs and python-socketio/engineio would print
    # payloads at debug level; our middleware logs requests itself.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    for noisy in ("socketio", "engineio", "socketio.server", "engineio.server"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    return logger


def event(name: str, *, level: int = logging.INFO, **fields: Any) -> None:
    """Log ``name`` with the allowed ``fields`` only (others are dropped, not escaped)."""
    logger = logging.getLogger(LOGGER_NAME)
    if not logger.isEnabledFor(level):
        return
    safe = {k: str(v)[:200] for k, v in fields.items() if k in SAFE_FIELDS and v is not None}
    logger.log(level, name, extra={"fields": safe})
