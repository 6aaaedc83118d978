"""Which candidates a search keeps: slot facts from the cache, the filters in order, and
what "Pourquoi rien ?" says about them.

The slot facts every filter needs (modalities, visibility, a slot in the asked window)
come from the slot summaries (and, for a window, the slots of that window), in one
query each for all candidates, without loading the slots' full JSON.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from portal.models import CachedSlot, ConnectorState, SlotFetch, SlotSummary
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


#: Above this many owners, a query takes them from the candidates' subquery, not a list.
MAX_BOUND_IDS = 30_000


def slot_facts(
    session: Session,
    candidates: dict[str, Candidate],
    *,
    now: datetime,
    until: datetime,
    within: str = "",
    subquery: Select[Any] | None = None,
) -> dict[str, list[SlotFact]]:
    """Modalities and visibility of the cached slots of ``candidates`` from ``now`` to
    ``until``, and whether one starts in the ``within`` window; killed sources left out.

    The slot summaries (one row per owner, source, modalities and visibility) say who
    has slots of which kinds: no slot row is read. With ``within``, the slots of that
    window are read too (their facts are the ones with ``in_window``), grouped in SQL.
    Beyond :data:`MAX_BOUND_IDS` candidates, ``subquery`` (their national ids by the
    same SQL criteria) replaces the list of ids.
    """
    killed = list(session.scalars(select(ConnectorState.source).where(ConnectorState.killed)))
    bounds = within_bounds(within, now)
    decoded: dict[str | None, frozenset[str]] = {}

    def parse(value: str | None, unread: frozenset[str]) -> frozenset[str]:
        """A JSON list as a set (``unread`` when the slot did not say)."""
        if value not in decoded:
            decoded[value] = frozenset(json.loads(value) or ()) if value else frozenset()
        return decoded[value] if value is not None else unread

    facts: dict[str, list[SlotFact]] = defaultdict(list)

    def add(rows: Iterable[Any], in_window: bool) -> None:
        for owner, mods, vis in rows:
            if owner in candidates:
                fact = SlotFact(parse(mods, ALL_MODALITIES), parse(vis, ALL_KINDS), in_window)
                facts[owner].append(fact)

    for kind in ("practitioner", "structure"):
        ids = [n for n, c in candidates.items() if c.kind == kind]
        if not ids:
            continue
        wanted: Any = ids
        if kind == "practitioner" and subquery is not None and len(ids) > MAX_BOUND_IDS:
            wanted = subquery
        summaries = select(SlotSummary.owner, SlotSummary.modalities, SlotSummary.visibility)
        summaries = summaries.where(
            SlotSummary.owner.in_(wanted),  # national ids: a practitioner's never a structure's
            SlotSummary.last_end > now,
            SlotSummary.first_start < until,
        )
        if killed:
            summaries = summaries.where(SlotSummary.source.not_in(killed))
        add(session.execute(summaries), bounds is None)
        if bounds is None:
            continue
        low, high = bounds
        column = getattr(CachedSlot, kind)
        # the fact columns (NULL: the slot did not say, read as "any"), so the covering
        # index answers without reading the slots' rows
        modalities, visibility = CachedSlot.modalities, CachedSlot.visibility
        in_window = (
            select(column, modalities, visibility)
            .where(
                column.in_(wanted),
                CachedSlot.start >= (low if low is not None else now - timedelta(hours=12)),
                CachedSlot.start < high,
                CachedSlot.end > now,
            )
            .group_by(column, modalities, visibility)
        )
        if killed:
            in_window = in_window.where(CachedSlot.source.not_in(killed))
        add(session.execute(in_window), True)
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
