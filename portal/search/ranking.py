"""The order of the results, exactly as ``docs/search-contract.md`` states it.

Groups: 0 the médecin traitant (pinned), 1 with slots and SAS participation,
2 with slots, 3 SAS participation without slots, 4 the rest. Within a group:
nearest first for an address or map search; for a commune or department
search a shuffled order that is stable for a day and a query (neutrality: the
same query gives the same order all day, and no practitioner is favoured
from one day to the next).

CPTS grouping: when at least two members of one CPTS are in the results, they
are moved under one CPTS card (``Card.members``, in their own order; the page
shows the first few and links to the search restricted to that CPTS), and that
card takes the place of its best-ranked member. The médecin traitant is never
moved under a CPTS card. A practitioner in several CPTS goes under the one
with most members in the results (then the lowest national id).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from portal.search.candidates import Candidate, Hit

if TYPE_CHECKING:
    from portal.search.cards import CardSlots

GROUP_TREATING, GROUP_SLOTS_SAS, GROUP_SLOTS, GROUP_SAS, GROUP_REST = range(5)


@dataclass(frozen=True, slots=True)
class Card:
    """One result card, its ranking group and, for a CPTS card, its members."""

    hit: Hit
    slots: CardSlots | None
    group: int
    members: tuple[Card, ...] = ()
    #: members of a CPTS card in the results (``members`` holds the first ones only)
    member_total: int = 0


def group_of(candidate: Candidate, *, has_slots: bool, treating: str = "") -> int:
    """The ranking group of a candidate (see the module docstring)."""
    if treating and candidate.national_id == treating:
        return GROUP_TREATING
    if has_slots:
        return GROUP_SLOTS_SAS if candidate.sas_participation else GROUP_SLOTS
    return GROUP_SAS if candidate.sas_participation else GROUP_REST


def daily_seed(query_key: str, now: datetime | None = None) -> str:
    """The shuffle seed: the day in Europe/Paris and the normalised query."""
    day = (now or datetime.now(UTC)).astimezone(ZoneInfo("Europe/Paris")).date()
    return f"{day.isoformat()}|{query_key}"


def shuffle_key(seed: str, national_id: str) -> bytes:
    """A uniform, stable pseudo-random key of a practitioner for a seed."""
    return hashlib.blake2b(f"{seed}|{national_id}".encode(), digest_size=8).digest()


@dataclass(slots=True)
class Entry:
    """A ranked result before its card: a light candidate (or, with ``members``, the
    card of a CPTS standing for them), its group and the CPTS it belongs to."""

    candidate: Candidate
    group: int
    cpts: tuple[str, ...] = ()
    members: tuple[Entry, ...] = ()
    cpts_id: str = ""

    @property
    def national_id(self) -> str:
        return self.candidate.national_id


def rank(
    entries: Iterable[Entry],
    *,
    by_distance: bool,
    seed: str,
    names: Callable[[list[Candidate]], dict[str, str]] | None = None,
) -> list[Entry]:
    """Entries in group order; within a group by distance or by the daily shuffle.

    Equal distances are ordered by name: ``names`` gives the names of the tied
    candidates only (they are not read for the others)."""
    if not by_distance:
        return sorted(entries, key=lambda e: (e.group, shuffle_key(seed, e.candidate.national_id)))
    ordered = sorted(entries, key=lambda e: (e.group, e.candidate.distance_km))
    keys = [(e.group, e.candidate.distance_km) for e in ordered]
    tied = [
        e.candidate
        for i, e in enumerate(ordered)
        if (i > 0 and keys[i - 1] == keys[i]) or (i + 1 < len(keys) and keys[i + 1] == keys[i])
    ]
    if not tied or names is None:
        return ordered
    found = names(tied)
    return sorted(
        ordered, key=lambda e: (e.group, e.candidate.distance_km, found.get(e.national_id, ""))
    )


def group_cpts(ranked: list[Entry]) -> list[Entry]:
    """Collapse the members of a CPTS under one entry when at least two are present.

    The CPTS entry sits at its best-ranked member's place, with that member's group.
    """
    counts: dict[str, int] = defaultdict(int)
    for entry in ranked:
        if entry.group != GROUP_TREATING:
            for cpts in entry.cpts:
                counts[cpts] += 1
    chosen: dict[str, str] = {}  # member national id -> its CPTS
    for entry in ranked:
        options = [c for c in entry.cpts if counts[c] >= 2]
        if entry.group != GROUP_TREATING and options:
            chosen[entry.national_id] = min(options, key=lambda c: (-counts[c], c))
    members: dict[str, list[Entry]] = defaultdict(list)
    for entry in ranked:
        if entry.national_id in chosen:
            members[chosen[entry.national_id]].append(entry)
    result: list[Entry] = []
    for entry in ranked:
        chosen_cpts = chosen.get(entry.national_id)
        if chosen_cpts is None:
            result.append(entry)
            continue
        group = members[chosen_cpts]
        if len(group) < 2:
            result.append(entry)  # the others went under another CPTS
        elif group[0] is entry:
            result.append(
                Entry(entry.candidate, entry.group, (chosen_cpts,), tuple(group), chosen_cpts)
            )
    return result


def cpts_card(national_id: str, name: str, members: list[Card], total: int | None = None) -> Card:
    """The card of a CPTS standing for its members (the first is the best ranked);
    ``members`` may be the first ``total`` members only (those the page shows)."""
    total = len(members) if total is None else total
    best = members[0].hit
    hit = replace(
        best,
        kind="structure",
        row_id=0,
        national_id=national_id,
        name=name,
        specialty_code=None,
        specialty_label=f"CPTS — {total} professionnel{'s' if total > 1 else ''}",
        sas_participation=any(m.hit.sas_participation for m in members),
        place_name=name,
        badges=("cpts",),
        cpts=(national_id,),
    )
    return Card(
        hit=hit, slots=None, group=members[0].group, members=tuple(members), member_total=total
    )
