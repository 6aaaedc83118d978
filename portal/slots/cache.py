"""The slot cache: normalised slots per source, with when each target was last fetched.

Written by the aggregation (``portal.slots.aggregation``), read by the result cards.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    Connection,
    CursorResult,
    Table,
    delete,
    event,
    func,
    insert,
    literal,
    or_,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, UOWTransaction

from portal.domain import Slot, slot_from_json
from portal.models import CachedSlot, ConnectorRun, ConnectorState, SlotFetch, SlotSummary


def upsert(session: Session, model: type[Any]) -> Any:
    """An ``INSERT`` of ``model`` that takes ``ON CONFLICT`` clauses, in the session's
    dialect (PostgreSQL and SQLite share the API)."""
    table = model.__table__
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def lock_source(session: Session, source: str) -> None:
    """Serialise the cache writes of one source until the end of the transaction.

    The upserts alone never fail, but the summaries of an owner are rebuilt (delete,
    then insert from the slots): two overlapping rebuilds on PostgreSQL would each
    insert a copy. A transaction-scoped advisory lock per source orders them; SQLite
    already lets one writer at a time in.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"sas-portal:slots:{source}"},
        )


def replace_cached(
    session: Session,
    source: str,
    ids: list[str],
    slots: list[Slot],
    start: datetime,
    end: datetime,
    now: datetime,
) -> int:
    """Make the cached slots of ``source`` for ``ids`` in the window equal ``slots``.

    Idempotent, and safe when several refreshes of the same targets overlap: the rows
    the new answer no longer has are deleted (only those), then every slot is upserted
    on (source, upstream id). Returns the number of slots kept.
    """
    wanted = set(ids)
    kept: dict[str, Slot] = {}
    for slot in slots:
        owner_ok = slot.practitioner in wanted or slot.structure in wanted
        if owner_ok and slot.end > start and slot.start <= end:
            kept[slot.id] = slot  # one row per upstream id
    lock_source(session, source)
    stale = delete(CachedSlot).where(
        CachedSlot.source == source,
        or_(CachedSlot.practitioner.in_(ids), CachedSlot.structure.in_(ids)),
        CachedSlot.start <= end,
        CachedSlot.end > start,
    )
    if kept:
        stale = stale.where(CachedSlot.upstream_id.not_in(list(kept)))
    session.execute(stale)
    if kept:
        statement = upsert(session, CachedSlot)
        columns = ["practitioner", "structure", "start", "end", "data", "fetched_at"]
        columns += ["modalities", "visibility"]
        statement = statement.on_conflict_do_update(
            index_elements=["source", "upstream_id"],
            set_={name: statement.excluded[name] for name in columns},
        )
        # one executemany, not one ORM object per slot: refreshes write thousands of rows
        # (sorted: overlapping writers lock the rows in the same order)
        session.execute(
            statement,
            [
                {
                    "source": source,
                    "upstream_id": slot.id,
                    "practitioner": slot.practitioner,
                    "structure": slot.structure,
                    "start": slot.start,
                    "end": slot.end,
                    "data": slot.as_json(),
                    "fetched_at": now,
                    "modalities": json.dumps(list(slot.modalities)),
                    "visibility": json.dumps(list(slot.visibility)),
                }
                for _, slot in sorted(kept.items())
            ],
        )
    summarise(session.connection(), source=source, owners=ids)
    return len(kept)


#: Owners per statement when summaries are rebuilt for a list of them.
_SUMMARY_CHUNK = 500
OWNER_KINDS = ("practitioner", "structure")


def summarise(
    connection: Connection, *, source: str | None = None, owners: Iterable[str] | None = None
) -> None:
    """Rebuild the slot summaries (``SlotSummary``) of ``owners`` for ``source`` from the
    cached slots (all sources / all owners when not given), in SQL."""
    summaries = cast("Table", SlotSummary.__table__)
    columns = ["source", "owner", "owner_kind", "modalities", "visibility"]
    columns += ["first_start", "last_end"]
    chunks: list[list[str] | None] = [None]
    if owners is not None:
        ids = sorted(set(owners))
        chunks = [ids[i : i + _SUMMARY_CHUNK] for i in range(0, len(ids), _SUMMARY_CHUNK)]
    modalities, visibility = CachedSlot.modalities, CachedSlot.visibility  # filled on write
    for kind in OWNER_KINDS:
        owner = getattr(CachedSlot, kind)
        for chunk in chunks:
            gone = delete(summaries).where(summaries.c.owner_kind == kind)
            rows = (
                select(
                    CachedSlot.source,
                    owner,
                    literal(kind),
                    modalities,
                    visibility,
                    func.min(CachedSlot.start),
                    func.max(CachedSlot.end),
                )
                .where(owner.is_not(None))
                .group_by(CachedSlot.source, owner, modalities, visibility)
            )
            if source is not None:
                gone = gone.where(summaries.c.source == source)
                rows = rows.where(CachedSlot.source == source)
            if chunk is not None:
                gone = gone.where(summaries.c.owner.in_(chunk))
                rows = rows.where(owner.in_(chunk))
            connection.execute(gone)
            connection.execute(insert(summaries).from_select(columns, rows))


@event.listens_for(Session, "after_flush")
def _summarise_flushed(session: Session, _flush: UOWTransaction) -> None:
    """ORM writes of cached slots (tools, tests) keep the summaries in step too."""
    touched: dict[str, set[str]] = defaultdict(set)
    for instance in (*session.new, *session.dirty, *session.deleted):
        if isinstance(instance, CachedSlot):
            for owner in (instance.practitioner, instance.structure):
                if owner:
                    touched[instance.source].add(owner)
    for source, owners in touched.items():
        summarise(session.connection(), source=source, owners=owners)


def killed_sources(session: Session) -> list[str]:
    """Sources an administrator killed: never called, their cached slots hidden."""
    return list(session.scalars(select(ConnectorState.source).where(ConnectorState.killed)))


def mark_fetched(session: Session, source: str, ids: list[str], now: datetime, state: str) -> None:
    """Record an attempt (``state``: fresh, failed, timeout) for ``ids``: one upsert,
    so overlapping refreshes never collide on a new row."""
    lock_source(session, source)
    statement = upsert(session, SlotFetch)
    changes = {"attempted_at": statement.excluded.attempted_at, "status": statement.excluded.status}
    if state == "fresh":
        changes["fetched_at"] = statement.excluded.fetched_at
    statement = statement.on_conflict_do_update(
        index_elements=["source", "national_id"], set_=changes
    )
    fetched = now if state == "fresh" else None
    rows = [
        {"source": source, "national_id": national_id, "attempted_at": now, "status": state,
         "fetched_at": fetched}
        for national_id in sorted(set(ids))
    ]  # fmt: skip
    if rows:
        session.execute(statement, rows)


@dataclass(frozen=True, slots=True)
class CachedSlots:
    """The cached slots of one practitioner/structure, with their freshness."""

    slots: tuple[Slot, ...]
    sources: tuple[str, ...]
    fetched_at: datetime | None  # oldest successful fetch among its sources
    failing: tuple[str, ...]  # sources whose last attempt failed (slots may be stale)
    #: for each failing source, its last successful fetch for this owner (None: never)
    failing_since: tuple[tuple[str, datetime | None], ...] = ()
    #: sources an administrator switched off that served this owner (slots hidden)
    killed: tuple[str, ...] = ()


def cached_slots(
    session: Session,
    national_ids: Iterable[str],
    start: datetime,
    end: datetime,
    *,
    hidden_sources: Iterable[str] = (),
) -> dict[str, CachedSlots]:
    """Cached slots per national id (practitioner or structure), in one query per table."""
    ids = list(dict.fromkeys(national_ids))
    if not ids:
        return {}
    killed = set(killed_sources(session))
    hidden = set(hidden_sources) | killed
    # columns, not ORM objects: a page reads hundreds of rows and only their JSON
    rows = session.execute(
        select(CachedSlot.source, CachedSlot.practitioner, CachedSlot.structure, CachedSlot.data)
        .where(
            or_(CachedSlot.practitioner.in_(ids), CachedSlot.structure.in_(ids)),
            CachedSlot.end > start,
            CachedSlot.start <= end,
        )
        .order_by(CachedSlot.start)
    )
    grouped: dict[str, list[Slot]] = defaultdict(list)
    wanted = set(ids)
    for source, practitioner, structure, data in rows:
        if source in hidden:
            continue
        owner = practitioner if practitioner in wanted else structure
        if owner:
            grouped[owner].append(slot_from_json(data))
    fetches: dict[str, list[SlotFetch]] = defaultdict(list)
    switched_off: dict[str, set[str]] = defaultdict(set)
    # populate_existing: the fetch rows are upserted in Core, behind the identity map
    known_fetches = select(SlotFetch).where(SlotFetch.national_id.in_(ids))
    for fetch in session.scalars(known_fetches.execution_options(populate_existing=True)):
        if fetch.source not in hidden:
            fetches[fetch.national_id].append(fetch)
        elif fetch.source in killed:
            switched_off[fetch.national_id].add(fetch.source)
    result = {}
    for national_id in ids:
        known = fetches.get(national_id, [])
        times = [f.fetched_at for f in known if f.fetched_at is not None]
        result[national_id] = CachedSlots(
            slots=tuple(grouped.get(national_id, ())),
            sources=tuple(sorted(f.source for f in known)),
            fetched_at=min(times) if times else None,
            failing=tuple(sorted(f.source for f in known if f.status != "fresh")),
            failing_since=tuple(
                sorted((f.source, f.fetched_at) for f in known if f.status != "fresh")
            ),
            killed=tuple(sorted(switched_off.get(national_id, ()))),
        )
    return result


def prune(session: Session, *, now: datetime | None = None, keep_runs_days: int = 30) -> int:
    """Delete past slots and old connector runs; returns the number of slots deleted."""
    now = now or datetime.now(UTC)
    result = cast(
        "CursorResult[Any]", session.execute(delete(CachedSlot).where(CachedSlot.end < now))
    )
    deleted = result.rowcount or 0
    session.execute(delete(SlotSummary).where(SlotSummary.last_end < now))
    session.execute(
        delete(ConnectorRun).where(ConnectorRun.started_at < now - timedelta(days=keep_runs_days))
    )
    session.commit()
    return deleted
