"""Aggregation service: per-source calls, cache replacement, staleness, breaker, kill switch."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pluggy
import pytest
from sqlalchemy import func, select

from portal import Slot, SlotTarget, Unavailable, db, hookimpl
from portal.models import CachedSlot, ConnectorRun, SlotFetch
from portal.plugins import make_plugin_manager
from portal.slots import aggregation as service
from portal.slots import cache as slot_cache

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
START, END = service.window(NOW)


class Editor:
    """An inline connector whose answers the test controls."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.calls: list[list[str]] = []
        self.fail: Exception | None = None
        self.per_target = 2
        self.hang = threading.Event()
        self.hanging = False

    @hookimpl
    def fetch_slots(self, query, config):  # type: ignore[no-untyped-def]
        self.calls.append([t.national_id for t in query.targets])
        if self.hanging:
            self.hang.wait(10)
        if self.fail:
            raise self.fail
        mine = [t for t in query.targets if t.source.split(":")[0] == self.name]
        if not mine:
            return None
        return [
            Slot(
                source=mine[0].source,
                id=f"{t.national_id}-{n}",
                practitioner=t.national_id,
                start=query.start + timedelta(hours=n + 1),
                end=query.start + timedelta(hours=n + 1, minutes=15),
            )
            for t in mine
            for n in range(self.per_target)
        ]


@pytest.fixture
def editors() -> tuple[pluggy.PluginManager, Editor, Editor]:
    a, b = Editor("ed_a"), Editor("ed_b")
    pm = make_plugin_manager(load_entry_points=False, plugins={"ed_a": a, "ed_b": b})
    return pm, a, b


def _targets(source: str, n: int, first: int = 0) -> list[SlotTarget]:
    return [SlotTarget(f"8{first + i:011d}", source=source) for i in range(n)]


def _settings(**kw) -> service.Settings:  # type: ignore[no-untyped-def]
    return service.Settings(deadline_s=kw.pop("deadline_s", 2.0), **kw)


def test_one_failing_source_never_hides_the_others(app, editors) -> None:  # type: ignore[no-untyped-def]
    pm, _, b = editors
    b.fail = Unavailable("éditeur B en panne", diagnostics="HTTP 500")
    targets = _targets("ed_a", 3) + _targets("ed_b:x", 2, first=100)
    with app.app_context():
        s = db.session()
        report = service.refresh(s, pm, targets, START, END, _settings(), now=NOW)
        assert report.statuses["ed_a"].state == "fresh"
        assert report.statuses["ed_a"].slot_count == 6
        assert report.statuses["ed_b:x"].state == "failed"
        assert "en panne" in (report.statuses["ed_b:x"].error or "")
        assert "HTTP 500" in (report.statuses["ed_b:x"].error or "")
        runs = {r.source: r for r in s.scalars(select(ConnectorRun))}
        assert runs["ed_a"].ids_asked == 3 and runs["ed_a"].slot_count == 6
        assert runs["ed_b:x"].status == "failed" and runs["ed_b:x"].error
        cached = slot_cache.cached_slots(s, [t.national_id for t in targets], START, END)
        assert len(cached["800000000000"].slots) == 2
        assert cached["800000000100"].failing == ("ed_b:x",)


def test_refresh_replaces_the_window_and_keeps_last_known_on_failure(app, editors) -> None:  # type: ignore[no-untyped-def]
    pm, a, _ = editors
    targets = _targets("ed_a", 2)
    with app.app_context():
        s = db.session()
        service.refresh(s, pm, targets, START, END, _settings(), now=NOW)
        assert s.scalar(select(func.count()).select_from(CachedSlot)) == 4
        a.per_target = 1  # one slot per practitioner disappeared upstream
        later = NOW + timedelta(minutes=5)
        service.refresh(s, pm, targets, START, END, _settings(), now=later)
        assert s.scalar(select(func.count()).select_from(CachedSlot)) == 2
        a.fail = Unavailable("panne")
        service.refresh(s, pm, targets, START, END, _settings(), now=later + timedelta(minutes=5))
        cached = slot_cache.cached_slots(s, ["800000000000"], START, END)["800000000000"]
        assert len(cached.slots) == 1, "a failing source keeps its last-known slots"
        assert cached.fetched_at == later and cached.failing == ("ed_a",)
        fetch = s.get(SlotFetch, ("ed_a", "800000000000"))
        assert fetch is not None and fetch.status == "failed" and fetch.fetched_at == later


def test_batches_of_at_most_25_ids_called_concurrently(app, editors) -> None:  # type: ignore[no-untyped-def]
    pm, a, _ = editors
    with app.app_context():
        report = service.refresh(db.session(), pm, _targets("ed_a", 60), START, END, _settings(),
                                 now=NOW)  # fmt: skip
    assert sorted(len(c) for c in a.calls) == [10, 25, 25]
    assert report.statuses["ed_a"].ids_asked == 60 and report.statuses["ed_a"].slot_count == 120


def test_hanging_source_times_out_without_delaying_the_others(app, editors) -> None:  # type: ignore[no-untyped-def]
    pm, _, b = editors
    b.hanging = True
    try:
        with app.app_context():
            report = service.refresh(
                db.session(), pm, _targets("ed_a", 2) + _targets("ed_b", 2, 50), START, END,
                _settings(deadline_s=0.3), now=NOW,
            )  # fmt: skip
    finally:
        b.hang.set()
    assert report.statuses["ed_b"].state == "timeout"
    assert report.statuses["ed_a"].state == "fresh"
    assert report.duration_ms < 1500


def test_circuit_breaker_skips_then_probes(app, editors) -> None:  # type: ignore[no-untyped-def]
    pm, a, _ = editors
    a.fail = Unavailable("panne")
    settings = _settings(breaker_threshold=2, breaker_cooldown_s=60)
    targets = _targets("ed_a", 1)
    with app.app_context():
        s = db.session()
        for minute in range(2):
            service.refresh(
                s, pm, targets, START, END, settings, now=NOW + timedelta(minutes=minute)
            )
        assert len(a.calls) == 2
        during_cooldown = NOW + timedelta(minutes=1, seconds=30)
        report = service.refresh(s, pm, targets, START, END, settings, now=during_cooldown)
        assert report.statuses["ed_a"].state == "open" and len(a.calls) == 2  # skipped
        a.fail = None
        report = service.refresh(
            s, pm, targets, START, END, settings, now=NOW + timedelta(minutes=3)
        )
        assert report.statuses["ed_a"].state == "fresh" and len(a.calls) == 3  # probed, closed


def test_kill_switch_stops_calls_and_hides_slots(app, editors) -> None:  # type: ignore[no-untyped-def]
    pm, a, _ = editors
    targets = _targets("ed_a", 1)
    with app.app_context():
        s = db.session()
        service.refresh(s, pm, targets, START, END, _settings(), now=NOW)
        report = service.refresh(s, pm, targets, START, END, _settings(killed=frozenset({"ed_a"})),
                                 now=NOW)  # fmt: skip
        assert report.statuses["ed_a"].state == "killed" and len(a.calls) == 1
        service.set_killed(s, "ed_a", True, actor="admin-test")
        assert slot_cache.cached_slots(s, ["800000000000"], START, END)["800000000000"].slots == ()


def test_unknown_plugin_is_reported_absent(app, editors) -> None:  # type: ignore[no-untyped-def]
    pm, _, _ = editors
    with app.app_context():
        report = service.refresh(db.session(), pm, _targets("nobody", 1), START, END, _settings(),
                                 now=NOW)  # fmt: skip
    assert report.statuses["nobody"].state == "absent"


def test_window_is_today_tomorrow_and_the_day_after_in_paris() -> None:
    start, end = service.window(datetime(2026, 11, 25, 22, 30, tzinfo=UTC))  # 23:30 in Paris
    assert start == datetime(2026, 11, 25, 22, 30, tzinfo=UTC)
    assert end == datetime(2026, 11, 27, 23, 0, tzinfo=UTC)  # midnight 28/11 Paris


def test_prune_deletes_past_slots(app, editors) -> None:  # type: ignore[no-untyped-def]
    pm, _, _ = editors
    with app.app_context():
        s = db.session()
        service.refresh(s, pm, _targets("ed_a", 1), START, END, _settings(), now=NOW)
        assert slot_cache.prune(s, now=NOW + timedelta(days=5)) == 2
        assert s.scalar(select(func.count()).select_from(CachedSlot)) == 0


def test_lease_has_one_holder_at_a_time(app) -> None:  # type: ignore[no-untyped-def]
    from portal import lease

    with app.app_context():
        s = db.session()
        assert lease.acquire(s, "scheduler", "one", 60, now=NOW)
        assert not lease.acquire(s, "scheduler", "two", 60, now=NOW + timedelta(seconds=10))
        assert lease.acquire(s, "scheduler", "one", 60, now=NOW + timedelta(seconds=20))  # renew
        # the holder died: after expiry the second takes over
        assert lease.acquire(s, "scheduler", "two", 60, now=NOW + timedelta(seconds=90))
        assert not lease.acquire(s, "scheduler", "one", 60, now=NOW + timedelta(seconds=95))
        lease.release(s, "scheduler", "two")
        assert lease.acquire(s, "scheduler", "one", 60, now=NOW + timedelta(seconds=96))
