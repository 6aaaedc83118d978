"""Which candidates a search keeps: slot facts from the cache, the filters in order, and
what "Pourquoi rien ?" says about them.

The slot facts every filter needs (start, modalities, visibility) come from the slot
cache in one query for all candidates, without loading the slots' full JSON.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, case, func, literal, select
from sqlalchemy.orm import Session

from portal.models import CachedSlot, ConnectorState, SlotFetch
from portal.services.search_candidates import MAX_LISTED_IDS, Candidate

WITHIN = {
    "0-4": (0, 4),
    "4-8": (4, 8),
    "8-12": (8, 12),
    "12-24": (12, 24),
    "24-48": (24, 48),
    "48-72": (48, 72),
}
KIND_LABELS = {"public": "public", "pro": "professionnels", "sas": "réservés SAS", "cpts": "CPTS"}
MODALITY_LABELS = {
    "cabinet": "cabinet",
    "teleconsultation": "téléconsultation",
    "domicile": "visite à domicile",
}
ALL_MODALITIES = frozenset(MODALITY_LABELS)
ALL_KINDS = frozenset(KIND_LABELS)
SOURCE_STATES = {
    "failed": "en échec",
    "timeout": "délai dépassé",
    "killed": "coupée",
    "open": "suspendue (disjoncteur)",
    "partial": "réponse partielle",
}


@dataclass(frozen=True, slots=True)
class SlotFact:
    """Some cached slots of one owner sharing modalities and visibility."""

    modalities: frozenset[str]
    visibility: frozenset[str]
    in_window: bool  # at least one of them starts in the "available within" window


def within_bounds(within: str, now: datetime) -> tuple[datetime | None, datetime] | None:
    """The start bounds of an "available within" choice; a slot under way counts as "0 h"."""
    if within not in WITHIN:
        return None
    a, b = WITHIN[within]
    return (now + timedelta(hours=a) if a else None, now + timedelta(hours=b))


def slot_facts(
    session: Session,
    candidates: dict[str, Candidate],
    *,
    now: datetime,
    until: datetime,
    within: str = "",
    need_modalities: bool = True,
    kinds_asked: bool = True,
    subquery: Select[Any] | None = None,
) -> dict[str, list[SlotFact]]:
    """Modalities and visibility of the cached slots of ``candidates`` from ``now`` to
    ``until``, and whether one starts in the ``within`` window; killed sources left out.

    One aggregate query per owner column: rows are grouped by owner, modalities and
    visibility in SQL, so a few rows per candidate cross the wire whatever their number
    of slots, and no slot JSON is loaded. With many candidates, ``subquery`` (their
    national ids by the same SQL criteria) replaces the list of ids, which would overflow
    the backends' parameter limits.
    """
    killed = list(session.scalars(select(ConnectorState.source).where(ConnectorState.killed)))
    owners = {
        "practitioner": [n for n, c in candidates.items() if c.kind == "practitioner"],
        "structure": [n for n, c in candidates.items() if c.kind == "structure"],
    }
    refusers = {n for n, c in candidates.items() if c.refuses_public or c.refuses_pro}
    decoded: dict[tuple[str | None, frozenset[str]], frozenset[str]] = {}

    def parse(value: str | None, unread: frozenset[str]) -> frozenset[str]:
        """A JSON list as a set; ``unread`` when SQL did not read it (None)."""
        if (value, unread) not in decoded:
            found = unread if value is None else frozenset(json.loads(value) or ())
            decoded[(value, unread)] = found
        return decoded[(value, unread)]

    bounds = within_bounds(within, now)
    in_window: Any = literal(1)
    if bounds is not None:
        low, high = bounds
        condition = CachedSlot.start < high
        if low is not None:
            condition = and_(CachedSlot.start >= low, condition)
        in_window = func.max(case((condition, 1), else_=0))
    facts: dict[str, list[SlotFact]] = defaultdict(list)
    for column_name, ids in owners.items():
        if not ids:
            continue
        column = getattr(CachedSlot, column_name)
        wanted: Any = ids
        if column_name == "practitioner" and subquery is not None and len(ids) > MAX_LISTED_IDS:
            wanted = subquery
        # JSON is read in SQL only when a filter needs it: modalities when asked for,
        # visibility when kinds are asked for or for the practitioners refusing a display.
        # The fact columns, or the JSON for rows cached before they existed (NULL).
        modalities: Any = literal(None)
        if need_modalities:
            modalities = func.coalesce(
                CachedSlot.modalities, CachedSlot.data["modalities"].as_string()
            )
        visibility: Any = func.coalesce(
            CachedSlot.visibility, CachedSlot.data["visibility"].as_string()
        )
        if not kinds_asked:
            refusing = [n for n in ids if n in refusers]
            if not refusing:
                visibility = literal(None)
            elif len(refusing) <= MAX_LISTED_IDS:
                visibility = case((column.in_(refusing), visibility), else_=literal(None))
        query = (
            select(column, modalities, visibility, in_window)
            .where(
                column.in_(wanted),
                CachedSlot.start >= now - timedelta(hours=12),
                CachedSlot.start < until,
                CachedSlot.end > now,
            )
            .group_by(column, modalities, visibility)
        )
        if killed:
            query = query.where(CachedSlot.source.not_in(killed))
        for owner, mods, vis, flag in session.execute(query):
            if owner in candidates:
                fact = SlotFact(parse(mods, ALL_MODALITIES), parse(vis, ALL_KINDS), bool(flag))
                facts[owner].append(fact)
    return facts


@dataclass(frozen=True, slots=True)
class Filters:
    within: str = ""
    modalities: tuple[str, ...] = ()
    sas_only: bool = False
    kinds: tuple[str, ...] = ()


@dataclass(slots=True)
class Filtered:
    """The survivors of the filters, which of them have slots, and who each filter removed."""

    kept: list[str] = field(default_factory=list)
    with_slots: set[str] = field(default_factory=set)
    removed: list[tuple[str, int]] = field(default_factory=list)


def filter_labels(filters: Filters) -> dict[str, str]:
    """French label of each active filter (what "Pourquoi rien ?" says)."""
    labels = {}
    if filters.sas_only:
        labels["sas"] = "Participants au SAS uniquement"
    if filters.kinds:
        labels["kinds"] = "Types de créneaux : " + ", ".join(
            KIND_LABELS.get(k, k) for k in filters.kinds
        )
    if filters.within in WITHIN:
        a, b = WITHIN[filters.within]
        labels["within"] = f"Disponible entre {a} h et {b} h"
    if filters.modalities:
        labels["modalities"] = "Modalité : " + ", ".join(
            MODALITY_LABELS.get(m, m) for m in filters.modalities
        )
    return labels


def apply_filters(
    candidates: dict[str, Candidate],
    facts: dict[str, list[SlotFact]],
    filters: Filters,
    *,
    exempt: Iterable[str] = (),
) -> Filtered:
    """Apply, in order, SAS participation, slot kinds, availability window and modality.

    A practitioner has slots when at least one cached slot passes every slot filter and
    is visible to regulators (their refusal to display public/pro slots is applied).
    ``exempt`` ids (the médecin traitant) are kept whatever the filters say.
    """
    exempt = set(exempt)
    labels = filter_labels(filters)
    alive: dict[str, list[SlotFact]] = {}
    for national_id, candidate in candidates.items():
        shown = candidate.visible_kinds(filters.kinds)
        alive[national_id] = [f for f in facts.get(national_id, ()) if f.visibility & shown]
    result = Filtered()

    def cut(key: str, keep: Any) -> None:
        before = len(alive)
        for national_id in list(alive):
            if national_id not in exempt and not keep(national_id):
                del alive[national_id]
        result.removed.append((labels[key], before - len(alive)))

    if filters.sas_only:
        cut("sas", lambda n: candidates[n].sas_participation)
    if filters.kinds:
        cut("kinds", lambda n: bool(alive[n]))
    if filters.within in WITHIN:
        for n, found in alive.items():
            alive[n] = [f for f in found if f.in_window]
        cut("within", lambda n: bool(alive[n]))
    if filters.modalities:
        wanted = frozenset(filters.modalities)
        for n, found in alive.items():
            alive[n] = [f for f in found if f.modalities & wanted]
        cut("modalities", lambda n: bool(alive[n]))
    result.kept = list(alive)
    result.with_slots = {n for n, found in alive.items() if found}
    return result


def failed_sources(
    session: Session, national_ids: Iterable[str], *, now: datetime
) -> tuple[tuple[str, str], ...]:
    """Sources that failed, timed out, are suspended or killed for these practitioners."""
    ids = list(national_ids)[:MAX_LISTED_IDS]
    if not ids:
        return ()
    fetched: dict[str, str] = {}
    query = select(SlotFetch.source, SlotFetch.status).where(SlotFetch.national_id.in_(ids))
    for source, status in session.execute(query.distinct()):
        if status != "fresh" or source not in fetched:
            fetched[source] = status
    states = {s.source: s for s in session.scalars(select(ConnectorState))}
    problems = {}
    for source, status in fetched.items():
        state = states.get(source)
        if state is not None and state.killed:
            status = "killed"
        elif state is not None and state.open_until is not None and state.open_until > now:
            status = "open"
        if status in SOURCE_STATES:
            problems[source] = SOURCE_STATES[status]
    return tuple(sorted(problems.items()))
