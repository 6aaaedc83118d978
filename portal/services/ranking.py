"""The order of the results, exactly as DESIGN.md states it.

Groups: 0 the médecin traitant (pinned), 1 with slots and SAS participation,
2 with slots, 3 SAS participation without slots, 4 the rest. Within a group:
nearest first for an address or map search; for a commune or department
search a shuffled order that is stable for a day and a query (neutrality: the
same query gives the same order all day, and no practitioner is favoured
from one day to the next).

CPTS grouping: when at least two members of one CPTS are in the results, they
are moved under one CPTS card (``Card.members``, in their own order), and that
card takes the place of its best-ranked member. The médecin traitant is never
moved under a CPTS card. A practitioner in several CPTS goes under the one
with most members in the results (then the lowest national id).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from portal.services.search_candidates import Hit

if TYPE_CHECKING:
    from portal.services.search_results import CardSlots

GROUP_TREATING, GROUP_SLOTS_SAS, GROUP_SLOTS, GROUP_SAS, GROUP_REST = range(5)


@dataclass(frozen=True, slots=True)
class Card:
    """One result card, its ranking group and, for a CPTS card, its members."""

    hit: Hit
    slots: CardSlots | None
    group: int
    members: tuple[Card, ...] = ()


def group_of(hit: Hit, *, has_slots: bool, treating: str = "") -> int:
    """The ranking group of a hit (see the module docstring)."""
    if treating and hit.national_id == treating:
        return GROUP_TREATING
    if has_slots:
        return GROUP_SLOTS_SAS if hit.sas_participation else GROUP_SLOTS
    return GROUP_SAS if hit.sas_participation else GROUP_REST


def daily_seed(query_key: str, now: datetime | None = None) -> str:
    """The shuffle seed: the day in Europe/Paris and the normalised query."""
    day = (now or datetime.now(UTC)).astimezone(ZoneInfo("Europe/Paris")).date()
    return f"{day.isoformat()}|{query_key}"


def shuffle_key(seed: str, national_id: str) -> bytes:
    """A uniform, stable pseudo-random key of a practitioner for a seed."""
    return hashlib.blake2b(f"{seed}|{national_id}".encode(), digest_size=8).digest()


def rank(cards: Iterable[Card], *, by_distance: bool, seed: str) -> list[Card]:
    """Cards in group order; within a group by distance or by the daily shuffle."""
    if by_distance:
        return sorted(cards, key=lambda c: (c.group, c.hit.distance_km, c.hit.name))
    return sorted(cards, key=lambda c: (c.group, shuffle_key(seed, c.hit.national_id)))


def group_cpts(ranked: list[Card], names: dict[str, str]) -> list[Card]:
    """Collapse the members of a CPTS under one card when at least two are present.

    ``names`` maps a CPTS national id to its name. The CPTS card sits at its
    best-ranked member's place, with that member's group and location.
    """
    counts: dict[str, int] = defaultdict(int)
    for card in ranked:
        if card.group != GROUP_TREATING:
            for cpts in card.hit.cpts:
                counts[cpts] += 1
    chosen: dict[str, str] = {}  # member national id -> its CPTS
    for card in ranked:
        options = [c for c in card.hit.cpts if counts[c] >= 2]
        if card.group != GROUP_TREATING and options:
            chosen[card.hit.national_id] = min(options, key=lambda c: (-counts[c], c))
    members: dict[str, list[Card]] = defaultdict(list)
    for card in ranked:
        if card.hit.national_id in chosen:
            members[chosen[card.hit.national_id]].append(card)
    result: list[Card] = []
    for card in ranked:
        chosen_cpts = chosen.get(card.hit.national_id)
        if chosen_cpts is None:
            result.append(card)
            continue
        group = members[chosen_cpts]
        if len(group) < 2:
            result.append(card)  # the others went under another CPTS
        elif group[0] is card:
            result.append(cpts_card(chosen_cpts, names.get(chosen_cpts, chosen_cpts), group))
    return result


def cpts_card(national_id: str, name: str, members: list[Card]) -> Card:
    """The card of a CPTS standing for its members (the first is the best ranked)."""
    best = members[0].hit
    hit = replace(
        best,
        kind="structure",
        row_id=0,
        national_id=national_id,
        name=name,
        specialty_code=None,
        specialty_label=f"CPTS — {len(members)} professionnels",
        sas_participation=any(m.hit.sas_participation for m in members),
        place_name=name,
        badges=("cpts",),
        cpts=(national_id,),
    )
    return Card(hit=hit, slots=None, group=members[0].group, members=tuple(members))
