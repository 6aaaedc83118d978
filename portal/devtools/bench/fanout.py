"""How much one aggregation costs beyond waiting for the editors.

Several ``doctolib_like`` sandbox editors run as separate processes on loopback
(so their work does not share the portal's interpreter), each with an injected
latency; practitioners are bound across them in a scratch SQLite database, and
the real service path, ``portal.slots.aggregation.refresh``, aggregates their
slots. Each run has two rounds:

- every editor answers: the portal's own cost is the wall time minus the time
  the slowest editor took to answer (thread fan-out, cache writes, commit);
- one editor stalls (``timeout`` mode): it must cost the deadline, never more.

A third, diagnostic round times the fan-out alone (``plugins.call_many`` with the
same calls, no database), to tell the threads' cost from the cache writes'.
"""

from __future__ import annotations

import contextlib
import logging
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from flask import Flask

from portal import db, migrate, plugins
from portal.domain import SlotQuery
from portal.models import ConnectorBinding, Practitioner
from portal.slots import aggregation as slots
from portal.web import plugins as app_plugins

SOURCE = "doctolib_like:editeur-{}"
_URL = re.compile(r"(http://127\.0\.0\.1:\d+/fhir)")


@dataclass(frozen=True, slots=True)
class Editor:
    name: str
    url: str
    process: subprocess.Popen[str]

    def behave(self, mode: str, latency_s: float) -> None:
        """Switch the sandbox's behaviour through its control endpoint."""
        control = self.url.removesuffix("/fhir") + "/_sandbox/behaviour"
        httpx.post(
            control, json={"mode": mode, "latency_s": latency_s}, timeout=5
        ).raise_for_status()


@contextlib.contextmanager
def editors(count: int, latency_s: float) -> Iterator[list[Editor]]:
    """``count`` sandbox editors, each in its own process, answering after ``latency_s``."""
    started: list[Editor] = []
    command = [sys.executable, "-u", "-m", "connectors.doctolib_like.sandbox", "--port", "0"]
    processes = [
        subprocess.Popen(
            [*command, "--seed", str(n), "--latency", str(latency_s)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for n in range(count)
    ]
    try:
        for n, process in enumerate(processes, 1):
            assert process.stdout is not None
            line = process.stdout.readline()
            found = _URL.search(line)
            if found is None:
                raise RuntimeError(f"l'éditeur simulé {n} n'a pas démarré : {line!r}")
            started.append(Editor(f"editeur-{n}", found.group(1), process))
        yield started
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()


@contextlib.contextmanager
def _quiet(name: str) -> Iterator[None]:
    """The stalled editor's failure is expected: keep its warning off the report."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


@dataclass(slots=True)
class Round:
    """One aggregation: wall time and what each source reported."""

    wall_s: float
    answered_s: dict[str, float]  # source → time until its answer (answering sources only)
    waited_s: dict[str, float]  # source → time waited for a source that did not answer
    slot_count: int

    @property
    def slowest_s(self) -> float:
        return max(self.answered_s.values(), default=0.0)


@dataclass(slots=True)
class FanoutResult:
    practitioners: int
    editors: int
    latency_s: float
    deadline_s: float
    healthy: list[Round] = field(default_factory=list)
    stalled: list[Round] = field(default_factory=list)
    fanout_only: list[Round] = field(default_factory=list)

    @staticmethod
    def stats(values: list[float]) -> tuple[float, float]:
        """(median, max)."""
        return statistics.median(values), max(values)

    @property
    def overhead(self) -> tuple[float, float]:
        """Portal's own cost when every editor answers: wall − slowest answer."""
        return self.stats([r.wall_s - r.slowest_s for r in self.healthy])

    @property
    def fanout_overhead(self) -> tuple[float, float]:
        """The fan-out alone (no database): wall − slowest answer."""
        return self.stats([r.wall_s - r.slowest_s for r in self.fanout_only])

    @property
    def beyond_deadline(self) -> tuple[float, float]:
        """With one editor stalled: wall − deadline."""
        return self.stats([r.wall_s - self.deadline_s for r in self.stalled])

    @property
    def stalled_wait(self) -> float:
        """The longest time the aggregation recorded waiting for the stalled editor."""
        return max((w for r in self.stalled for w in r.waited_s.values()), default=0.0)


def _bind(count: int, editor_names: list[str]) -> None:
    """``count`` practitioners bound round-robin to the editors."""
    session = db.session()
    for n in range(count):
        practitioner = Practitioner(national_id=f"8{10_000_000_000 + n}", family_name=f"PS{n}")
        session.add(practitioner)
        session.flush()
        source = SOURCE.format(editor_names[n % len(editor_names)].removeprefix("editeur-"))
        session.add(ConnectorBinding(source=source, practitioner_id=practitioner.id))
    session.commit()


def _round(settings: slots.Settings) -> Round:
    session = db.session()
    targets = slots.bound_targets(session)
    start, end = slots.window()
    began = time.perf_counter()
    # every round asks the editors: no freshness threshold (that is measured in pageviews)
    report = slots.refresh(
        session, app_plugins.manager(), targets, start, end, settings, min_age_s=0.0
    )
    wall = time.perf_counter() - began
    answered = {s: st.duration_ms / 1000 for s, st in report.statuses.items() if st.ok}
    waited = {s: st.duration_ms / 1000 for s, st in report.statuses.items() if not st.ok}
    return Round(wall, answered, waited, report.slot_count)


def _fanout_round(settings: slots.Settings) -> Round:
    """The same calls as ``refresh`` makes, through ``call_many`` alone: no cache writes."""
    targets = slots.bound_targets(db.session())
    start, end = slots.window()
    calls: dict[tuple[str, int], plugins.Call] = {}
    for source in sorted({t.source for t in targets}):
        mine = [t for t in targets if t.source == source]
        for i, batch in enumerate(slots.batches(mine)):
            query = SlotQuery(targets=batch, start=start, end=end)
            calls[(source, i)] = plugins.Call(
                slots.plugin_of(source), {"query": query}, settings.deadline_s
            )
    began = time.perf_counter()
    outcomes = plugins.call_many(
        app_plugins.manager(), "fetch_slots", calls, configs=settings.configs
    )
    wall = time.perf_counter() - began
    answered = {f"{s}#{i}": o.elapsed_s for (s, i), o in outcomes.items() if o.ok}
    waited = {f"{s}#{i}": o.elapsed_s for (s, i), o in outcomes.items() if not o.ok}
    count = sum(len(o.value or ()) for o in outcomes.values() if o.ok)
    return Round(wall, answered, waited, count)


def run(
    *,
    practitioners: int = 100,
    editor_count: int = 4,
    latency_s: float = 0.2,
    deadline_s: float = 1.0,
    runs: int = 5,
    progress: Callable[[str], None] | None = None,
) -> FanoutResult:
    """Start the editors, bind the practitioners, warm up once, then measure ``runs`` times."""
    result = FanoutResult(practitioners, editor_count, latency_s, deadline_s)
    say = progress or (lambda _: None)
    with (
        _quiet("portal.slots.aggregation"),
        tempfile.TemporaryDirectory(prefix="sas-bench-") as scratch,
        editors(editor_count, latency_s) as started,
    ):
        app = _scratch_app(Path(scratch), started, deadline_s)
        with app.app_context():
            migrate.upgrade(db.engine())
            _bind(practitioners, [e.name for e in started])
            settings = slots.settings_from_config(app.config)
            stalled = started[-1]
            say("chauffe (agendas des éditeurs, connexions, modèles)…")
            _round(settings)
            for n in range(1, runs + 1):
                say(f"mesure {n}/{runs}")
                stalled.behave("ok", latency_s)
                result.fanout_only.append(_fanout_round(settings))
                result.healthy.append(_round(settings))
                stalled.behave("timeout", 0.0)
                result.stalled.append(_round(settings))
            db.session().close()
            db.engine().dispose()
    return result


def _scratch_app(
    folder: Path, started: list[Editor], deadline_s: float, **overrides: Any
) -> Flask:
    """A throwaway portal on a SQLite file in ``folder``, its editors configured."""
    from portal.app import create_app

    sections = {e.name: {"base_url": e.url, "origin": "sas-portal-bench"} for e in started}
    return create_app(
        {
            "DATABASE_URL": f"sqlite:///{folder / 'bench.sqlite3'}",
            "SECRET_KEY": "bench",
            "CONNECTORS": {"doctolib_like": {"editors": sections}},
            "CONNECTOR_DEADLINE_S": deadline_s,
            # the breaker would stop calling the stalled editor after 3 failures
            "BREAKER_THRESHOLD": 1_000_000,
            **overrides,
        }
    )
