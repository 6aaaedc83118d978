"""Where a search looks: a commune, a department, a street address or a point on the map.

Pure geography over the shipped index (``portal.reference.geo``) and an optional
street-level geocoder; no database. The radius comes from the national
department table: a commune or an address starts at the department's city
radius, a department-level search uses the department-wide radius.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from portal.reference import geo

Precision = Literal["adresse", "commune", "carte"]
Geocoder = Callable[[str], "Place | None"]

_DEPARTMENT = re.compile(r"\d{2,3}|2[AB]", re.I)
# Codes and "Agen (47000)"-style labels resolve directly; a bare name may have homonyms.
_NAME_AND_POSTCODE_OR_CODE = re.compile(r"\d{5}|2[AB]\d{3}|.*\(\s*\d{5}\s*\)|\d{5}\s+\D.*", re.I)
_POSTCODE = re.compile(r"\b(\d{5})\b")
# A street as regulators type it: "12 rue Voltaire", "12bis, av. Jean Jaurès", "chemin du Bois".
_STREET = re.compile(
    r"(?:\d+\s*(?:bis|ter|quater|[abc])?\b\s*,?\s*)?(?:rue|avenue|av|bd|boulevard|place|pl|"
    r"chemin|allee|allees|impasse|imp|route|rte|quai|cours|square|passage|lotissement|"
    r"residence|hameau|lieu dit|lieudit|voie|sentier|faubourg|fbg|esplanade|promenade|"
    r"rond point|mail|traverse|montee|za|zi|zac)\s",
)


@dataclass(frozen=True, slots=True)
class Place:
    """The centre of a search and how precisely it is known."""

    label: str  # "Agen (47000)" or "12 rue X, 47000 Agen"
    lat: float
    lon: float
    insee: str | None
    department: str | None
    precision: Precision
    street: str | None = None  # the street typed, kept when only its commune was located


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
    problem: str | None = None  # why no place was chosen, when the regulator must pick


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


def _street_and_commune(text: str) -> tuple[str, list[geo.Commune]] | None:
    """Split an address into its street and the communes it may name, or None.

    "12 rue Voltaire Agen", "12 rue Voltaire, 47000 Agen" and "Agen 12 rue Voltaire"
    all give ("12 rue Voltaire", [Agen]); a house number is never read as a department.
    """
    index = geo.get_index()
    match = _POSTCODE.search(text)
    if match:
        after, before = text[match.end() :].strip(" ,"), text[: match.start()].strip(" ,")
        named = [c for c in index.homonyms(after) if match[1] in c.postal_codes] if after else []
        communes = named or index.by_postcode(match[1])
        return (before or after, communes[:1]) if communes else None
    words = geo.normalize_name(text).split()
    raw_words = text.replace(",", " ").split()
    folded = " ".join(words) + " "
    street = _STREET.search(folded)
    if street is None:
        return None
    if street.start() == 0:
        # the commune ends the text: the longest tail after the street type and one word
        first = len(folded[: street.end()].split()) + 1
        for i in range(first, len(words)):
            communes = index.homonyms(" ".join(words[i:]))
            if communes:
                return (" ".join(raw_words[:i]).strip(" ,"), communes)
        return None
    # the commune comes first: "Agen 12 rue Voltaire"
    head = len(folded[: street.start()].split())
    communes = index.homonyms(" ".join(words[:head]))
    return (" ".join(raw_words[head:]).strip(" ,"), communes) if communes else None


def _pick(
    communes: list[geo.Commune], typed: str, departments: tuple[str, ...]
) -> tuple[geo.Commune | None, str | None]:
    """One commune among homonyms, preferring the regulator's departments; never a guess."""
    if len(communes) > 1 and departments:
        communes = [c for c in communes if c.department in departments] or communes
    if len(communes) == 1:
        return communes[0], None
    return None, (f"Plusieurs communes s'appellent « {typed} » : choisissez celle du patient.")


def _typo_candidates(text: str) -> tuple[geo.Commune, ...]:
    """Communes one typo away ("Agne" → Agen), then those of the longest matching prefix."""
    index = geo.get_index()
    found = index.near_misses(text, limit=5)
    for end in range(len(text), 2, -1):
        prefixed = index.suggest(text[:end], limit=8)
        if prefixed:
            return tuple(dict.fromkeys([*found, *prefixed]))[:8]
    return tuple(found)


def _by_preference(
    communes: Sequence[geo.Commune], departments: tuple[str, ...]
) -> tuple[geo.Commune, ...]:
    """``communes`` with the regulator's departments first (stable otherwise)."""
    return tuple(sorted(communes, key=lambda c: c.department not in departments))


def resolve(
    *,
    where: str = "",
    insee: str = "",
    lat: float | None = None,
    lon: float | None = None,
    radius_km: float | None = None,
    geocoder: Geocoder | None = None,
    departments: tuple[str, ...] = (),
) -> Resolved:
    """Resolve the where-part of a search; ``Resolved.place`` is None when nothing matched.

    ``departments`` are the regulator's territories' departments: among homonymous
    communes those win; when several remain, the choices are returned, never a guess.
    """
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
    if _NAME_AND_POSTCODE_OR_CODE.fullmatch(text):
        commune = index.resolve(text)
        if commune is not None:
            return _around(commune_place(commune))
    homonyms = index.homonyms(text)
    if homonyms:
        commune, problem = _pick(homonyms, text, departments)
        if commune is None:
            return Resolved(None, candidates=_by_preference(homonyms, departments), problem=problem)
        return _around(commune_place(commune))
    named = index.department_named(text)
    if named is not None:
        return _department(named.code) or Resolved(None)
    if geocoder is not None:
        geocoded = geocoder(text)
        if geocoded is not None:
            return _around(geocoded)
    # Without a geocoder (or when it fails) an address still has a commune.
    split = _street_and_commune(text)
    if split is not None:
        street, communes = split
        commune, problem = _pick(communes, communes[0].name, departments)
        if commune is None:
            return Resolved(None, candidates=_by_preference(communes, departments), problem=problem)
        place = replace(commune_place(commune), street=street or None)
        notice = (
            f"Adresse non géolocalisée : centre de la commune, {commune.label}. "
            f"Adresse saisie : « {text} »."
        )
        return _around(place, (notice,))
    return Resolved(None, candidates=_by_preference(_typo_candidates(text), departments))
