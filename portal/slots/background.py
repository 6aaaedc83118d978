"""A refresh under a time budget: the web request waits so long, the refresh goes on.

A results page asks for its cards' slots live; a stalled editor must not hold the
web worker (a ``gthread`` thread) for the editor's whole deadline. The refresh runs
in a daemon thread with its own session; the caller gets the status of every source
that answered within ``budget_s`` and ``pending`` for the others, whose answers still
land in the cache before their deadline — the page asks once more to pick them up.
Targets another refresh is already fetching are not waited for at all (the cache is
read, the source reported ``pending``), nor is a source with a fetch in flight for
longer than half the budget already (a stalled editor), nor, for
:data:`LATE_MEMORY_S`, a source that let a request of this process down (late past the
budget, or timed out) until it answers again: only the first request of a worker that
calls a stalled editor spends its budget on it.

May import what ``portal.slots`` may import.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import weakref
from collections.abc import Sequence
from datetime import UTC, datetime

import pluggy
from sqlalchemy.orm import Session

from portal.domain import SlotTarget
from portal.slots import flight
from portal.slots.aggregation import RefreshReport, Settings, SourceStatus, refresh

log = logging.getLogger(__name__)

#: How long a source that was late for a page is not waited for (in this process).
LATE_MEMORY_S = 30.0
#: How long a page still listens for the sources it does not wait for (cache reads).
SLOW_GRACE_S = 0.05
_late: weakref.WeakKeyDictionary[pluggy.PluginManager, dict[str, float]] = (
    weakref.WeakKeyDictionary()
)
_late_lock = threading.Lock()


def _remember_late(pm: pluggy.PluginManager, sources: Sequence[str]) -> None:
    until = time.monotonic() + LATE_MEMORY_S
    with _late_lock:
        _late.setdefault(pm, {}).update(dict.fromkeys(sources, until))


def _forget_late(pm: pluggy.PluginManager, source: str) -> None:
    with _late_lock:
        _late.get(pm, {}).pop(source, None)


def recently_late(pm: pluggy.PluginManager) -> set[str]:
    """Sources of ``pm`` that were late for a page of this process not long ago."""
    now = time.monotonic()
    with _late_lock:
        return {source for source, until in _late.get(pm, {}).items() if until > now}

#: The error of a source whose answer did not come within the page's budget.
LATE = "réponse attendue : elle s'affichera à la prochaine actualisation"
#: The error of a source not waited for: a fetch of it is in flight for longer already.
SLOW = "source lente : réponse attendue, affichée à la prochaine actualisation"


def refresh_within(
    session: Session,
    pm: pluggy.PluginManager,
    targets: Sequence[SlotTarget],
    start: datetime,
    end: datetime,
    settings: Settings,
    *,
    budget_s: float,
    now: datetime | None = None,
) -> RefreshReport:
    """Run :func:`~portal.slots.aggregation.refresh` in the background; return after at
    most ``budget_s`` seconds with what is in by then (``pending`` for the rest).

    The caller's transaction is ended first, so that its next reads see what the
    background refresh committed.
    """
    began = time.perf_counter()
    sources = list(dict.fromkeys(t.source for t in targets))
    report = RefreshReport()
    if not sources:
        return report
    session.commit()
    holds = {s: settings.deadlines.get(s, settings.deadline_s) + flight.MARGIN_S for s in sources}
    at = now or datetime.now(UTC)
    # half the budget: the next requests must not each spend theirs finding it out
    slow = flight.slow_sources(session, holds, now=at, older_than_s=budget_s / 2)
    slow |= recently_late(pm) & set(sources)
    awaited = len([s for s in sources if s not in slow])
    done: queue.SimpleQueue[SourceStatus | None] = queue.SimpleQueue()
    bind = session.get_bind()

    started = time.monotonic()

    def on_status(status: SourceStatus) -> None:
        if status.state == "timeout" or time.monotonic() - started > budget_s:
            _remember_late(pm, [status.source])  # answered, but too late for a page
        elif status.state != "pending":  # in time (even with an error): wait for it again
            _forget_late(pm, status.source)
        done.put(status)

    def work() -> None:
        try:
            with Session(bind, expire_on_commit=False) as own:
                refresh(
                    own, pm, targets, start, end, settings, now=now,
                    wait_for_others=False, on_status=on_status,
                )  # fmt: skip
        except Exception:  # reported as pending to the page, logged in full here
            log.exception("background slot refresh failed")
        finally:
            done.put(None)

    threading.Thread(target=work, name="slots-live-refresh", daemon=True).start()
    ends = time.monotonic() + budget_s
    # sources not waited for still get a short grace: targets fresh in the cache answer
    # at once, without calling the editor
    grace = time.monotonic() + min(SLOW_GRACE_S, budget_s)
    while len(report.statuses) < len(sources):
        waiting_for_awaited = len([s for s in report.statuses if s not in slow]) < awaited
        until = ends if waiting_for_awaited else min(ends, grace)
        try:
            status = done.get(timeout=max(0.0, until - time.monotonic()))
        except queue.Empty:
            break
        if status is None:
            break
        report.statuses[status.source] = status
    late = [s for s in sources if s not in report.statuses and s not in slow]
    _remember_late(pm, late)
    for source in sources:
        if source not in report.statuses:
            error = SLOW if source in slow else LATE
            report.statuses[source] = SourceStatus(source, "pending", error=error)
    report.duration_ms = round((time.perf_counter() - began) * 1000)
    return report
