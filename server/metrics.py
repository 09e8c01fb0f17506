"""Prometheus metrics at ``/metrics`` (``docs/operations.md``, "Metrics"), with the
maintained ``prometheus-client`` library.

Rules
-----
* **Who may read.** Only clients whose address is inside ``DERMLINE_METRICS_ALLOW``
  (default loopback only); everyone else gets the same ``404 not_found`` as an unknown path.
  The address is the one the rest of the server uses (``server.netaddr``): the TCP peer, or,
  behind a trusted proxy, the first untrusted ``X-Forwarded-For`` hop, so a request that
  came through nginx from outside is refused even though nginx itself is on loopback.
* **No patient data and nothing that identifies one.** Labels are route *templates*,
  methods, status codes, Socket.IO event names and outcome codes, storage operation names,
  age bands and priorities, login event kinds. Never a case, user, message or organisation
  id, a name, a raw URL or an address.
* One registry per application (no module globals), so tests and several apps in one
  process do not share counters. Figures that are states rather than events (connections,
  queue lengths, cases waiting, the Redis subscription) are read when scraped.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

import storage
from server.api.keys import CLIENT_ADDRESS
from server.api.middleware import error_response
from server.errors import ErrorCode
from server.logs import event
from server.realtime.server import Realtime
from server.settings import Settings

__all__ = ["WAIT_BANDS", "Metrics"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: Queue-wait bands: (label, upper edge in seconds); the same-day target is 8 hours (a
#: working day), so the alert fires on the two last bands (deploy/prometheus/alerts.yml).
WAIT_BANDS: tuple[tuple[str, int], ...] = (
    ("under_1h", 3600),
    ("1h_to_4h", 4 * 3600),
    ("4h_to_8h", 8 * 3600),
    ("8h_to_24h", 24 * 3600),
)
OVER_LAST_BAND = "over_24h"
_LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_UNIT_LATENCY = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)


class Metrics:
    """The application's metrics and the hooks that feed them."""

    def __init__(self, settings: Settings) -> None:
        self._allow = settings.metrics_allow
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.http_requests = Counter(
            "dermline_http_requests",
            "HTTP requests by method, route template and status",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_seconds = Histogram(
            "dermline_http_request_seconds",
            "Time to answer an HTTP request, by route template",
            ["route"],
            buckets=_LATENCY,
            registry=r,
        )
        self.socket_events = Counter(
            "dermline_socketio_events",
            "Socket.IO events by name and outcome (ok or the error code)",
            ["event", "outcome"],
            registry=r,
        )
        self.send_to_ack = Histogram(
            "dermline_send_to_ack_seconds",
            "From a send event's arrival to its acknowledgement (commit included)",
            buckets=_LATENCY,
            registry=r,
        )
        self.storage_seconds = Histogram(
            "dermline_storage_unit_seconds",
            "Duration of a storage unit of work, by operation",
            ["operation"],
            buckets=_UNIT_LATENCY,
            registry=r,
        )
        self.login_events = Counter(
            "dermline_login_events",
            "Failed credential checks and account lockouts",
            ["event"],
            registry=r,
        )
        self.socket_connections = Gauge(
            "dermline_socketio_connections", "Open Socket.IO connections on this node", registry=r
        )
        self.queue_length = Gauge(
            "dermline_queue_length",
            "Items waiting: storage writes not yet run, packets not yet sent to clients",
            ["queue"],
            registry=r,
        )
        self.cases_waiting = Gauge(
            "dermline_cases_waiting",
            "Submitted cases not yet claimed, by time waited and priority (all services)",
            ["age_band", "priority"],
            registry=r,
        )
        self.redis_subscribed = Gauge(
            "dermline_redis_subscribed",
            "1 while this node is subscribed to the Redis channel, 0 when not, -1 without Redis",
            registry=r,
        )
        self.scrape_errors = Counter(
            "dermline_metrics_scrape_errors",
            "Scrapes whose storage figures could not be read",
            registry=r,
        )
        for event_name in ("failure", "lockout"):
            self.login_events.labels(event_name)

    # ------------------------------------------------------------------ hooks

    def observe_login(self, event_name: str) -> None:
        self.login_events.labels(event_name).inc()

    def observe_storage(self, operation: str, seconds: float) -> None:
        self.storage_seconds.labels(operation).observe(seconds)

    def observe_socket_event(self, name: str, outcome: str, seconds: float) -> None:
        self.socket_events.labels(name, outcome).inc()
        if name == "send" and outcome == "ok":
            self.send_to_ack.observe(seconds)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Count and time every request (outermost, so refusals are counted too)."""
        start = time.perf_counter()
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            self.http_requests.labels(request.method, route, str(status)).inc()
            self.http_seconds.labels(route).observe(time.perf_counter() - start)

    # ------------------------------------------------------------------ the endpoint

    def allowed(self, address: str | None) -> bool:
        try:
            ip = ipaddress.ip_address(address or "")
        except ValueError:
            return False
        return any(ip in net for net in self._allow)

    async def _refresh(
        self, store: storage.Storage, realtime: Realtime, now_fn: Callable[[], dt.datetime]
    ) -> None:
        self.socket_connections.set(realtime.connections())
        self.queue_length.labels("socket_outgoing").set(realtime.outgoing_backlog())
        self.queue_length.labels("storage_writes").set(_pending_writes(store))
        subscribed = realtime.redis_subscribed()
        self.redis_subscribed.set(-1 if subscribed is None else int(subscribed))
        counts = await asyncio.wait_for(
            store.count_waiting_cases(now_fn(), [edge for _label, edge in WAIT_BANDS]), 5.0
        )
        labels = [label for label, _edge in WAIT_BANDS] + [OVER_LAST_BAND]
        for label in labels:
            for priority in storage.Priority:
                self.cases_waiting.labels(label, priority.value).set(0)
        for c in counts:
            self.cases_waiting.labels(labels[c.band], c.priority.value).set(c.count)

    def handler(
        self,
        store: Callable[[], storage.Storage | None],
        realtime: Realtime,
        now_fn: Callable[[], dt.datetime],
    ) -> Handler:
        async def metrics(request: web.Request) -> web.StreamResponse:
            if not self.allowed(request.get(CLIENT_ADDRESS)):
                return error_response(ErrorCode.NOT_FOUND, "not found")
            opened = store()
            if opened is not None:
                try:
                    await self._refresh(opened, realtime, now_fn)
                except (storage.StorageError, TimeoutError) as exc:
                    # The other figures still go out; the storage ones keep their last values.
                    self.scrape_errors.inc()
                    event(
                        "metrics.refresh_failed",
                        level=logging.WARNING,
                        error_type=type(exc).__name__,
                    )
            body = generate_latest(self.registry)
            return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

        return metrics


def _pending_writes(store: storage.Storage) -> int:
    pending = getattr(store, "pending_writes", None)
    return int(pending()) if callable(pending) else 0
