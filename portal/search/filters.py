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

from sqlalchemy import String, any_, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from portal.domain import Slot
from portal.models import CachedSlot, ConnectorState, SlotFetch, SlotSummary
from portal.reference.vocabulary import (
    MODALITIES,
    SLOT_KIND_LABELS,
    WITHIN_WINDOWS,
    modality_label,
    slot_kind_word,
)
from portal.search.candidates import MAX_LISTED_IDS, REGULATOR_KINDS, Candidate
from portal.slots.cache import OWNER_KINDS, killed_sources
from portal.slots.states import PROBLEM_STATES, state_label

ALL_MODALITIES = frozenset(MODALITIES)
ALL_KINDS = frozenset(SLOT_KIND_LABELS)


@dataclass(frozen=True, slots=True)
class SlotFact:
    """Some cached slots of one owner sharing modalities and visibility."""

    modalities: frozenset[str]
    visibility: frozenset[str]
    in_window: bool  # at least one of them starts in the "available within" window


def within_bounds(within: str, now: datetime) -> tuple[datetime | None, datetime] | None:
    """The start bounds of an "available within" choice; a slot under way counts as "0 h"."""
    if within not in WITHIN_WINDOWS:
        return None
    a, b = WITHIN_WINDOWS[within]
    return (now + timedelta(hours=a) if a else None, now + timedelta(hours=b))


#: Owners per statement (SQLite allows 32 766 parameters).
MAX_BOUND_IDS = 30_000
#: Separators of a slot digest: ``"<modalities>|<visibility>;…"`` (JSON lists, ``*``: unsaid).
_COMBO, _PART, _UNSAID = ";", "|", "*"


def _combo(modalities: Any, visibility: Any) -> Any:
    return func.coalesce(modalities, _UNSAID) + _PART + func.coalesce(visibility, _UNSAID)


class _Parser:
    """Digests and JSON lists to facts, each distinct text parsed once."""

    def __init__(self) -> None:
        self.lists: dict[str, frozenset[str]] = {}
        self.combos: dict[tuple[str, bool], list[SlotFact]] = {}

    def values(self, text: str | None, unsaid: frozenset[str]) -> frozenset[str]:
        if text is None or text == _UNSAID:
            return unsaid
        if text not in self.lists:
            self.lists[text] = frozenset(json.loads(text) or ())
        return self.lists[text]

    def digest(self, text: str | None, in_window: bool) -> list[SlotFact]:
        if not text:
            return []
        key = (text, in_window)
        found = self.combos.get(key)
        if found is None:
            found = []
            for combo in dict.fromkeys(text.split(_COMBO)):
                mods, _, vis = combo.partition(_PART)
                found.append(
                    SlotFact(
                        self.values(mods, ALL_MODALITIES), self.values(vis, ALL_KINDS), in_window
                    )
                )
            self.combos[key] = found
        return found


def _owners_in(column: Any, ids: list[str], dialect: str) -> Any:
    """``column IN ids``; on PostgreSQL ``= ANY(array)``: one parameter, not thousands."""
    if dialect == "postgresql":
        return column == any_(bindparam(None, ids, type_=ARRAY(String)))
    return column.in_(ids)


def slot_facts(
    session: Session,
    candidates: dict[str, Candidate],
    *,
    now: datetime,
    until: datetime,
    within: str = "",
) -> dict[str, list[SlotFact]]:
    """Modalities and visibility of the cached slots of ``candidates`` from ``now`` to
    ``until``, and whether one starts in the ``within`` window; killed sources left out.

    The slot summaries (one row per owner, source, modalities and visibility) say who has
    slots of which kinds, one aggregated row per owner: no slot row is read. With
    ``within``, the slots starting in that window are read too (index only), and only
    their facts are ``in_window``.
    """
    killed = killed_sources(session)
    dialect = session.get_bind().dialect.name
    windowed = within in WITHIN_WINDOWS
    bounds = within_bounds(within, now)
    parser = _Parser()
    facts: dict[str, list[SlotFact]] = defaultdict(list)

    def read(table: Any, owner: Any, chunk: list[str], *where: Any, in_window: bool) -> None:
        """One digest per owner of ``table`` (summaries or slots) matching ``where``."""
        query = (
            select(
                owner, func.aggregate_strings(_combo(table.modalities, table.visibility), _COMBO)
            )
            .where(_owners_in(owner, chunk, dialect), *where)
            .group_by(owner)
        )
        if killed:
            query = query.where(table.source.not_in(killed))
        for national_id, digest in session.execute(query):
            facts[national_id].extend(parser.digest(digest, in_window))

    for kind in OWNER_KINDS:
        ids = [n for n, c in candidates.items() if c.kind == kind]
        for start in range(0, len(ids), MAX_BOUND_IDS):
            chunk = ids[start : start + MAX_BOUND_IDS]
            summary = (SlotSummary.last_end > now, SlotSummary.first_start < until)
            read(SlotSummary, SlotSummary.owner, chunk, *summary, in_window=not windowed)
            if bounds is not None:
                low, high = bounds
                window = (
                    CachedSlot.start >= (low if low is not None else now - timedelta(hours=12)),
                    CachedSlot.start < high,
                    CachedSlot.end > now,
                )
                read(CachedSlot, getattr(CachedSlot, kind), chunk, *window, in_window=True)
    return facts


class SlotFilter:
    """Which slots of a card are shown: regulator-visible kinds (the asked ones, minus those
    the practitioner refuses to display) and, when asked, the chosen modalities. Used by
    the first paint and the live refresh alike."""

    def __init__(self, *, modalities: Iterable[str] = (), kinds: Iterable[str] = ()) -> None:
        self.modalities = frozenset(m for m in modalities if m)
        self.kinds = frozenset(k for k in kinds if k) or frozenset(REGULATOR_KINDS)

    def keep(self, slot: Slot, refused: frozenset[str] = frozenset()) -> bool:
        if self.modalities and self.modalities.isdisjoint(slot.modalities):
            return False
        return any(k in self.kinds and k not in refused for k in slot.visibility)


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
            slot_kind_word(k) for k in filters.kinds
        )
    if filters.within in WITHIN_WINDOWS:
        a, b = WITHIN_WINDOWS[filters.within]
        labels["within"] = f"Disponible entre {a} h et {b} h"
    if filters.modalities:
        labels["modalities"] = "Modalité : " + ", ".join(
            modality_label(m).lower() for m in filters.modalities
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
    shown_for: dict[tuple[bool, bool], frozenset[str]] = {}  # by (refuses public, pro)
    for national_id, candidate in candidates.items():
        refusals = (candidate.refuses_public, candidate.refuses_pro)
        shown = shown_for.get(refusals)
        if shown is None:
            shown = shown_for[refusals] = candidate.visible_kinds(filters.kinds)
        found = facts.get(national_id)
        alive[national_id] = [f for f in found if f.visibility & shown] if found else []
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
    if filters.within in WITHIN_WINDOWS:
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
        if status in PROBLEM_STATES:
            problems[source] = state_label(status)
    return tuple(sorted(problems.items()))
