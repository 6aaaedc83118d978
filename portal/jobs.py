"""Background jobs (APScheduler 3): slot refresh per source, pruning, the lease.

Exactly one scheduler process should run (``sas-portal scheduler``, or the
in-process one of ``sas-portal demo``). A database lease makes a second
process started by mistake idle: every job first checks that this process
holds the lease, and a renewal job takes it over if the holder dies.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask
from sqlalchemy import select

from portal import db, lease, plugins
from portal.identity.passwords import ThrottlePolicy, purge_throttles
from portal.models import ConnectorBinding
from portal.slots import aggregation as slots
from portal.slots import cache as slot_cache
from portal.slots import flight
from portal.web import plugins as app_plugins

log = logging.getLogger(__name__)

LEASE_NAME = "scheduler"
JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 60}


class PortalScheduler:
    """The portal's scheduler: call ``start()`` once; ``shutdown()`` releases the lease."""

    def __init__(self, app: Flask, *, blocking: bool = False, holder: str | None = None) -> None:
        self.app = app
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lease_ttl_s = float(app.config.get("SCHEDULER_LEASE_S", 60))
        cls = BlockingScheduler if blocking else BackgroundScheduler
        self.scheduler: BaseScheduler = cls(job_defaults=JOB_DEFAULTS, timezone=UTC)
        self.holds_lease = False

    # -- lease ------------------------------------------------------------------------

    def renew_lease(self) -> bool:
        with self.app.app_context():
            held = lease.acquire(db.session(), LEASE_NAME, self.holder, self.lease_ttl_s)
        if held != self.holds_lease:
            if held:
                log.info("scheduler %s holds the lease", self.holder)
            else:
                log.warning("another scheduler holds the lease: this one stays idle")
        self.holds_lease = held
        return held

    # -- jobs -------------------------------------------------------------------------

    def refresh_source(self, source: str) -> slots.RefreshReport | None:
        """Refresh every target bound to ``source`` (skipped without the lease)."""
        if not self.renew_lease():
            return None
        with self.app.app_context():
            session = db.session()
            targets = slots.bound_targets(session, sources=[source])
            start, end = slots.window(days=int(self.app.config.get("SLOT_WINDOW_DAYS", 3)))
            report = slots.refresh_all(
                session,
                app_plugins.manager(),
                targets,
                start,
                end,
                slots.settings_from_config(self.app.config),
            )
        status = report.statuses.get(source)
        if status is not None:
            log.info("refresh %s: %s, %d slots", source, status.state, status.slot_count)
        return report

    def prune(self) -> None:
        if not self.renew_lease():
            return
        with self.app.app_context():
            slot_cache.prune(db.session())
            flight.prune(db.session())
            session = db.session()
            purge_throttles(session, ThrottlePolicy.from_config(self.app.config))
            session.commit()

    def sync_jobs(self) -> None:
        """One refresh job per bound source, at its connector's interval, staggered."""
        with self.app.app_context():
            sources = sorted(db.session().scalars(select(ConnectorBinding.source).distinct()))
            intervals = {
                info.name: info.refresh_interval_s
                for info in plugins.connector_infos(app_plugins.manager())
            }
        now = datetime.now(UTC)
        for i, source in enumerate(sources):
            job_id = f"refresh:{source}"
            if self.scheduler.get_job(job_id) is not None:
                continue
            interval = intervals.get(slots.plugin_of(source), 300)
            self.scheduler.add_job(
                self.refresh_source,
                "interval",
                seconds=interval,
                args=[source],
                id=job_id,
                name=f"Rafraîchissement {source}",
                # staggered: sources do not all hit the database at the same second
                next_run_time=now + timedelta(seconds=2 + 3 * i),
            )

    def start(self) -> None:
        self.renew_lease()
        self.scheduler.add_job(
            self.renew_lease, "interval", seconds=max(5.0, self.lease_ttl_s / 3), id="lease"
        )
        self.scheduler.add_job(self.prune, "interval", minutes=15, id="prune")
        self.scheduler.add_job(self.sync_jobs, "interval", minutes=5, id="sync")
        self.sync_jobs()
        self.scheduler.start()

    def shutdown(self, wait: bool = False) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=wait)
        if self.holds_lease:
            with self.app.app_context():
                lease.release(db.session(), LEASE_NAME, self.holder)
            self.holds_lease = False

    def jobs(self) -> list[Any]:
        return list(self.scheduler.get_jobs())
