"""The Dermline server with latency probes, for ``bench.bench_realtime --probe`` only.

    python -m bench.serve_probed OUT.json serve --data-dir DIR --host H --port P

Runs ``server.cli`` unchanged, with five probes whose distributions are written to
``OUT.json`` when the server shuts down (SIGTERM):

* ``loop_lag_ms``: how late a 10 ms ``asyncio.sleep`` wakes up (event-loop stalls: anything
  that holds the loop, CPU-bound work or a slow callback, delays every client at once);
* ``gc_pause_ms``: each garbage-collector run, by generation (a full collection over the
  objects of 1,000 connections stops the world);
* ``storage_write_ms``: each durable write unit from submission to acknowledgement
  (``SqliteStorage._write``: queueing for the writer thread, the batch, the fsync);
* ``storage_read_ms``: each read unit, waiting for a free reader connection included
  (``SqliteStorage._read``);
* ``case_send_ms``: ``CaseService.send`` end to end (policy, storage, publish).

``DERMLINE_BENCH_GC=default`` leaves the collector as the interpreter sets it, for comparing
with ``server.gc_tuning``. Probes cost a little; figures from a probed run are for finding
where time goes, not for ``docs/performance.md``'s headline table.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["main"]


def _summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    s = sorted(values)

    def q(p: float) -> float:
        return round(s[min(len(s) - 1, int(p * len(s)))], 2)

    return {"n": len(s), "p50": q(0.5), "p99": q(0.99), "p999": q(0.999), "max": round(s[-1], 2)}


def main(argv: list[str]) -> int:
    out = Path(argv[0])
    samples: dict[str, list[float]] = {
        "loop_lag_ms": [],
        "gc_pause_ms": [],
        "gc2_pause_ms": [],
        "storage_write_ms": [],
        "storage_read_ms": [],
        "case_send_ms": [],
    }
    gc_start: list[float] = [0.0]
    # Wall-clock moments of the long pauses, to tell the load phase from the connect phase.
    events: list[dict[str, float]] = []

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            gc_start[0] = time.perf_counter()
            return
        ms = (time.perf_counter() - gc_start[0]) * 1000
        samples["gc_pause_ms"].append(ms)
        if info.get("generation") == 2:
            samples["gc2_pause_ms"].append(ms)
            events.append({"at": round(time.time(), 3), "gc2_ms": round(ms, 1)})

    gc.callbacks.append(on_gc)

    def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return await fn(*args, **kwargs)
            finally:
                ms = (time.perf_counter() - t) * 1000
                samples[name].append(ms)
                if ms > 100:
                    events.append({"at": round(time.time(), 3), name: round(ms, 1)})

        return wrapper

    import server.app
    from server.domain.cases import CaseService
    from storage.sqlite import SqliteStorage

    SqliteStorage._write = timed("storage_write_ms", SqliteStorage._write)  # type: ignore[method-assign]
    SqliteStorage._read = timed("storage_read_ms", SqliteStorage._read)  # type: ignore[method-assign]
    CaseService.send = timed("case_send_ms", CaseService.send)  # type: ignore[method-assign]

    if os.environ.get("DERMLINE_BENCH_GC") == "default":
        # A/B: the interpreter's default collector settings (server.gc_tuning not applied).
        import server.gc_tuning

        server.gc_tuning.settle_after_startup = lambda: None

    original = server.app.create_app

    def create_app(*args: Any, **kwargs: Any) -> Any:
        app = original(*args, **kwargs)

        async def lag_monitor() -> None:
            while True:
                t = time.perf_counter()
                await asyncio.sleep(0.01)
                lag = (time.perf_counter() - t) * 1000 - 10
                samples["loop_lag_ms"].append(lag)
                if lag > 50:
                    events.append({"at": round(time.time(), 3), "lag_ms": round(lag, 1)})

        async def start(app: Any) -> None:
            app["probe_task"] = asyncio.get_running_loop().create_task(lag_monitor())

        async def dump(app: Any) -> None:
            app["probe_task"].cancel()
            result: dict[str, Any] = {k: _summary(v) for k, v in samples.items()}
            result["tracked_objects"] = len(gc.get_objects())
            result["events"] = events
            text = json.dumps(result, indent=2)
            await asyncio.to_thread(out.write_text, text)

        app.on_startup.append(start)
        app.on_shutdown.append(dump)
        return app

    server.app.create_app = create_app  # server.cli imports it when serving
    from server.cli import main as server_main

    return server_main(argv[1:])


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
