"""The slot cache: normalised slots per source, with when each target was last fetched.

Written by the aggregation (``portal.services.slots``), read by the result cards.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, insert, or_, select
from sqlalchemy.orm import Session

from portal.domain import Slot
from portal.models import CachedSlot, ConnectorRun, ConnectorState, SlotFetch
from portal.services.slot_json import slot_from_json


def replace_cached(
    session: Session,
    source: str,
    ids: list[str],
    slots: list[Slot],
    start: datetime,
    end: datetime,
    now: datetime,
) -> int:
    """Replace the cached slots of ``source`` for ``ids`` in the window by ``slots``."""
    wanted = set(ids)
    kept: dict[str, Slot] = {}
    for slot in slots:
        owner_ok = slot.practitioner in wanted or slot.structure in wanted
        if owner_ok and slot.end > start and slot.start <= end:
            kept[slot.id] = slot  # one row per upstream id
    session.execute(
        delete(CachedSlot).where(
            CachedSlot.source == source,
            or_(CachedSlot.practitioner.in_(ids), CachedSlot.structure.in_(ids)),
            CachedSlot.start <= end,
            CachedSlot.end > start,
        )
    )
    if kept:
        session.execute(
            delete(CachedSlot).where(
                CachedSlot.source == source, CachedSlot.upstream_id.in_(list(kept))
            )
        )
    if kept:
        # one executemany, not one ORM object per slot: refreshes write thousands of rows
        session.execute(
            insert(CachedSlot),
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
                for slot in kept.values()
            ],
        )
    return len(kept)


def mark_fetched(session: Session, source: str, ids: list[str], now: datetime, state: str) -> None:
    existing = {
        f.national_id: f
        for f in session.scalars(
            select(SlotFetch).where(SlotFetch.source == source, SlotFetch.national_id.in_(ids))
        )
    }
    for national_id in ids:
        fetch = existing.get(national_id)
        if fetch is None:
            fetch = SlotFetch(source=source, national_id=national_id)
            session.add(fetch)
        fetch.attempted_at, fetch.status = now, state
        if state == "fresh":
            fetch.fetched_at = now


@dataclass(frozen=True, slots=True)
class CachedSlots:
    """The cached slots of one practitioner/structure, with their freshness."""

    slots: tuple[Slot, ...]
    sources: tuple[str, ...]
    fetched_at: datetime | None  # oldest successful fetch among its sources
    failing: tuple[str, ...]  # sources whose last attempt failed (slots may be stale)


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
    hidden = set(hidden_sources) | {
        s.source for s in session.scalars(select(ConnectorState).where(ConnectorState.killed))
    }
    rows = session.scalars(
        select(CachedSlot)
        .where(
            or_(CachedSlot.practitioner.in_(ids), CachedSlot.structure.in_(ids)),
            CachedSlot.end > start,
            CachedSlot.start <= end,
        )
        .order_by(CachedSlot.start)
    )
    grouped: dict[str, list[Slot]] = defaultdict(list)
    for row in rows:
        if row.source in hidden:
            continue
        owner = row.practitioner if row.practitioner in ids else row.structure
        if owner:
            grouped[owner].append(slot_from_json(row.data))
    fetches: dict[str, list[SlotFetch]] = defaultdict(list)
    for fetch in session.scalars(select(SlotFetch).where(SlotFetch.national_id.in_(ids))):
        if fetch.source not in hidden:
            fetches[fetch.national_id].append(fetch)
    result = {}
    for national_id in ids:
        known = fetches.get(national_id, [])
        times = [f.fetched_at for f in known if f.fetched_at is not None]
        result[national_id] = CachedSlots(
            slots=tuple(grouped.get(national_id, ())),
            sources=tuple(sorted(f.source for f in known)),
            fetched_at=min(times) if times else None,
            failing=tuple(sorted(f.source for f in known if f.status != "fresh")),
        )
    return result


def prune(session: Session, *, now: datetime | None = None, keep_runs_days: int = 30) -> int:
    """Delete past slots and old connector runs; returns the number of slots deleted."""
    now = now or datetime.now(UTC)
    result = cast(
        "CursorResult[Any]", session.execute(delete(CachedSlot).where(CachedSlot.end < now))
    )
    deleted = result.rowcount or 0
    session.execute(
        delete(ConnectorRun).where(ConnectorRun.started_at < now - timedelta(days=keep_runs_days))
    )
    session.commit()
    return deleted
