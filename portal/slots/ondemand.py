"""Refreshing a source on an administrator's demand, in the background, with progress.

A refresh of every target bound to a source can take seconds (up to the sources'
timeouts); the administrator's request only starts it and the page follows its
progress. One refresh per source at a time; the last one of each source is kept
(in memory, per process) so the page can show how it ended.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pluggy
from sqlalchemy.orm import Session

from portal.domain import SlotTarget
from portal.slots import aggregation as slots

__all__ = ["RefreshJob", "Refreshes"]


@dataclass
class RefreshJob:
    """One on-demand refresh of a source, as the page shows it."""

    source: str
    total: int
    done: int = 0
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None
    status: slots.SourceStatus | None = None
    error: str | None = None
    _began: float = field(default_factory=time.perf_counter, repr=False)
    _ended: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def running(self) -> bool:
        return not self._ended.is_set()

    @property
    def elapsed_s(self) -> int:
        """Whole seconds since the start (to the end once finished)."""
        end = self.finished_at
        if end is not None:
            return int((end - self.started_at).total_seconds())
        return int(time.perf_counter() - self._began)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the end; whether it ended."""
        return self._ended.wait(timeout)


class Refreshes:
    """The on-demand refreshes of one app (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[str, RefreshJob] = {}

    def get(self, source: str) -> RefreshJob | None:
        """The running or last refresh of ``source``."""
        with self._lock:
            return self._jobs.get(source)

    def start(
        self,
        sessions: Callable[[], Session],
        pm: pluggy.PluginManager,
        source: str,
        config: Mapping[str, Any],
    ) -> RefreshJob | None:
        """Start refreshing every target bound to ``source`` in a thread; the running
        refresh if there is one; None when nothing is bound to ``source``."""
        with self._lock:
            known = self._jobs.get(source)
            if known is not None and known.running:
                return known
            with sessions() as session:
                targets = slots.bound_targets(session, sources=[source])
            if not targets:
                return None
            job = self._jobs[source] = RefreshJob(source=source, total=len(targets))
        settings = slots.settings_from_config(config)
        days = int(config.get("SLOT_WINDOW_DAYS", 3))
        thread = threading.Thread(
            target=self._run, args=(job, sessions, pm, targets, settings, days),
            name=f"refresh {source}", daemon=True,
        )  # fmt: skip
        thread.start()
        return job

    @staticmethod
    def _run(
        job: RefreshJob,
        sessions: Callable[[], Session],
        pm: pluggy.PluginManager,
        targets: list[SlotTarget],
        settings: slots.Settings,
        days: int,
    ) -> None:
        def progress(_source: str, done: int) -> None:
            job.done = done

        try:
            start, end = slots.window(days=days)
            with sessions() as session:
                report = slots.refresh_all(
                    session, pm, targets, start, end, settings, progress=progress
                )
            job.status = report.statuses.get(job.source)
        except Exception as exc:
            job.error = f"{type(exc).__name__}: {exc}"[:300]
        finally:
            job.finished_at = datetime.now(UTC)
            job._ended.set()
