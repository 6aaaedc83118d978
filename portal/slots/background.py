"""A refresh under a time budget: the web request waits so long, the refresh goes on.

A results page asks for its cards' slots live; a stalled editor must not hold the
web worker (a ``gthread`` thread) for the editor's whole deadline. The refresh runs
in a daemon thread with its own session; the caller gets the status of every source
that answered within ``budget_s`` and ``pending`` for the others, whose answers still
land in the cache before their deadline — the page asks once more to pick them up.
Targets another refresh is already fetching are not waited for at all (the cache is
read, the source reported ``pending``), nor is a source with a fetch in flight for
longer than half the budget already (a stalled editor): only the first requests that
call a stalled editor spend their budget on it.

May import what ``portal.slots`` may import.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime

import pluggy
from sqlalchemy.orm import Session

from portal.domain import SlotTarget
from portal.slots import flight
from portal.slots.aggregation import RefreshReport, Settings, SourceStatus, refresh

log = logging.getLogger(__name__)

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
    awaited = len([s for s in sources if s not in slow])
    done: queue.SimpleQueue[SourceStatus | None] = queue.SimpleQueue()
    bind = session.get_bind()

    def work() -> None:
        try:
            with Session(bind, expire_on_commit=False) as own:
                refresh(
                    own, pm, targets, start, end, settings, now=now,
                    wait_for_others=False, on_status=done.put,
                )  # fmt: skip
        except Exception:  # reported as pending to the page, logged in full here
            log.exception("background slot refresh failed")
        finally:
            done.put(None)

    threading.Thread(target=work, name="slots-live-refresh", daemon=True).start()
    ends = time.monotonic() + budget_s
    while len([s for s in report.statuses if s not in slow]) < awaited:
        try:
            status = done.get(timeout=max(0.0, ends - time.monotonic()))
        except queue.Empty:
            break
        if status is None:
            break
        report.statuses[status.source] = status
    for source in sources:
        if source not in report.statuses:
            error = SLOW if source in slow else LATE
            report.statuses[source] = SourceStatus(source, "pending", error=error)
    report.duration_ms = round((time.perf_counter() - began) * 1000)
    return report
