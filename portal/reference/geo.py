"""Offline geography: communes, postcodes, autocompletion and the SAS search radii.

Everything comes from the CSVs shipped in ``portal/data`` (sources in its NOTICE)
and is indexed once per process by :func:`get_index`. Pure Python: no Flask, no
database, so the search service, the CLI and the tests share it.
"""

from __future__ import annotations

import bisect
import csv
import functools
import heapq
import io
import math
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from importlib.resources import files

EARTH_RADIUS_KM = 6371.0088

#: city INSEE code -> (name, INSEE codes of its municipal arrondissements)
CITIES_WITH_ARRONDISSEMENTS: dict[str, tuple[str, range]] = {
    "75056": ("Paris", range(75101, 75121)),
    "69123": ("Lyon", range(69381, 69390)),
    "13055": ("Marseille", range(13201, 13217)),
}

# The national radius sheet has zeros for Mayotte and Guyane, and no department radius
# nor barycentre for the other overseas departments. Defaults for a missing value: city
# radius 20 km and enlargement 10 km (between the sheet's urban 5-10 km and rural 40-50 km
# values), department-wide radius 60 km; the barycentre is computed from the communes.
DEFAULT_CITY_RADIUS_KM = 20.0
DEFAULT_ENLARGEMENT_KM = 10.0
DEFAULT_COUNTY_RADIUS_KM = 60.0

_LIGATURES = str.maketrans({"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ß": "ss"})
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_SAINT = {"saint": "st", "sainte": "ste", "saints": "sts", "saintes": "stes"}
_ARTICLES = frozenset({"l", "le", "la", "les"})
# Words that start no autocompletion key ("sur" must not list every "X-sur-Y").
_PARTICLES = _ARTICLES | {"d", "de", "du", "des", "en", "sur", "sous", "et", "a", "au", "aux"}
# search_radius.csv columns, in DepartmentRadius order after code, label and territory
_RADIUS_NUMBERS = (
    "countyRadius",
    "cityDefaultRadius",
    "enlargementValue",
    "barycentreCityLat",
    "barycentreCityLon",
)
_CODE = re.compile(r"\d{5}|2[AB]\d{3}")
_CODE_PREFIX = re.compile(r"\d{1,5}|2[ab]\d{0,3}")
_NAME_AND_POSTCODE = re.compile(
    r"(?P<pc1>\d{5})[\s,]+(?P<n1>\D.*)|(?P<n2>.*\D)[\s,(]+(?P<pc2>\d{5})\s*\)?", re.S
)


def normalize_name(text: str) -> str:
    """Fold ``text`` for comparisons: no accents, lower case, runs of other characters → one space.

    ``normalize_name("L'Île-d'Yeu") == "l ile d yeu"``.
    """
    decomposed = unicodedata.normalize("NFKD", text.translate(_LIGATURES))
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NON_ALNUM.sub(" ", bare.lower()).strip()


def normalize_department(code: str) -> str:
    """INSEE-style department code: ``"4"`` → ``"04"``, ``"20A"``/``"2a"`` → ``"2A"``."""
    value = code.strip().upper()
    if value in {"20A", "20B"}:
        return "2" + value[-1]
    return value.zfill(2) if value.isdigit() else value


def city_code_of(insee: str) -> str:
    """INSEE code of the city of a Paris/Lyon/Marseille arrondissement, else ``insee`` itself."""
    code = insee.strip().upper()
    if code.isdigit():
        number = int(code)
        for city, (_, arrondissements) in CITIES_WITH_ARRONDISSEMENTS.items():
            if number in arrondissements:
                return city
    return code


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in kilometres."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = phi2 - phi1, math.radians(lon2 - lon1)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def bounding_box(lat: float, lon: float, radius_km: float) -> tuple[float, float, float, float]:
    """``(min_lat, max_lat, min_lon, max_lon)`` holding every point within ``radius_km``.

    Meant for an SQL prefilter before the exact :func:`distance_km`. Near a pole or
    across the antimeridian the longitude range widens to ``-180..180`` (safe, not tight).
    """
    if radius_km < 0:
        raise ValueError("radius_km must be >= 0")
    angle = radius_km / EARTH_RADIUS_KM
    dlat = math.degrees(angle)
    min_lat, max_lat = max(-90.0, lat - dlat), min(90.0, lat + dlat)
    ratio = math.sin(angle) / max(math.cos(math.radians(lat)), 1e-12)
    if min_lat <= -90.0 or max_lat >= 90.0 or angle >= math.pi / 2 or ratio >= 1.0:
        return (min_lat, max_lat, -180.0, 180.0)
    dlon = math.degrees(math.asin(ratio))
    if lon - dlon < -180.0 or lon + dlon > 180.0:
        return (min_lat, max_lat, -180.0, 180.0)
    return (min_lat, max_lat, lon - dlon, lon + dlon)


@dataclass(frozen=True, slots=True)
class Commune:
    """A commune (or a Paris/Lyon/Marseille arrondissement) and its centre."""

    insee: str
    name: str
    postal_codes: tuple[str, ...]
    department: str
    lat: float
    lon: float
    population: int

    @property
    def city_code(self) -> str:
        """INSEE code of the city for an arrondissement (``75112`` → ``75056``), else ``insee``."""
        return city_code_of(self.insee)

    @property
    def is_arrondissement(self) -> bool:
        """True for a municipal arrondissement of Paris, Lyon or Marseille."""
        return self.city_code != self.insee

    @property
    def label(self) -> str:
        """What an autocompletion list shows: ``"Agen (47000)"``."""
        return f"{self.name} ({self.postal_codes[0]})" if self.postal_codes else self.name


@dataclass(frozen=True, slots=True)
class DepartmentRadius:
    """One row of the national search-radius table, with defaults applied (see module constants)."""

    code: str
    label: str
    territory: str
    county_radius_km: float
    city_radius_km: float
    enlargement_km: float
    lat: float
    lon: float


def read_communes(text: str) -> Iterator[Commune]:
    """Parse the ``communes.csv`` format (postal codes are space-separated)."""
    for row in csv.DictReader(io.StringIO(text)):
        yield Commune(
            insee=row["insee"].strip().upper(),
            name=row["name"].strip(),
            postal_codes=tuple(row["postal_codes"].split()),
            department=normalize_department(row["department"]),
            lat=float(row["lat"]),
            lon=float(row["lon"]),
            population=int(row["population"] or 0),
        )


def read_radii(text: str) -> Iterator[DepartmentRadius]:
    """Parse the national ``search_radius.csv`` sheet as is (zeros kept)."""
    for row in csv.DictReader(io.StringIO(text)):
        code, label, territory = row["code"], row["label"].strip(), row["territory name"].strip()
        values = (float(row[column] or 0) for column in _RADIUS_NUMBERS)
        yield DepartmentRadius(normalize_department(code), label, territory, *values)


def _centroid(communes: list[Commune]) -> tuple[float, float]:
    """Population-weighted centre (simple mean when nobody lives there)."""
    weights = [c.population for c in communes]
    if not sum(weights):
        weights = [1] * len(communes)
    total = sum(weights)
    lat = sum(c.lat * w for c, w in zip(communes, weights, strict=True)) / total
    lon = sum(c.lon * w for c, w in zip(communes, weights, strict=True)) / total
    return (round(lat, 6), round(lon, 6))


def _with_missing_cities(communes: list[Commune]) -> list[Commune]:
    """Add Paris/Lyon/Marseille built from their arrondissements when the data lacks them."""
    present = {c.insee for c in communes}
    extra = []
    for city, (name, _) in CITIES_WITH_ARRONDISSEMENTS.items():
        parts = [c for c in communes if c.is_arrondissement and c.city_code == city]
        if city in present or not parts:
            continue
        lat, lon = _centroid(parts)
        postcodes = tuple(sorted({p for c in parts for p in c.postal_codes}))
        population = sum(c.population for c in parts)
        extra.append(Commune(city, name, postcodes, parts[0].department, lat, lon, population))
    return communes + extra


class _PrefixIndex:
    """Sorted string keys, each pointing at a commune rank (0 = most populous).

    ``top`` returns the best ranks among the keys starting with a prefix without
    visiting the whole range: full blocks of the range come pre-sorted by rank and
    are lazily merged, so a one-letter prefix costs about as much as a long one.
    """

    BLOCK = 64

    def __init__(self, entries: Iterable[tuple[str, int, bool]]) -> None:
        rows = sorted(set(entries))
        self._keys = [key for key, _, _ in rows]
        self._ranks = [rank for _, rank, _ in rows]
        self._full = [full for _, _, full in rows]
        size = self.BLOCK
        self._blocks = [sorted(self._ranks[i : i + size]) for i in range(0, len(rows), size)]

    def exact(self, key: str) -> list[int]:
        """Ranks whose complete name (not a later word of it) equals ``key``, best first."""
        lo, hi = bisect.bisect_left(self._keys, key), bisect.bisect_right(self._keys, key)
        pairs = zip(self._ranks[lo:hi], self._full[lo:hi], strict=True)
        return sorted({rank for rank, full in pairs if full})

    def top(self, prefix: str, limit: int, seen: set[int]) -> list[int]:
        """Up to ``limit`` best ranks with a key starting with ``prefix``, skipping ``seen``."""
        lo = bisect.bisect_left(self._keys, prefix)
        hi = bisect.bisect_left(self._keys, prefix + "\x7f", lo)  # keys hold only [a-z0-9 ]
        first, last = -(-lo // self.BLOCK), hi // self.BLOCK
        if first >= last:
            streams = [sorted(self._ranks[lo:hi])]
        else:
            edges = [self._ranks[lo : first * self.BLOCK], self._ranks[last * self.BLOCK : hi]]
            streams = [sorted(edges[0]), sorted(edges[1]), *self._blocks[first:last]]
        found: list[int] = []
        for rank in heapq.merge(*streams):
            if len(found) >= limit:
                break
            if rank not in seen:
                seen.add(rank)
                found.append(rank)
        return found


def _name_variants(name: str) -> list[list[str]]:
    """The name's words, plus its "st"/"ste" spelling when it holds a "saint"."""
    words = normalize_name(name).split()
    short = [_SAINT.get(w, w) for w in words]
    return [words, short] if short != words else [words]


class GeoIndex:
    """Communes by INSEE code, postcode and name, and the department radius table."""

    def __init__(self, communes: Iterable[Commune], radii: Iterable[DepartmentRadius] = ()) -> None:
        everything = _with_missing_cities(list(communes))
        self._ranked = sorted(everything, key=lambda c: (-c.population, c.name, c.insee))
        self._by_insee = {c.insee: c for c in self._ranked}
        self._by_postcode: dict[str, list[Commune]] = {}
        self._by_name: dict[str, list[Commune]] = {}
        names: list[tuple[str, int, bool]] = []
        codes: list[tuple[str, int, bool]] = []
        for rank, commune in enumerate(self._ranked):
            codes.append((commune.insee.lower(), rank, True))
            for postcode in commune.postal_codes:
                codes.append((postcode, rank, True))
                self._by_postcode.setdefault(postcode, []).append(commune)
            for words in _name_variants(commune.name):
                self._by_name.setdefault(" ".join(words), []).append(commune)
                names.append((" ".join(words), rank, True))
                for i in range(1, len(words)):
                    if words[i] not in _PARTICLES:  # "ile d yeu" counts as L'Île-d'Yeu's name
                        full = i == 1 and words[0] in _ARTICLES
                        names.append((" ".join(words[i:]), rank, full))
        self._names, self._codes = _PrefixIndex(names), _PrefixIndex(codes)
        by_department: dict[str, list[Commune]] = {}
        for commune in everything:
            if not commune.is_arrondissement:  # their city already counts them
                by_department.setdefault(commune.department, []).append(commune)
        self._radii = {r.code: _with_defaults(r, by_department.get(r.code, [])) for r in radii}

    def __iter__(self) -> Iterator[Commune]:
        """All communes and arrondissements, most populous first."""
        return iter(self._ranked)

    def by_insee(self, code: str) -> Commune | None:
        """The commune or arrondissement with this INSEE code (``2a004`` works), or None."""
        return self._by_insee.get(code.strip().upper())

    def by_postcode(self, code: str) -> list[Commune]:
        """Communes served by this postcode, most populous first."""
        return list(self._by_postcode.get(code.strip(), ()))

    def suggest(self, text: str, limit: int = 10) -> list[Commune]:
        """Autocompletion: communes whose name, a word of it, INSEE code or postcode starts with
        ``text`` (accents, case and punctuation ignored, "st" = "saint"); exact matches first,
        then by population."""
        query = normalize_name(text)
        if not query or limit <= 0:
            return []
        index = self._codes if _CODE_PREFIX.fullmatch(query) else self._names
        ranks = index.exact(query)[:limit]
        ranks += index.top(query, limit - len(ranks), set(ranks))
        return [self._ranked[r] for r in ranks]

    def resolve(self, text: str) -> Commune | None:
        """One commune for ``text``: an INSEE code, a postcode, a name, or ``"Agen (47000)"``.

        A postcode gives its most populous commune, except that an arrondissement wins
        over its city (``75012`` → Paris 12e: a closer centre). A name must match exactly
        (accents and case aside); the most populous homonym wins.
        """
        raw = text.strip().upper()
        if _CODE.fullmatch(raw):
            if raw in self._by_insee:
                return self._by_insee[raw]
            # stable sort: arrondissements first, each group still most populous first
            candidates = sorted(
                self._by_postcode.get(raw, ()), key=lambda c: not c.is_arrondissement
            )
            return candidates[0] if candidates else None
        match = _NAME_AND_POSTCODE.fullmatch(text.strip())
        if match:
            postcode = match["pc1"] or match["pc2"]
            named = self._by_name.get(normalize_name(match["n1"] or match["n2"]), [])
            at_postcode = [c for c in named if postcode in c.postal_codes]
            return next(iter(at_postcode or named), None) or self.resolve(postcode)
        return next(iter(self._by_name.get(normalize_name(text), ())), None)

    def homonyms(self, name: str) -> list[Commune]:
        """Every commune named exactly ``name`` (accents, case, "st" aside), most populous first."""
        words = normalize_name(name).split()
        return list(self._by_name.get(" ".join(_SAINT.get(w, w) for w in words), ())) or list(
            self._by_name.get(" ".join(words), ())
        )

    def near_misses(self, text: str, limit: int = 8) -> list[Commune]:
        """Communes whose name is one typo away from ``text`` ("Agne" → Agen), most populous
        first: one letter added, dropped, changed, or two neighbours swapped."""
        query = normalize_name(text)
        if len(query) < 3:
            return []
        found = [
            commune
            for key, communes in self._by_name.items()
            if abs(len(key) - len(query)) <= 1 and _one_typo(key, query)
            for commune in communes
        ]
        return sorted(set(found), key=lambda c: (-c.population, c.name, c.insee))[:limit]

    def department_named(self, name: str) -> DepartmentRadius | None:
        """The department called ``name`` ("Lot-et-Garonne", "lot et garonne"), or None."""
        key = normalize_name(name)
        return next((r for r in self._radii.values() if normalize_name(r.label) == key), None)

    def department_radius(self, department_code: str) -> DepartmentRadius:
        """Search radii of a department (``"47"``, ``"2A"``, ``"4"``…); KeyError if unknown."""
        return self._radii[normalize_department(department_code)]

    def territory_of(self, department: str) -> str:
        """The SAS territory of a department, e.g. ``"SAS-47"``; KeyError if unknown."""
        return self.department_radius(department).territory


def _one_typo(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` differ by exactly one edit (Damerau: a swap counts as one)."""
    if a == b:
        return False
    if len(a) == len(b):
        diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        if len(diff) == 1:
            return True
        i = diff[0]
        return len(diff) == 2 and diff[1] == i + 1 and a[i] == b[i + 1] and a[i + 1] == b[i]
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    i = next((k for k, (x, y) in enumerate(zip(short, long_, strict=False)) if x != y), len(short))
    return short[i:] == long_[i + 1 :]


def _with_defaults(radius: DepartmentRadius, communes: list[Commune]) -> DepartmentRadius:
    """Replace the sheet's zeros by the module defaults and the communes' barycentre."""
    lat, lon = radius.lat, radius.lon
    if lat == 0 and lon == 0 and communes:
        lat, lon = _centroid(communes)
    return replace(
        radius,
        county_radius_km=radius.county_radius_km or DEFAULT_COUNTY_RADIUS_KM,
        city_radius_km=radius.city_radius_km or DEFAULT_CITY_RADIUS_KM,
        enlargement_km=radius.enlargement_km or DEFAULT_ENLARGEMENT_KM,
        lat=lat,
        lon=lon,
    )


def _data_text(name: str) -> str:
    # importlib.resources, so the data is found inside an installed wheel too
    return (files("portal") / "data" / name).read_text(encoding="utf-8")


@functools.cache
def get_index() -> GeoIndex:
    """The process-wide index of the shipped data, built on first use (~1 s) and kept."""
    communes = read_communes(_data_text("communes.csv"))
    return GeoIndex(communes, read_radii(_data_text("search_radius.csv")))
