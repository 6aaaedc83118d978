"""Result cards: badges, ranking groups, CPTS grouping, and the page's cached slots.

What a card shows of its slots is built by :func:`slot_view`, for the first paint
(:func:`card_slots`) and for the live refresh (``portal.search.live``) alike.

Only the current page's cards load their slots' full JSON (one query for the page,
``slot_cache.cached_slots``); everything before works on slot facts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.orm import Session

from portal.search.candidates import Candidate, cpts_of, hits_for
from portal.search.filters import SlotFilter
from portal.search.ranking import Card, Entry, cpts_card, group_cpts, group_of, rank
from portal.slots import aggregation as slots
from portal.slots import cache as slot_cache
from portal.slots import calendar


@dataclass(frozen=True, slots=True)
class CardSlots:
    """The slots shown on one card, with their freshness."""

    calendar: calendar.CalendarView
    age: str
    failing: tuple[str, ...]
    sources: tuple[str, ...]


def slot_view(
    found: slot_cache.CachedSlots,
    shown: SlotFilter,
    refused: frozenset[str],
    *,
    department: str | None,
    now: datetime,
) -> CardSlots:
    """What one card shows of its cached slots: those ``shown`` keeps (the kinds the
    practitioner ``refused`` to display left out) over three local days of the
    ``department``'s time zone, how old they are, and which sources failed."""
    visible = [s for s in found.slots if shown.keep(s, refused)]
    return CardSlots(
        calendar=calendar.three_days(visible, department=department, now=now),
        age=calendar.age_label(found.fetched_at, now),
        failing=found.failing,
        sources=found.sources,
    )


#: Members of a CPTS card the page shows (with their slots); a link lists them all.
MEMBERS_SHOWN = 5


def badges(candidate: Candidate, cpts: Sequence[str], treating: str) -> tuple[str, ...]:
    """Among "mt", "sas", "sos", "cpts", "msp", in that order."""
    found = []
    if treating and candidate.national_id == treating:
        found.append("mt")
    if candidate.sas_participation:
        found.append("sas")
    if candidate.kind == "structure" or candidate.place_kind == "SOS":
        found.append("sos")
    if cpts:
        found.append("cpts")
    if candidate.place_kind == "MSP":
        found.append("msp")
    return tuple(found)


@dataclass(slots=True)
class Ranked:
    """Every result, ranked and grouped under their CPTS, without names nor slots; only
    the page's entries become cards (:meth:`cards`)."""

    entries: list[Entry]
    names: dict[str, str]

    def __len__(self) -> int:
        return len(self.entries)

    def cards(self, session: Session, start: int, end: int) -> list[Card]:
        """The cards of ``entries[start:end]`` with their full hits (members included)."""
        page = self.entries[start:end]
        shown = [m.candidate for e in page for m in (e.members[:MEMBERS_SHOWN] or (e,))]
        hits = hits_for(session, shown)

        def card(entry: Entry) -> Card:
            hit = hits[entry.candidate.national_id]
            if entry.cpts:
                hit = replace(hit, cpts=entry.cpts)
            return Card(hit, None, entry.group)

        result = []
        for entry in page:
            if entry.members:
                members = [card(m) for m in entry.members[:MEMBERS_SHOWN]]
                name = self.names.get(entry.cpts_id, entry.cpts_id)
                result.append(cpts_card(entry.cpts_id, name, members, len(entry.members)))
            else:
                result.append(card(entry))
        return result


def build_cards(
    session: Session,
    kept: Sequence[Candidate],
    with_slots: set[str],
    *,
    treating: str,
    by_distance: bool,
    seed: str,
    group_by_cpts: bool = True,
) -> Ranked:
    """Every result (without names nor slots yet), ranked and (unless ``group_by_cpts`` is
    false: a search restricted to one CPTS) grouped under their CPTS."""
    memberships = cpts_of(session, kept)
    names: dict[str, str] = {}
    entries = []
    for candidate in kept:
        national_id = candidate.national_id
        cpts = memberships.get(candidate.row_id, []) if candidate.kind == "practitioner" else []
        if cpts:
            names.update(cpts)
        group = group_of(candidate, has_slots=national_id in with_slots, treating=treating)
        entries.append(Entry(candidate, group, tuple(n for n, _ in cpts)))

    def names_of(tied: list[Candidate]) -> dict[str, str]:
        return {n: hit.name for n, hit in hits_for(session, tied).items()}

    ranked = rank(entries, by_distance=by_distance, seed=seed, names=names_of)
    return Ranked(group_cpts(ranked) if group_by_cpts else ranked, names)


def card_slots(
    session: Session,
    cards: Sequence[Card],
    candidates: dict[str, Candidate],
    *,
    kinds: Sequence[str] = (),
    modalities: Sequence[str] = (),
    treating: str = "",
    now: datetime,
) -> list[Card]:
    """The page's cards with their cached slots (one query for the page, members of CPTS
    cards included), showing only the slots regulators may see for that practitioner
    (refused public/pro displays hidden) and, when asked, of the chosen modalities; their
    badges are set here too, for the page only."""
    everyone = [m for card in cards for m in (card.members or (card,))]
    start, end = slots.window(now)
    cached = slot_cache.cached_slots(session, [c.hit.national_id for c in everyone], start, end)
    shown = SlotFilter(modalities=modalities, kinds=kinds)

    def with_slots(card: Card) -> Card:
        if card.members:
            return replace(card, members=tuple(with_slots(m) for m in card.members))
        candidate = candidates.get(card.hit.national_id)
        if candidate is None:
            return card
        hit = replace(card.hit, badges=badges(candidate, card.hit.cpts, treating))
        found = cached.get(card.hit.national_id)
        if found is None:
            return replace(card, hit=hit)
        view = slot_view(found, shown, candidate.refused_kinds, department=hit.department, now=now)
        return replace(card, hit=hit, slots=view)

    return [with_slots(card) for card in cards]
