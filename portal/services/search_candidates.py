"""Who a search finds: practitioners and SOS Médecins sites around a centre, matching the
what-part (specialty, profession, name or RPPS, free text).

One SQL query narrowed by the bounding box of the radius (indexed on lat/lon) gives
the rows; the exact distance is computed in Python for the rows of the box only, and
so are the accent-insensitive name prefix and free-text matches.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from portal.models import PlaceOfPractice, Practitioner, Structure, StructureMembership
from portal.services import geo, reference

#: SOS Médecins consultation sites answer general-practice searches.
SOS_SPECIALTIES = {"", "SM54", "SM26", "SM53"}
#: Slot kinds regulators may see (TRE_R314 as the normalised slot spells them).
REGULATOR_KINDS = ("public", "pro", "sas", "cpts")
_ID = re.compile(r"\d{8,14}")
#: Above this many ids, queries take them from a subquery or in chunks, not one list.
MAX_LISTED_IDS = 2000


@dataclass(frozen=True, slots=True)
class Hit:
    """One result: a practitioner at their nearest place of practice, an SOS Médecins
    consultation site or a CPTS (``kind="structure"``)."""

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
    cpts: tuple[str, ...] = ()


@dataclass(slots=True)
class Candidate:
    """A hit before badges, with what the filters and the free text need."""

    hit: Hit
    refuses_public: bool = False
    refuses_pro: bool = False
    place_kind: str | None = None  # kind of the structure of the nearest place (MSP…)
    haystack: str = ""  # folded names, specialty, place and structure names

    def visible_kinds(self, kinds: Sequence[str]) -> frozenset[str]:
        """The slot kinds shown for this practitioner: asked kinds minus refused displays."""
        shown = set(kinds or REGULATOR_KINDS)
        if self.refuses_public:
            shown.discard("public")
        if self.refuses_pro:
            shown.discard("pro")
        return frozenset(shown)


@dataclass(frozen=True, slots=True)
class What:
    """The what-part of a search."""

    specialty: str = ""
    profession: str = ""
    name: str = ""
    text: str = ""

    @property
    def national_ids(self) -> tuple[str, ...]:
        """The national ids a name made of digits may be (as is, 8+RPPS, 0+ADELI)."""
        value = self.name.strip()
        if not _ID.fullmatch(value):
            return ()
        return (value, f"8{value}", f"0{value}")


def _candidate_query(
    what: What, box: tuple[float, float, float, float] | None, columns: Sequence[Any]
) -> Select[Any]:
    query = (
        select(*columns)
        .join(PlaceOfPractice, PlaceOfPractice.practitioner_id == Practitioner.id)
        .where(PlaceOfPractice.lat.is_not(None), PlaceOfPractice.lon.is_not(None))
    )
    if box is not None:
        query = query.where(
            PlaceOfPractice.lat.between(box[0], box[1]),
            PlaceOfPractice.lon.between(box[2], box[3]),
        )
    if what.specialty:
        query = query.where(Practitioner.specialty_code == what.specialty)
    if what.profession:
        query = query.where(Practitioner.profession_code == what.profession)
    if what.national_ids:
        query = query.where(Practitioner.national_id.in_(what.national_ids))
    return query


def _words_match(query: str, haystack: str, *, prefix: bool) -> bool:
    words = haystack.split()
    for token in query.split():
        if prefix and not any(w.startswith(token) for w in words):
            return False
        if not prefix and token not in haystack:
            return False
    return True


def find_candidates(
    session: Session, *, lat: float | None, lon: float | None, radius_km: float, what: What
) -> dict[str, Candidate]:
    """Practitioners within ``radius_km`` (anywhere when there is no centre) matching ``what``,
    each at their nearest place, keyed by national id."""
    box = geo.bounding_box(lat, lon, radius_km) if lat is not None and lon is not None else None
    columns = (
        Practitioner.id,
        Practitioner.national_id,
        Practitioner.title,
        Practitioner.family_name,
        Practitioner.given_name,
        Practitioner.specialty_code,
        Practitioner.sas_participation,
        Practitioner.refuses_public_display,
        Practitioner.refuses_pro_display,
        PlaceOfPractice.name,
        PlaceOfPractice.address_line,
        PlaceOfPractice.postal_code,
        PlaceOfPractice.city,
        PlaceOfPractice.department,
        PlaceOfPractice.phone,
        PlaceOfPractice.lat,
        PlaceOfPractice.lon,
        Structure.kind,
        Structure.name,
    )
    query = _candidate_query(what, box, columns).outerjoin(
        Structure, Structure.id == PlaceOfPractice.structure_id
    )
    name = geo.normalize_name(what.name) if not what.national_ids else ""
    text = geo.normalize_name(what.text)
    found: dict[str, Candidate] = {}
    labels: dict[str | None, str] = {}
    for row in session.execute(query):
        assert row.lat is not None and row.lon is not None  # filtered in SQL
        distance = 0.0
        if lat is not None and lon is not None:
            distance = geo.distance_km(lat, lon, row.lat, row.lon)
            if distance > radius_km:
                continue
        known = found.get(row.national_id)
        if known is not None and known.hit.distance_km <= distance:
            continue
        label = labels.get(row.specialty_code)
        if label is None:
            code = row.specialty_code
            label = labels[code] = reference.display_specialty(code) if code else ""
        haystack = ""
        if name or text:  # folding every row costs: only when a name or text is asked
            haystack = geo.normalize_name(f"{row.family_name} {row.given_name}")
            if name and not _words_match(name, haystack, prefix=True):
                continue
            haystack += " " + geo.normalize_name(f"{label} {row[9]} {row[18] or ''}")
            if text and not _words_match(text, haystack, prefix=False):
                continue
        prefix = "Dr " if (row.title or "").upper() == "DR" else ""
        hit = Hit(
            kind="practitioner",
            row_id=row.id,
            national_id=row.national_id,
            name=f"{prefix}{row.given_name} {row.family_name}".strip(),
            specialty_code=row.specialty_code,
            specialty_label=label,
            sas_participation=row.sas_participation,
            place_name=row[9],
            address_line=row.address_line,
            postal_code=row.postal_code,
            city=row.city,
            department=row.department,
            phone=row.phone,
            lat=row.lat,
            lon=row.lon,
            distance_km=distance,
        )
        found[row.national_id] = Candidate(
            hit, row.refuses_public_display, row.refuses_pro_display, row.kind, haystack
        )
    return found


def find_sos_sites(
    session: Session, *, lat: float, lon: float, radius_km: float, what: What
) -> dict[str, Candidate]:
    """SOS Médecins consultation sites within ``radius_km``, for general-practice searches."""
    if what.specialty not in SOS_SPECIALTIES or what.name or what.profession not in ("", "10"):
        return {}
    min_lat, max_lat, min_lon, max_lon = geo.bounding_box(lat, lon, radius_km)
    query = (
        select(Structure.id, Structure.national_id, Structure.name, PlaceOfPractice)
        .join(PlaceOfPractice, PlaceOfPractice.structure_id == Structure.id)
        .where(
            Structure.kind == "SOS",
            PlaceOfPractice.practitioner_id.is_(None),
            PlaceOfPractice.lat.between(min_lat, max_lat),
            PlaceOfPractice.lon.between(min_lon, max_lon),
        )
    )
    text = geo.normalize_name(what.text)
    found: dict[str, Candidate] = {}
    for row_id, national_id, name, place in session.execute(query):
        assert place.lat is not None and place.lon is not None  # filtered by the box
        distance = geo.distance_km(lat, lon, place.lat, place.lon)
        haystack = geo.normalize_name(f"{name} {place.name} sos medecins")
        if distance > radius_km or (text and not _words_match(text, haystack, prefix=False)):
            continue
        if national_id in found and found[national_id].hit.distance_km <= distance:
            continue
        hit = Hit(
            "structure", row_id, national_id, name, None, "SOS Médecins — site de consultation",
            True, place.name, place.address_line, place.postal_code, place.city,
            place.department, place.phone, place.lat, place.lon, distance,
        )  # fmt: skip
        found[national_id] = Candidate(hit, place_kind="SOS", haystack=haystack)
    return found


def find_treating(
    session: Session, national_id: str, *, lat: float | None, lon: float | None
) -> Candidate | None:
    """The médecin traitant at their nearest place, whatever the what-part asked."""
    what = What(name=national_id)
    if not what.national_ids:
        return None
    found = find_candidates(session, lat=lat, lon=lon, radius_km=40_000.0, what=what)
    return found.get(national_id)


def candidate_ids_query(
    *, lat: float | None, lon: float | None, radius_km: float, what: What
) -> Select[Any]:
    """The national ids of the candidates' box, for :func:`slot_facts` with many candidates."""
    box = geo.bounding_box(lat, lon, radius_km) if lat is not None and lon is not None else None
    return _candidate_query(what, box, (Practitioner.national_id,))


def cpts_of(session: Session, kept: Iterable[Candidate]) -> dict[int, list[tuple[str, str]]]:
    """``practitioner id → [(CPTS national id, name)]`` for the practitioners ``kept``.

    One query over the CPTS of the candidates' departments (and those without one),
    reading memberships by their primary key (structure first); a list of practitioner
    ids would need an index the memberships table does not have.
    """
    ids = {c.hit.row_id for c in kept if c.hit.kind == "practitioner"}
    if not ids:
        return {}
    departments = {c.hit.department for c in kept if c.hit.department}
    query = (
        select(StructureMembership.practitioner_id, Structure.national_id, Structure.name)
        .join(StructureMembership, StructureMembership.structure_id == Structure.id)
        .where(
            Structure.kind == "CPTS",
            or_(Structure.department.in_(sorted(departments)), Structure.department.is_(None)),
        )
        .order_by(Structure.national_id)
    )
    found: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for practitioner_id, national_id, name in session.execute(query):
        if practitioner_id in ids:
            found[practitioner_id].append((national_id, name))
    return found
