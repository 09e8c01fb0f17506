"""Capture the server's structured log lines in a test (the ``dermline`` logger does not
propagate to the root logger, ``server/logs.py``, so pytest's ``caplog`` alone sees nothing)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from server.logs import LOGGER_NAME

__all__ = ["Captured", "captured_log"]


class Captured(logging.Handler):
    """Every record the ``dermline`` logger emits while installed."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def events(self, min_level: int = logging.DEBUG) -> list[str]:
        return [r.getMessage() for r in self.records if r.levelno >= min_level]

    def fields(self, name: str) -> list[dict[str, object]]:
        return [
            dict(getattr(r, "fields", {}) or {}) for r in self.records if r.getMessage() == name
        ]


@contextmanager
def captured_log() -> Iterator[Captured]:
    """The capture is the logger's only handler meanwhile: a handler an earlier test left
    on a stream pytest has closed since (``configure_logging``) would print "Logging
    error" tracebacks that are not the server's."""
    logger = logging.getLogger(LOGGER_NAME)
    handler = Captured()
    old_level, old_handlers = logger.level, list(logger.handlers)
    for old in old_handlers:
        logger.removeHandler(old)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        for old in old_handlers:
            logger.addHandler(old)
        logger.setLevel(old_level)
