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
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from portal.search.candidates import Candidate, cpts_of, hits_for
from portal.search.filters import SlotFilter
from portal.search.ranking import Card, Entry, cpts_card, group_cpts, group_of, rank
from portal.slots import aggregation as slots
from portal.slots import cache as slot_cache
from portal.slots import calendar
from portal.slots.states import SourceLabels


@dataclass(frozen=True, slots=True)
class CardSlots:
    """The slots shown on one card, with their freshness and, when none is shown, why.

    ``failing`` and ``sources`` are the sources' labels (``Éditeur A``), never their ids;
    ``failing_detail`` pairs each failing source's label with since when it has not
    answered (``("Éditeur A", "dernière réponse à 14:02")``);
    ``reason`` is the sentence a card without a visible slot shows (``None`` otherwise).
    """

    calendar: calendar.CalendarView
    age: str
    failing: tuple[str, ...]
    sources: tuple[str, ...]
    failing_detail: tuple[tuple[str, str], ...] = ()
    reason: str | None = None


NO_AGENDA = "Pas d'agenda en ligne connecté."
NO_FREE_SLOT = "Agenda en ligne connecté : aucun créneau libre dans les 72 h."
HIDDEN_KIND = "Ce professionnel ne diffuse pas ce type de créneau aux régulateurs."
FAILING = "Créneaux inconnus : la source de cet agenda est en échec ou suspendue."
NOT_THE_CHOSEN = "Agenda en ligne connecté : aucun créneau des modalités ou types choisis."


def _since(last: datetime | None, tz: ZoneInfo, now: datetime) -> str:
    """``"dernière réponse à 14:02"`` (local time), or that the source never answered."""
    if last is None:
        return "aucune réponse reçue"
    local = last.astimezone(tz)
    when = f"{local:%H:%M}" if local.date() == now.astimezone(tz).date() else f"{local:%d/%m %H:%M}"
    return f"dernière réponse à {when}"


def _reason(
    found: slot_cache.CachedSlots,
    shown: int,
    kept: int,
    refused_only: bool,
    labels: SourceLabels,
    failing: tuple[str, ...],
) -> str | None:
    """Why a card shows no slot, in words (``None`` when it shows some)."""
    if shown:
        return None
    if failing:
        return FAILING
    if refused_only:
        return HIDDEN_KIND
    if kept or not found.slots:
        return NO_FREE_SLOT if found.sources or kept else _unconnected(found, labels)
    return NOT_THE_CHOSEN


def _unconnected(found: slot_cache.CachedSlots, labels: SourceLabels) -> str:
    """A card no source answered for: switched off by an administrator, or none bound."""
    if found.killed:
        return f"Source coupée par un administrateur : {', '.join(labels.names(found.killed))}."
    return NO_AGENDA


def slot_view(
    found: slot_cache.CachedSlots,
    shown: SlotFilter,
    refused: frozenset[str],
    *,
    department: str | None,
    now: datetime,
    labels: SourceLabels | None = None,
) -> CardSlots:
    """What one card shows of its cached slots: those ``shown`` keeps (the kinds the
    practitioner ``refused`` to display left out) over three local days of the
    ``department``'s time zone, how old they are, which sources failed (by ``labels``)
    and, when no slot is left, why."""
    labels = labels or SourceLabels()
    visible = [s for s in found.slots if shown.keep(s, refused)]
    view = calendar.three_days(visible, department=department, now=now)
    every = SlotFilter()
    refused_only = not any(every.keep(s, refused) for s in found.slots) and any(
        every.keep(s) for s in found.slots
    )
    failing = labels.names(found.failing)
    tz = ZoneInfo(view.timezone)
    detail = tuple((labels(s), _since(last, tz, now)) for s, last in found.failing_since)
    return CardSlots(
        calendar=view,
        age=calendar.age_label(found.fetched_at, now),
        failing=failing,
        sources=labels.names(found.sources),
        failing_detail=detail or tuple((f, "aucune réponse reçue") for f in failing),
        reason=_reason(found, view.total, len(visible), refused_only, labels, failing),
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
    labels: SourceLabels | None = None,
) -> list[Card]:
    """The page's cards with their cached slots (one query for the page, members of CPTS
    cards included), showing only the slots regulators may see for that practitioner
    (refused public/pro displays hidden) and, when asked, of the chosen modalities; their
    badges are set here too, for the page only. Sources are named by ``labels``."""
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
        view = slot_view(
            found, shown, candidate.refused_kinds, department=hit.department, now=now,
            labels=labels,
        )  # fmt: skip
        return replace(card, hit=hit, slots=view)

    return [with_slots(card) for card in cards]
