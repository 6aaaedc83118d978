"""How fast the regulator's results page answers on a national-scale directory.

A dataset (:mod:`portal.devtools.bench.dataset`: practitioners over every department, their
places, bindings, cached slots over 72 h and fetch times) is loaded into a scratch
database — a SQLite file in a temporary folder, or a throwaway PostgreSQL cluster
(``PgCluster``) unless a server URL is given — migrated by ``portal.migrate.upgrade``.

A deterministic mix of searches (address, map point, commune, department; with and
without filters) then goes through the real page: ``GET /recherche?…`` on the Flask
test client, logged in as a regulator. What is timed is the server's whole answer
in-process: session, permission, search service, cached slots of the first batch,
template rendering. The application is warmed up as a serving process is
(:func:`portal.app.warm_up`), then a few searches warm up templates and caches.
"""

from __future__ import annotations

import bisect
import contextlib
import cProfile
import io
import itertools
import os
import pstats
import random
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, event

from portal import db, migrate
from portal.app import warm_up
from portal.devtools.bench import dataset
from portal.models import User, UserRole
from portal.reference import geo
from portal.reference.vocabulary import WITHIN_WINDOWS

KINDS = ("adresse", "carte", "commune", "departement")
#: Share of each kind in the mix (out of 20).
KIND_WEIGHTS = {"adresse": 5, "carte": 3, "commune": 7, "departement": 5}
WINDOWS = tuple(WITHIN_WINDOWS)
TARGET_P95_MS = 150.0
#: The throwaway cluster's planner settings: those recommended for SSD storage (README,
#: "Serving it"); with the default random_page_cost (4, spinning disks) the planner
#: prefers hash joins over sequential scans of the directory (p95 +10 %).
PG_SETTINGS = {"random_page_cost": "1.1"}
WARMUP = 5


@dataclass(frozen=True, slots=True)
class Query:
    """One search of the mix: its kind, a label, the URL parameters, whether filtered."""

    kind: str
    label: str
    params: tuple[tuple[str, str], ...]
    filtered: bool
    #: what the stand-in geocoder answers for an address: (lat, lon, INSEE code)
    geocoded: tuple[float, float, str] | None = None

    @property
    def url(self) -> str:
        return "/recherche?" + urlencode(self.params)


@dataclass(slots=True)
class Measure:
    query: Query
    ms: float
    status: int
    total: int | None = None  # cards after filters, when the service says so
    shown: int | None = None
    with_slots: int | None = None
    widened: bool = False


@dataclass(slots=True)
class BackendResult:
    backend: str
    build: dataset.Counts
    measures: list[Measure] = field(default_factory=list)
    profile: str = ""
    statements: list[tuple[float, str]] = field(default_factory=list)
    kept: str | None = None

    def times(self, kind: str | None = None, filtered: bool | None = None) -> list[float]:
        return [
            m.ms
            for m in self.measures
            if (kind is None or m.query.kind == kind)
            and (filtered is None or m.query.filtered == filtered)
        ]


def percentiles(values: list[float]) -> tuple[float, float, float, float]:
    """(p50, p95, p99, max) by linear interpolation between the closest ranks."""
    ordered = sorted(values)
    if not ordered:
        return (0.0, 0.0, 0.0, 0.0)

    def at(q: float) -> float:
        rank = q * (len(ordered) - 1)
        low = int(rank)
        high = min(low + 1, len(ordered) - 1)
        return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)

    return (at(0.50), at(0.95), at(0.99), ordered[-1])


def _filters(rng: random.Random) -> list[tuple[str, str]]:
    """None (40 %) or one or two filters among window, modality, SAS only, specialty."""
    if rng.random() < 0.4:
        return []
    chosen: list[tuple[str, str]] = []
    for name in rng.sample(["dispo", "modalite", "sas", "specialite"], rng.choice([1, 1, 2])):
        if name == "dispo":
            chosen.append(("dispo", rng.choice(WINDOWS)))
        elif name == "modalite":
            chosen.append(("modalite", rng.choice(["cabinet", "teleconsultation", "domicile"])))
        elif name == "sas":
            chosen.append(("sas", "1"))
        else:
            chosen.append(("specialite", rng.choice(["SM40", "SM42", "SM04", ""])))
    return chosen


def mix(count: int, *, seed: int = 5) -> list[Query]:
    """``count`` searches, the same ones every run: places weighted by population,
    departments uniformly; kinds interleaved by :data:`KIND_WEIGHTS`."""
    rng = random.Random(seed)
    communes = dataset.communes()
    cumulative = list(itertools.accumulate(c.population for c in communes))
    departments = sorted({c.department for c in communes})
    kinds = [k for k in KINDS for _ in range(KIND_WEIGHTS[k])]
    queries = []
    for n in range(count):
        kind = kinds[(n * 7) % len(kinds)]
        commune = communes[_pick(cumulative, rng.random())]
        filters = _filters(rng)
        geocoded = None
        if kind == "departement":
            department = rng.choice(departments)
            label = f"département {department}"
            params = [("lieu", department)]
        elif kind == "commune":
            label = f"{commune.name} ({commune.insee})"
            params = [("lieu", commune.label), ("insee", commune.insee)]
        else:
            lat = round(commune.lat + rng.uniform(-0.01, 0.01), 5)
            lon = round(commune.lon + rng.uniform(-0.01, 0.01), 5)
            postal = commune.postal_codes[0] if commune.postal_codes else ""
            street = rng.choice(dataset.STREETS)
            where = f"{1 + rng.randrange(60)} {street}, {postal} {commune.name}"
            label = f"{kind} près de {commune.name} ({lat}, {lon})"
            if kind == "adresse":
                params = [("lieu", where)]
                geocoded = (lat, lon, commune.insee)
            else:  # "Relancer la recherche ici" after panning the map
                params = [("lat", str(lat)), ("lon", str(lon)), ("rayon", "10")]
        if not any(k == "specialite" for k, _ in filters):
            params.append(("specialite", "SM54"))
        queries.append(Query(kind, label, tuple(params + filters), bool(filters), geocoded))
    return queries


def _pick(cumulative: list[int], fraction: float) -> int:
    return min(bisect.bisect_right(cumulative, fraction * cumulative[-1]), len(cumulative) - 1)


@contextlib.contextmanager
def _geocoder(queries: list[Query]) -> Iterator[None]:
    """Stand in for the national address API: the mix's addresses, answered offline
    (``precision="adresse"``), so that address searches take the service's address path."""
    from portal.search import geocoding
    from portal.search.service import Place

    index = geo.get_index()
    known: dict[str, Place] = {}
    for query in queries:
        if query.geocoded is not None:
            where = dict(query.params)["lieu"]
            lat, lon, insee = query.geocoded
            commune = index.by_insee(insee)
            department = commune.department if commune else None
            known[where] = Place(where, lat, lon, insee, department, "adresse")
    original = geocoding.make_geocoder

    def make_geocoder(config: Any) -> Callable[[str], Place | None]:
        return known.get

    geocoding.make_geocoder = make_geocoder
    try:
        yield
    finally:
        geocoding.make_geocoder = original


def _app(url: str, instance: Path) -> Flask:
    from portal.app import create_app

    previous = os.environ.get("SAS_PORTAL_INSTANCE_PATH")
    os.environ["SAS_PORTAL_INSTANCE_PATH"] = str(instance)
    try:
        return create_app(
            {
                "TESTING": True,
                "SECRET_KEY": "bench",
                "DATABASE_URL": url,
                "WTF_CSRF_ENABLED": False,
            }
        )
    finally:
        if previous is None:
            del os.environ["SAS_PORTAL_INSTANCE_PATH"]
        else:
            os.environ["SAS_PORTAL_INSTANCE_PATH"] = previous


_users = itertools.count(1)


def _regulator(app: Flask) -> FlaskClient:
    """A test client holding a national regulator's session."""
    client = app.test_client()
    with app.app_context():
        session = db.session()
        user = User(
            email=f"regulateur-{next(_users)}@bench.test",
            family_name="Bench",
            given_name="Régulateur",
        )
        user.roles.append(UserRole(role="regulateur"))
        session.add(user)
        session.commit()
        now = time.time()
        with client.session_transaction() as sess:
            sess.update({"uid": user.id, "auth_method": "local", "login_at": now, "seen_at": now})
    return client


@contextlib.contextmanager
def _recording() -> Iterator[list[Any]]:
    """The outcomes the view gets from the search service, in order."""
    from portal.views import search as view

    outcomes: list[Any] = []
    original = view.search

    def recorded(*args: Any, **kwargs: Any) -> Any:
        outcome = original(*args, **kwargs)
        outcomes.append(outcome)
        return outcome

    view.search = recorded
    try:
        yield outcomes
    finally:
        view.search = original


def _figures(outcome: Any) -> tuple[int | None, int | None, int | None, bool]:
    """(total, shown, with slots, widened) of a search outcome."""
    if outcome is None:
        return None, None, None, False
    return (
        outcome.total,
        len(outcome.cards),
        outcome.with_slots,
        outcome.widened_from_km is not None,
    )


@contextlib.contextmanager
def _statements(engine: Engine) -> Iterator[list[tuple[float, str]]]:
    """SQL statements run meanwhile, with their duration (ms)."""
    found: list[tuple[float, str]] = []

    def before(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        conn.info.setdefault("bench_started", []).append(time.perf_counter())

    def after(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        began = conn.info["bench_started"].pop()
        found.append(((time.perf_counter() - began) * 1000, statement))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield found
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


def measure(
    app: Flask, queries: list[Query], *, warmup: int = WARMUP, say: Callable[[str], None]
) -> list[Measure]:
    client = _regulator(app)
    measures = []
    with _geocoder(queries), _recording() as outcomes:
        for query in queries[:warmup]:
            client.get(query.url).close()
        for n, query in enumerate(queries, 1):
            outcomes.clear()
            began = time.perf_counter()
            response = client.get(query.url)
            elapsed = (time.perf_counter() - began) * 1000
            response.close()
            total, shown, with_slots, widened = _figures(outcomes[-1] if outcomes else None)
            measures.append(
                Measure(query, elapsed, response.status_code, total, shown, with_slots, widened)
            )
            if n % 50 == 0:
                say(f"{n}/{len(queries)} recherches")
    return measures


def profile(app: Flask, query: Query) -> tuple[str, list[tuple[float, str]]]:
    """cProfile of one search, and its SQL statements (slowest first)."""
    client = _regulator(app)
    profiler = cProfile.Profile()
    with _geocoder([query]), app.app_context():
        client.get(query.url).close()  # warm, not recorded
        with _statements(db.engine()) as statements:
            profiler.enable()
            client.get(query.url).close()
            profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
    return out.getvalue(), sorted(statements, reverse=True)


def dataset_now() -> datetime:
    """The dataset's ``now``: this minute (the page reads the cache with the real clock)."""
    return datetime.now(UTC).replace(second=0, microsecond=0)


def run_backend(
    backend: str,
    spec: dataset.Spec,
    queries: list[Query],
    *,
    postgres_url: str | None = None,
    keep: Path | None = None,
    profile_slowest: bool = False,
    say: Callable[[str], None],
) -> BackendResult:
    with (
        _database(backend, postgres_url, keep, say) as (url, finish),
        tempfile.TemporaryDirectory(prefix="sas-bench-instance-") as instance,
    ):
        app = _app(url, Path(instance))
        with app.app_context():
            engine = db.engine()
            say(f"[{backend}] schéma (migrations Alembic)…")
            migrate.upgrade(engine)
            build = dataset.build(engine, spec, say=lambda t: say(f"[{backend}] {t}"))
            say(f"[{backend}] jeu de données construit en {build.total_s:.1f} s")
        result = BackendResult(backend, build)
        warm_up(app)  # as a serving process is (portal.wsgi)
        say(f"[{backend}] {len(queries)} recherches (+ {WARMUP} de chauffe)…")
        result.measures = measure(app, queries, say=lambda t: say(f"[{backend}] {t}"))
        if profile_slowest and result.measures:
            slowest = max(result.measures, key=lambda m: m.ms)
            say(f"[{backend}] profil de la recherche la plus lente : {slowest.query.url}")
            result.profile, result.statements = profile(app, slowest.query)
        with app.app_context():
            db.engine().dispose()
        result.kept = finish()
    return result


@contextlib.contextmanager
def _database(
    backend: str, postgres_url: str | None, keep: Path | None, say: Callable[[str], None]
) -> Iterator[tuple[str, Callable[[], str | None]]]:
    """A scratch database URL, and what to call before it goes (keeps it when asked)."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="sas-bench-search-") as scratch:
            path = Path(scratch) / "bench-search.sqlite3"

            def finish_sqlite() -> str | None:
                if keep is None:
                    return None
                keep.mkdir(parents=True, exist_ok=True)
                target = keep / path.name
                shutil.copyfile(path, target)
                return str(target)

            yield f"sqlite:///{path}", finish_sqlite
        return
    name = f"sas_bench_{os.getpid()}"
    if postgres_url:
        from sqlalchemy.engine import make_url

        admin = make_url(postgres_url)
        import psycopg

        dsn = admin.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        url = admin.set(database=name).render_as_string(hide_password=False)
        try:
            yield url, lambda: _dump(url, keep, None)
        finally:
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        return
    from portal.devtools.pgcluster import PgCluster

    say("[postgresql] grappe PostgreSQL jetable (PgCluster, random_page_cost=1.1)…")
    with PgCluster(settings=PG_SETTINGS) as cluster:
        url = cluster.create_database(name)
        yield url, lambda: _dump(url, keep, cluster.bindir)


def _dump(url: str, keep: Path | None, bindir: Path | None) -> str | None:
    """``pg_dump -Fc`` of the scratch database into ``keep`` (when asked)."""
    if keep is None:
        return None
    from sqlalchemy.engine import make_url

    keep.mkdir(parents=True, exist_ok=True)
    target = keep / "bench-search.pgdump"
    parsed = make_url(url)
    program = str(bindir / "pg_dump") if bindir and (bindir / "pg_dump").exists() else "pg_dump"
    subprocess.run(
        [
            program,
            "-Fc",
            "-h",
            parsed.host or "127.0.0.1",
            "-p",
            str(parsed.port or 5432),
            "-U",
            parsed.username or "postgres",
            "-f",
            str(target),
            parsed.database or "",
        ],
        check=True,
        env={**os.environ, "PGPASSWORD": parsed.password or ""},
    )
    return str(target)


def spec_for(practitioners: int, slots: int) -> dataset.Spec:
    return dataset.Spec(practitioners=practitioners, slots=slots, now=dataset_now())
