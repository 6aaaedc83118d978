"""Progressive freshness: refresh the slots of the cards a regulator is looking at.

The results page renders at once from the slot cache; its visible cards then
ask for ONE fragment (``GET /recherche/creneaux?ids=…``) whose view calls
:func:`refresh_cards`: one batched aggregation (``slots.refresh``) for the
targets bound to those ids, every source under its own deadline, then one
read of the cache. A source that fails or times out keeps its last-known
slots, which the card marks as possibly stale.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pluggy
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.models import PlaceOfPractice, Practitioner, Structure
from portal.search.candidates import refused_kinds
from portal.search.filters import SlotFilter
from portal.search.service import CardSlots
from portal.slots import aggregation as slots
from portal.slots import cache as slot_cache
from portal.slots import calendar
from portal.slots.aggregation import SourceStatus

__all__ = ["MAX_IDS", "SlotFilter", "refresh_cards", "source_problem"]

#: A results page never shows more cards than this: more ids are ignored.
MAX_IDS = 100

#: French words for a source that did not answer in time or in full.
PROBLEMS = {
    "failed": "en échec",
    "timeout": "délai dépassé",
    "partial": "réponse partielle",
    "open": "suspendue après plusieurs échecs",
    "killed": "coupée",
    "absent": "connecteur non chargé",
}


def source_problem(status: SourceStatus) -> str | None:
    """``"délai dépassé"``, ``"en échec"``… for a source that did not answer fresh."""
    return None if status.ok else PROBLEMS.get(status.state, status.state)


def _rows(
    session: Session, ids: Sequence[str]
) -> tuple[dict[int, str], dict[int, str], dict[str, str | None], dict[str, frozenset[str]]]:
    """Practitioner and structure rows of ``ids``, the department of each id, and the slot
    kinds each practitioner refuses to display."""
    practitioners: dict[int, str] = {}
    refused: dict[str, frozenset[str]] = {}
    for row_id, nid, no_public, no_pro in session.execute(
        select(
            Practitioner.id,
            Practitioner.national_id,
            Practitioner.refuses_public_display,
            Practitioner.refuses_pro_display,
        ).where(Practitioner.national_id.in_(ids))
    ):
        practitioners[row_id] = nid
        refused[nid] = refused_kinds(no_public, no_pro)
    structures = {
        row_id: nid
        for row_id, nid in session.execute(
            select(Structure.id, Structure.national_id).where(Structure.national_id.in_(ids))
        )
    }
    departments: dict[str, str | None] = {}
    if practitioners:
        for owner, department in session.execute(
            select(PlaceOfPractice.practitioner_id, PlaceOfPractice.department)
            .where(PlaceOfPractice.practitioner_id.in_(list(practitioners)))
            .order_by(PlaceOfPractice.id)
        ):
            if owner is not None:
                departments.setdefault(practitioners[owner], department)
    if structures:
        for owner, department in session.execute(
            select(PlaceOfPractice.structure_id, PlaceOfPractice.department)
            .where(
                PlaceOfPractice.structure_id.in_(list(structures)),
                PlaceOfPractice.practitioner_id.is_(None),
            )
            .order_by(PlaceOfPractice.id)
        ):
            if owner is not None:
                departments.setdefault(structures[owner], department)
    return practitioners, structures, departments, refused


def refresh_cards(
    session: Session,
    pm: pluggy.PluginManager,
    national_ids: Iterable[str],
    config: Mapping[str, Any],
    *,
    slot_filter: SlotFilter | None = None,
    now: datetime | None = None,
) -> tuple[dict[str, CardSlots], dict[str, SourceStatus]]:
    """Refresh the slots of the cards ``national_ids`` live, then read them from the cache.

    One aggregation for all of them (``slots.refresh`` batches per source and
    calls the sources concurrently, each under its deadline). Returns the card
    slots per national id (every known id, even without slots) and the status
    of every source asked.
    """
    ids = list(dict.fromkeys(i for i in national_ids if i))[:MAX_IDS]
    if not ids:
        return {}, {}
    practitioners, structures, departments, refused = _rows(session, ids)
    targets = slots.bound_targets(
        session, practitioner_ids=list(practitioners), structure_ids=list(structures)
    )
    tz = str(config.get("TIMEZONE") or calendar.DEFAULT_TIMEZONE)
    start, end = slots.window(now, tz=tz)
    report = slots.refresh(
        session, pm, targets, start, end, slots.settings_from_config(config), now=now
    )
    shown_now = now or datetime.now(UTC)
    cached = slot_cache.cached_slots(session, ids, start, end)
    known = set(practitioners.values()) | set(structures.values())
    cards: dict[str, CardSlots] = {}
    shown = slot_filter or SlotFilter()
    for national_id in ids:
        found = cached.get(national_id)
        if found is None or national_id not in known:
            continue
        hidden = refused.get(national_id, frozenset())
        kept = [s for s in found.slots if shown.keep(s, hidden)]
        cards[national_id] = CardSlots(
            calendar=calendar.three_days(
                kept, department=departments.get(national_id), now=shown_now
            ),
            age=calendar.age_label(found.fetched_at, shown_now),
            failing=found.failing,
            sources=found.sources,
        )
    return cards, report.statuses
