"""Slot aggregation: fetch from every bound source, cache, and report per-source health.

The only caller of the ``fetch_slots`` hook. Targets are grouped by the source
they are bound to and cut into batches of at most 25 national ids; every
(source, batch) is called concurrently under the source's deadline
(``plugins.call_many``). Successful answers replace that source's cached
slots for those ids and that window (a slot gone upstream disappears here);
a failing source keeps its last-known slots, reported as stale with their age.
A circuit breaker skips a source after repeated failures, and a kill switch
(configuration ``KILLED_SOURCES`` or the administration page) stops calling it
and hides its slots.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import pluggy
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from portal.domain import (
    MAX_IDS_PER_REQUEST,
    Slot,
    SlotQuery,
    SlotTarget,
    slot_window,
    source_plugin,
)
from portal.errors import ConnectorError, ConnectorTimeout
from portal.models import (
    ConnectorBinding,
    ConnectorRun,
    ConnectorState,
    Practitioner,
    Structure,
)
from portal.plugins import Call, Outcome
from portal.slots import bulk as bulk_fetch
from portal.slots import cache as slot_cache

#: The search window (``portal.domain.slot_window``), under its historical name here.
window = slot_window

log = logging.getLogger(__name__)

SourceState = Literal["fresh", "partial", "failed", "timeout", "open", "killed", "absent"]


@dataclass(frozen=True, slots=True)
class Settings:
    """Aggregation settings, from the app configuration (see ``settings_from_config``)."""

    configs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    deadline_s: float = 7.0
    deadlines: Mapping[str, float] = field(default_factory=dict)
    killed: frozenset[str] = frozenset()
    breaker_threshold: int = 3
    breaker_cooldown_s: float = 60.0


def settings_from_config(config: Mapping[str, Any]) -> Settings:
    return Settings(
        configs=config.get("CONNECTORS", {}),
        deadline_s=float(config.get("CONNECTOR_DEADLINE_S", 7.0)),
        deadlines=config.get("CONNECTOR_DEADLINES", {}),
        killed=frozenset(config.get("KILLED_SOURCES", ())),
        breaker_threshold=int(config.get("BREAKER_THRESHOLD", 3)),
        breaker_cooldown_s=float(config.get("BREAKER_COOLDOWN_S", 60.0)),
    )


@dataclass(slots=True)
class SourceStatus:
    """What happened to one source during a refresh."""

    source: str
    state: SourceState
    ids_asked: int = 0
    slot_count: int = 0
    duration_ms: int = 0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.state == "fresh"


@dataclass(slots=True)
class RefreshReport:
    statuses: dict[str, SourceStatus] = field(default_factory=dict)
    duration_ms: int = 0

    @property
    def slot_count(self) -> int:
        return sum(s.slot_count for s in self.statuses.values())


def plugin_of(source: str) -> str:
    """The connector (plugin) name of a source: ``doctolib_like:editeur-a`` → ``doctolib_like``."""
    return source_plugin(source)


def bound_targets(
    session: Session,
    *,
    sources: Iterable[str] | None = None,
    practitioner_ids: Iterable[int] | None = None,
    structure_ids: Iterable[int] | None = None,
) -> list[SlotTarget]:
    """The slot targets bound to sources, optionally limited to some sources or rows."""
    query = (
        select(ConnectorBinding, Practitioner.national_id, Structure.national_id)
        .outerjoin(Practitioner, Practitioner.id == ConnectorBinding.practitioner_id)
        .outerjoin(Structure, Structure.id == ConnectorBinding.structure_id)
        .where(ConnectorBinding.enabled.is_(True))
        .order_by(ConnectorBinding.id)
    )
    if sources is not None:
        query = query.where(ConnectorBinding.source.in_(list(sources)))
    filters = []
    if practitioner_ids is not None:
        filters.append(ConnectorBinding.practitioner_id.in_(list(practitioner_ids)))
    if structure_ids is not None:
        filters.append(ConnectorBinding.structure_id.in_(list(structure_ids)))
    if filters:
        query = query.where(or_(*filters))
    targets = []
    for binding, practitioner_nid, structure_nid in session.execute(query):
        is_practitioner = binding.practitioner_id is not None
        national_id = practitioner_nid if is_practitioner else structure_nid
        if national_id:
            targets.append(
                SlotTarget(
                    national_id=national_id,
                    kind="practitioner" if is_practitioner else "structure",
                    source=binding.source,
                    upstream_ids=dict(binding.upstream_ids or {}),
                )
            )
    return targets


def batches(
    targets: Sequence[SlotTarget], size: int = MAX_IDS_PER_REQUEST
) -> list[tuple[SlotTarget, ...]]:
    return [tuple(targets[i : i + size]) for i in range(0, len(targets), size)]


def _state(session: Session, source: str) -> ConnectorState:
    state = session.get(ConnectorState, source)
    if state is None:
        state = ConnectorState(source=source, killed=False, consecutive_failures=0)
        session.add(state)
    return state


def _skip_reason(
    state: ConnectorState, source: str, settings: Settings, loaded: set[str], now: datetime
) -> SourceStatus | None:
    if source in settings.killed or state.killed:
        return SourceStatus(source, "killed", error="source coupée par un administrateur")
    if plugin_of(source) not in loaded:
        return SourceStatus(source, "absent", error="connecteur non chargé")
    if state.open_until is not None and state.open_until > now:
        return SourceStatus(
            source,
            "open",
            error=f"trop d'échecs consécutifs : nouvel essai après "
            f"{state.open_until.astimezone(ZoneInfo('Europe/Paris')):%H:%M:%S}",
        )
    return None


def refresh(
    session: Session,
    pm: pluggy.PluginManager,
    targets: Sequence[SlotTarget],
    start: datetime,
    end: datetime,
    settings: Settings,
    *,
    now: datetime | None = None,
) -> RefreshReport:
    """Fetch the slots of ``targets`` from their sources, update the cache, report per source."""
    began = time.perf_counter()
    now = now or datetime.now(UTC)
    by_source: dict[str, list[SlotTarget]] = defaultdict(list)
    for target in targets:
        by_source[target.source].append(target)
    loaded = {impl.plugin_name for impl in pm.hook.fetch_slots.get_hookimpls()}
    source_level = bulk_fetch.source_level_plugins(pm)  # bulk publishers: one call per source
    loaded |= source_level

    report = RefreshReport()
    calls: dict[tuple[str, int], Call] = {}
    for source, source_targets in by_source.items():
        skipped = _skip_reason(_state(session, source), source, settings, loaded, now)
        if skipped is not None:
            skipped.ids_asked = len(source_targets)
            report.statuses[source] = skipped
            continue
        deadline = settings.deadlines.get(source, settings.deadline_s)
        if plugin_of(source) in source_level:
            calls[(source, bulk_fetch.SOURCE_LEVEL)] = bulk_fetch.source_call(
                plugin_of(source), source, source_targets, start, end, deadline
            )
            continue
        for i, batch in enumerate(batches(source_targets)):
            query = SlotQuery(targets=batch, start=start, end=end)
            calls[(source, i)] = Call(plugin_of(source), {"query": query}, deadline)

    # Each source is stored (and committed) as soon as all its batches are in, while
    # slower sources are still being waited for: the cache writes overlap the waits.
    waiting = Counter(source for source, _ in calls)
    answered: dict[str, list[tuple[tuple[SlotTarget, ...], Outcome]]] = defaultdict(list)
    for (source, i), outcome in bulk_fetch.iter_calls(pm, calls, configs=settings.configs):
        targets_asked = bulk_fetch.targets_of(calls[(source, i)])
        answered[source] += bulk_fetch.expand(  # a partial answer: its failed targets apart
            targets_asked, outcome, source_level=i == bulk_fetch.SOURCE_LEVEL
        )
        waiting[source] -= 1
        if waiting[source] == 0:
            results = answered.pop(source)
            report.statuses[source] = _record(session, source, results, start, end, settings, now)
            session.commit()
    session.commit()
    report.duration_ms = round((time.perf_counter() - began) * 1000)
    return report


def _record(
    session: Session,
    source: str,
    results: list[tuple[tuple[SlotTarget, ...], Outcome]],
    start: datetime,
    end: datetime,
    settings: Settings,
    now: datetime,
) -> SourceStatus:
    """Store one source's answers: cache, fetch times, run, breaker."""
    status = SourceStatus(source, "fresh")
    errors: list[str] = []
    timed_out = False
    for batch, outcome in results:
        ids = [t.national_id for t in batch]
        status.ids_asked += len(ids)
        status.duration_ms = max(status.duration_ms, round(outcome.elapsed_s * 1000))
        if outcome.ok:
            slots = [s for s in (outcome.value or []) if isinstance(s, Slot)]
            status.slot_count += slot_cache.replace_cached(
                session, source, ids, slots, start, end, now
            )
            slot_cache.mark_fetched(session, source, ids, now, "fresh")
        else:
            timed_out = timed_out or isinstance(outcome.error, ConnectorTimeout)
            errors.append(_describe(outcome.error))
            slot_cache.mark_fetched(session, source, ids, now, "timeout" if timed_out else "failed")
    state = _state(session, source)
    if errors:
        status.error = "; ".join(dict.fromkeys(errors))
        failed_all = len(errors) == len(results)
        status.state = ("timeout" if timed_out else "failed") if failed_all else "partial"
        state.consecutive_failures = (state.consecutive_failures or 0) + 1
        state.last_failure_at, state.last_error = now, status.error
        if state.consecutive_failures >= settings.breaker_threshold:
            state.open_until = now + timedelta(seconds=settings.breaker_cooldown_s)
        log.warning("source %s: %s", source, status.error)
    else:
        state.consecutive_failures, state.open_until, state.last_success_at = 0, None, now
    session.add(
        ConnectorRun(
            source=source,
            started_at=now,
            duration_ms=status.duration_ms,
            ids_asked=status.ids_asked,
            slot_count=status.slot_count,
            status=status.state,
            error=status.error,
        )
    )
    return status


def _describe(error: BaseException | None) -> str:
    if isinstance(error, ConnectorError):
        detail = f" ({error.diagnostics})" if error.diagnostics else ""
        return f"{error}{detail}"
    return f"erreur inattendue du connecteur : {error!r}"


def set_killed(session: Session, source: str, killed: bool, *, actor: str | None) -> None:
    """Kill switch of a source (administration page, CLI). Audited by the caller."""
    state = _state(session, source)
    state.killed = killed
    state.killed_by = actor if killed else None
    state.killed_at = datetime.now(UTC) if killed else None
    session.commit()


#: Targets per refresh round of one source in a full refresh: 4 batches of 25 in
#: parallel at most, so a full refresh never floods an editor with requests.
REFRESH_CHUNK = 100


def refresh_all(
    session: Session,
    pm: pluggy.PluginManager,
    targets: Sequence[SlotTarget],
    start: datetime,
    end: datetime,
    settings: Settings,
    *,
    chunk: int = REFRESH_CHUNK,
    progress: Callable[[str, int], None] | None = None,
) -> RefreshReport:
    """Refresh many targets: sources in parallel, each in rounds of ``chunk`` targets.

    :param progress: called with (source, number of targets done) after each round.
    """
    began = time.perf_counter()
    by_source: dict[str, list[SlotTarget]] = defaultdict(list)
    for target in targets:
        by_source[target.source].append(target)
    rounds = max((len(v) + chunk - 1) // chunk for v in by_source.values()) if by_source else 0
    total = RefreshReport()
    for r in range(rounds):
        batch = [t for items in by_source.values() for t in items[r * chunk : (r + 1) * chunk]]
        report = refresh(session, pm, batch, start, end, settings)
        for source, status in report.statuses.items():
            _merge(total.statuses, status)
            if progress is not None:
                progress(source, min(len(by_source[source]), (r + 1) * chunk))
    total.duration_ms = round((time.perf_counter() - began) * 1000)
    return total


def _merge(totals: dict[str, SourceStatus], status: SourceStatus) -> None:
    known = totals.get(status.source)
    if known is None:
        totals[status.source] = SourceStatus(
            status.source, status.state, status.ids_asked, status.slot_count,
            status.duration_ms, status.error,
        )  # fmt: skip
        return
    known.ids_asked += status.ids_asked
    known.slot_count += status.slot_count
    known.duration_ms = max(known.duration_ms, status.duration_ms)
    if status.state != "fresh" and known.state == "fresh":
        known.state = "partial" if known.slot_count else status.state
    known.error = known.error or status.error
