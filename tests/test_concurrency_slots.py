"""Overlapping slot refreshes, on SQLite and PostgreSQL: upserts, single flight, freshness.

Real threads, each with its own session on the test database, released together by a
barrier; the connector is an inline plugin that records who it was asked for and when.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pluggy
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import Slot, SlotTarget, Unavailable, db, hookimpl
from portal.models import CachedSlot, SlotFetch, SlotFlight, SlotSummary
from portal.plugins import make_plugin_manager
from portal.slots import aggregation as service
from portal.slots import cache as slot_cache

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
START, END = service.window(NOW)
SOURCE = "ed"
THREADS, ROUNDS = 8, 25


def _ids(n: int, first: int = 0) -> list[str]:
    return [f"8{first + i:011d}" for i in range(n)]


def _answer(ids: list[str], per_target: int = 3) -> list[Slot]:
    return [
        Slot(
            source=SOURCE,
            id=f"{nid}-{n}",
            practitioner=nid,
            start=START + timedelta(hours=n + 1),
            end=START + timedelta(hours=n + 1, minutes=15),
            modalities=("cabinet",) if n % 2 else ("teleconsultation",),
        )
        for nid in ids
        for n in range(per_target)
    ]


class Editor:
    """Answers every target with the same slots; flags two fetches of one target at once."""

    def __init__(self, latency_s: float = 0.0) -> None:
        self.latency_s = latency_s
        self.lock = threading.Lock()
        self.calls: list[list[str]] = []
        self.in_flight: Counter[str] = Counter()
        self.overlaps = 0

    @hookimpl
    def fetch_slots(self, query):  # type: ignore[no-untyped-def]
        ids = [t.national_id for t in query.targets]
        with self.lock:
            self.calls.append(ids)
            self.in_flight.update(ids)
            self.overlaps += sum(1 for nid in ids if self.in_flight[nid] > 1)
        try:
            time.sleep(self.latency_s)
            return _answer(ids)
        finally:
            with self.lock:
                self.in_flight.subtract(ids)


def _plugins(editor: Editor) -> pluggy.PluginManager:
    return make_plugin_manager(load_entry_points=False, plugins={SOURCE: editor})


def _snapshot(session: Session) -> dict[str, Any]:
    """Everything a refresh leaves, ignoring surrogate keys."""
    session.expire_all()
    slots = session.execute(
        select(CachedSlot.upstream_id, CachedSlot.practitioner, CachedSlot.start,
               CachedSlot.end, CachedSlot.modalities, CachedSlot.fetched_at)
    ).all()  # fmt: skip
    summaries = session.execute(
        select(SlotSummary.source, SlotSummary.owner, SlotSummary.modalities,
               SlotSummary.visibility, SlotSummary.first_start, SlotSummary.last_end)
    ).all()  # fmt: skip
    fetches = session.execute(
        select(SlotFetch.source, SlotFetch.national_id, SlotFetch.fetched_at, SlotFetch.status)
    ).all()
    session.commit()
    return {
        "slots": Counter(map(tuple, slots)),
        "summaries": Counter(map(tuple, summaries)),
        "fetches": Counter(map(tuple, fetches)),
    }


def _in_threads(app, work: Callable[[Session, int, int], None]) -> list[BaseException]:  # type: ignore[no-untyped-def]
    """Run ``work(session, thread, round)`` THREADS × ROUNDS times, started together."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(THREADS)

    def worker(n: int) -> None:
        with app.app_context(), Session(db.engine(), expire_on_commit=False) as session:
            barrier.wait()
            for r in range(ROUNDS):
                try:
                    work(session, n, r)
                except BaseException as exc:
                    session.rollback()
                    errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return errors


def test_overlapping_cache_writes_end_as_one_write(app) -> None:  # type: ignore[no-untyped-def]
    """8 threads × 25 writes of the same source, ids and window (the bug: UniqueViolation
    on ``uq_slots_source_upstream_id`` and on the fetch rows, on PostgreSQL)."""
    ids = _ids(10)
    answer = _answer(ids)

    def write(session: Session, n: int, r: int) -> None:
        mine = ids[n % 3 :]  # overlapping, not identical, sets of targets
        slot_cache.replace_cached(session, SOURCE, mine, answer, START, END, NOW)
        slot_cache.mark_fetched(session, SOURCE, mine, NOW, "fresh")
        session.commit()

    with app.app_context():
        session = db.session()
        stale = _answer(ids[:2], per_target=5)  # two slots that the editor dropped since
        slot_cache.replace_cached(session, SOURCE, ids[:2], stale, START, END, NOW)
        session.commit()
        errors = _in_threads(app, write)
        assert errors == []
        after_overlap = _snapshot(session)
        write(session, 0, 0)  # what one write leaves
        assert _snapshot(session) == after_overlap
        assert sum(after_overlap["slots"].values()) == 30  # the dropped slots are gone
        assert sum(after_overlap["fetches"].values()) == 10
        # one summary per owner and modality combination, no copy
        assert sum(after_overlap["summaries"].values()) == 20
        assert set(after_overlap["summaries"].values()) == {1}


def test_overlapping_refreshes_fetch_each_target_once_at_a_time(app) -> None:  # type: ignore[no-untyped-def]
    """8 threads × 25 refreshes without freshness threshold: never two fetches of one
    target at once (single flight), no error, the cache as one refresh leaves it."""
    editor = Editor(latency_s=0.01)
    pm = _plugins(editor)
    ids = _ids(30)
    settings = service.Settings(deadline_s=5.0)
    statuses: Counter[str] = Counter()

    def refresh(session: Session, n: int, r: int) -> None:
        targets = [SlotTarget(nid, source=SOURCE) for nid in ids[n % 4 :]]
        report = service.refresh(session, pm, targets, START, END, settings, now=NOW,
                                 min_age_s=0)  # fmt: skip
        statuses.update(s.state for s in report.statuses.values())

    with app.app_context():
        errors = _in_threads(app, refresh)
        assert errors == []
        assert editor.overlaps == 0
        assert set(statuses) <= {"fresh"}, statuses
        session = db.session()
        after_overlap = _snapshot(session)
        service.refresh(session, pm, [SlotTarget(i, source=SOURCE) for i in ids], START, END,
                        settings, now=NOW, min_age_s=0)  # fmt: skip
        assert _snapshot(session) == after_overlap
        assert sum(after_overlap["slots"].values()) == 90
        claims = session.scalars(select(SlotFlight)).all()
        assert len(claims) == 30 and all(c.busy_until < NOW for c in claims)  # all released


def test_twenty_identical_page_views_call_each_batch_once(app) -> None:  # type: ignore[no-untyped-def]
    """The freshness threshold: 20 refreshes of the same 30 targets at once (two batches)
    make two upstream requests; the other 19 wait for them and report fresh."""
    editor = Editor(latency_s=0.2)
    pm = _plugins(editor)
    targets = [SlotTarget(nid, source=SOURCE) for nid in _ids(30)]
    settings = service.Settings(deadline_s=5.0, min_age_s=60)
    states: list[str] = []
    barrier = threading.Barrier(20)

    def page_view() -> None:
        with app.app_context(), Session(db.engine(), expire_on_commit=False) as session:
            barrier.wait()
            report = service.refresh(session, pm, targets, START, END, settings, now=NOW)
            states.append(report.statuses[SOURCE].state)

    threads = [threading.Thread(target=page_view) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(len(c) for c in editor.calls) == [5, 25]
    assert states == ["fresh"] * 20
    with app.app_context():  # a minute later the threshold has passed
        service.refresh(db.session(), pm, targets, START, END, settings,
                        now=NOW + timedelta(seconds=61))  # fmt: skip
    assert len(editor.calls) == 4


def test_targets_held_by_another_process_are_waited_for_then_taken_over(app) -> None:  # type: ignore[no-untyped-def]
    editor = Editor()
    pm = _plugins(editor)
    ids = _ids(2)
    targets = [SlotTarget(nid, source=SOURCE) for nid in ids]
    settings = service.Settings(deadline_s=0.3, min_age_s=60)
    with app.app_context():
        session = db.session()
        for nid in ids:  # a worker of another process is fetching them
            session.add(SlotFlight(source=SOURCE, national_id=nid, holder="elsewhere",
                                   busy_until=NOW + timedelta(seconds=10)))  # fmt: skip
        session.commit()
        began = time.monotonic()
        report = service.refresh(session, pm, targets, START, END, settings, now=NOW)
        assert 0.25 <= time.monotonic() - began < 2
        assert report.statuses[SOURCE].state == "pending" and editor.calls == []
        # its claim expired (the process died): the next refresh takes it over
        later = NOW + timedelta(seconds=11)
        report = service.refresh(session, pm, targets, START, END, settings, now=later)
        assert report.statuses[SOURCE].state == "fresh" and editor.calls == [ids]


def test_a_failed_fetch_keeps_the_last_success_time(app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        session = db.session()
        slot_cache.mark_fetched(session, SOURCE, ["810000000001"], NOW, "fresh")
        slot_cache.mark_fetched(session, SOURCE, ["810000000001"], NOW + timedelta(minutes=1),
                                "timeout")  # fmt: skip
        session.commit()
        fetch = session.scalars(select(SlotFetch)).one()
        assert fetch.fetched_at == NOW and fetch.status == "timeout"
        assert fetch.attempted_at == NOW + timedelta(minutes=1)


@pytest.fixture(autouse=True)
def _quiet_aggregation(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("ERROR", logger="portal.slots.aggregation")


class FailingEditor:
    def __init__(self) -> None:
        self.calls = 0

    @hookimpl
    def fetch_slots(self, query):  # type: ignore[no-untyped-def]
        self.calls += 1
        raise Unavailable("éditeur en panne")


def test_page_views_retry_a_failing_editor_once_per_threshold(app) -> None:  # type: ignore[no-untyped-def]
    editor = FailingEditor()
    pm = make_plugin_manager(load_entry_points=False, plugins={SOURCE: editor})
    targets = [SlotTarget(nid, source=SOURCE) for nid in _ids(3)]
    settings = service.Settings(deadline_s=2.0, min_age_s=60, breaker_threshold=100)
    with app.app_context():
        session = db.session()
        report = service.refresh(session, pm, targets, START, END, settings, now=NOW)
        assert report.statuses[SOURCE].state == "failed" and editor.calls == 1
        soon = NOW + timedelta(seconds=10)
        report = service.refresh(session, pm, targets, START, END, settings, now=soon)
        assert report.statuses[SOURCE].state == "failed" and editor.calls == 1
        assert "seuil" in (report.statuses[SOURCE].error or "")
        # a full refresh (scheduler, administrator: ``refresh_all``) asks anyway
        service.refresh(session, pm, targets, START, END, settings, now=soon, min_age_s=0)
        assert editor.calls == 2
        later = soon + timedelta(seconds=61)  # the threshold counts from the last attempt
        service.refresh(session, pm, targets, START, END, settings, now=later)
        assert editor.calls == 3


def test_prune_forgets_only_idle_targets_of_long_ago(app) -> None:  # type: ignore[no-untyped-def]
    from portal.slots import flight

    now = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)
    with app.app_context():
        session = db.session()
        session.add_all([
            SlotFlight(source="s", national_id="old", holder="h", busy_until=flight.RELEASED,
                       settled_at=now - timedelta(days=2)),
            SlotFlight(source="s", national_id="recent", holder="h", busy_until=flight.RELEASED,
                       settled_at=now - timedelta(hours=1)),
            SlotFlight(source="s", national_id="held", holder="h",
                       busy_until=now + timedelta(seconds=30), settled_at=None),
        ])  # fmt: skip
        session.commit()
        assert flight.prune(session, now=now) == 1
        left = set(session.scalars(select(SlotFlight.national_id)))
        assert left == {"recent", "held"}
