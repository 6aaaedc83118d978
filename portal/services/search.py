"""The regulator's search: practitioners of the directory around a place.

Pure logic over the database session; never renders HTML. The where-part is
resolved by the geo index (INSEE code, postcode or commune name); the search
radius is the department's default city radius from the national table,
widened by the table's enlargement step (up to the department-wide radius)
when nobody is found.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.models import PlaceOfPractice, Practitioner, SearchLog, Structure
from portal.services import audit, calendar, geo, reference, slot_cache, slots


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """What the regulator asked. ``insee`` is set when a commune was picked."""

    where: str = ""
    insee: str = ""
    specialty: str = ""
    limit: int = 50

    @property
    def is_empty(self) -> bool:
        return not (self.where.strip() or self.insee.strip())


@dataclass(frozen=True, slots=True)
class Hit:
    """One result card: a practitioner at their nearest place of practice, or an
    SOS Médecins consultation site (``kind="structure"``)."""

    kind: str
    row_id: int
    national_id: str
    name: str
    specialty_code: str | None
    specialty_label: str
    sas_participation: bool
    place_name: str
    address_line: str
    postal_code: str
    city: str
    department: str | None
    phone: str
    lat: float
    lon: float
    distance_km: float
    badges: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CardSlots:
    """The slots shown on one card, with their freshness."""

    calendar: calendar.CalendarView
    age: str
    failing: tuple[str, ...]
    sources: tuple[str, ...]


#: SOS Médecins consultation sites answer general-practice searches.
SOS_SPECIALTIES = {"", "SM54", "SM26", "SM53"}


@dataclass(slots=True)
class SearchOutcome:
    """What the results page shows."""

    request: SearchRequest
    commune: geo.Commune | None = None
    radius_km: float = 0.0
    widened_from_km: float | None = None
    hits: list[Hit] = field(default_factory=list)
    cards: dict[str, CardSlots] = field(default_factory=dict)
    total: int = 0
    problem: str | None = None
    candidates: list[geo.Commune] = field(default_factory=list)
    duration_ms: int = 0


def resolve_place(request: SearchRequest) -> tuple[geo.Commune | None, list[geo.Commune]]:
    """The commune of the request, or candidates when the text is ambiguous."""
    index = geo.get_index()
    if request.insee.strip():
        commune = index.by_insee(request.insee.strip())
        if commune is not None:
            return commune, []
    text = request.where.strip()
    if not text:
        return None, []
    commune = index.resolve(text)
    if commune is not None:
        return commune, []
    # A typo ("Agenn"): propose the communes of the longest prefix that matches some.
    for end in range(len(text), 2, -1):
        candidates = index.suggest(text[:end], limit=8)
        if candidates:
            return None, candidates
    return None, []


def find_practitioners(
    session: Session,
    *,
    lat: float,
    lon: float,
    radius_km: float,
    specialty: str | None = None,
) -> list[Hit]:
    """Practitioners with a place of practice within ``radius_km``, nearest first.

    A bounding box narrows the rows in SQL (indexed on lat/lon); the exact
    great-circle distance is then computed for the few rows left.
    """
    min_lat, max_lat, min_lon, max_lon = geo.bounding_box(lat, lon, radius_km)
    query = (
        select(Practitioner, PlaceOfPractice)
        .join(PlaceOfPractice, PlaceOfPractice.practitioner_id == Practitioner.id)
        .where(
            PlaceOfPractice.lat.between(min_lat, max_lat),
            PlaceOfPractice.lon.between(min_lon, max_lon),
        )
    )
    if specialty:
        query = query.where(Practitioner.specialty_code == specialty)
    nearest: dict[int, Hit] = {}
    for practitioner, place in session.execute(query):
        assert place.lat is not None and place.lon is not None  # filtered by the box
        distance = geo.distance_km(lat, lon, place.lat, place.lon)
        if distance > radius_km:
            continue
        known = nearest.get(practitioner.id)
        if known is not None and known.distance_km <= distance:
            continue
        nearest[practitioner.id] = Hit(
            kind="practitioner",
            row_id=practitioner.id,
            national_id=practitioner.national_id,
            name=practitioner.display_name,
            specialty_code=practitioner.specialty_code,
            specialty_label=(
                reference.display_specialty(practitioner.specialty_code)
                if practitioner.specialty_code
                else ""
            ),
            sas_participation=practitioner.sas_participation,
            place_name=place.name,
            address_line=place.address_line,
            postal_code=place.postal_code,
            city=place.city,
            department=place.department,
            phone=place.phone,
            lat=place.lat,
            lon=place.lon,
            distance_km=distance,
            badges=("sas",) if practitioner.sas_participation else (),
        )
    return sorted(nearest.values(), key=lambda h: (h.distance_km, h.name))


def find_sos_sites(session: Session, *, lat: float, lon: float, radius_km: float) -> list[Hit]:
    """SOS Médecins consultation sites within ``radius_km`` (their slots are the
    association's, not a named doctor's)."""
    min_lat, max_lat, min_lon, max_lon = geo.bounding_box(lat, lon, radius_km)
    query = (
        select(Structure, PlaceOfPractice)
        .join(PlaceOfPractice, PlaceOfPractice.structure_id == Structure.id)
        .where(
            Structure.kind == "SOS",
            PlaceOfPractice.practitioner_id.is_(None),
            PlaceOfPractice.lat.between(min_lat, max_lat),
            PlaceOfPractice.lon.between(min_lon, max_lon),
        )
    )
    hits = []
    for structure, place in session.execute(query):
        assert place.lat is not None and place.lon is not None
        distance = geo.distance_km(lat, lon, place.lat, place.lon)
        if distance <= radius_km:
            hits.append(
                Hit(
                    kind="structure",
                    row_id=structure.id,
                    national_id=structure.national_id,
                    name=structure.name,
                    specialty_code=None,
                    specialty_label="SOS Médecins — site de consultation",
                    sas_participation=True,
                    place_name=place.name,
                    address_line=place.address_line,
                    postal_code=place.postal_code,
                    city=place.city,
                    department=place.department,
                    phone=place.phone,
                    lat=place.lat,
                    lon=place.lon,
                    distance_km=distance,
                    badges=("sos", "sas"),
                )
            )
    return hits


def find_offer(
    session: Session, *, lat: float, lon: float, radius_km: float, specialty: str | None
) -> list[Hit]:
    """Practitioners and, for general practice, SOS Médecins sites; nearest first."""
    hits = find_practitioners(session, lat=lat, lon=lon, radius_km=radius_km, specialty=specialty)
    if (specialty or "") in SOS_SPECIALTIES:
        hits += find_sos_sites(session, lat=lat, lon=lon, radius_km=radius_km)
    return sorted(hits, key=lambda h: (h.distance_km, h.name))


def card_slots(
    session: Session, hits: list[Hit], *, now: datetime | None = None
) -> dict[str, CardSlots]:
    """The cached slots of the shown cards, one query for the whole page."""
    now = now or datetime.now(UTC)
    start, end = slots.window(now)
    cached = slot_cache.cached_slots(session, [h.national_id for h in hits], start, end)
    cards = {}
    for hit in hits:
        found = cached.get(hit.national_id)
        if found is None:
            continue
        cards[hit.national_id] = CardSlots(
            calendar=calendar.three_days(found.slots, department=hit.department, now=now),
            age=calendar.age_label(found.fetched_at, now),
            failing=found.failing,
            sources=found.sources,
        )
    return cards


def search(session: Session, request: SearchRequest, *, actor: str | None = None) -> SearchOutcome:
    """Run a search, log it anonymously and audit it for ``actor`` (a user id).

    The audit says who searched what and where, and how many were found; never
    the free text typed, which could identify a patient.
    """
    started = time.perf_counter()
    outcome = SearchOutcome(request=request)
    if request.is_empty:
        return outcome
    commune, candidates = resolve_place(request)
    if commune is None:
        outcome.candidates = candidates
        outcome.problem = (
            f"Lieu « {request.where.strip() or request.insee.strip()} » introuvable : "
            "saisissez une commune, un code postal ou un code INSEE"
            + (", ou choisissez une des communes proposées." if candidates else ".")
        )
        return outcome
    outcome.commune = commune
    radius = geo.get_index().department_radius(commune.department)
    specialty = request.specialty or None
    outcome.radius_km = radius.city_radius_km
    hits = find_offer(
        session, lat=commune.lat, lon=commune.lon, radius_km=outcome.radius_km, specialty=specialty
    )
    while not hits and outcome.radius_km < radius.county_radius_km and radius.enlargement_km > 0:
        outcome.widened_from_km = outcome.widened_from_km or outcome.radius_km
        outcome.radius_km = min(outcome.radius_km + radius.enlargement_km, radius.county_radius_km)
        hits = find_offer(
            session,
            lat=commune.lat,
            lon=commune.lon,
            radius_km=outcome.radius_km,
            specialty=specialty,
        )
    outcome.total = len(hits)
    outcome.hits = hits[: request.limit]
    outcome.cards = card_slots(session, outcome.hits)
    outcome.duration_ms = round((time.perf_counter() - started) * 1000)
    session.add(
        SearchLog(
            where_kind="commune",
            insee_code=commune.insee,
            department=commune.department,
            specialty=specialty,
            radius_km=outcome.radius_km,
            result_count=outcome.total,
            duration_ms=outcome.duration_ms,
        )
    )
    audit.record(
        session,
        "search",
        actor=actor,
        target=commune.insee,
        details={
            "specialty": specialty,
            "insee": commune.insee,
            "department": commune.department,
            "radius_km": outcome.radius_km,
            "result_count": outcome.total,
        },
    )
    session.commit()
    return outcome
