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

Overlapping refreshes are harmless: the cache writes are upserts
(``portal.slots.cache``), and each target is fetched by one refresh at a time
(``portal.slots.flight``); a target fetched within ``min_age_s`` is read from the
cache. Live page refreshes run under a budget in ``portal.slots.background``.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
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
    SlotFetch,
    Structure,
)
from portal.plugins import Call, Outcome
from portal.slots import bulk as bulk_fetch
from portal.slots import cache as slot_cache
from portal.slots import flight
from portal.slots.states import SourceState  # the states and their labels, one table

#: The search window (``portal.domain.slot_window``), under its historical name here.
window = slot_window

log = logging.getLogger(__name__)



@dataclass(frozen=True, slots=True)
class Settings:
    """Aggregation settings, from the app configuration (see ``settings_from_config``)."""

    configs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    deadline_s: float = 7.0
    deadlines: Mapping[str, float] = field(default_factory=dict)
    killed: frozenset[str] = frozenset()
    breaker_threshold: int = 3
    breaker_cooldown_s: float = 60.0
    #: targets fetched successfully less than this ago are read from the cache
    min_age_s: float = 0.0


def settings_from_config(config: Mapping[str, Any]) -> Settings:
    """The aggregation settings of an app configuration (``SLOT_MIN_AGE_S`` included)."""
    return Settings(
        configs=config.get("CONNECTORS", {}),
        deadline_s=float(config.get("CONNECTOR_DEADLINE_S", 7.0)),
        deadlines=config.get("CONNECTOR_DEADLINES", {}),
        killed=frozenset(config.get("KILLED_SOURCES", ())),
        breaker_threshold=int(config.get("BREAKER_THRESHOLD", 3)),
        breaker_cooldown_s=float(config.get("BREAKER_COOLDOWN_S", 60.0)),
        min_age_s=float(config.get("SLOT_MIN_AGE_S", 60.0)),
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
        # two first refreshes of a source may race: insert it if still missing
        statement = slot_cache.upsert(session, ConnectorState).on_conflict_do_nothing()
        session.execute(statement.values(source=source, killed=False, consecutive_failures=0))
        state = session.get_one(ConnectorState, source)
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
    min_age_s: float | None = None,
    wait_for_others: bool = True,
    on_status: Callable[[SourceStatus], None] | None = None,
) -> RefreshReport:
    """Fetch the slots of ``targets`` from their sources, update the cache, report per source.

    Only the targets this refresh claims (``flight.claim``) are fetched: those fetched
    (or failed) less than ``min_age_s`` ago (default ``settings.min_age_s``) are read
    from the cache, and those another refresh is fetching are waited for under the
    source's deadline — unless ``wait_for_others`` is false (a web request: it reads the
    cache and asks again later) — and reported ``pending`` if still not in.
    ``on_status`` is called with each source's status as soon as it is committed.
    """
    began = time.perf_counter()
    now = now or datetime.now(UTC)
    min_age = settings.min_age_s if min_age_s is None else min_age_s
    by_source: dict[str, list[SlotTarget]] = defaultdict(list)
    for target in targets:
        by_source[target.source].append(target)
    loaded = {impl.plugin_name for impl in pm.hook.fetch_slots.get_hookimpls()}
    source_level = bulk_fetch.source_level_plugins(pm)  # bulk publishers: one call per source
    loaded |= source_level

    report = RefreshReport()
    holder = flight.new_holder()
    claims: dict[str, flight.Claim] = {}
    deadlines: dict[str, float] = {}
    own: dict[str, SourceStatus] = {}  # the status of what this refresh fetched itself
    calls: dict[tuple[str, int], Call] = {}
    try:
        for source, source_targets in by_source.items():
            skipped = _skip_reason(_state(session, source), source, settings, loaded, now)
            if skipped is not None:
                skipped.ids_asked = len(source_targets)
                report.statuses[source] = skipped
                continue
            deadlines[source] = settings.deadlines.get(source, settings.deadline_s)
            claim = claims[source] = flight.claim(
                session, source, [t.national_id for t in source_targets], holder=holder,
                now=now, hold_s=deadlines[source] + flight.MARGIN_S, min_age_s=min_age,
            )  # fmt: skip
            session.commit()  # seen by every other worker from here on; one source's lock
            mine = set(claim.mine)
            claimed = [t for t in source_targets if t.national_id in mine]
            if plugin_of(source) in source_level and claimed:
                calls[(source, bulk_fetch.SOURCE_LEVEL)] = bulk_fetch.source_call(
                    plugin_of(source), source, claimed, start, end, deadlines[source]
                )
                continue
            for i, batch in enumerate(batches(claimed)):
                query = SlotQuery(targets=batch, start=start, end=end)
                calls[(source, i)] = Call(plugin_of(source), {"query": query}, deadlines[source])
        session.commit()
        for status in report.statuses.values():
            _tell(on_status, status)

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
                status = _record(session, source, results, start, end, settings, now, holder)
                session.commit()
                flight.landed(session, source, list(claims[source].mine))
                own[source] = status
                if not claims[source].busy:
                    report.statuses[source] = _settled(session, source, claims[source], status)
                    _tell(on_status, report.statuses[source])
        for source, claim in claims.items():
            if source in report.statuses:
                continue
            left = deadlines[source] - (time.perf_counter() - began) if wait_for_others else 0
            status = _settled(session, source, claim, own.get(source))
            report.statuses[source] = _joined(session, source, claim, status, now, left)
            _tell(on_status, report.statuses[source])
    finally:
        for source, claim in claims.items():
            flight.landed(session, source, list(claim.mine))
    session.commit()
    report.duration_ms = round((time.perf_counter() - began) * 1000)
    return report


def _tell(on_status: Callable[[SourceStatus], None] | None, status: SourceStatus) -> None:
    if on_status is not None:
        on_status(status)


def _settled(
    session: Session, source: str, claim: flight.Claim, own: SourceStatus | None
) -> SourceStatus:
    """``own`` (fresh when nothing was fetched), unless targets not asked again because
    of the threshold failed on their last attempt: the source is then reported failing."""
    status = own or SourceStatus(source, "fresh")
    if not claim.fresh:
        return status
    failing = list(
        session.scalars(
            select(SlotFetch.status).where(
                SlotFetch.source == source,
                SlotFetch.national_id.in_(claim.fresh),
                SlotFetch.status != "fresh",
            )
        )
    )
    session.commit()
    if not failing or not status.ok:
        return status
    if len(failing) < len(claim.mine) + len(claim.fresh) + len(claim.busy):
        status.state = "partial"
    else:
        status.state = "timeout" if "timeout" in failing else "failed"
    status.error = "dernier essai en échec ; pas de nouvel essai avant le seuil de fraîcheur"
    return status


def _joined(
    session: Session,
    source: str,
    claim: flight.Claim,
    status: SourceStatus,
    now: datetime,
    timeout_s: float,
) -> SourceStatus:
    """The status of a source whose targets were (partly) fetched by other refreshes:
    wait for them up to ``timeout_s``; ``pending`` if they are not in yet."""
    if not claim.busy:
        return status
    still = flight.wait(session, source, claim, now=now, timeout_s=timeout_s)
    if still and status.ok:
        status.state = "pending"
        status.error = f"{len(still)} cible(s) en cours d'interrogation par une autre recherche"
    return status


def _record(
    session: Session,
    source: str,
    results: list[tuple[tuple[SlotTarget, ...], Outcome]],
    start: datetime,
    end: datetime,
    settings: Settings,
    now: datetime,
    holder: str,
) -> SourceStatus:
    """Store one source's answers: cache, fetch times, claims released, run, breaker."""
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
            flight.release(session, source, ids, holder=holder, now=now)
        else:
            timed_out = timed_out or isinstance(outcome.error, ConnectorTimeout)
            errors.append(_describe(outcome.error))
            slot_cache.mark_fetched(session, source, ids, now, "timeout" if timed_out else "failed")
            flight.release(session, source, ids, holder=holder, now=now)
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
        # a full refresh is asked for (scheduler round, CLI, administrator): no threshold
        report = refresh(session, pm, batch, start, end, settings, min_age_s=0.0)
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
