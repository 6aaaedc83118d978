"""Single flight of slot fetches: one fetch per (source, target) at a time, across workers.

Before calling a source, a refresh *claims* the targets it is about to fetch in the
``slot_flights`` table with one conditional upsert: a target is claimed only when no
other refresh holds it (``busy_until`` passed) and its last fetch did not end
within the freshness threshold (``SLOT_MIN_AGE_S``). Every web worker and the scheduler
see the same rows, so overlapping refreshes (two regulators on neighbouring cards, a
live refresh during the scheduler's round) call an editor once. The targets another
refresh holds are waited for under the caller's own deadline (threading events within
this process, the table across processes), or read from the cache.

A claim is released in the transaction that stores the answer (``release``), and
expires by itself if its holder died (deadline plus :data:`MARGIN_S`).

May import what ``portal.slots`` may import.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from portal.models import SlotFlight
from portal.slots.cache import lock_source, upsert

#: A claim outlives its holder's deadline by this much before anyone may take it over.
MARGIN_S = 5.0
#: How often a waiter looks at the table for targets held by another process.
POLL_S = 0.1
#: ``busy_until`` of a released target: long past, whatever clock the callers pass.
RELEASED = datetime(2000, 1, 1, tzinfo=UTC)

_lock = threading.Lock()
_events: dict[tuple[str, str, str], threading.Event] = {}


@dataclass(frozen=True, slots=True)
class Claim:
    """The targets of one source split by who fetches them."""

    holder: str
    mine: tuple[str, ...]  # claimed by this refresh: it calls the source for them
    fresh: tuple[str, ...]  # fetched (or failed) within the threshold: read the cache
    busy: tuple[str, ...]  # held by another refresh (this process or another one)
    #: who held each busy target, and its event when that holder runs in this process
    holders: Mapping[str, str] = field(default_factory=dict)
    events: Mapping[str, threading.Event] = field(default_factory=dict)


def new_holder() -> str:
    """A fresh holder name for one refresh."""
    return uuid.uuid4().hex


def _key(session: Session, source: str, national_id: str) -> tuple[str, str, str]:
    bind = session.get_bind()
    return (str(bind.engine.url), source, national_id)


def claim(
    session: Session,
    source: str,
    ids: list[str],
    *,
    holder: str,
    now: datetime,
    hold_s: float,
    min_age_s: float,
) -> Claim:
    """Claim the targets ``ids`` of ``source`` that nobody holds and that are not fresh.

    One ``INSERT … ON CONFLICT DO UPDATE … WHERE … RETURNING`` on both databases: two
    callers racing for the same target cannot both get it. The caller commits at once
    (one source per transaction: the source's lock is held until then), so that the
    claim is seen by the others before it calls the source.
    """
    wanted = sorted(set(ids))
    if not wanted:
        return Claim(holder, (), (), ())
    fresh_before = now - timedelta(seconds=min_age_s)
    known = _rows(session, source, wanted)
    candidates = [nid for nid in wanted if _claimable(known.get(nid), now, fresh_before)]
    mine = _take(session, source, candidates, holder, now, hold_s, fresh_before)
    lost = [nid for nid in candidates if nid not in mine]  # taken meanwhile by another
    if lost:
        known.update(_rows(session, source, lost))
    fresh: list[str] = []
    holders: dict[str, str] = {}
    for nid in wanted:
        if nid in mine:
            continue
        settled_at = known[nid][1]
        if settled_at is not None and settled_at > fresh_before:
            fresh.append(nid)
        else:
            holders[nid] = known[nid][2]
    with _lock:
        for nid in mine:
            _events[_key(session, source, nid)] = threading.Event()
        events = {
            nid: event
            for nid in holders
            if (event := _events.get(_key(session, source, nid))) is not None
        }
    return Claim(
        holder, tuple(sorted(mine)), tuple(sorted(fresh)), tuple(sorted(holders)),
        holders, events,
    )  # fmt: skip


def _claimable(
    row: tuple[datetime, datetime | None, str] | None, now: datetime, fresh_before: datetime
) -> bool:
    """Nobody holds it and it is not fresh (the upsert checks it again, atomically)."""
    if row is None:
        return True
    busy_until, settled_at, _ = row
    return busy_until <= now and (settled_at is None or settled_at <= fresh_before)


def _rows(
    session: Session, source: str, ids: list[str]
) -> dict[str, tuple[datetime, datetime | None, str]]:
    """national id → (busy until, settled at, holder) of the known targets."""
    found = session.execute(
        select(
            SlotFlight.national_id, SlotFlight.busy_until, SlotFlight.settled_at,
            SlotFlight.holder,
        ).where(SlotFlight.source == source, SlotFlight.national_id.in_(ids))
    )  # fmt: skip
    return {nid: (busy, settled, held_by) for nid, busy, settled, held_by in found}


def _take(
    session: Session,
    source: str,
    candidates: list[str],
    holder: str,
    now: datetime,
    hold_s: float,
    fresh_before: datetime,
) -> set[str]:
    """The conditional upsert of the claim (nothing written when nothing is claimable,
    the common case of a page whose targets are fresh)."""
    if not candidates:
        return set()
    # claims and releases of a source, serialised: row locks taken in different orders
    # by a multi-row upsert and an UPDATE would deadlock on PostgreSQL
    lock_source(session, source)
    statement = upsert(session, SlotFlight)
    statement = statement.on_conflict_do_update(
        index_elements=["source", "national_id"],
        set_={"holder": statement.excluded.holder, "busy_until": statement.excluded.busy_until},
        where=and_(
            SlotFlight.busy_until <= now,
            or_(SlotFlight.settled_at.is_(None), SlotFlight.settled_at <= fresh_before),
        ),
    ).returning(SlotFlight.national_id)
    busy_until = now + timedelta(seconds=hold_s)
    rows = [
        {"source": source, "national_id": nid, "holder": holder, "busy_until": busy_until}
        for nid in candidates
    ]
    return set(session.scalars(statement.values(rows)))


def release(session: Session, source: str, ids: list[str], *, holder: str, now: datetime) -> None:
    """Give the targets back (in the transaction that stores their answer or failure),
    starting their freshness threshold."""
    if not ids:
        return
    # a failure settles them too: page views retry a failing editor once per threshold
    values: dict[str, object] = {"busy_until": RELEASED, "settled_at": now}
    session.execute(
        update(SlotFlight)
        .where(
            SlotFlight.source == source,
            SlotFlight.national_id.in_(sorted(set(ids))),
            SlotFlight.holder == holder,
        )
        .values(values)
    )


def landed(session: Session, source: str, ids: list[str]) -> None:
    """Wake the waiters of this process once the released claim is committed."""
    with _lock:
        events = [_events.pop(_key(session, source, nid), None) for nid in ids]
    for event in events:
        if event is not None:
            event.set()


def slow_sources(
    session: Session, holds: Mapping[str, float], *, now: datetime, older_than_s: float
) -> set[str]:
    """The sources of ``holds`` (source → claim duration) with a fetch in flight for
    longer than ``older_than_s``: a web request does not wait for them (their answer
    lands in the cache all the same)."""
    if not holds:
        return set()
    oldest = session.execute(
        select(SlotFlight.source, func.min(SlotFlight.busy_until))
        .where(SlotFlight.source.in_(list(holds)), SlotFlight.busy_until > now)
        .group_by(SlotFlight.source)
    ).all()
    session.commit()
    since = now - timedelta(seconds=older_than_s)
    return {
        source
        for source, busy_until in oldest
        if busy_until - timedelta(seconds=holds[source]) < since
    }


def wait(
    session: Session, source: str, claim: Claim, *, now: datetime, timeout_s: float
) -> list[str]:
    """Wait up to ``timeout_s`` for the refreshes that held the ``claim``'s busy targets
    (those holders only: a target taken again since is not waited for twice); the ids
    still held."""
    ends = time.monotonic() + max(0.0, timeout_s)
    remaining = list(claim.busy)
    while remaining and time.monotonic() < ends:
        if all(nid in claim.events for nid in remaining):
            for nid in remaining:  # all held in this process: sleep until they land
                claim.events[nid].wait(max(0.0, ends - time.monotonic()))
        else:
            time.sleep(max(0.0, min(POLL_S, ends - time.monotonic())))
        held = session.execute(
            select(SlotFlight.national_id, SlotFlight.holder).where(
                SlotFlight.source == source,
                SlotFlight.national_id.in_(remaining),
                SlotFlight.busy_until > now,
            )
        ).all()
        session.commit()  # no transaction (nor connection) held while waiting
        remaining = [nid for nid, held_by in held if claim.holders.get(nid) == held_by]
    return remaining


def prune(session: Session, *, now: datetime | None = None, keep_s: float = 86_400) -> int:
    """Forget targets that nobody holds and nobody fetched for ``keep_s`` seconds.

    A forgotten target is simply claimable again, so pruning never changes what a
    refresh does; it keeps the table to the targets in use. Commits.
    """
    now = now or datetime.now(UTC)
    horizon = now - timedelta(seconds=keep_s)
    result = session.execute(
        delete(SlotFlight).where(
            SlotFlight.busy_until < now,
            or_(SlotFlight.settled_at.is_(None), SlotFlight.settled_at < horizon),
        )
    )
    session.commit()
    return int(getattr(result, "rowcount", 0) or 0)
