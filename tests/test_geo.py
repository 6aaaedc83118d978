"""Tests of portal.reference.geo against the shipped reference data."""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import time
from importlib.resources import files

import pytest

from portal.reference import geo
from portal.reference.geo import (
    Commune,
    GeoIndex,
    bounding_box,
    city_code_of,
    distance_km,
    get_index,
    normalize_name,
)


@pytest.fixture(scope="module")
def index() -> GeoIndex:
    return get_index()


def _radius_rows() -> dict[str, dict[str, str]]:
    text = (files("portal") / "data" / "search_radius.csv").read_text(encoding="utf-8")
    return {row["code"]: row for row in csv.DictReader(io.StringIO(text))}


def _destination(lat: float, lon: float, bearing_deg: float, km: float) -> tuple[float, float]:
    """The point ``km`` away from (lat, lon) along ``bearing_deg`` on the sphere."""
    phi, lam, theta = math.radians(lat), math.radians(lon), math.radians(bearing_deg)
    delta = km / geo.EARTH_RADIUS_KM
    phi2 = math.asin(
        math.sin(phi) * math.cos(delta) + math.cos(phi) * math.sin(delta) * math.cos(theta)
    )
    lam2 = lam + math.atan2(
        math.sin(theta) * math.sin(delta) * math.cos(phi),
        math.cos(delta) - math.sin(phi) * math.sin(phi2),
    )
    return math.degrees(phi2), math.degrees(lam2)


# --- data and lookups ------------------------------------------------------------------------


def test_every_row_of_the_shipped_csv_is_indexed(index: GeoIndex) -> None:
    communes = list(index)
    assert len(communes) == 35074  # the CSV holds the three cities: nothing synthesised
    assert len({c.insee for c in communes}) == 35074
    populations = [c.population for c in communes]
    assert populations == sorted(populations, reverse=True)


def test_corsica_code_in_any_case(index: GeoIndex) -> None:
    ajaccio = index.by_insee("2A004")
    assert ajaccio is not None
    assert (ajaccio.name, ajaccio.department) == ("Ajaccio", "2A")
    assert "20000" in ajaccio.postal_codes
    assert index.by_insee(" 2a004 ") == ajaccio
    assert index.resolve("2a004") == ajaccio
    assert index.department_radius("2A") == index.department_radius("20A")
    assert index.territory_of("2a") == "SAS-20A"


def test_arrondissement_maps_to_its_city(index: GeoIndex) -> None:
    twelfth = index.by_insee("75112")
    assert twelfth is not None and twelfth.name == "Paris 12e Arrondissement"
    assert twelfth.is_arrondissement and twelfth.city_code == "75056"
    paris = index.by_insee(twelfth.city_code)
    assert paris is not None and paris.name == "Paris" and not paris.is_arrondissement
    assert index.resolve("75056") == paris
    assert set(twelfth.postal_codes) <= set(paris.postal_codes)


@pytest.mark.parametrize(
    ("insee", "city"),
    [
        ("75101", "75056"),
        ("75120", "75056"),
        ("69381", "69123"),
        ("69389", "69123"),
        ("13201", "13055"),
        ("13216", "13055"),
        ("75121", "75121"),
        ("69390", "69390"),
        ("13217", "13217"),
        ("47001", "47001"),
        ("2a004", "2A004"),
    ],
)
def test_city_code_of(insee: str, city: str) -> None:
    assert city_code_of(insee) == city


def test_city_is_synthesised_when_only_arrondissements_are_present(index: GeoIndex) -> None:
    without_lyon = [c for c in index if c.insee != "69123"]
    arrondissements = [c for c in without_lyon if c.city_code == "69123" and c.is_arrondissement]
    assert len(arrondissements) == 9
    rebuilt = GeoIndex(without_lyon)
    lyon = rebuilt.by_insee("69123")
    assert lyon is not None and lyon.name == "Lyon" and lyon.department == "69"
    assert lyon.population == sum(c.population for c in arrondissements)
    assert set(lyon.postal_codes) == {f"6900{n}" for n in range(1, 10)}
    real = index.by_insee("69123")
    assert real is not None
    assert distance_km(lyon.lat, lyon.lon, real.lat, real.lon) < 3
    assert rebuilt.resolve("Lyon") == lyon
    assert rebuilt.by_insee("75056") == index.by_insee("75056")  # present: left alone


def test_overseas_reunion(index: GeoIndex) -> None:
    saint_denis = index.by_insee("97411")
    assert saint_denis is not None
    assert (saint_denis.name, saint_denis.department) == ("Saint-Denis", "974")
    assert saint_denis.lat < 0  # southern hemisphere
    assert index.resolve("Saint-Denis (97400)") == saint_denis
    radius = index.department_radius("974")
    # the sheet gives the city radius and enlargement, but zeros for the rest
    assert (radius.city_radius_km, radius.enlargement_km) == (10, 5)
    assert radius.county_radius_km == geo.DEFAULT_COUNTY_RADIUS_KM
    assert (radius.territory, radius.label) == ("SAS-974", "La Réunion")
    assert distance_km(radius.lat, radius.lon, saint_denis.lat, saint_denis.lon) < 40


# Guyane's people live along 300 km of coast: its barycentre sits between Cayenne and Kourou
@pytest.mark.parametrize(("code", "town", "km"), [("976", "97611", 20), ("973", "97302", 100)])
def test_mayotte_and_guyane_fall_back_to_defaults(
    index: GeoIndex, code: str, town: str, km: float
) -> None:
    row = _radius_rows()[code]
    assert float(row["cityDefaultRadius"]) == 0 and float(row["barycentreCityLat"]) == 0
    radius = index.department_radius(code)
    assert radius.city_radius_km == geo.DEFAULT_CITY_RADIUS_KM == 20
    assert radius.enlargement_km == geo.DEFAULT_ENLARGEMENT_KM == 10
    assert radius.county_radius_km == geo.DEFAULT_COUNTY_RADIUS_KM == 60
    main_town = index.by_insee(town)  # Mamoudzou, Cayenne
    assert main_town is not None and main_town.department == code
    assert distance_km(radius.lat, radius.lon, main_town.lat, main_town.lon) < km


def test_department_radius_matches_the_csv_row(index: GeoIndex) -> None:
    row = _radius_rows()["47"]
    radius = index.department_radius("47")
    assert radius.code == "47" and radius.label == row["label"] == "Lot-et-Garonne"
    assert radius.territory == row["territory name"] == "SAS-47"
    assert radius.county_radius_km == float(row["countyRadius"]) == 104
    assert radius.city_radius_km == float(row["cityDefaultRadius"]) == 30
    assert radius.enlargement_km == float(row["enlargementValue"]) == 15
    assert (radius.lat, radius.lon) == (
        float(row["barycentreCityLat"]),
        float(row["barycentreCityLon"]),
    )
    assert index.territory_of("47") == "SAS-47"


def test_department_codes_are_normalised(index: GeoIndex) -> None:
    assert index.department_radius("4") == index.department_radius("04")
    assert index.department_radius("04").label == "Alpes-de-Haute-Provence"
    assert index.department_radius("2B").territory == "SAS-20B"
    with pytest.raises(KeyError):
        index.department_radius("99")
    with pytest.raises(KeyError):
        index.territory_of("975")  # Saint-Pierre-et-Miquelon: no SAS territory in the sheet


def test_every_department_has_a_usable_radius(index: GeoIndex) -> None:
    collectivities = {"975", "977", "978", "984", "986", "987", "988", "989"}  # no SAS
    departments = {c.department for c in index} - collectivities
    assert len(departments) == 101
    for code in departments:
        radius = index.department_radius(code)
        assert radius.city_radius_km > 0 and radius.enlargement_km > 0
        assert radius.county_radius_km > 0 and (radius.lat, radius.lon) != (0, 0)


def test_commune_is_frozen(index: GeoIndex) -> None:
    agen = index.by_insee("47001")
    assert agen is not None and agen.label == "Agen (47000)"
    with pytest.raises(dataclasses.FrozenInstanceError):
        agen.name = "Elsewhere"  # type: ignore[misc]


def test_unknown_codes_and_names(index: GeoIndex) -> None:
    assert index.by_insee("99999") is None
    assert index.by_insee("") is None
    assert index.by_postcode("00000") == []
    assert index.resolve("99999") is None
    assert index.resolve("Nowhere-sur-Rien") is None
    assert index.resolve("") is None
    assert index.suggest("") == []
    assert index.suggest("zzqqx") == []


# --- names, accents, postcodes --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("L'Île-d'Yeu", "l ile d yeu"),
        ("SAINT-ÉTIENNE", "saint etienne"),
        ("  Œuilly ", "oeuilly"),
        ("Marseille 1er Arrondissement", "marseille 1er arrondissement"),
        ("--", ""),
    ],
)
def test_normalize_name(text: str, folded: str) -> None:
    assert normalize_name(text) == folded


@pytest.mark.parametrize("text", ["saint etienne", "Saint-Étienne", "ST ETIENNE", "st-étienne"])
def test_saint_etienne_spellings(index: GeoIndex, text: str) -> None:
    assert index.suggest(text)[0].insee == "42218"
    assert index.resolve(text).insee == "42218"  # type: ignore[union-attr]


@pytest.mark.parametrize("text", ["ile d yeu", "L'Île-d'Yeu", "l ile d yeu", "ILE-D'YEU"])
def test_ile_d_yeu_spellings(index: GeoIndex, text: str) -> None:
    assert index.suggest(text)[0].insee == "85113"


def test_resolve_ile_d_yeu_needs_its_full_name(index: GeoIndex) -> None:
    assert index.resolve("L'Ile d'Yeu").insee == "85113"  # type: ignore[union-attr]
    assert index.resolve("yeu") is None  # resolve is exact, not a search


def test_postcode_lookup(index: GeoIndex) -> None:
    at_47000 = index.by_postcode("47000")
    assert [c.insee for c in at_47000][:1] == ["47001"]
    assert index.resolve("47000").name == "Agen"  # type: ignore[union-attr]
    several = index.by_postcode("51800")
    assert len(several) > 10 and index.by_insee("51800") is None
    assert [c.population for c in several] == sorted((c.population for c in several), reverse=True)
    assert index.resolve("51800") == several[0]
    # a five-digit text that is both an INSEE code and a postcode is read as the INSEE code
    assert index.by_insee("51300") is not None and index.by_postcode("51300")
    assert index.resolve("51300") == index.by_insee("51300")


@pytest.mark.parametrize("text", ["Agen (47000)", "47000 Agen", "Agen 47000", "agen, 47000"])
def test_resolve_name_with_postcode(index: GeoIndex, text: str) -> None:
    assert index.resolve(text).insee == "47001"  # type: ignore[union-attr]


def test_resolve_homonyms_prefers_the_postcode_then_the_population(index: GeoIndex) -> None:
    assert index.resolve("Saint-Denis").insee == "97411"  # type: ignore[union-attr]
    assert index.resolve("Saint-Denis (93200)").insee == "93066"  # type: ignore[union-attr]
    assert index.resolve("Unknownville (47000)").insee == "47001"  # type: ignore[union-attr]


def test_resolve_arrondissement_postcode_gives_the_arrondissement(index: GeoIndex) -> None:
    assert index.resolve("75012").insee == "75112"  # type: ignore[union-attr]
    assert index.resolve("Paris").insee == "75056"  # type: ignore[union-attr]


# --- autocompletion ----------------------------------------------------------------------------


def test_suggest_agen_first(index: GeoIndex) -> None:
    results = index.suggest("Agen")
    assert results[0].insee == "47001"
    assert len(results) > 1  # "…-d'Agenais" and friends follow


def test_suggest_respects_limit(index: GeoIndex) -> None:
    assert 0 < len(index.suggest("ag")) <= 10
    assert len(index.suggest("ag", limit=3)) == 3
    assert index.suggest("ag", limit=0) == []
    assert index.suggest("ag", limit=3) == index.suggest("ag", limit=10)[:3]


def test_suggest_exact_match_beats_population(index: GeoIndex) -> None:
    # Agde, Agen's smaller neighbour in the "ag" list, comes first once typed in full;
    # the four communes called Mont (or Le Mont), tiny villages, come before Montpellier
    assert index.suggest("Agde")[0].insee == "34003"
    names = [c.name for c in index.suggest("mont", limit=5)]
    assert sorted(names[:4]) == ["Le Mont", "Mont", "Mont", "Mont"] and names[4] == "Montpellier"
    assert index.suggest("Le Mans")[0].insee == "72181"
    assert index.suggest("Mans")[0].insee == "72181"  # leading article dropped


def test_suggest_by_codes(index: GeoIndex) -> None:
    assert index.suggest("2a00")[0].insee == "2A004"
    assert all(c.department == "2A" for c in index.suggest("2a0", limit=20))
    assert index.suggest("47000")[0].insee == "47001"
    assert index.suggest("75")[0].insee == "75056"
    assert all(
        c.insee.startswith("974") or any(p.startswith("974") for p in c.postal_codes)
        for c in index.suggest("974", limit=30)
    )


def _brute_force(index: GeoIndex, query: str, limit: int) -> list[str]:
    """Scan every commune: exact names first, then names with a word (or its "st" spelling)
    starting with query, by population."""
    folded = normalize_name(query)

    def spellings(commune: Commune) -> list[list[str]]:
        words = normalize_name(commune.name).split()
        return [words, ["st" if w == "saint" else "ste" if w == "sainte" else w for w in words]]

    def exact(commune: Commune) -> bool:
        full = [" ".join(words) for words in spellings(commune)]
        bare = [" ".join(words[1:]) for words in spellings(commune) if words[0] in {"le", "la"}]
        return folded in full + bare

    def matches(commune: Commune) -> bool:
        return any(
            " ".join(words[i:]).startswith(folded)
            for words in spellings(commune)
            for i in range(len(words))
        )

    by_population = sorted(index, key=lambda c: (-c.population, c.name))
    hits = [c for c in by_population if exact(c)]
    hits += [c for c in by_population if matches(c) and c not in hits]
    return [c.insee for c in hits[:limit]]


@pytest.mark.parametrize(
    "query", ["ag", "sai", "st j", "mont", "bea", "z", "vil", "gr", "ste m", "mans", "agen"]
)
def test_suggest_agrees_with_a_full_scan(index: GeoIndex, query: str) -> None:
    assert [c.insee for c in index.suggest(query, limit=25)] == _brute_force(index, query, 25)


def test_suggest_micro_benchmark_typing_session(index: GeoIndex) -> None:
    """Every keystroke of a few names, as the search box sends them; correctness only."""
    targets = {"Saint-Étienne": "42218", "Agen": "47001", "L'Île-d'Yeu": "85113", "2A004": "2A004"}
    started = time.perf_counter()
    calls = 0
    for text, insee in targets.items():
        for end in range(1, len(text) + 1):
            results = index.suggest(text[:end], limit=10)
            calls += 1
            assert len(results) <= 10
            assert len({c.insee for c in results}) == len(results)
        assert results[0].insee == insee
    elapsed = time.perf_counter() - started
    assert calls == 33 and elapsed >= 0  # timing is reported, not asserted (shared CI machines)


# --- distances ---------------------------------------------------------------------------------


def test_distance_paris_marseille(index: GeoIndex) -> None:
    paris, marseille = index.by_insee("75056"), index.by_insee("13055")
    assert paris is not None and marseille is not None
    km = distance_km(paris.lat, paris.lon, marseille.lat, marseille.lon)
    assert km == pytest.approx(660, abs=15)
    assert distance_km(marseille.lat, marseille.lon, paris.lat, paris.lon) == pytest.approx(km)
    assert distance_km(paris.lat, paris.lon, paris.lat, paris.lon) == 0


def test_distance_quarter_meridian() -> None:
    assert distance_km(0, 0, 90, 0) == pytest.approx(math.pi * geo.EARTH_RADIUS_KM / 2)


@pytest.mark.parametrize(
    ("lat", "lon"), [(44.2, 0.63), (-20.94, 55.44), (48.86, 2.35), (4.9, -52.3)]
)
@pytest.mark.parametrize("radius", [1.0, 20.0, 60.0])
def test_bounding_box_holds_the_circle(lat: float, lon: float, radius: float) -> None:
    min_lat, max_lat, min_lon, max_lon = bounding_box(lat, lon, radius)
    assert min_lat < lat < max_lat and min_lon < lon < max_lon
    for bearing in range(0, 360, 5):
        plat, plon = _destination(lat, lon, bearing, radius * 0.999)
        assert min_lat <= plat <= max_lat and min_lon <= plon <= max_lon
    # tight: the box's edges are about ``radius`` away from the centre
    assert distance_km(lat, lon, max_lat, lon) == pytest.approx(radius, rel=1e-6)
    assert distance_km(lat, lon, lat, max_lon) < radius * 1.01


def test_bounding_box_edges() -> None:
    assert bounding_box(89.9, 10, 50)[2:] == (-180.0, 180.0)
    assert bounding_box(-17.0, 179.9, 50)[2:] == (-180.0, 180.0)
    assert bounding_box(45, 5, 0) == (45, 45, 5, 5)
    with pytest.raises(ValueError):
        bounding_box(45, 5, -1)
