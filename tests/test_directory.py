"""Import of the national directory extraction (``portal.directory.importer`` and its modules)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from portal import db
from portal.devtools.synthetic_directory import write_synthetic_extraction
from portal.directory.columns import HEADER_52, DirectoryFormatError
from portal.directory.importer import import_directory
from portal.directory.report import ImportReport
from portal.models import PlaceOfPractice, Practitioner, Structure
from portal.reference.geo import get_index

NATIONAL_ID = "Identification nationale PP"
COMMUNE = "Code commune (coord. structure)"
POSTCODE = "Code postal (coord. structure)"
CITY = "Libellé commune (coord. structure)"


def row(**values: str) -> dict[str, str]:
    """One extraction line as ``{column: value}``, a GP in Agen unless told otherwise."""
    base = {
        "Type d'identifiant PP": "8",
        "Identifiant PP": "98000000017",
        NATIONAL_ID: "898000000017",
        "Code civilité d'exercice": "DR",
        "Nom d'exercice": "FICTIF",
        "Prénom d'exercice": "Camille",
        "Code profession": "10",
        "Code type savoir-faire": "S",
        "Code savoir-faire": "SM54",
        "Identifiant technique de la structure": "R10000000000001",
        "Numéro Voie (coord. structure)": "12",
        "Libellé type de voie (coord. structure)": "Rue",
        "Libellé Voie (coord. structure)": "DES TILLEULS",
        POSTCODE: "47000",
        COMMUNE: "47001",
        CITY: "Agen",
        "Code pays (coord. structure)": "99000",
        "Téléphone (coord. structure)": "0536490000",
        "Code Département (structure)": "47",
        "Code secteur d'activité": "SA07",
    }
    return base | values


def write(path: Path, rows: list[dict[str, str]], header: tuple[str, ...] = HEADER_52) -> Path:
    lines = ["|".join(header) + "|"]
    lines += ["|".join(r.get(column, "") for column in header) + "|" for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


@contextmanager
def writes_counted(session: Session) -> Iterator[list[str]]:
    """Collect the INSERT/UPDATE/DELETE statements sent while the block runs."""
    statements: list[str] = []
    engine = session.get_bind()

    def listen(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().split(" ", 1)[0].upper() in {"INSERT", "UPDATE", "DELETE"}:
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", listen)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", listen)


def test_import_creates_practitioners_structures_and_geocoded_places(
    app: Flask, tmp_path: Path
) -> None:
    path = write_synthetic_extraction(tmp_path / "extraction.txt", 120, seed=3)
    data = [line.rstrip("\n").split("|") for line in path.read_text("utf-8").splitlines()[1:]]
    ids = {fields[2] for fields in data}
    with app.app_context():
        session = db.session()
        report = import_directory(session, path, batch_size=25)
        assert (report.lines_read, report.skipped, report.problems) == (120, 0, [])
        assert report.columns == 52
        assert report.practitioners_created == count(session, Practitioner) == len(ids)
        assert report.places_created == count(session, PlaceOfPractice) == 120
        assert report.structures_created == count(session, Structure) > 0
        stored = set(session.scalars(select(Practitioner.national_id)))
        assert stored == ids
        geo = get_index()
        places = session.scalars(select(PlaceOfPractice)).all()
        located = [p for p in places if p.insee_code]
        assert len(located) >= 100
        for place in located:
            commune = geo.by_insee(place.insee_code)
            assert commune is not None
            assert (place.lat, place.lon) == (commune.lat, commune.lon)
            assert place.geocode_precision == "commune"
            assert place.practitioner_id is not None
            assert place.department == commune.department


def test_line_fields_become_practitioner_place_and_structure(app: Flask, tmp_path: Path) -> None:
    path = write(tmp_path / "one.txt", [row()])
    with app.app_context():
        session = db.session()
        import_directory(session, path)
        practitioner = session.scalars(select(Practitioner)).one()
        assert practitioner.national_id == "898000000017"
        assert (practitioner.title, practitioner.family_name, practitioner.given_name) == (
            "DR", "FICTIF", "Camille",
        )  # fmt: skip
        assert (practitioner.profession_code, practitioner.specialty_code) == ("10", "SM54")
        assert practitioner.is_demo is False
        place = session.scalars(select(PlaceOfPractice)).one()
        assert place.address_line == "12 Rue DES TILLEULS"
        assert (place.postal_code, place.insee_code, place.city) == ("47000", "47001", "Agen")
        assert (place.lat, place.lon) == (44.201, 0.63)
        assert place.phone == "0536490000"
        assert len(place.activity_key) == 40
        structure = session.scalars(select(Structure)).one()
        assert (structure.national_id, structure.kind) == ("4R10000000000001", "CABINET")
        assert place.structure_id == structure.id


@pytest.mark.parametrize(
    ("values", "national_id", "kind"),
    [
        ({"Numéro FINESS site": "470000019", "Numéro SIRET site": "99904700000016",
          "Code secteur d'activité": "SA01"}, "1470000019", "ETAB"),
        ({"Numéro SIRET site": "99904700000016", "Code secteur d'activité": "SA09"},
         "399904700000016", "CABINET"),
        ({"Ancien identifiant de la structure": "0479000001",
          "Code secteur d'activité": "SA08"}, "0479000001", "CABINET"),
        ({"Code secteur d'activité": "SA05"}, "4R10000000000001", "CDS"),
        ({"Code secteur d'activité": "SA52"}, "4R10000000000001", "MSP"),
    ],
)  # fmt: skip
def test_structure_national_id_and_kind(
    app: Flask, tmp_path: Path, values: dict[str, str], national_id: str, kind: str
) -> None:
    path = write(tmp_path / "one.txt", [row(**values)])
    with app.app_context():
        session = db.session()
        import_directory(session, path)
        structure = session.scalars(select(Structure)).one()
        assert (structure.national_id, structure.kind) == (national_id, kind)


def test_reimport_is_idempotent(app: Flask, tmp_path: Path) -> None:
    path = write_synthetic_extraction(tmp_path / "extraction.txt", 300, seed=5, bad_lines=(9,))
    with app.app_context():
        session = db.session()
        first = import_directory(session, path, batch_size=40)
        stamps = {
            model: dict(session.execute(select(model.id, model.updated_at)).all())
            for model in (Practitioner, Structure, PlaceOfPractice)
        }
        session.expire_all()
        with writes_counted(session) as writes:
            second = import_directory(session, path, batch_size=40)
        assert writes == []
        for kind in ("practitioners", "places", "structures"):
            assert getattr(second, f"{kind}_created") == 0
            assert getattr(second, f"{kind}_updated") == 0
            assert getattr(second, f"{kind}_unchanged") == getattr(first, f"{kind}_created") > 0
        assert second.problems == first.problems
        for model, before in stamps.items():
            after = dict(session.execute(select(model.id, model.updated_at)).all())
            assert after == before, model.__name__


def test_changed_line_updates_only_what_changed(app: Flask, tmp_path: Path) -> None:
    other = row(**{NATIONAL_ID: "898000000025", "Identifiant PP": "98000000025"})
    path = write(tmp_path / "v1.txt", [row(), other])
    with app.app_context():
        session = db.session()
        import_directory(session, path)
        place = session.scalars(select(PlaceOfPractice).order_by(PlaceOfPractice.id)).first()
        assert place is not None
        stamp = place.updated_at
        changed = row(**{"Téléphone (coord. structure)": "0536499999", "Code savoir-faire": ""})
        write(tmp_path / "v2.txt", [changed, other])
        report = import_directory(session, tmp_path / "v2.txt")
        assert (report.places_updated, report.places_unchanged) == (1, 1)
        # an empty specialty does not blank the stored one
        assert (report.practitioners_updated, report.practitioners_unchanged) == (0, 2)
        session.expire_all()
        assert place.phone == "0536499999"
        assert place.updated_at > stamp
        gp = session.scalars(select(Practitioner).where(Practitioner.national_id == "898000000017"))
        assert gp.one().specialty_code == "SM54"


def test_malformed_lines_are_reported_and_skipped(app: Flask, tmp_path: Path) -> None:
    path = write_synthetic_extraction(tmp_path / "bad.txt", 40, seed=7, bad_lines=(8, 12, 15))
    with app.app_context():
        session = db.session()
        report = import_directory(session, path, batch_size=10)
        assert report.skipped == 3
        assert [n for n, _ in report.problems] == [8, 12, 15]
        lines = report.problem_lines()
        assert lines[0].startswith("ligne 8 : 51 colonnes au lieu de 52")
        assert lines[1].startswith("ligne 12 : code commune inconnu « 00000 »")
        assert lines[2].startswith("ligne 15 : identifiant national")
        assert report.places_created == count(session, PlaceOfPractice) == 37


def test_empty_commune_code_uses_postcode_or_warns(app: Flask, tmp_path: Path) -> None:
    rows = [
        row(**{COMMUNE: "", CITY: "AGEN"}),
        row(**{NATIONAL_ID: "898000000025", COMMUNE: "", POSTCODE: "75012", CITY: "PARIS"}),
        row(**{NATIONAL_ID: "898000000033", COMMUNE: "", POSTCODE: "", CITY: ""}),
        row(**{NATIONAL_ID: "898000000041", COMMUNE: "75112", POSTCODE: "75012", CITY: "Paris"}),
    ]
    path = write(tmp_path / "geo.txt", rows)
    with app.app_context():
        session = db.session()
        report = import_directory(session, path)
        assert report.skipped == 0
        assert [n for n, _ in report.warnings] == [4]
        assert "sans coordonnées" in report.warning_lines()[0]
        places = {
            p.practitioner.national_id: p for p in session.scalars(select(PlaceOfPractice))
        }  # fmt: skip
        agen = places["898000000017"]
        assert (agen.insee_code, agen.lat, agen.lon) == ("47001", 44.201, 0.63)
        assert places["898000000025"].insee_code == "75112"  # the arrondissement, not Paris
        nowhere = places["898000000033"]
        assert (nowhere.lat, nowhere.lon, nowhere.insee_code) == (None, None, None)
        assert places["898000000041"].insee_code == "75112"


def test_56_column_variant_and_any_column_order(app: Flask, tmp_path: Path) -> None:
    renamed = {
        "Libellé civilité d'exercice": "Libellé civilité exercice",
        "Indice répétition voie (coord. structure)": "Indice répétition voie (coord. Structure)",
        "Code Département (structure)": "Code département (coord. structure)",
        "Libellé Département (structure)": "Libellé département (coord. structure)",
    }
    extra = ("Code fonction", "Libellé fonction", "Code genre d'activité",
             "Libellé genre d'activité")  # fmt: skip
    header = tuple(renamed.get(c, c) for c in HEADER_52) + extra
    values = row(**{"Code département (coord. structure)": "47", COMMUNE: "", POSTCODE: ""})
    values |= {"Code fonction": "FON-01", "Code genre d'activité": "GENR01"}
    path = write(tmp_path / "v56.txt", [values], header=header[::-1])  # reversed on purpose
    with app.app_context():
        session = db.session()
        report = import_directory(session, path)
        assert (report.columns, report.skipped, report.problems) == (56, 0, [])
        practitioner = session.scalars(select(Practitioner)).one()
        assert (practitioner.national_id, practitioner.given_name) == ("898000000017", "Camille")
        place = session.scalars(select(PlaceOfPractice)).one()
        # no codes at all: found by commune name inside the line's department
        assert (place.insee_code, place.department) == ("47001", "47")


def test_wrong_header_is_refused_in_french(app: Flask, tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("Nom;Prénom;Ville\nDUPONT;Jean;Agen\n", encoding="utf-8")
    with app.app_context():
        session = db.session()
        with pytest.raises(DirectoryFormatError, match="en-tête inattendu"):
            import_directory(session, path)
        with pytest.raises(DirectoryFormatError, match="vide"):
            import_directory(session, [])
        assert count(session, Practitioner) == 0


def test_lines_can_be_an_iterable_and_progress_is_reported(app: Flask) -> None:
    header = "|".join(HEADER_52) + "|"
    lines = [header] + [
        "|".join(row(**{NATIONAL_ID: f"8980000000{i:02d}"}).get(c, "") for c in HEADER_52) + "|"
        for i in range(10)
    ]
    seen: list[int] = []
    with app.app_context():
        report = import_directory(db.session(), lines, progress=seen.append, batch_size=3)
    assert isinstance(report, ImportReport)
    assert sum(seen) == report.lines_read == 10
    assert report.practitioners_created == 10
    assert report.places_created == 10  # one activity key per person
    assert report.structures_created == 1  # all at the same practice


def test_cli_import_end_to_end(app: Flask, runner: FlaskCliRunner, tmp_path: Path) -> None:
    path = tmp_path / "extraction.txt"
    result = runner.invoke(
        args=["directory", "synth", str(path), "--lines", "30", "--bad-lines", "8"]
    )
    assert result.exit_code == 0, result.output
    assert len(path.read_text("utf-8").splitlines()) == 31
    result = runner.invoke(args=["directory", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "Import terminé" in result.stdout
    assert "30 lignes lues" in result.stdout
    assert "1 ignorées" in result.stdout
    assert "ligne 8 : 51 colonnes au lieu de 52" in result.stderr
    with app.app_context():
        assert count(db.session(), PlaceOfPractice) == 29
    again = runner.invoke(args=["directory", "import", str(path)])
    assert again.exit_code == 0, again.output
    assert "Professionnels : 0 créés, 0 mis à jour" in again.stdout


def test_cli_import_refuses_missing_file_and_wrong_header(
    runner: FlaskCliRunner, tmp_path: Path
) -> None:
    missing = runner.invoke(args=["directory", "import", str(tmp_path / "absent.txt")])
    assert missing.exit_code != 0
    assert "introuvable" in missing.output
    other = tmp_path / "other.txt"
    other.write_text("a|b|c|\n1|2|3|\n", encoding="utf-8")
    wrong = runner.invoke(args=["directory", "import", str(other)])
    assert wrong.exit_code != 0
    assert "en-tête inattendu" in wrong.output
    assert "Traceback" not in wrong.output
