"""A national-scale directory with its slot cache, generated fast into a scratch database.

Deterministic for a given seed and ``now``: practitioners are spread over every
department by commune population (at least one in each department), ~60 % in
general medicine, ~30 % SAS participants; each has one place of practice (some a
second one) scattered around its commune's centre, bindings to slot sources,
cached slots over the 72 hours after ``now`` in the normalised JSON form
(``Slot.as_json()``) and their ``SlotFetch`` rows. SOS Médecins sites and CPTS
(with their members) complete each department.

Rows are written without the ORM: SQLite through the driver's ``executemany``
(``synchronous=OFF``, ``journal_mode=MEMORY`` during the load), PostgreSQL through
``COPY … FROM STDIN`` (psycopg). Ids are assigned here, sequences are reset after.
"""

from __future__ import annotations

import bisect
import itertools
import json
import math
import os
import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, inspect, text

from portal.devtools.bench.ingest import finess, rpps
from portal.reference import geo
from portal.slots.cache import summarise

#: The sources practitioners are bound to (editors, the SAS agenda), with their weights.
EDITOR_SOURCES = (
    ("doctolib_like:editeur-a", 45),
    ("doctolib_like:editeur-b", 25),
    ("doctolib_like:editeur-c", 10),
    ("sas_agenda", 20),
)
SOS_SOURCE = "sos_medecins"
GENERAL_PRACTICE = "SM54"
#: Other specialties, most common first (weights follow a rough national mix).
OTHER_SPECIALTIES = (
    ("SM40", 8),  # pédiatrie
    ("SM42", 8),  # psychiatrie
    ("SM04", 6),  # cardiologie
    ("SM38", 5),  # ophtalmologie
    ("SM15", 4),  # dermatologie
    ("SM20", 4),  # gynécologie-obstétrique
    ("SM19", 3),  # gynécologie médicale
    ("SM34", 3),  # ORL
    ("SM24", 2),  # gastro-entérologie
    ("SM41", 2),  # pneumologie
    ("SM32", 2),  # neurologie
    ("SM48", 2),  # rhumatologie
    ("SM44", 2),  # radio-diagnostic
    ("SM59", 2),  # médecine d'urgence
    ("SM18", 1),  # gériatrie
    ("SM62", 1),  # endocrinologie
    ("SM30", 1),  # néphrologie
    ("SM29", 1),  # MPR
)
FAMILY_NAMES = [
    "Martin",
    "Bernard",
    "Thomas",
    "Petit",
    "Robert",
    "Richard",
    "Durand",
    "Dubois",
    "Moreau",
    "Laurent",
    "Simon",
    "Michel",
    "Lefèvre",
    "Leroy",
    "Roux",
    "David",
    "Bertrand",
    "Morel",
    "Fournier",
    "Girard",
    "Bonnet",
    "Dupont",
    "Lambert",
    "Fontaine",
    "Rousseau",
    "Vincent",
    "Muller",
    "Lefebvre",
    "Faure",
    "André",
    "Mercier",
    "Blanc",
    "Guérin",
    "Boyer",
    "Garnier",
    "Chevalier",
    "François",
    "Legrand",
    "Gauthier",
    "Garcia",
    "Perrin",
    "Robin",
    "Clément",
    "Morin",
    "Nicolas",
    "Henry",
    "Roussel",
    "Mathieu",
    "Gautier",
    "Masson",
    "Marchand",
    "Duval",
    "Denis",
    "Dumont",
    "Marie",
    "Lemaire",
    "Noël",
    "Meyer",
    "Dufour",
    "Meunier",
]
GIVEN_NAMES = [
    "Marie",
    "Jean",
    "Pierre",
    "Michel",
    "Nathalie",
    "Isabelle",
    "Sylvie",
    "Catherine",
    "Philippe",
    "Alain",
    "Nicolas",
    "Christophe",
    "Sophie",
    "Julien",
    "Camille",
    "Léa",
    "Thomas",
    "Manon",
    "Hugo",
    "Chloé",
    "Lucas",
    "Emma",
    "Antoine",
    "Sarah",
    "Mathieu",
    "Claire",
    "Céline",
    "Hélène",
    "Laurent",
    "Anne",
    "Émilie",
    "Aurélie",
    "Vincent",
    "Olivier",
    "Delphine",
]
STREETS = (
    "rue de la République",
    "avenue Jean Jaurès",
    "rue Victor Hugo",
    "place de la Mairie",
    "rue Pasteur",
    "boulevard Gambetta",
    "rue du Général de Gaulle",
    "rue des Écoles",
    "chemin des Vignes",
    "avenue de la Gare",
)
#: (modalities, visibility) of a slot, cycled with weights.
SLOT_SHAPES = (
    (("cabinet",), ("public", "pro", "sas"), 50),
    (("cabinet",), ("sas",), 20),
    (("cabinet",), ("pro", "sas"), 10),
    (("teleconsultation",), ("public", "pro", "sas"), 10),
    (("cabinet", "teleconsultation"), ("sas",), 5),
    (("domicile",), ("sas",), 5),
)
SLOT_MINUTES = 15
STEP_MINUTES = 10
OPENING_HOURS = (7, 21)  # local time
BATCH = 20_000


def _weighted(rng: random.Random, choices: Sequence[tuple[Any, int]]) -> Callable[[], Any]:
    values = [c[0] for c in choices]
    cumulative = list(itertools.accumulate(c[-1] for c in choices))
    total = cumulative[-1]

    def pick() -> Any:
        return values[bisect.bisect_right(cumulative, rng.random() * total)]

    return pick


@dataclass(slots=True)
class Counts:
    """Rows written per table, and how long each took."""

    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    total_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Spec:
    practitioners: int = 250_000
    slots: int = 2_000_000
    now: datetime = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
    seed: int = 20261125
    sas_share: float = 0.30
    bound_share: float = 0.60  # practitioners bound to a slot source (all SAS participants)
    cpts_per_department: int = 4
    cpts_share: float = 0.25  # practitioners member of a CPTS


def communes() -> list[geo.Commune]:
    """Communes to put practitioners in: the arrondissements rather than their city."""
    cities = set(geo.CITIES_WITH_ARRONDISSEMENTS)
    return [c for c in geo.get_index() if c.insee not in cities and c.population > 0]


def _scatter(rng: random.Random, commune: geo.Commune) -> tuple[float, float]:
    """A point around the commune's centre: wider for a populous commune (≤ ~4 km)."""
    sigma = min(0.035, 0.002 + 0.00003 * math.sqrt(commune.population))
    lat = commune.lat + rng.gauss(0.0, sigma)
    lon = commune.lon + rng.gauss(0.0, sigma / max(math.cos(math.radians(commune.lat)), 0.2))
    return round(lat, 6), round(lon, 6)


class Writer:
    """Bulk rows into one table, per backend; datetimes are passed as text."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.tz = "" if self.dialect == "sqlite" else "+00"

    def stamp(self, moment: datetime) -> str:
        """A UTC datetime as the column's text (SQLAlchemy's SQLite format; timestamptz)."""
        return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") + self.tz

    def boolean(self, value: bool) -> Any:
        return int(value) if self.dialect == "sqlite" else value

    def write(
        self,
        table: str,
        columns: Sequence[str],
        rows: Iterable[tuple[Any, ...]],
        progress: Callable[[int], None] | None = None,
    ) -> int:
        raw = self.engine.raw_connection()
        count = 0
        try:
            cursor = raw.cursor()
            quoted = ", ".join(f'"{c}"' for c in columns)
            if self.dialect == "sqlite":
                # a scratch database: no durability needed during the load
                cursor.execute("PRAGMA synchronous=OFF")
                cursor.execute("PRAGMA journal_mode=MEMORY")
                marks = ", ".join("?" for _ in columns)
                sql = f'INSERT INTO "{table}" ({quoted}) VALUES ({marks})'
                for batch in _batched(rows, BATCH):
                    cursor.executemany(sql, batch)
                    count += len(batch)
                    if progress:
                        progress(count)
            else:
                with cursor.copy(f'COPY "{table}" ({quoted}) FROM STDIN') as copy:
                    for batch in _batched(rows, BATCH):
                        for row in batch:
                            copy.write_row(row)
                        count += len(batch)
                        if progress:
                            progress(count)
            raw.commit()
        finally:
            raw.close()
        return count


def _phone(n: int) -> str:
    return f"0{1 + n % 5} {n % 100:02d} {n // 100 % 100:02d} {n // 10_000 % 100:02d} 00"


def _batched(rows: Iterable[tuple[Any, ...]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    iterator = iter(rows)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


@dataclass(slots=True)
class _Practitioner:
    id: int
    national_id: str
    commune: geo.Commune
    specialty: str
    sas: bool
    lat: float
    lon: float
    address: str


class Generator:
    """Builds the rows of every table for one :class:`Spec`."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.rng = random.Random(spec.seed)
        self.communes = communes()
        self.departments = sorted({c.department for c in self.communes})
        self.people: list[_Practitioner] = []
        self.starts = self._candidate_starts()

    def _candidate_starts(self) -> list[tuple[str, str, str, str]]:
        """Every slot start within the opening hours of the next 72 h (Paris time):
        (start iso, end iso, start as UTC text, end as UTC text) — text filled by ``Writer``."""
        paris = ZoneInfo("Europe/Paris")
        now = self.spec.now
        first = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        found = []
        moment = first
        while moment < now + timedelta(hours=72):
            local = moment.astimezone(paris)
            if OPENING_HOURS[0] <= local.hour < OPENING_HOURS[1]:
                found.append(moment)
            moment += timedelta(minutes=STEP_MINUTES)
        return [
            (m.isoformat(), (m + timedelta(minutes=SLOT_MINUTES)).isoformat(), "", "")
            for m in found
        ] or [(first.isoformat(), first.isoformat(), "", "")]

    def _start_moments(self) -> list[datetime]:
        return [datetime.fromisoformat(s[0]) for s in self.starts]

    def practitioners(self, w: Writer) -> Iterator[tuple[Any, ...]]:
        spec, rng = self.spec, self.rng
        by_department: dict[str, geo.Commune] = {}
        for commune in self.communes:  # most populous first
            by_department.setdefault(commune.department, commune)
        weights = list(itertools.accumulate(c.population for c in self.communes))
        other = _weighted(rng, OTHER_SPECIALTIES)
        stamp = w.stamp(spec.now - timedelta(days=30))
        seeds = list(by_department.values())
        for n in range(spec.practitioners):
            if n < len(seeds):
                commune = seeds[n]
            else:
                commune = self.communes[bisect.bisect_right(weights, rng.random() * weights[-1])]
            specialty = GENERAL_PRACTICE if rng.random() < 0.6 else other()
            sas = rng.random() < spec.sas_share
            lat, lon = _scatter(rng, commune)
            address = f"{1 + rng.randrange(120)} {rng.choice(STREETS)}"
            person = _Practitioner(n + 1, "8" + rpps(n), commune, specialty, sas, lat, lon, address)
            self.people.append(person)
            yield (
                person.id,
                person.national_id,
                "DR",
                rng.choice(FAMILY_NAMES).upper(),
                rng.choice(GIVEN_NAMES),
                "10",
                specialty,
                w.boolean(sas),
                "individual" if sas else None,
                w.boolean(False),
                w.boolean(False),
                w.boolean(False),
                w.boolean(False),
                stamp,
                stamp,
            )

    PRACTITIONER_COLUMNS = (
        "id",
        "national_id",
        "title",
        "family_name",
        "given_name",
        "profession_code",
        "specialty_code",
        "sas_participation",
        "participation_mode",
        "accepts_extra_patients",
        "refuses_public_display",
        "refuses_pro_display",
        "is_demo",
        "created_at",
        "updated_at",
    )

    def structures(self, w: Writer) -> Iterator[tuple[Any, ...]]:
        """One SOS Médecins association and ``cpts_per_department`` CPTS per department."""
        stamp = w.stamp(self.spec.now - timedelta(days=30))
        n = 0
        for department in self.departments:
            n += 1
            yield (
                n, "1" + finess(n), "SOS", f"SOS Médecins {department}", department,
                "automatic", None, None, w.boolean(False), stamp, stamp,
            )  # fmt: skip
            for k in range(self.spec.cpts_per_department):
                n += 1
                yield (
                    n, f"3{n:013d}", "CPTS", f"CPTS {department}-{k + 1}", department,
                    "automatic", None, None, w.boolean(False), stamp, stamp,
                )  # fmt: skip

    STRUCTURE_COLUMNS = (
        "id",
        "national_id",
        "kind",
        "name",
        "department",
        "feed_mode",
        "feed_consented_by",
        "feed_consented_at",
        "is_demo",
        "created_at",
        "updated_at",
    )

    def structure_ids(self) -> dict[str, tuple[int, str, list[int]]]:
        """department → (SOS structure id, its national id, CPTS ids)."""
        found: dict[str, tuple[int, str, list[int]]] = {}
        n = 0
        for department in self.departments:
            n += 1
            sos = (n, "1" + finess(n))
            cpts = list(range(n + 1, n + 1 + self.spec.cpts_per_department))
            n += self.spec.cpts_per_department
            found[department] = (sos[0], sos[1], cpts)
        return found

    def places(self, w: Writer) -> Iterator[tuple[Any, ...]]:
        rng = self.rng
        stamp = w.stamp(self.spec.now - timedelta(days=30))
        n = 0
        for person in self.people:
            c = person.commune
            postal = c.postal_codes[0] if c.postal_codes else ""
            extra = 2 if rng.random() < 0.1 else 1
            for k in range(extra):
                n += 1
                lat, lon = (person.lat, person.lon) if k == 0 else _scatter(rng, c)
                address = person.address if k == 0 else f"{1 + rng.randrange(80)} {STREETS[k]}"
                yield (
                    n, f"bench-{person.national_id}-{k}", person.id, None,
                    "Cabinet médical" if k == 0 else "Cabinet secondaire", address, postal,
                    c.insee, c.name, c.department, lat, lon, "adresse",
                    _phone(person.id),
                    stamp, stamp,
                )  # fmt: skip
        for department, (sos_id, _, _) in self.structure_ids().items():
            commune = next(x for x in self.communes if x.department == department)
            n += 1
            lat, lon = _scatter(rng, commune)
            yield (
                n, f"bench-sos-{sos_id}", None, sos_id, f"SOS Médecins {commune.name}",
                "1 place de la Gare", commune.postal_codes[0] if commune.postal_codes else "",
                commune.insee, commune.name, department, lat, lon, "adresse", "3624", stamp, stamp,
            )  # fmt: skip

    PLACE_COLUMNS = (
        "id",
        "activity_key",
        "practitioner_id",
        "structure_id",
        "name",
        "address_line",
        "postal_code",
        "insee_code",
        "city",
        "department",
        "lat",
        "lon",
        "geocode_precision",
        "phone",
        "created_at",
        "updated_at",
    )

    def memberships(self) -> Iterator[tuple[Any, ...]]:
        rng = self.rng
        structures = self.structure_ids()
        for person in self.people:
            if rng.random() < self.spec.cpts_share:
                yield (rng.choice(structures[person.commune.department][2]), person.id)

    MEMBERSHIP_COLUMNS = ("structure_id", "practitioner_id")

    def bound(self) -> list[tuple[_Practitioner, str]]:
        """The practitioners bound to a source: every SAS participant, then others."""
        rng = random.Random(self.spec.seed + 1)
        pick = _weighted(rng, EDITOR_SOURCES)
        others = (self.spec.bound_share - self.spec.sas_share) / (1 - self.spec.sas_share)
        return [(p, pick()) for p in self.people if p.sas or rng.random() < others]

    def bindings(
        self, w: Writer, bound: list[tuple[_Practitioner, str]]
    ) -> Iterator[tuple[Any, ...]]:
        stamp = w.stamp(self.spec.now - timedelta(days=30))
        n = 0
        for person, source in bound:
            n += 1
            upstream = json.dumps({"practitioner": f"ps-{person.id}"})
            yield (n, source, person.id, None, upstream, w.boolean(True), stamp, stamp)
        for sos_id, _, _ in self.structure_ids().values():
            n += 1
            upstream = json.dumps({"site": f"site-{sos_id}"})
            yield (n, SOS_SOURCE, None, sos_id, upstream, w.boolean(True), stamp, stamp)

    BINDING_COLUMNS = (
        "id",
        "source",
        "practitioner_id",
        "structure_id",
        "upstream_ids",
        "enabled",
        "created_at",
        "updated_at",
    )

    def slot_counts(self, owners: int) -> list[int]:
        """``spec.slots`` split between ``owners`` (0.2×–1.8× the mean, capped by the window)."""
        rng = random.Random(self.spec.seed + 2)
        weights = [0.2 + 1.6 * rng.random() for _ in range(owners)]
        total = sum(weights)
        cap = len(self.starts)
        counts = [min(cap, int(self.spec.slots * x / total)) for x in weights]
        missing = self.spec.slots - sum(counts)
        i = 0
        while missing > 0 and owners:
            room = min(cap - counts[i % owners], missing)
            if room > 0:
                counts[i % owners] += 1
                missing -= 1
            i += 1
            if i > owners * (cap + 1):
                break  # more slots than owners × window: keep what fits
        return counts

    def slots(
        self, w: Writer, bound: list[tuple[_Practitioner, str]], *, facts: bool = False
    ) -> Iterator[tuple[Any, ...]]:
        """Cached slots of the bound practitioners and SOS sites, JSON as ``Slot.as_json()``;
        with ``facts``, their modalities and visibility columns too (as the cache writes them)."""
        rng = random.Random(self.spec.seed + 3)
        moments = self._start_moments()
        texts = [
            (w.stamp(m), w.stamp(m + timedelta(minutes=SLOT_MINUTES)), iso, end_iso)
            for m, (iso, end_iso, _, _) in zip(moments, self.starts, strict=True)
        ]
        # each shape's JSON lists, serialised once: (modalities, visibility)
        shape = _weighted(
            rng,
            [((json.dumps(list(m)), json.dumps(list(v))), weight) for m, v, weight in SLOT_SHAPES],
        )
        fetched = w.stamp(self.spec.now - timedelta(minutes=4))
        sos_owners = [
            (national_id, department)
            for department, (_, national_id, _) in self.structure_ids().items()
        ]
        counts = self.slot_counts(len(bound) + len(sos_owners))
        n = 0
        owners: list[tuple[str, str | None, str | None, str, str, str]] = []
        for person, source in bound:
            c = person.commune
            address = json.dumps(
                {
                    "line": person.address,
                    "postal_code": c.postal_codes[0] if c.postal_codes else "",
                    "city": c.name,
                },
                ensure_ascii=False,
            )
            owners.append((source, person.national_id, None, person.specialty, address, ""))
        for national_id, department in sos_owners:
            owners.append((SOS_SOURCE, None, national_id, GENERAL_PRACTICE, "null", department))
        for (source, practitioner, structure, specialty, address, _), count in zip(
            owners, counts, strict=True
        ):
            owner = practitioner or structure
            assert owner is not None
            prefix = (
                f'{{"source": "{source}", "id": "%s", "practitioner": '
                f'{json.dumps(practitioner)}, "structure": {json.dumps(structure)}, '
            )
            tail = (
                f'"bookable": true, "specialties": ["{specialty}"], "reasons": [], '
                f'"booking_url": "https://rdv.exemple.fr/{owner}/%s", "capacity": 1, '
                f'"address": {address}, "cpts": []}}'
            )
            for index in sorted(rng.sample(range(len(texts)), count)):
                start, end, iso, end_iso = texts[index]
                modalities, visibility = shape()
                n += 1
                upstream = f"{owner}-{index}"
                data = (
                    prefix % upstream + f'"start": "{iso}", "end": "{end_iso}", '
                    f'"modalities": {modalities}, '
                    f'"visibility": {visibility}, ' + tail % upstream
                )
                row: tuple[Any, ...] = (
                    n,
                    source,
                    upstream,
                    practitioner,
                    structure,
                    start,
                    end,
                    data,
                    fetched,
                )
                if facts:
                    row += (modalities, visibility)
                yield row

    SLOT_COLUMNS = (
        "id",
        "source",
        "upstream_id",
        "practitioner",
        "structure",
        "start",
        "end",
        "data",
        "fetched_at",
    )

    def fetches(
        self, w: Writer, bound: list[tuple[_Practitioner, str]]
    ) -> Iterator[tuple[Any, ...]]:
        rng = random.Random(self.spec.seed + 4)
        now = self.spec.now
        for person, source in bound:
            age = timedelta(minutes=1 + rng.randrange(15))
            failed = rng.random() < 0.02
            fetched = w.stamp(now - age - (timedelta(hours=2) if failed else timedelta()))
            yield (
                source, person.national_id, fetched, w.stamp(now - age),
                "failed" if failed else "fresh",
            )  # fmt: skip
        for _, national_id, _ in self.structure_ids().values():
            yield (SOS_SOURCE, national_id, w.stamp(now), w.stamp(now), "fresh")

    FETCH_COLUMNS = ("source", "national_id", "fetched_at", "attempted_at", "status")


SEQUENCED = ("practitioners", "structures", "places_of_practice", "connector_bindings", "slots")


def build(engine: Engine, spec: Spec, *, say: Callable[[str], None] | None = None) -> Counts:
    """Fill a freshly migrated database with the dataset of ``spec``; returns row counts."""
    say = say or (lambda _: None)
    counts = Counts()
    began = time.perf_counter()
    w = Writer(engine)
    gen = Generator(spec)

    def load(
        table: str, columns: Sequence[str], rows: Iterable[tuple[Any, ...]], total: int
    ) -> None:
        start = time.perf_counter()
        last = [start]

        def progress(done: int) -> None:
            moment = time.perf_counter()
            if moment - last[0] >= 2.0:
                last[0] = moment
                rate = done / (moment - start)
                say(
                    f"{table} : {done:,} / {total:,} lignes ({rate:,.0f} lignes/s)".replace(
                        ",", " "
                    )
                )

        count = w.write(table, columns, rows, progress)
        elapsed = time.perf_counter() - start
        counts.rows[table] = count
        counts.seconds[table] = elapsed
        rate = count / elapsed if elapsed else 0.0
        say(
            f"{table} : {count:,} lignes en {elapsed:.1f} s ({rate:,.0f} lignes/s)".replace(
                ",", " "
            )
        )

    load("practitioners", Generator.PRACTITIONER_COLUMNS, gen.practitioners(w), spec.practitioners)
    load("structures", Generator.STRUCTURE_COLUMNS, gen.structures(w), 5 * len(gen.departments))
    load("places_of_practice", Generator.PLACE_COLUMNS, gen.places(w), spec.practitioners)
    load("structure_memberships", Generator.MEMBERSHIP_COLUMNS, gen.memberships(), 0)
    bound = gen.bound()
    load("connector_bindings", Generator.BINDING_COLUMNS, gen.bindings(w, bound), len(bound))
    # columns added by later migrations (slot facts) are filled when the schema has them
    facts = {"modalities", "visibility"} <= {
        c["name"] for c in inspect(engine).get_columns("slots")
    }
    slot_columns = Generator.SLOT_COLUMNS + (("modalities", "visibility") if facts else ())
    load("slots", slot_columns, gen.slots(w, bound, facts=facts), spec.slots)
    load("slot_fetches", Generator.FETCH_COLUMNS, gen.fetches(w, bound), len(bound))
    if inspect(engine).has_table("slot_summaries"):  # as the cache writes do (migration 0006)
        start = time.perf_counter()
        with engine.begin() as conn:
            summarise(conn)
            count = conn.execute(text("SELECT count(*) FROM slot_summaries")).scalar_one()
        counts.rows["slot_summaries"] = count
        counts.seconds["slot_summaries"] = time.perf_counter() - start
        say(
            f"slot_summaries : {count:,} lignes en ".replace(",", " ")
            + f"{counts.seconds['slot_summaries']:.1f} s"
        )
    start = time.perf_counter()
    with engine.begin() as conn:
        if w.dialect == "postgresql":
            for table in SEQUENCED:
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
                )
        if w.dialect != "postgresql":
            conn.execute(text("ANALYZE"))
    if w.dialect == "postgresql":
        # what autovacuum does to a live database: statistics, and the visibility map
        # without which index-only scans (the slot facts) read the tables anyway
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM (ANALYZE)"))
    if w.dialect == "sqlite":  # back to what the portal runs with
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA journal_mode=WAL")
            conn.exec_driver_sql("PRAGMA synchronous=NORMAL")
    # the load's gigabytes of dirty pages reach the disk now, not in the first fsync of a
    # measured search (a 1.2 s stall of one SQLite search otherwise)
    os.sync()
    counts.seconds["ANALYZE"] = time.perf_counter() - start
    say(f"ANALYZE (PostgreSQL : VACUUM) : {counts.seconds['ANALYZE']:.1f} s")
    counts.total_s = time.perf_counter() - began
    return counts
