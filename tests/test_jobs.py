"""The scheduler: one process holds the lease; jobs per bound source; refresh CLI."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pluggy
import pytest
from flask import Flask
from sqlalchemy import func, select

from portal import Slot, db, hookimpl
from portal.jobs import PortalScheduler
from portal.models import CachedSlot, ConnectorBinding
from tests.factories import add_practitioner


class Tiny:
    def __init__(self) -> None:
        self.calls = 0

    @hookimpl
    def fetch_slots(self, query, config):  # type: ignore[no-untyped-def]
        self.calls += 1
        return [
            Slot(source=t.source, id=f"{t.national_id}-1", practitioner=t.national_id,
                 start=query.start + timedelta(hours=1), end=query.start + timedelta(hours=2))
            for t in query.targets
        ]  # fmt: skip


@pytest.fixture
def app_plugin_manager(plugin_manager: pluggy.PluginManager) -> pluggy.PluginManager:
    """The app of these tests knows only the connectors they register (no installed one)."""
    return plugin_manager


def _bind(
    app: Flask, register: Callable[..., object], source: str = "tiny", count: int = 3
) -> Tiny:
    plugin = Tiny()
    register(plugin, "tiny")
    with app.app_context():
        s = db.session()
        for i in range(count):
            p = add_practitioner(s, family_name=f"Lié{i}")
            s.add(ConnectorBinding(source=source, practitioner_id=p.id,
                                   upstream_ids={"national_id": p.national_id}))  # fmt: skip
        s.commit()
    return plugin


def test_second_scheduler_stays_idle(app: Flask, register_plugin: Callable[..., object]) -> None:
    plugin = _bind(app, register_plugin)
    first, second = PortalScheduler(app, holder="first"), PortalScheduler(app, holder="second")
    try:
        assert first.renew_lease() and not second.renew_lease()
        assert second.refresh_source("tiny") is None and plugin.calls == 0
        report = first.refresh_source("tiny")
        assert report is not None and report.statuses["tiny"].state == "fresh"
        assert plugin.calls == 1
        with app.app_context():
            assert db.session().scalar(select(func.count()).select_from(CachedSlot)) == 3
    finally:
        first.shutdown()
        second.shutdown()
    # the first released the lease on shutdown: the second can take over at once
    assert PortalScheduler(app, holder="second").renew_lease()


def test_jobs_per_source_coalesced_single_instance(
    app: Flask, register_plugin: Callable[..., object]
) -> None:
    _bind(app, register_plugin, "tiny")
    with app.app_context():
        s = db.session()
        p = add_practitioner(s, family_name="Autre")
        s.add(ConnectorBinding(source="tiny:b", practitioner_id=p.id))
        s.commit()
    scheduler = PortalScheduler(app, holder="only")
    try:
        scheduler.start()
        jobs = {job.id: job for job in scheduler.jobs()}
        assert {"refresh:tiny", "refresh:tiny:b", "prune", "lease", "sync"} <= set(jobs)
        first, second = jobs["refresh:tiny"], jobs["refresh:tiny:b"]
        assert first.coalesce and first.max_instances == 1
        assert second.next_run_time > first.next_run_time  # staggered
    finally:
        scheduler.shutdown()


def test_refresh_command_summary(app: Flask, runner, register_plugin) -> None:  # type: ignore[no-untyped-def]
    _bind(app, register_plugin)
    result = runner.invoke(args=["refresh"])
    assert result.exit_code == 0, result.output
    assert "tiny" in result.output and "à jour" in result.output and "3 créneaux" in result.output
    result = runner.invoke(args=["refresh", "--connector", "nothing"])
    assert result.exit_code != 0 and "aucune source" in result.output
