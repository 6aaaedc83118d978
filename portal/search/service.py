"""The regulator's search: practitioners around a place, filtered, ranked, paginated.

Pure logic over the database session; never renders HTML. The steps live in
sibling modules: where (``search_place``), who (``search_candidates``), which
filters keep them (``search_filters``), in which order (``ranking``) and the
cards with their slots (``search_results``). The radius starts at the
department table's city radius and widens by its enlargement step (up to the
department-wide radius) until at least 5 results have slots; the page says so.
A department-level search takes the department's places (distances from its
barycentre) and is never widened. Ranking works on light candidates; only the
current page's cards get their full hits (names, addresses).
Only the current page's cards load their slots' full JSON.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from portal import audit
from portal.models import SearchLog
from portal.reference import geo
from portal.search.candidates import (
    SOS_SPECIALTIES,
    Candidate,
    Hit,
    What,
    find_candidates,
    find_cpts,
    find_sos_sites,
    find_treating,
)
from portal.search.cards import CardSlots, build_cards, card_slots
from portal.search.filters import (
    Filtered,
    Filters,
    SlotFact,
    apply_filters,
    failed_sources,
    slot_facts,
)
from portal.search.place import Geocoder, Place, Resolved, resolve
from portal.search.ranking import Card, daily_seed
from portal.slots import aggregation as slots
from portal.slots.states import SourceLabels

__all__ = [
    "SOS_SPECIALTIES",
    "Card",
    "CardSlots",
    "Hit",
    "Place",
    "SearchOutcome",
    "SearchRequest",
    "WhyNothing",
    "search",
]

#: Results with slots the automatic widening looks for.
ENOUGH_WITH_SLOTS = 5


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """What the regulator asked (see ``docs/search-contract.md``)."""

    where: str = ""
    insee: str = ""
    lat: float | None = None
    lon: float | None = None
    radius_km: float | None = None
    specialty: str = ""
    profession: str = ""
    name: str = ""
    text: str = ""
    within: str = ""
    modalities: tuple[str, ...] = ()
    sas_only: bool = False
    kinds: tuple[str, ...] = ()
    treating: str = ""
    cpts: str = ""  # national id of a CPTS: its members only (a CPTS card's "see all")
    page: int = 1
    page_size: int = 20
    origin: str = ""

    @property
    def is_empty(self) -> bool:
        has_point = self.lat is not None and self.lon is not None
        return not (self.where.strip() or self.insee.strip() or has_point or self.name.strip())

    @property
    def what(self) -> What:
        return What(self.specialty.strip(), self.profession.strip(), self.name, self.text)

    @property
    def filters(self) -> Filters:
        return Filters(self.within, tuple(self.modalities), self.sas_only, tuple(self.kinds))


@dataclass(frozen=True, slots=True)
class WhyNothing:
    """Why a search shows few or no results ("Pourquoi rien ?")."""

    candidates: int
    removed: tuple[tuple[str, int], ...]
    failed_sources: tuple[tuple[str, str], ...]
    widen_to_km: float | None


@dataclass(slots=True)
class SearchOutcome:
    """What the results page shows."""

    request: SearchRequest
    place: Place | None = None
    radius_km: float = 0.0
    widened_from_km: float | None = None
    cards: list[Card] = field(default_factory=list)
    total: int = 0  # practitioners and sites found (after filters), not cards
    entries: int = 0  # cards (a CPTS card stands for several practitioners)
    with_slots: int = 0
    page: int = 1
    pages: int = 1
    why: WhyNothing | None = None
    problem: str | None = None
    candidates: list[geo.Commune] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    treating_found: bool | None = None
    cpts_name: str | None = None  # the CPTS the search is restricted to
    duration_ms: int = 0


@dataclass(slots=True)
class _Round:
    """Candidates, slot facts and filter results at one radius."""

    radius_km: float
    candidates: dict[str, Candidate]
    facts: dict[str, list[SlotFact]]
    filtered: Filtered


def _gather(
    session: Session,
    request: SearchRequest,
    place: Place | None,
    radius_km: float,
    *,
    now: datetime,
    until: datetime,
    department: str | None = None,
    members: frozenset[int] | None = None,
) -> _Round:
    """``department``: a department-level search, whose candidates are that department's;
    ``members``: the practitioner ids a search restricted to a CPTS keeps."""
    lat, lon = (place.lat, place.lon) if place else (None, None)
    what = request.what
    found = find_candidates(
        session,
        lat=lat,
        lon=lon,
        radius_km=radius_km,
        what=what,
        department=department,
    )
    if members is not None:
        found = {n: c for n, c in found.items() if c.row_id in members}
    elif lat is not None and lon is not None:
        found |= find_sos_sites(
            session, lat=lat, lon=lon, radius_km=radius_km, what=what, department=department
        )
    treating = request.treating.strip()
    if treating and treating not in found:
        doctor = find_treating(session, treating, lat=lat, lon=lon)
        if doctor is not None and (
            doctor.department == department
            if department is not None
            else doctor.distance_km <= radius_km
        ):
            found[treating] = doctor
    facts = slot_facts(session, found, now=now, until=until, within=request.within)
    filtered = apply_filters(found, facts, request.filters, exempt=[treating])
    return _Round(radius_km, found, facts, filtered)


def _within(round_: _Round, radius_km: float, request: SearchRequest, now: datetime) -> _Round:
    """The same round cut down to a smaller radius (no new query)."""
    found = {n: c for n, c in round_.candidates.items() if c.distance_km <= radius_km}
    exempt = [request.treating.strip()]
    filtered = apply_filters(found, round_.facts, request.filters, exempt=exempt)
    return _Round(radius_km, found, round_.facts, filtered)


def _widen(
    session: Session,
    request: SearchRequest,
    resolved: Resolved,
    first: _Round,
    *,
    now: datetime,
    until: datetime,
    members: frozenset[int] | None = None,
) -> _Round:
    """Widen step by step (one query at the widest radius) until enough have slots; a
    department-level search is never widened beyond its department."""
    if (
        resolved.is_department
        or resolved.explicit_radius
        or resolved.place is None
        or len(first.filtered.with_slots) >= ENOUGH_WITH_SLOTS
        or first.radius_km >= resolved.max_radius_km
        or resolved.step_km <= 0
    ):
        return first
    wide = _gather(
        session,
        request,
        resolved.place,
        resolved.max_radius_km,
        now=now,
        until=until,
        members=members,
    )
    radius = first.radius_km
    while radius < resolved.max_radius_km:
        radius = min(radius + resolved.step_km, resolved.max_radius_km)
        candidates = wide.candidates
        near = sum(1 for n in wide.filtered.with_slots if candidates[n].distance_km <= radius)
        if near >= ENOUGH_WITH_SLOTS:
            break
    return wide if radius >= resolved.max_radius_km else _within(wide, radius, request, now)


def _query_key(request: SearchRequest, place: Place | None) -> str:
    where = ""
    if place is not None:
        where = place.insee or place.department or f"{place.lat:.3f},{place.lon:.3f}"
    parts = (where, request.specialty, request.profession, request.name, request.text)
    return "|".join(geo.normalize_name(p) for p in parts)


def _problem(request: SearchRequest, resolved: Resolved) -> str:
    if resolved.problem:
        return resolved.problem
    typed = request.where.strip() or request.insee.strip()
    if not typed and request.lat is None:
        return "Indiquez un lieu pour rechercher un professionnel par son nom."
    return (
        f"Lieu « {typed} » introuvable : saisissez une commune, un code postal, "
        "un code INSEE, un département ou une adresse"
        + (", ou choisissez une des communes proposées." if resolved.candidates else ".")
    )


def search(
    session: Session,
    request: SearchRequest,
    *,
    actor: str | None = None,
    now: datetime | None = None,
    geocoder: Geocoder | None = None,
    departments: tuple[str, ...] = (),
    labels: SourceLabels | None = None,
) -> SearchOutcome:
    """Run a search, log it anonymously and audit it for ``actor`` (a user id).

    ``departments`` (the regulator's territories') settle homonymous communes.
    The audit says who searched what and where, and how many were found; never
    the free text or name typed, which could identify a patient. ``labels`` name the
    slot sources on the cards.
    """
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    outcome = SearchOutcome(request=request)
    if request.is_empty:
        return outcome
    resolved = resolve(
        where=request.where,
        insee=request.insee,
        lat=request.lat,
        lon=request.lon,
        radius_km=request.radius_km,
        geocoder=geocoder,
        departments=departments,
    )
    outcome.notices.extend(resolved.notices)
    place = resolved.place
    if place is None and not request.what.national_ids:
        outcome.problem = _problem(request, resolved)
        outcome.candidates = list(resolved.candidates)
        return outcome
    outcome.place = place
    until = max(slots.window(now)[1], now + timedelta(hours=72))
    department = place.department if place is not None and resolved.is_department else None
    members = None
    if request.cpts.strip():
        cpts = find_cpts(session, request.cpts.strip())
        if cpts is None:
            outcome.notices.append("CPTS inconnue : tous les résultats sont affichés.")
        else:
            outcome.cpts_name, members = cpts
    first = _gather(
        session,
        request,
        place,
        resolved.radius_km,
        now=now,
        until=until,
        department=department,
        members=members,
    )
    final = _widen(session, request, resolved, first, now=now, until=until, members=members)
    outcome.radius_km = final.radius_km
    if final.radius_km > first.radius_km:
        outcome.widened_from_km = first.radius_km
    ranked = build_cards(
        session,
        [final.candidates[n] for n in final.filtered.kept],
        final.filtered.with_slots,
        treating=request.treating.strip(),
        by_distance=place is None or place.precision in ("adresse", "carte"),
        seed=daily_seed(_query_key(request, place), now),
        group_by_cpts=members is None,
    )
    treating = request.treating.strip()
    if treating:
        outcome.treating_found = treating in final.candidates
        if not outcome.treating_found:
            outcome.notices.append(
                "Le médecin traitant n'exerce pas dans le rayon de recherche ou est inconnu "
                "de l'annuaire."
            )
    # practitioners and sites, like ``with_slots`` (a CPTS card stands for several)
    outcome.total = len(final.filtered.kept)
    outcome.with_slots = len(final.filtered.with_slots)
    outcome.entries = len(ranked)
    size = max(1, request.page_size)
    outcome.pages = max(1, math.ceil(len(ranked) / size))
    outcome.page = min(max(1, request.page), outcome.pages)
    page = ranked.cards(session, (outcome.page - 1) * size, outcome.page * size)
    outcome.cards = card_slots(
        session,
        page,
        final.candidates,
        kinds=request.kinds,
        modalities=request.modalities,
        treating=request.treating.strip(),
        now=now,
        labels=labels,
    )
    if outcome.total < ENOUGH_WITH_SLOTS or outcome.with_slots == 0:
        widen_to = None
        if final.radius_km < resolved.max_radius_km:
            widen_to = min(final.radius_km + resolved.step_km, resolved.max_radius_km)
        outcome.why = WhyNothing(
            candidates=len(final.candidates),
            removed=tuple(final.filtered.removed),
            failed_sources=failed_sources(session, final.candidates, now=now),
            widen_to_km=widen_to,
        )
    outcome.duration_ms = round((time.perf_counter() - started) * 1000)
    _log(session, outcome, resolved, actor)
    return outcome


def _log(session: Session, outcome: SearchOutcome, resolved: Resolved, actor: str | None) -> None:
    request, place = outcome.request, outcome.place
    if place is None:
        where_kind = "identifier"
    elif resolved.is_department:
        where_kind = "department"
    else:
        where_kind = {"adresse": "address", "carte": "map"}.get(place.precision, "commune")
    specialty = request.specialty or None
    session.add(
        SearchLog(
            where_kind=where_kind,
            insee_code=place.insee if place else None,
            department=place.department if place else None,
            specialty=specialty,
            radius_km=outcome.radius_km,
            result_count=outcome.total,
            with_slots_count=outcome.with_slots,
            duration_ms=outcome.duration_ms,
            origin=request.origin or None,
        )
    )
    audit.record(
        session,
        "search",
        actor=actor,
        target=(place.insee or place.department) if place else None,
        details={
            "specialty": specialty,
            "insee": place.insee if place else None,
            "department": place.department if place else None,
            "precision": place.precision if place else None,
            "radius_km": outcome.radius_km,
            "result_count": outcome.total,
            "with_slots": outcome.with_slots,
            "origin": request.origin or None,
        },
    )
    session.commit()
