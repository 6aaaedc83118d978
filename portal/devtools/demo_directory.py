"""Fictitious directory data: the demo database, and the rows of synthetic extractions.

Everything here is made up and deterministic (``random.Random`` seeded per department):
the same seed gives the same people, structures and settings on any database. Only the
communes (weighted by population), the TRE_R38 specialty codes and the SAS territories
are real. The made-up identifiers are recognisable at a glance:

- demo RPPS numbers start with ``99`` (national id ``899…``), synthetic-file ones with
  ``98`` (national id ``898…``); both end with a valid Luhn key;
- SIRET numbers start with ``999``; FINESS numbers have ``9`` right after the department;
- phone numbers are in the ranges ARCEP reserves for fiction (``01 99 00``, ``02 61 91``,
  ``03 53 01``, ``04 65 71``, ``05 36 49``);
- every demo practitioner and structure has ``is_demo=True``; structure names end
  with "(démo)".
"""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.models import (
    ConnectorBinding,
    PlaceOfPractice,
    Practitioner,
    Structure,
    StructureMembership,
    Territory,
)
from portal.reference.geo import (
    CITIES_WITH_ARRONDISSEMENTS,
    Commune,
    GeoIndex,
    distance_km,
    get_index,
    normalize_department,
)
from portal.reference.terminology import profession_label, specialties

FAMILY_NAMES = (
    "Martin", "Bernard", "Thomas", "Petit", "Robert", "Richard", "Durand", "Dubois",
    "Moreau", "Laurent", "Simon", "Michel", "Lefèvre", "Leroy", "Roux", "David",
    "Bertrand", "Morel", "Fournier", "Girard", "Bonnet", "Dupont", "Lambert", "Fontaine",
    "Rousseau", "Vincent", "Muller", "Lefebvre", "Faure", "André", "Mercier", "Blanc",
    "Guérin", "Boyer", "Garnier", "Chevalier", "François", "Legrand", "Gauthier", "Garcia",
    "Perrin", "Robin", "Clément", "Morin", "Nicolas", "Henry", "Roussel", "Mathieu",
    "Gautier", "Masson", "Marchand", "Duval", "Denis", "Dumont", "Marie", "Lemaire",
    "Noël", "Meyer", "Dufour", "Meunier", "Brun", "Blanchard", "Giraud", "Joly",
    "Rivière", "Lucas", "Brunet", "Gaillard", "Barbier", "Arnaud", "Martinez", "Gérard",
    "Roche", "Renard", "Schmitt", "Roy", "Leroux", "Colin", "Vidal", "Caron",
)  # fmt: skip
GIVEN_NAMES_F = (
    "Camille", "Claire", "Julie", "Sophie", "Marie", "Anne", "Isabelle", "Nathalie",
    "Céline", "Aurélie", "Émilie", "Laura", "Pauline", "Élise", "Hélène", "Agathe",
    "Mathilde", "Lucie", "Sarah", "Chloé", "Inès", "Léa", "Manon", "Margaux",
)  # fmt: skip
GIVEN_NAMES_M = (
    "Nicolas", "Julien", "Thomas", "Pierre", "Antoine", "Laurent", "Olivier", "François",
    "Mathieu", "Guillaume", "Sébastien", "Hugo", "Louis", "Paul", "Benoît", "Yann",
    "Romain", "Vincent", "Étienne", "Karim", "Mehdi", "Arnaud", "Bruno", "Denis",
)  # fmt: skip
STREET_TYPES = ("rue", "rue", "rue", "avenue", "boulevard", "place", "chemin", "allée",
                "impasse", "route")  # fmt: skip
STREET_NAMES = (
    "des Tilleuls", "des Lilas", "du Moulin", "de la Fontaine", "des Écoles", "du Stade",
    "des Vignes", "des Acacias", "du Lavoir", "des Cerisiers", "de la Source", "des Prés",
    "du Verger", "des Jardins", "de la Colline", "des Peupliers", "du Ruisseau",
    "des Hirondelles", "des Chênes", "du Pont Vieux", "des Marronniers", "de l'Étang",
    "des Mimosas", "du Clos Fleuri", "des Sorbiers", "de la Prairie", "des Glycines",
)  # fmt: skip

# Specialties other than general practice, with their weights (codes of TRE_R38).
OTHER_SPECIALTIES = (
    ("SM40", 9), ("SM42", 8), ("SM38", 7), ("SM15", 6), ("SM19", 5), ("SM20", 5),
    ("SM04", 6), ("SM39", 4), ("SM24", 4), ("SM48", 3), ("SM32", 3), ("SM41", 3),
    ("SM16", 2), ("SM57", 2),
)  # fmt: skip
GENERAL_PRACTICE = "SM54"
# Professions other than physicians (TRE_G15 code, count as a share of the physicians):
# nurses, physiotherapists, midwives, dentists.
OTHER_PROFESSIONS = (("60", 0.15), ("70", 0.06), ("50", 0.02), ("40", 0.03))
OTHER_PROFESSIONS_FIRST_INDEX = 50000  # their demo RPPS indexes, clear of the physicians'
GP_SHARE = 0.6
EDITOR_SOURCES = ("doctolib_like:editeur-a", "doctolib_like:editeur-b", "sas_agenda")

# ARCEP numbers reserved for fiction, per phone zone (01 Île-de-France … 05 south-west).
_FICTION_PHONE = {1: "01 99 00", 2: "02 61 91", 3: "03 53 01", 4: "04 65 71", 5: "05 36 49"}
_PHONE_ZONE_DEPARTMENTS = {
    1: "75 77 78 91 92 93 94 95",
    2: "14 18 22 27 28 29 35 36 37 41 44 45 49 50 53 56 61 72 76 85 974 976",
    3: "02 08 10 21 25 39 51 52 54 55 57 58 59 60 62 67 68 70 71 80 88 89 90",
    4: "01 03 04 05 06 07 11 13 15 2A 2B 26 30 34 38 42 43 48 63 66 69 73 74 83 84",
    5: "09 12 16 17 19 23 24 31 32 33 40 46 47 64 65 79 81 82 86 87 971 972 973",
}
PHONE_ZONES = {d: zone for zone, deps in _PHONE_ZONE_DEPARTMENTS.items() for d in deps.split()}


def luhn_check_digit(body: str) -> str:
    """The Luhn key to append to ``body`` (letters, as in ``2A``, count as 0)."""
    total = 0
    for i, char in enumerate(reversed(body)):
        digit = int(char) if char.isdigit() else 0
        if i % 2 == 0:
            digit = digit * 2 - 9 if digit >= 5 else digit * 2
        total += digit
    return str(-total % 10)


def luhn_valid(number: str) -> bool:
    """True when the last digit of ``number`` is the Luhn key of the others."""
    return len(number) > 1 and luhn_check_digit(number[:-1]) == number[-1]


def fictitious_phone(rng: random.Random, department: str, *, spaced: bool = True) -> str:
    """A phone number of the department's zone in an ARCEP fiction range."""
    prefix = _FICTION_PHONE[PHONE_ZONES.get(department, 1)]
    number = f"{prefix} {rng.randrange(100):02d} {rng.randrange(100):02d}"
    return number if spaced else number.replace(" ", "")


def _department_number(department: str) -> str:
    """Three digits for identifiers: ``47`` → ``047``, ``974`` → ``974``, ``2A`` → ``201``."""
    return {"2A": "201", "2B": "202"}.get(department, department.zfill(3))


def demo_national_id(department: str, index: int) -> str:
    """``8`` + an 11-digit demo RPPS (``99`` + department + index + Luhn key)."""
    body = f"99{_department_number(department)}{index:05d}"
    return "8" + body + luhn_check_digit(body)


def demo_siret(department: str, index: int, series: int = 0) -> str:
    """A 14-digit Luhn-valid SIRET: ``999`` + department + series + index + key."""
    body = f"999{_department_number(department)}{series}{index:06d}"
    return body + luhn_check_digit(body)


def demo_finess(department: str, kind_digit: int, index: int) -> str:
    """A 9-character FINESS: department + ``9`` + kind + 4-digit index + Luhn key."""
    body = f"{department[:2]}9{kind_digit}{index:04d}"
    return body + luhn_check_digit(body)


def _of(name: str) -> str:
    """French "de" before a place name: ``d'Agen``, ``du Mans``, ``de Rennes``."""
    for article, replacement in (("Le ", "du "), ("Les ", "des "), ("La ", "de la "),
                                 ("L'", "de l'")):  # fmt: skip
        if name.startswith(article):
            return replacement + name[len(article) :]
    return ("d'" if name[:1].upper() in "AEIOUYÉÈÊÎÔH" else "de ") + name


def department_communes(geo: GeoIndex, department: str) -> list[Commune]:
    """Inhabited communes of a department, most populous first; arrondissements instead
    of Paris, Lyon and Marseille."""
    return [
        c for c in geo
        if c.department == department and c.population > 0
        and c.insee not in CITIES_WITH_ARRONDISSEMENTS
    ]  # fmt: skip


# ---------------------------------------------------------------------- demo database


@dataclass
class DemoReport:
    """What :func:`generate_demo_directory` created."""

    generated: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    practitioners: int = 0
    places: int = 0
    memberships: int = 0
    territories: int = 0
    structures: Counter[str] = field(default_factory=Counter)
    bindings: Counter[str] = field(default_factory=Counter)
    professions: Counter[str] = field(default_factory=Counter)  # other than physicians

    def __str__(self) -> str:
        lines = []
        if self.generated:
            lines.append("Annuaire de démonstration généré pour : " + ", ".join(self.generated))
        if self.skipped:
            lines.append("Déjà présents (inchangés) : " + ", ".join(self.skipped))
        structures = ", ".join(f"{n} {kind}" for kind, n in sorted(self.structures.items()))
        bindings = ", ".join(f"{source} {n}" for source, n in sorted(self.bindings.items()))
        others = ", ".join(
            f"{profession_label(c)} {n}" for c, n in sorted(self.professions.items())
        )
        lines += [
            f"{self.practitioners} professionnels fictifs, {self.places} lieux d'exercice",
            f"Autres professions que médecin : {others or 'aucune'}",
            f"Structures : {structures or 'aucune'} ; {self.memberships} adhésions",
            f"Sources de créneaux : {bindings or 'aucune'}",
            f"Territoires créés : {self.territories}",
        ]
        return "\n".join(lines)


def generate_demo_directory(
    session: Session,
    departments: Sequence[str] = ("47", "92", "35", "31"),
    seed: int = 2026,
) -> DemoReport:
    """Fill the directory with fictitious practitioners and structures for ``departments``.

    Deterministic: the same seed gives the same rows. A department whose demo
    practitioners already exist is skipped, so running twice adds nothing. The
    Territory rows (``SAS-47``…) are created when missing. Flushes; the caller commits.

    :raises ValueError: unknown department code.
    """
    geo = get_index()
    report = DemoReport()
    for raw in departments:
        department = normalize_department(raw)
        communes = department_communes(geo, department)
        if not communes:
            raise ValueError(f"département inconnu : « {raw} »")
        _ensure_territory(session, geo, department, report)
        prefix = demo_national_id(department, 0)[:6]
        already = select(Practitioner.id).where(
            Practitioner.is_demo, Practitioner.national_id.startswith(prefix)
        )
        if session.scalar(already.limit(1)) is not None:
            report.skipped.append(department)
            continue
        rng = random.Random(f"sas-portal-demo:{seed}:{department}")
        _DemoDepartment(session, geo, department, communes, rng, report).build()
        report.generated.append(department)
    session.flush()
    return report


def _ensure_territory(session: Session, geo: GeoIndex, department: str, report: DemoReport) -> None:
    if session.scalar(select(Territory.code).where(Territory.department == department)):
        return
    try:
        radius = geo.department_radius(department)
        code, label = radius.territory, radius.label
    except KeyError:
        code, label = f"SAS-{department}", department
    session.add(Territory(code=code, label=label, department=department))
    report.territories += 1


class _DemoDepartment:
    def __init__(
        self,
        session: Session,
        geo: GeoIndex,
        department: str,
        communes: list[Commune],
        rng: random.Random,
        report: DemoReport,
    ) -> None:
        self.session, self.geo, self.department = session, geo, department
        self.communes, self.rng, self.report = communes, rng, report
        self.cumulative = list(itertools.accumulate(c.population for c in communes))
        known = specialties()
        self.others = [(code, w) for code, w in OTHER_SPECIALTIES if code in known]
        self.other_cumulative = list(itertools.accumulate(w for _, w in self.others))
        self.sos_structures: list[tuple[Structure, str]] = []
        self.sos_member_rows: list[tuple[Structure, list[Practitioner]]] = []

    # -- helpers

    def commune(self) -> Commune:
        return self.rng.choices(self.communes, cum_weights=self.cumulative)[0]

    def specialty(self) -> str:
        if self.rng.random() < GP_SHARE or not self.others:
            return GENERAL_PRACTICE
        return self.rng.choices(self.others, cum_weights=self.other_cumulative)[0][0]

    def street(self) -> str:
        number = self.rng.randint(1, 140)
        suffix = " bis" if self.rng.random() < 0.05 else ""
        return (f"{number}{suffix} {self.rng.choice(STREET_TYPES)} "
                f"{self.rng.choice(STREET_NAMES)}")  # fmt: skip

    def spread(self, commune: Commune) -> tuple[float, float]:
        """A fictitious point around the commune centre, wider for bigger towns.

        Without it every practitioner of a town would sit on its centre: equal
        distances, stacked map markers, nothing like a real directory.
        """
        radius_km = min(3.0, 0.3 + math.sqrt(max(commune.population, 1)) / 150)
        angle = self.rng.uniform(0, 2 * math.pi)
        r = radius_km * math.sqrt(self.rng.random())
        dlat = r * math.cos(angle) / 111.2
        dlon = r * math.sin(angle) / (111.2 * max(math.cos(math.radians(commune.lat)), 0.1))
        return round(commune.lat + dlat, 6), round(commune.lon + dlon, 6)

    def place(self, key: str, commune: Commune, **values: object) -> PlaceOfPractice:
        lat, lon = self.spread(commune)
        place = PlaceOfPractice(
            activity_key=key,
            address_line=self.street(),
            postal_code=self.rng.choice(commune.postal_codes) if commune.postal_codes else "",
            insee_code=commune.insee,
            city=commune.name,
            department=self.department,
            lat=lat,
            lon=lon,
            geocode_precision="demo",
            phone=fictitious_phone(self.rng, self.department),
            **values,
        )
        self.session.add(place)
        self.report.places += 1
        return place

    def structure(self, kind: str, national_id: str, name: str) -> Structure:
        structure = Structure(
            national_id=national_id, kind=kind, name=f"{name} (démo)",
            department=self.department, is_demo=True,
        )  # fmt: skip
        self.session.add(structure)
        self.report.structures[kind] += 1
        return structure

    def seats(self, count: int, min_km: float, pool: Sequence[Commune]) -> list[Commune]:
        """Up to ``count`` populous communes at least ``min_km`` apart (relaxed if needed)."""
        chosen: list[Commune] = []
        while len(chosen) < count and min_km >= 0.5:
            for c in pool:
                if len(chosen) < count and all(
                    distance_km(c.lat, c.lon, s.lat, s.lon) >= min_km for s in chosen
                ):
                    chosen.append(c)
            min_km /= 2
        return chosen

    # -- the department

    def build(self) -> None:
        rng, dep = self.rng, self.department
        population = self.cumulative[-1]
        count = min(600, max(250, round(200 + population / 4000)))
        people: list[tuple[Practitioner, PlaceOfPractice, str]] = []
        for index in range(1, count + 1):
            female = rng.random() < 0.5
            national_id = demo_national_id(dep, index)
            practitioner = Practitioner(
                national_id=national_id, title="DR",
                family_name=rng.choice(FAMILY_NAMES),
                given_name=rng.choice(GIVEN_NAMES_F if female else GIVEN_NAMES_M),
                profession_code="10", specialty_code=self.specialty(), is_demo=True,
            )  # fmt: skip
            self.session.add(practitioner)
            first = self.place(f"demo-{national_id}-1", self.commune(), practitioner=practitioner)
            if rng.random() < 0.08:
                self.place(f"demo-{national_id}-2", self.commune(), practitioner=practitioner)
            people.append((practitioner, first, national_id))
        self.report.practitioners += count

        big = self.communes[:40]
        try:
            spread = self.geo.department_radius(dep).county_radius_km
        except KeyError:
            spread = 50.0
        msp_members = self.msps(people)
        sos_members = self.sos(people, big, msp_members)
        cpts_of = self.cpts(people, big, spread)
        self.session.flush()  # ids for memberships and bindings

        for practitioner, _, national_id in people:
            cpts = cpts_of.get(national_id)
            if national_id in sos_members:
                mode: str | None = "sos"
            elif national_id in msp_members and rng.random() < 0.75:
                mode = "msp"
            elif cpts is not None and rng.random() < 0.55:
                mode = "cpts"
            else:
                mode = "individual" if rng.random() < 0.35 else None
            practitioner.sas_participation = mode is not None
            practitioner.participation_mode = mode
            practitioner.accepts_extra_patients = mode is not None and rng.random() < 0.35
            practitioner.refuses_public_display = rng.random() < 0.12
            practitioner.refuses_pro_display = rng.random() < 0.03
            if cpts is not None:
                self.session.add(
                    StructureMembership(structure_id=cpts.id, practitioner_id=practitioner.id)
                )
                self.report.memberships += 1
            if cpts is not None and rng.random() < 0.55:
                source = "cpts"
                upstream = {"national_id": national_id, "cpts": cpts.national_id}
            else:
                draw = rng.random()
                source = EDITOR_SOURCES[0 if draw < 0.4 else 1 if draw < 0.7 else 2]
                upstream = {"national_id": national_id}
            self.session.add(
                ConnectorBinding(source=source, practitioner_id=practitioner.id,
                                 upstream_ids=upstream)
            )  # fmt: skip
            self.report.bindings[source] += 1
        for structure, national_id in self.sos_structures:
            self.session.add(
                ConnectorBinding(source="sos_medecins", structure_id=structure.id,
                                 upstream_ids={"siret": national_id[1:]})
            )  # fmt: skip
            self.report.bindings["sos_medecins"] += 1
        for structure, members in self.sos_member_rows:
            for practitioner in members:
                self.session.add(
                    StructureMembership(structure_id=structure.id, practitioner_id=practitioner.id)
                )
                self.report.memberships += 1
        # last, so that the physicians above stay the same rows whatever is added here
        self.other_professions(count)

    def other_professions(self, physicians: int) -> None:
        """Nurses and a few other professions (no specialty, no SAS participation), each
        with an editor agenda: what LRM links asking for ``INF`` and the like find."""
        index = OTHER_PROFESSIONS_FIRST_INDEX
        people: list[tuple[Practitioner, str]] = []
        for code, share in OTHER_PROFESSIONS:
            for _ in range(max(1, round(physicians * share))):
                index += 1
                female = self.rng.random() < 0.7
                national_id = demo_national_id(self.department, index)
                person = Practitioner(
                    national_id=national_id, title="", profession_code=code,
                    family_name=self.rng.choice(FAMILY_NAMES),
                    given_name=self.rng.choice(GIVEN_NAMES_F if female else GIVEN_NAMES_M),
                    specialty_code=None, is_demo=True, sas_participation=False,
                )  # fmt: skip
                self.session.add(person)
                self.place(f"demo-{national_id}-1", self.commune(), practitioner=person)
                people.append((person, EDITOR_SOURCES[0 if self.rng.random() < 0.5 else 1]))
                self.report.professions[code] += 1
        self.session.flush()  # ids for the bindings
        for person, source in people:
            self.session.add(
                ConnectorBinding(source=source, practitioner_id=person.id,
                                 upstream_ids={"national_id": person.national_id})
            )  # fmt: skip
            self.report.bindings[source] += 1
        self.report.practitioners += len(people)

    def msps(self, people: list[tuple[Practitioner, PlaceOfPractice, str]]) -> set[str]:
        """2–4 MSPs in small towns; the nearest general practitioners practise there."""
        rng, dep = self.rng, self.department
        towns = [c for c in self.communes if 1500 <= c.population <= 40000] or self.communes
        members: set[str] = set()
        picked = rng.sample(towns, min(len(towns), rng.randint(2, 4)))
        for index, town in enumerate(picked, start=1):
            msp = self.structure(
                "MSP",
                "1" + demo_finess(dep, 2, index),
                f"Maison de santé pluriprofessionnelle {_of(town.name)}",
            )
            address = self.street()
            gps = [p for p in people if p[0].specialty_code == GENERAL_PRACTICE
                   and p[2] not in members]  # fmt: skip
            gps.sort(key=lambda p: distance_km(p[1].lat or 0, p[1].lon or 0, town.lat, town.lon))
            msp_point = self.spread(town)
            for _, place, national_id in gps[: rng.randint(4, 8)]:
                place.structure, place.name, place.address_line = msp, msp.name, address
                place.insee_code, place.city = town.insee, town.name
                place.postal_code = town.postal_codes[0] if town.postal_codes else ""
                place.lat, place.lon = msp_point
                members.add(national_id)
        return members

    def sos(
        self,
        people: list[tuple[Practitioner, PlaceOfPractice, str]],
        big: list[Commune],
        msp_members: set[str],
    ) -> set[str]:
        """1–2 SOS Médecins associations with 2–3 consultation sites and 8–15 GPs each."""
        rng, dep = self.rng, self.department
        members: set[str] = set()
        count = 2 if self.cumulative[-1] >= 800_000 else 1
        for index, seat in enumerate(self.seats(count, 8.0, big), start=1):
            national_id = "3" + demo_siret(dep, index)
            sos = self.structure("SOS", national_id, f"SOS Médecins {seat.name}")
            self.sos_structures.append((sos, national_id))
            near = [c for c in big if c is not seat
                    and distance_km(c.lat, c.lon, seat.lat, seat.lon) <= 25]  # fmt: skip
            for site, commune in enumerate([seat, *near[: rng.randint(1, 2)]], start=1):
                self.place(
                    f"demo-{national_id}-site-{site}",
                    commune,
                    structure=sos,
                    name=f"{sos.name} – centre de consultation {_of(commune.name)}",
                )
            candidates = [
                p for p in people
                if p[0].specialty_code == GENERAL_PRACTICE and p[2] not in members
                and p[2] not in msp_members
                and distance_km(p[1].lat or 0, p[1].lon or 0, seat.lat, seat.lon) <= 25
            ]  # fmt: skip
            chosen = rng.sample(candidates, min(len(candidates), rng.randint(8, 15)))
            members.update(p[2] for p in chosen)
            self.sos_member_rows.append((sos, [p[0] for p in chosen]))
        return members

    def cpts(
        self,
        people: list[tuple[Practitioner, PlaceOfPractice, str]],
        big: list[Commune],
        spread_km: float,
    ) -> dict[str, Structure]:
        """2–4 CPTS around populous communes; about 45 % of the practitioners join the
        nearest one."""
        population = self.cumulative[-1]
        count = 2 + (population >= 500_000) + (population >= 1_000_000)
        seats = self.seats(count, max(spread_km / 3, 2.0), big)
        structures = [
            self.structure("CPTS", "1" + demo_finess(self.department, 1, i),
                           f"CPTS {_of(seat.name)}")
            for i, seat in enumerate(seats, start=1)
        ]  # fmt: skip
        membership: dict[str, Structure] = {}
        for _, place, national_id in people:
            distances = [distance_km(place.lat or 0, place.lon or 0, s.lat, s.lon) for s in seats]
            nearest = min(range(len(seats)), key=distances.__getitem__)
            if self.rng.random() < 0.45:
                membership[national_id] = structures[nearest]
        return membership
