"""Result cards: badges, ranking groups, CPTS grouping, and the page's cached slots.

Only the current page's cards load their slots' full JSON (one query for the page,
``slot_cache.cached_slots``); everything before works on slot facts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.orm import Session

from portal.services import calendar, slot_cache, slots
from portal.services.ranking import (
    GROUP_REST,
    GROUP_SAS,
    GROUP_SLOTS,
    GROUP_SLOTS_SAS,
    GROUP_TREATING,
    Card,
    cpts_card,
    shuffle_key,
)
from portal.services.search_candidates import Candidate, cpts_of, hits_for


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
class Entry:
    """A ranked result before its card: a candidate (or, with ``members``, a CPTS)."""

    candidate: Candidate
    group: int
    cpts: tuple[str, ...] = ()
    members: tuple[Entry, ...] = ()
    cpts_id: str = ""


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
        shown = [m.candidate for e in page for m in (e.members or (e,))]
        hits = hits_for(session, shown)

        def card(entry: Entry) -> Card:
            hit = hits[entry.candidate.national_id]
            if entry.cpts:
                hit = replace(hit, cpts=entry.cpts)
            return Card(hit, None, entry.group)

        result = []
        for entry in page:
            if entry.members:
                members = [card(m) for m in entry.members]
                name = self.names.get(entry.cpts_id, entry.cpts_id)
                result.append(cpts_card(entry.cpts_id, name, members))
            else:
                result.append(card(entry))
        return result


def _rank(session: Session, entries: list[Entry], *, by_distance: bool, seed: str) -> list[Entry]:
    """:func:`ranking.rank` on entries: names (the tie-break by distance) read for ties only."""
    if not by_distance:
        return sorted(entries, key=lambda e: (e.group, shuffle_key(seed, e.candidate.national_id)))
    entries = sorted(entries, key=lambda e: (e.group, e.candidate.distance_km))
    keys = [(e.group, e.candidate.distance_km) for e in entries]
    tied = [
        e.candidate
        for i, e in enumerate(entries)
        if (i > 0 and keys[i - 1] == keys[i]) or (i + 1 < len(keys) and keys[i + 1] == keys[i])
    ]
    if not tied:
        return entries
    names = {n: hit.name for n, hit in hits_for(session, tied).items()}
    return sorted(
        entries,
        key=lambda e: (e.group, e.candidate.distance_km, names.get(e.candidate.national_id, "")),
    )


def _group_cpts(ranked: list[Entry]) -> list[Entry]:
    """:func:`ranking.group_cpts` on entries."""
    counts: dict[str, int] = defaultdict(int)
    for entry in ranked:
        if entry.group != GROUP_TREATING:
            for cpts in entry.cpts:
                counts[cpts] += 1
    chosen: dict[str, str] = {}
    for entry in ranked:
        options = [c for c in entry.cpts if counts[c] >= 2]
        if entry.group != GROUP_TREATING and options:
            chosen[entry.candidate.national_id] = min(options, key=lambda c: (-counts[c], c))
    members: dict[str, list[Entry]] = defaultdict(list)
    for entry in ranked:
        if entry.candidate.national_id in chosen:
            members[chosen[entry.candidate.national_id]].append(entry)
    result: list[Entry] = []
    for entry in ranked:
        chosen_cpts = chosen.get(entry.candidate.national_id)
        if chosen_cpts is None:
            result.append(entry)
            continue
        group = members[chosen_cpts]
        if len(group) < 2:
            result.append(entry)
        elif group[0] is entry:
            result.append(
                Entry(entry.candidate, entry.group, (chosen_cpts,), tuple(group), chosen_cpts)
            )
    return result


def build_cards(
    session: Session,
    kept: Sequence[Candidate],
    with_slots: set[str],
    *,
    treating: str,
    by_distance: bool,
    seed: str,
) -> Ranked:
    """Every result (without names nor slots yet), ranked and grouped under their CPTS."""
    memberships = cpts_of(session, kept)
    names: dict[str, str] = {}
    entries = []
    for candidate in kept:
        national_id = candidate.national_id
        cpts = memberships.get(candidate.row_id, []) if candidate.kind == "practitioner" else []
        if cpts:
            names.update(cpts)
        if treating and national_id == treating:
            group = GROUP_TREATING
        elif national_id in with_slots:
            group = GROUP_SLOTS_SAS if candidate.sas_participation else GROUP_SLOTS
        else:
            group = GROUP_SAS if candidate.sas_participation else GROUP_REST
        entries.append(Entry(candidate, group, tuple(n for n, _ in cpts)))
    ranked = _rank(session, entries, by_distance=by_distance, seed=seed)
    return Ranked(_group_cpts(ranked), names)


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
