"""Result cards: badges, ranking groups, CPTS grouping, and the page's cached slots.

Only the current page's cards load their slots' full JSON (one query for the page,
``slot_cache.cached_slots``); everything before works on slot facts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.orm import Session

from portal.services import calendar, slot_cache, slots
from portal.services.ranking import Card, group_cpts, group_of, rank
from portal.services.search_candidates import Candidate, cpts_of


@dataclass(frozen=True, slots=True)
class CardSlots:
    """The slots shown on one card, with their freshness."""

    calendar: calendar.CalendarView
    age: str
    failing: tuple[str, ...]
    sources: tuple[str, ...]


#: A CPTS card's members whose slots the page loads (the UI shows them collapsed; the
#: others get theirs from the live refresh when opened).
MEMBERS_WITH_SLOTS = 5


def badges(candidate: Candidate, cpts: Sequence[str], treating: str) -> tuple[str, ...]:
    """Among "mt", "sas", "sos", "cpts", "msp", in that order."""
    hit = candidate.hit
    found = []
    if treating and hit.national_id == treating:
        found.append("mt")
    if hit.sas_participation:
        found.append("sas")
    if hit.kind == "structure" or candidate.place_kind == "SOS":
        found.append("sos")
    if cpts:
        found.append("cpts")
    if candidate.place_kind == "MSP":
        found.append("msp")
    return tuple(found)


def build_cards(
    session: Session,
    kept: Sequence[Candidate],
    with_slots: set[str],
    *,
    treating: str,
    by_distance: bool,
    seed: str,
) -> list[Card]:
    """Every result card (without slots yet), ranked and grouped under their CPTS."""
    memberships = cpts_of(session, kept)
    names: dict[str, str] = {}
    cards = []
    for candidate in kept:
        hit = candidate.hit
        cpts = memberships.get(hit.row_id, []) if hit.kind == "practitioner" else []
        if cpts:
            names.update(cpts)
            hit = replace(hit, cpts=tuple(national_id for national_id, _ in cpts))
        group = group_of(hit, has_slots=hit.national_id in with_slots, treating=treating)
        cards.append(Card(hit, None, group))
    return group_cpts(rank(cards, by_distance=by_distance, seed=seed), names)


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
    everyone = [m for card in cards for m in (card.members[:MEMBERS_WITH_SLOTS] or (card,))]
    start, end = slots.window(now)
    cached = slot_cache.cached_slots(session, [c.hit.national_id for c in everyone], start, end)
    wanted = set(modalities)

    def with_slots(card: Card, load: bool = True) -> Card:
        if card.members:
            members = tuple(
                with_slots(m, i < MEMBERS_WITH_SLOTS) for i, m in enumerate(card.members)
            )
            return replace(card, members=members)
        candidate = candidates.get(card.hit.national_id)
        if candidate is None:
            return card
        hit = replace(card.hit, badges=badges(candidate, card.hit.cpts, treating))
        found = cached.get(card.hit.national_id) if load else None
        if found is None:
            return replace(card, hit=hit)
        shown = candidate.visible_kinds(kinds)
        visible = [
            s
            for s in found.slots
            if set(s.visibility) & shown and (not wanted or set(s.modalities) & wanted)
        ]
        view = CardSlots(
            calendar=calendar.three_days(visible, department=hit.department, now=now),
            age=calendar.age_label(found.fetched_at, now),
            failing=found.failing,
            sources=found.sources,
        )
        return replace(card, hit=hit, slots=view)

    return [with_slots(card) for card in cards]
