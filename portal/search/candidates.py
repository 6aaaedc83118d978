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
from typing import Any, NamedTuple

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from portal.models import PlaceOfPractice, Practitioner, Structure, StructureMembership
from portal.reference import geo
from portal.reference import terminology as reference

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


class Candidate(NamedTuple):
    """A light candidate (no names nor addresses): what ranking and the filters need.

    The full :class:`Hit` is built by :func:`hits_for` for the cards shown only; an SOS
    Médecins site (few) carries its hit already."""

    kind: str
    row_id: int
    national_id: str
    specialty_code: str | None
    sas_participation: bool
    refuses_public: bool
    refuses_pro: bool
    lat: float
    lon: float
    distance_km: float
    department: str | None
    place_id: int
    place_kind: str | None = None  # kind of the structure of the nearest place (MSP…)
    haystack: str = ""  # folded names, specialty, place and structure names (when asked)
    hit: Hit | None = None

    @property
    def refused_kinds(self) -> frozenset[str]:
        """The slot kinds this practitioner refuses to display to regulators."""
        return refused_kinds(self.refuses_public, self.refuses_pro)

    def visible_kinds(self, kinds: Sequence[str]) -> frozenset[str]:
        """The slot kinds shown for this practitioner: asked kinds minus refused displays."""
        return frozenset(kinds or REGULATOR_KINDS) - self.refused_kinds


def refused_kinds(refuses_public: bool, refuses_pro: bool) -> frozenset[str]:
    """The slot kinds hidden by a practitioner's refusals to display (public, pro)."""
    return frozenset(k for k, no in (("public", refuses_public), ("pro", refuses_pro)) if no)


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
    what: What,
    box: tuple[float, float, float, float] | None,
    columns: Sequence[Any],
    department: str | None = None,
) -> Select[Any]:
    query = (
        select(*columns)
        .join(PlaceOfPractice, PlaceOfPractice.practitioner_id == Practitioner.id)
        .where(PlaceOfPractice.lat.is_not(None), PlaceOfPractice.lon.is_not(None))
    )
    if department is not None:
        # a department-level search: its places (indexed column), not a circle
        query = query.where(PlaceOfPractice.department == department)
    elif box is not None:
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
    session: Session,
    *,
    lat: float | None,
    lon: float | None,
    radius_km: float,
    what: What,
    department: str | None = None,
) -> dict[str, Candidate]:
    """Practitioners within ``radius_km`` (anywhere when there is no centre) matching ``what``,
    each at their nearest place, keyed by national id.

    With ``department`` (a department-level search), the practitioners with a place in that
    department instead, whatever the radius; distances are still from the centre."""
    box = geo.bounding_box(lat, lon, radius_km) if lat is not None and lon is not None else None
    name = geo.normalize_name(what.name) if not what.national_ids else ""
    text = geo.normalize_name(what.text)
    columns: list[Any] = [
        Practitioner.id,
        Practitioner.national_id,
        Practitioner.specialty_code,
        Practitioner.sas_participation,
        Practitioner.refuses_public_display,
        Practitioner.refuses_pro_display,
        PlaceOfPractice.lat,
        PlaceOfPractice.lon,
        PlaceOfPractice.department,
        PlaceOfPractice.id,
        Structure.kind,
    ]
    if name or text:  # folding every row costs: only when a name or text is asked
        columns += [
            Practitioner.family_name,
            Practitioner.given_name,
            PlaceOfPractice.name,
            Structure.name,
        ]
    query = _candidate_query(what, box, columns, department).outerjoin(
        Structure, Structure.id == PlaceOfPractice.structure_id
    )
    distance_km = geo.distance_km
    found: dict[str, Candidate] = {}
    labels: dict[str | None, str] = {}
    for row in session.execute(query):
        row_id, national_id, code, sas, refuses_public, refuses_pro, p_lat, p_lon = row[:8]
        assert p_lat is not None and p_lon is not None  # filtered in SQL
        distance = 0.0
        if lat is not None and lon is not None:
            distance = distance_km(lat, lon, p_lat, p_lon)
            if distance > radius_km and department is None:
                continue
        known = found.get(national_id)
        if known is not None and known.distance_km <= distance:
            continue
        haystack = ""
        if name or text:
            family, given, place_name, structure_name = row[11:15]
            haystack = geo.normalize_name(f"{family} {given}")
            if name and not _words_match(name, haystack, prefix=True):
                continue
            label = labels.get(code)
            if label is None:
                label = labels[code] = reference.display_specialty(code) if code else ""
            haystack += " " + geo.normalize_name(f"{label} {place_name} {structure_name or ''}")
            if text and not _words_match(text, haystack, prefix=False):
                continue
        found[national_id] = Candidate(
            "practitioner", row_id, national_id, code, sas, refuses_public, refuses_pro,
            p_lat, p_lon, distance, row[8], row[9], row[10], haystack,
        )  # fmt: skip
    return found


def hits_for(session: Session, candidates: Iterable[Candidate]) -> dict[str, Hit]:
    """The full hits (names, addresses, phones, labels) of ``candidates``, by national id:
    one query over their places, for the cards shown only."""
    hits: dict[str, Hit] = {}
    wanted: dict[int, Candidate] = {}
    for candidate in candidates:
        if candidate.hit is not None:
            hits[candidate.national_id] = candidate.hit
        else:
            wanted[candidate.place_id] = candidate
    ids = sorted(wanted)
    columns = (
        PlaceOfPractice.id,
        Practitioner.title,
        Practitioner.family_name,
        Practitioner.given_name,
        PlaceOfPractice.name,
        PlaceOfPractice.address_line,
        PlaceOfPractice.postal_code,
        PlaceOfPractice.city,
        PlaceOfPractice.phone,
    )
    labels: dict[str | None, str] = {}
    for start in range(0, len(ids), MAX_LISTED_IDS):
        query = (
            select(*columns)
            .join(Practitioner, Practitioner.id == PlaceOfPractice.practitioner_id)
            .where(PlaceOfPractice.id.in_(ids[start : start + MAX_LISTED_IDS]))
        )
        for (
            place_id,
            title,
            family,
            given,
            place_name,
            address,
            postal,
            city,
            phone,
        ) in session.execute(query):
            c = wanted[place_id]
            label = labels.get(c.specialty_code)
            if label is None:
                code = c.specialty_code
                label = labels[code] = reference.display_specialty(code) if code else ""
            prefix = "Dr " if (title or "").upper() == "DR" else ""
            hits[c.national_id] = Hit(
                kind=c.kind,
                row_id=c.row_id,
                national_id=c.national_id,
                name=f"{prefix}{given} {family}".strip(),
                specialty_code=c.specialty_code,
                specialty_label=label,
                sas_participation=c.sas_participation,
                place_name=place_name,
                address_line=address,
                postal_code=postal,
                city=city,
                department=c.department,
                phone=phone,
                lat=c.lat,
                lon=c.lon,
                distance_km=c.distance_km,
            )
    return hits


def find_sos_sites(
    session: Session,
    *,
    lat: float,
    lon: float,
    radius_km: float,
    what: What,
    department: str | None = None,
) -> dict[str, Candidate]:
    """SOS Médecins consultation sites within ``radius_km`` (in ``department`` for a
    department-level search), for general-practice searches."""
    if what.specialty not in SOS_SPECIALTIES or what.name or what.profession not in ("", "10"):
        return {}
    min_lat, max_lat, min_lon, max_lon = geo.bounding_box(lat, lon, radius_km)
    query = (
        select(Structure.id, Structure.national_id, Structure.name, PlaceOfPractice)
        .join(PlaceOfPractice, PlaceOfPractice.structure_id == Structure.id)
        .where(
            Structure.kind == "SOS",
            PlaceOfPractice.practitioner_id.is_(None),
            PlaceOfPractice.lat.is_not(None),
            PlaceOfPractice.lon.is_not(None),
        )
    )
    if department is not None:
        query = query.where(PlaceOfPractice.department == department)
    else:
        query = query.where(
            PlaceOfPractice.lat.between(min_lat, max_lat),
            PlaceOfPractice.lon.between(min_lon, max_lon),
        )
    text = geo.normalize_name(what.text)
    found: dict[str, Candidate] = {}
    for row_id, national_id, name, place in session.execute(query):
        assert place.lat is not None and place.lon is not None  # filtered by the box
        distance = geo.distance_km(lat, lon, place.lat, place.lon)
        haystack = geo.normalize_name(f"{name} {place.name} sos medecins")
        if (distance > radius_km and department is None) or (
            text and not _words_match(text, haystack, prefix=False)
        ):
            continue
        if national_id in found and found[national_id].distance_km <= distance:
            continue
        hit = Hit(
            "structure", row_id, national_id, name, None, "SOS Médecins — site de consultation",
            True, place.name, place.address_line, place.postal_code, place.city,
            place.department, place.phone, place.lat, place.lon, distance,
        )  # fmt: skip
        found[national_id] = Candidate(
            "structure", row_id, national_id, None, True, False, False, place.lat, place.lon,
            distance, place.department, place.id, "SOS", haystack, hit,
        )  # fmt: skip
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


def find_cpts(session: Session, national_id: str) -> tuple[str, frozenset[int]] | None:
    """A CPTS's name and its members' practitioner ids, or None when it is unknown."""
    row = session.execute(
        select(Structure.id, Structure.name).where(
            Structure.kind == "CPTS", Structure.national_id == national_id
        )
    ).first()
    if row is None:
        return None
    members = session.scalars(
        select(StructureMembership.practitioner_id).where(
            StructureMembership.structure_id == row.id
        )
    )
    return row.name, frozenset(members)


def cpts_of(session: Session, kept: Iterable[Candidate]) -> dict[int, list[tuple[str, str]]]:
    """``practitioner id → [(CPTS national id, name)]`` for the practitioners ``kept``.

    One query over the CPTS of the candidates' departments (and those without one),
    reading memberships by their primary key (structure first); a list of practitioner
    ids would need an index the memberships table does not have.
    """
    ids = {c.row_id for c in kept if c.kind == "practitioner"}
    if not ids:
        return {}
    departments = {c.department for c in kept if c.department}
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
