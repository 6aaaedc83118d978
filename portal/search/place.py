"""Where a search looks: a commune, a department, a street address or a point on the map.

Pure geography over the shipped index (``portal.reference.geo``) and an optional
street-level geocoder; no database. The radius comes from the national
department table: a commune or an address starts at the department's city
radius, a department-level search uses the department-wide radius.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from portal.reference import geo

Precision = Literal["adresse", "commune", "carte"]
Geocoder = Callable[[str], "Place | None"]

_DEPARTMENT = re.compile(r"\d{2,3}|2[AB]", re.I)
_POSTCODE = re.compile(r"\b(\d{5})\b")


@dataclass(frozen=True, slots=True)
class Place:
    """The centre of a search and how precisely it is known."""

    label: str  # "Agen (47000)" or "12 rue X, 47000 Agen"
    lat: float
    lon: float
    insee: str | None
    department: str | None
    precision: Precision


@dataclass(frozen=True, slots=True)
class Resolved:
    """A place with its radii (initial, step, maximum) and what to tell the regulator."""

    place: Place | None
    radius_km: float = 0.0
    step_km: float = 0.0
    max_radius_km: float = 0.0
    is_department: bool = False
    explicit_radius: bool = False
    candidates: tuple[geo.Commune, ...] = ()
    notices: tuple[str, ...] = ()


def commune_place(commune: geo.Commune) -> Place:
    return Place(
        commune.label, commune.lat, commune.lon, commune.insee, commune.department, "commune"
    )


@functools.lru_cache(maxsize=4096)
def nearest_commune(lat: float, lon: float) -> geo.Commune | None:
    """The commune whose centre is nearest (planar approximation; enough for a department)."""
    best, best_d = None, float("inf")
    for commune in geo.get_index():
        d = (commune.lat - lat) ** 2 + (commune.lon - lon) ** 2
        if d < best_d:
            best, best_d = commune, d
    return best


def _radii(department: str | None) -> tuple[float, float, float]:
    """(city radius, enlargement step, department-wide radius) of a department."""
    try:
        r = geo.get_index().department_radius(department or "")
    except KeyError:
        return (
            geo.DEFAULT_CITY_RADIUS_KM,
            geo.DEFAULT_ENLARGEMENT_KM,
            geo.DEFAULT_COUNTY_RADIUS_KM,
        )
    return (r.city_radius_km, r.enlargement_km, max(r.county_radius_km, r.city_radius_km))


def _around(place: Place, notices: tuple[str, ...] = ()) -> Resolved:
    city, step, county = _radii(place.department)
    return Resolved(place, city, step, county, notices=notices)


def _department(text: str) -> Resolved | None:
    if not _DEPARTMENT.fullmatch(text):
        return None
    try:
        r = geo.get_index().department_radius(text)
    except KeyError:
        return None
    place = Place(f"{r.label} ({r.code})", r.lat, r.lon, None, r.code, "commune")
    county = max(r.county_radius_km, r.city_radius_km)
    return Resolved(place, county, r.enlargement_km, county, is_department=True)


def _commune_part(text: str) -> geo.Commune | None:
    """The commune named in an address ("12 rue X, 47000 Agen" → Agen)."""
    index = geo.get_index()
    match = _POSTCODE.search(text)
    if match:
        after = text[match.end() :].strip(" ,")
        return index.resolve(f"{match[1]} {after}" if after else match[1])
    parts = [p.strip() for p in text.split(",") if p.strip()]
    for part in reversed(parts):
        commune = index.resolve(part)
        if commune is not None:
            return commune
    return None


def _typo_candidates(text: str) -> tuple[geo.Commune, ...]:
    """The communes of the longest prefix that matches some ("Agenn" → Agen…)."""
    index = geo.get_index()
    for end in range(len(text), 2, -1):
        found = index.suggest(text[:end], limit=8)
        if found:
            return tuple(found)
    return ()


def resolve(
    *,
    where: str = "",
    insee: str = "",
    lat: float | None = None,
    lon: float | None = None,
    radius_km: float | None = None,
    geocoder: Geocoder | None = None,
) -> Resolved:
    """Resolve the where-part of a search; ``Resolved.place`` is None when nothing matched."""
    index = geo.get_index()
    commune = index.by_insee(insee.strip()) if insee.strip() else None
    if lat is not None and lon is not None:
        near = commune or nearest_commune(round(lat, 3), round(lon, 3))
        label = f"Autour de {near.name}" if near else "Point choisi sur la carte"
        department = near.department if near else None
        place = Place(label, lat, lon, near.insee if near else None, department, "carte")
        resolved = _around(place)
        if radius_km:
            county = max(radius_km, resolved.max_radius_km)
            return Resolved(place, radius_km, resolved.step_km, county, explicit_radius=True)
        return resolved
    if commune is not None:
        return _around(commune_place(commune))
    text = where.strip()
    if not text:
        return Resolved(None)
    by_department = _department(text)
    if by_department is not None:
        return by_department
    commune = index.resolve(text)
    if commune is not None:
        return _around(commune_place(commune))
    if geocoder is not None:
        geocoded = geocoder(text)
        if geocoded is not None:
            return _around(geocoded)
    # Without a geocoder (or when it fails) an address still has a commune.
    commune = _commune_part(text)
    if commune is not None:
        notice = f"Adresse « {text} » non localisée : recherche autour du centre de {commune.name}."
        return _around(commune_place(commune), (notice,))
    return Resolved(None, candidates=_typo_candidates(text))
