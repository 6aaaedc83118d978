"""``sas-portal bench search`` builds its dataset and prints its figures.

Small sizes, SQLite only; no timing is asserted. The dataset itself is checked
for what makes the benchmark realistic: every department, the specialty and SAS
shares, slots in the normalised JSON form within the next 72 h."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal import db, migrate
from portal.commands.bench import bench_cli
from portal.devtools.bench import dataset
from portal.devtools.bench import search as search_bench
from portal.domain import slot_from_json
from portal.models import CachedSlot, PlaceOfPractice, Practitioner, SlotFetch
from portal.reference import geo

FIGURE = r"[\d\u00a0 ]+(,\d)?"
NOW = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)


def test_search_bench_runs_small_on_sqlite_and_prints_its_figures(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        bench_cli,
        [
            "search",
            *("--practitioners", "2000", "--slots", "10000", "--searches", "10"),
            *("--backend", "sqlite", "--keep", str(tmp_path / "kept")),
        ],
    )

    assert result.exit_code == 0, result.output
    out = result.output
    assert "Recherche : 2 000 praticiens, 10 000 créneaux en cache (72 h), 10 recherches" in out
    assert re.search(
        rf"\[SQLite\] jeu de données construit en {FIGURE} s : practitioners 2 000", out
    )
    assert "slots 10 000" in out
    assert re.search(r"\[SQLite\]\s+p50\s+p95\s+p99\s+max", out)
    assert re.search(rf"toutes \(10\)(\s+{FIGURE} ms){{4}}", out)
    for kind in search_bench.KINDS:
        assert re.search(rf"{kind} \(\d+\)(\s+{FIGURE} ms){{4}}", out), kind
    assert re.search(r"objectif p95 < 150 ms : (atteint|NON atteint)", out)
    assert "réponse(s) en erreur" not in out
    assert re.search(rf"résultats : {FIGURE} praticiens par recherche en moyenne", out)
    assert (tmp_path / "kept" / "bench-search.sqlite3").exists()


def test_the_mix_is_deterministic_and_covers_every_kind() -> None:
    queries = search_bench.mix(200)
    assert queries == search_bench.mix(200)
    kinds = Counter(q.kind for q in queries)
    assert set(kinds) == set(search_bench.KINDS) and sum(kinds.values()) == 200
    assert 0 < sum(q.filtered for q in queries) < 200
    params = {k for q in queries for k, _ in q.params}
    assert {"lieu", "insee", "lat", "lon", "dispo", "modalite", "sas", "specialite"} <= params
    assert all(q.geocoded for q in queries if q.kind == "adresse")


def test_dataset_is_national_and_its_slots_are_normalised(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'bench.sqlite3'}")
    migrate.upgrade(engine)
    spec = dataset.Spec(practitioners=3000, slots=20_000, now=NOW)
    counts = dataset.build(engine, spec)

    assert counts.rows["practitioners"] == 3000 and counts.rows["slots"] == 20_000
    departments = {c.department for c in dataset.communes()}
    with Session(engine) as session:
        placed = set(session.scalars(select(PlaceOfPractice.department).distinct()))
        assert departments <= placed
        total = session.scalar(select(func.count()).select_from(Practitioner))
        general = session.scalar(select(func.count()).where(Practitioner.specialty_code == "SM54"))
        sas = session.scalar(select(func.count()).where(Practitioner.sas_participation))
        assert total and general and sas
        assert 0.55 < general / total < 0.65 and 0.25 < sas / total < 0.35
        first, last = session.execute(
            select(func.min(CachedSlot.start), func.max(CachedSlot.end))
        ).one()
        assert first > NOW and last <= NOW + timedelta(hours=73)
        for row in session.scalars(select(CachedSlot).limit(50)):
            slot = slot_from_json(row.data)
            assert slot.as_json() == row.data and slot.start == row.start
            assert row.practitioner in (slot.practitioner, None)
            if hasattr(CachedSlot, "modalities"):  # slot facts columns, as the cache writes them
                assert row.modalities == json.dumps(list(slot.modalities))
                assert row.visibility == json.dumps(list(slot.visibility))
        assert session.scalar(select(func.count()).select_from(SlotFetch))
        index = geo.get_index()
        place = session.scalars(select(PlaceOfPractice).limit(1)).one()
        commune = index.by_insee(place.insee_code or "")
        assert commune is not None and place.lat is not None and place.lon is not None
        assert geo.distance_km(commune.lat, commune.lon, place.lat, place.lon) < 20
    engine.dispose()
