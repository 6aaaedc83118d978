"""Progressive freshness: refresh the slots of the cards a regulator is looking at.

The results page renders at once from the slot cache; its visible cards then
ask for ONE fragment (``GET /recherche/creneaux?ids=…``) whose view calls
:func:`refresh_cards`: one batched aggregation (``slots.refresh``) for the
targets bound to those ids, every source under its own deadline, then one
read of the cache. A source that fails or times out keeps its last-known
slots, which the card marks as possibly stale.

The request waits for the editors ``LIVE_REFRESH_BUDGET_S`` at most
(``slots.background.refresh_within``): a source still being asked is reported
``pending``, its answer lands in the cache in the background, and the fragment
asks once more. Targets fetched less than ``SLOT_MIN_AGE_S`` ago are not asked
again (``slots.flight``): upstream load follows the practitioners, not the page
views.
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
from portal.search.cards import CardSlots, slot_view
from portal.search.filters import SlotFilter
from portal.slots import aggregation as slots
from portal.slots import background, calendar
from portal.slots import cache as slot_cache
from portal.slots.aggregation import SourceStatus
from portal.slots.states import PROBLEM_STATES, SourceLabels, state_label

__all__ = ["MAX_IDS", "SlotFilter", "pending_sources", "refresh_cards", "source_problem"]

#: A results page never shows more cards than this: more ids are ignored.
MAX_IDS = 100
#: How long a page's live refresh waits for the editors (``LIVE_REFRESH_BUDGET_S``).
DEFAULT_BUDGET_S = 2.0


def source_problem(status: SourceStatus) -> str | None:
    """``"délai dépassé"``, ``"réponse attendue"``… for a source that did not answer
    fresh; ``None`` for a fresh one and for one whose connector is not loaded (not
    implemented here: not reported as failing)."""
    if status.state in PROBLEM_STATES or status.state == "pending":
        return state_label(status.state)
    return None


def pending_sources(statuses: Mapping[str, SourceStatus]) -> list[str]:
    """The sources still being asked when the page's budget ran out (sorted)."""
    return sorted(source for source, status in statuses.items() if status.state == "pending")


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
    labels: SourceLabels | None = None,
) -> tuple[dict[str, CardSlots], dict[str, SourceStatus]]:
    """Refresh the slots of the cards ``national_ids`` live, then read them from the cache.

    One aggregation for all of them (``slots.refresh`` batches per source and
    calls the sources concurrently, each under its deadline), waited for within the
    ``LIVE_REFRESH_BUDGET_S`` budget. Returns the card
    slots per national id (every known id, even without slots, sources named by
    ``labels``) and the status of every source asked.
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
    report = background.refresh_within(
        session, pm, targets, start, end, slots.settings_from_config(config),
        budget_s=float(config.get("LIVE_REFRESH_BUDGET_S", DEFAULT_BUDGET_S)), now=now,
    )  # fmt: skip
    shown_now = now or datetime.now(UTC)
    cached = slot_cache.cached_slots(session, ids, start, end)
    known = set(practitioners.values()) | set(structures.values())
    cards: dict[str, CardSlots] = {}
    shown = slot_filter or SlotFilter()
    for national_id in ids:
        found = cached.get(national_id)
        if found is None or national_id not in known:
            continue
        cards[national_id] = slot_view(  # the same builder as the first paint
            found, shown, refused.get(national_id, frozenset()),
            department=departments.get(national_id), now=shown_now, labels=labels,
        )  # fmt: skip
    return cards, report.statuses
