"""The fictitious demo directory (``portal.devtools.demo_directory``)."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from portal import create_app, db
from portal.devtools.demo_directory import (
    demo_national_id,
    generate_demo_directory,
    luhn_check_digit,
    luhn_valid,
)
from portal.models import (
    ConnectorBinding,
    PlaceOfPractice,
    Practitioner,
    Structure,
    StructureMembership,
    Territory,
)
from portal.reference.geo import distance_km, get_index
from portal.reference.terminology import specialties

DEPARTMENTS = ("47", "92")
PRACTITIONER_SOURCES = {
    "doctolib_like:editeur-a", "doctolib_like:editeur-b", "cpts", "sas_agenda",
}  # fmt: skip


def snapshot(session: Session) -> dict[str, object]:
    """Everything that must not depend on the database: ids, names, settings, addresses."""
    people = session.execute(
        select(Practitioner.national_id, Practitioner.family_name, Practitioner.given_name,
               Practitioner.specialty_code, Practitioner.participation_mode,
               Practitioner.accepts_extra_patients, Practitioner.refuses_public_display)
        .order_by(Practitioner.national_id)
    ).all()  # fmt: skip
    places = session.execute(
        select(PlaceOfPractice.activity_key, PlaceOfPractice.address_line,
               PlaceOfPractice.insee_code, PlaceOfPractice.phone)
        .order_by(PlaceOfPractice.activity_key)
    ).all()  # fmt: skip
    structures = session.execute(
        select(Structure.national_id, Structure.kind, Structure.name).order_by(
            Structure.national_id
        )
    ).all()
    bindings = session.execute(
        select(Practitioner.national_id, ConnectorBinding.source)
        .join(Practitioner, Practitioner.id == ConnectorBinding.practitioner_id)
        .order_by(Practitioner.national_id)
    ).all()  # fmt: skip
    return {
        "people": [tuple(r) for r in people],
        "places": [tuple(r) for r in places],
        "structures": [tuple(r) for r in structures],
        "bindings": [tuple(r) for r in bindings],
    }


def test_luhn() -> None:
    assert luhn_check_digit("7992739871") == "3"  # the textbook example
    assert luhn_valid("79927398713")
    assert not luhn_valid("79927398714")
    national_id = demo_national_id("47", 12)
    assert national_id.startswith("899047") and len(national_id) == 12
    assert luhn_valid(national_id[1:])


def test_demo_is_deterministic_across_databases(
    app: Flask, sqlite_template: Path, tmp_path: Path
) -> None:
    with app.app_context():
        session = db.session()
        generate_demo_directory(session, DEPARTMENTS, seed=7)
        session.commit()
        first = snapshot(session)
    other_file = tmp_path / "other.sqlite3"
    shutil.copyfile(sqlite_template, other_file)
    other = create_app({"TESTING": True, "SECRET_KEY": "x",
                        "DATABASE_URL": f"sqlite:///{other_file}"})  # fmt: skip
    with other.app_context():
        session = db.session()
        generate_demo_directory(session, DEPARTMENTS, seed=7)
        session.commit()
        second = snapshot(session)
        db.engine().dispose()
    assert first == second
    assert len(first["people"]) > 500  # type: ignore[arg-type]
    with app.app_context():
        session = db.session()
        for model in (ConnectorBinding, StructureMembership, PlaceOfPractice, Practitioner,
                      Structure):  # fmt: skip
            session.execute(delete(model))
        session.commit()
        generate_demo_directory(session, DEPARTMENTS, seed=8)
        session.commit()
        assert snapshot(session)["people"] != first["people"]


def test_demo_directory_content(app: Flask) -> None:
    with app.app_context():
        session = db.session()
        report = generate_demo_directory(session, DEPARTMENTS)
        session.commit()
        assert report.generated == list(DEPARTMENTS)
        everybody = session.scalars(select(Practitioner)).all()
        assert report.practitioners == len(everybody)
        assert all(p.is_demo and p.national_id.startswith("899") for p in everybody)
        assert all(luhn_valid(p.national_id[1:]) and len(p.national_id) == 12
                   for p in everybody)  # fmt: skip
        practitioners = [p for p in everybody if p.profession_code == "10"]  # physicians
        per_department = Counter(p.national_id[3:6] for p in practitioners)
        assert 250 <= per_department["047"] < per_department["092"] <= 600

        known = specialties()
        codes = Counter(p.specialty_code for p in practitioners)
        assert set(codes) <= set(known)
        assert 0.5 <= codes["SM54"] / len(practitioners) <= 0.7
        assert len(codes) >= 10
        participating = sum(p.sas_participation for p in practitioners) / len(practitioners)
        assert 0.45 <= participating <= 0.65
        modes = Counter(p.participation_mode for p in practitioners)
        assert set(modes) == {"individual", "cpts", "msp", "sos", None}
        assert any(p.accepts_extra_patients for p in practitioners)
        assert any(p.refuses_public_display for p in practitioners)
        assert all(p.sas_participation == (p.participation_mode is not None)
                   for p in practitioners)  # fmt: skip

        geo = get_index()
        places = session.scalars(select(PlaceOfPractice)).all()
        assert len({(p.lat, p.lon) for p in places}) > 0.8 * len(places), "stacked places"
        for place in places:
            commune = geo.by_insee(place.insee_code or "")
            assert commune is not None and commune.department in DEPARTMENTS
            assert place.lat is not None and place.lon is not None
            # spread around the commune centre, never further than a few km
            assert distance_km(place.lat, place.lon, commune.lat, commune.lon) <= 3.0
            assert place.phone[:2] in {"01", "05"}  # 92 is zone 1, 47 zone 5

        structures = session.scalars(select(Structure)).all()
        assert all(s.is_demo for s in structures)
        kinds = Counter((s.department, s.kind) for s in structures)
        for department in DEPARTMENTS:
            assert 1 <= kinds[(department, "SOS")] <= 2
            assert 2 <= kinds[(department, "CPTS")] <= 4
            assert kinds[(department, "MSP")] >= 1
        members = Counter(
            session.scalars(select(StructureMembership.structure_id)).all()
        )  # fmt: skip
        for structure in structures:
            if structure.kind in ("SOS", "CPTS"):
                assert members[structure.id] > 0, structure.name
            if structure.kind == "SOS":
                assert structure.national_id.startswith("3")
                assert luhn_valid(structure.national_id[1:])
                sites = [p for p in structure.places if p.practitioner_id is None]
                assert 2 <= len(sites) <= 3
            if structure.kind == "CPTS":
                assert structure.national_id.startswith("1") and len(structure.national_id) == 10
            if structure.kind == "MSP":
                assert structure.places and all(p.practitioner_id for p in structure.places)

        territories = {t.code: t for t in session.scalars(select(Territory))}
        assert territories["SAS-47"].department == "47"
        assert territories["SAS-47"].label == "Lot-et-Garonne"


def test_demo_directory_has_nurses_and_other_professions(app: Flask) -> None:
    """Issue 10, point 16: LRM links asking for nurses (``INF``) find some in the demo."""
    with app.app_context():
        session = db.session()
        report = generate_demo_directory(session, ["47"])
        session.commit()
        others = session.scalars(select(Practitioner).where(Practitioner.profession_code != "10"))
        per_profession = Counter(p.profession_code for p in others)
        assert set(per_profession) == {"60", "70", "50", "40"}
        assert per_profession["60"] >= 30 and per_profession == report.professions
        assert "Infirmier" in str(report)
        nurses = session.scalars(select(Practitioner).where(Practitioner.profession_code == "60"))
        for nurse in nurses:
            assert nurse.specialty_code is None and not nurse.sas_participation
            assert int(nurse.national_id[6:11]) > 50000  # clear of the physicians' indexes
            assert len(nurse.places) == 1 and nurse.places[0].insee_code
        nurse_sources = session.scalars(
            select(ConnectorBinding.source)
            .join(Practitioner, Practitioner.id == ConnectorBinding.practitioner_id)
            .where(Practitioner.profession_code == "60")
        ).all()
        assert set(nurse_sources) == {"doctolib_like:editeur-a", "doctolib_like:editeur-b"}


def test_every_practitioner_has_exactly_one_slot_source(app: Flask) -> None:
    with app.app_context():
        session = db.session()
        generate_demo_directory(session, DEPARTMENTS)
        session.commit()
        practitioner_bindings = session.scalars(
            select(ConnectorBinding).where(ConnectorBinding.practitioner_id.is_not(None))
        ).all()
        per_practitioner = Counter(b.practitioner_id for b in practitioner_bindings)
        total = session.scalar(select(func.count()).select_from(Practitioner))
        assert len(per_practitioner) == total
        assert set(per_practitioner.values()) == {1}
        assert {b.source for b in practitioner_bindings} == PRACTITIONER_SOURCES
        cpts_members = set(
            session.scalars(
                select(StructureMembership.practitioner_id)
                .join(Structure, Structure.id == StructureMembership.structure_id)
                .where(Structure.kind == "CPTS")
            )
        )  # fmt: skip
        for binding in practitioner_bindings:
            if binding.source == "cpts":
                assert binding.practitioner_id in cpts_members
        sos = session.scalars(select(Structure).where(Structure.kind == "SOS")).all()
        for structure in sos:
            bindings = session.scalars(
                select(ConnectorBinding).where(ConnectorBinding.structure_id == structure.id)
            ).all()
            assert [(b.source, b.upstream_ids) for b in bindings] == [
                ("sos_medecins", {"siret": structure.national_id[1:]})
            ]
            sites = structure.places
            for member_id in session.scalars(
                select(StructureMembership.practitioner_id).where(
                    StructureMembership.structure_id == structure.id
                )
            ):
                member = session.get(Practitioner, member_id)
                assert member is not None
                nearest = min(
                    distance_km(p.lat, p.lon, s.lat, s.lon)  # type: ignore[arg-type]
                    for p in member.places
                    for s in sites
                )
                assert nearest <= 25


def test_demo_is_idempotent(app: Flask) -> None:
    with app.app_context():
        session = db.session()
        generate_demo_directory(session, ("47",))
        session.commit()
        before = {
            model: session.scalar(select(func.count()).select_from(model))
            for model in (Practitioner, Structure, PlaceOfPractice, ConnectorBinding,
                          StructureMembership, Territory)
        }  # fmt: skip
        again = generate_demo_directory(session, ("47",))
        session.commit()
        assert (again.generated, again.skipped, again.practitioners) == ([], ["47"], 0)
        after = {model: session.scalar(select(func.count()).select_from(model)) for model in before}
        assert after == before


def test_unknown_department_is_refused(app: Flask) -> None:
    with app.app_context(), pytest.raises(ValueError, match="département inconnu"):
        generate_demo_directory(db.session(), ("99",))


def test_cli_demo(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["directory", "demo", "--departments", "47", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "47" in result.output and "professionnels fictifs" in result.output
    with app.app_context():
        assert db.session().scalar(select(func.count()).select_from(Practitioner)) >= 250
    again = runner.invoke(args=["directory", "demo", "--departments", "47"])
    assert again.exit_code == 0 and "Déjà présents" in again.output
    bad = runner.invoke(args=["directory", "demo", "--departments", "99"])
    assert bad.exit_code != 0 and "département inconnu" in bad.output
