"""The cyclic garbage collector runs between requests, not during them.

A results page at national scale allocates hundreds of thousands of objects
(candidates, rows, facts), most of them freed by reference counting; the cyclic
collector, triggered by allocation counts, would walk the survivors several times
while the regulator waits (40 to 100 ms on the slowest pages, ``sas-portal bench
search``). So automatic collection is paused while a request is in flight and, at its
teardown (which always runs, errors included), the generation CPython itself would
have chosen is collected: by then the request's objects are mostly freed, so the
collection is short (about 1 ms). With overlapping requests (threaded servers) the
pause lasts while any is in flight, bounded: past :data:`MAX_PENDING` allocations a
collection runs at the next request boundary anyway.

Enabled by ``GC_BETWEEN_REQUESTS`` (default true); :func:`portal.app.warm_up` freezes
the long-lived objects beforehand.
"""

from __future__ import annotations

import gc
import threading

from flask import Flask

#: Allocations (generation 0 count) past which a collection no longer waits.
MAX_PENDING = 2_000_000

_lock = threading.Lock()
_in_flight = 0


def init_app(app: Flask) -> None:
    if not app.config.get("GC_BETWEEN_REQUESTS", True):
        return

    @app.before_request
    def _pause() -> None:
        global _in_flight
        with _lock:
            _in_flight += 1
            if _in_flight == 1:
                gc.disable()
        _collect_if_overdue()

    @app.teardown_request
    def _resume(_error: BaseException | None) -> None:
        _finished()


def _finished() -> None:
    global _in_flight
    with _lock:
        _in_flight = max(0, _in_flight - 1)
        idle = _in_flight == 0
        if idle:
            gc.enable()
    if idle:
        collect_due()
    else:
        _collect_if_overdue()


def _collect_if_overdue() -> None:
    if gc.get_count()[0] > MAX_PENDING:
        collect_due()


def collect_due() -> int:
    """Collect the oldest generation whose threshold is crossed (what CPython's automatic
    collection would do); returns that generation."""
    counts, thresholds = gc.get_count(), gc.get_threshold()
    generation = 0
    for level in (2, 1):
        if counts[level] >= thresholds[level]:
            generation = level
            break
    gc.collect(generation)
    return generation
