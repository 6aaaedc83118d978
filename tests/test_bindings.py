"""Binding practitioners and structures to sources: ``sas-portal bindings …`` and the service."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select

from portal import db
from portal.models import AuditEvent, ConnectorBinding, Structure
from portal.slots import bindings
from tests.factories import add_practitioner

pytestmark = pytest.mark.sql  # lookups by national id, NULL-aware matching of bindings


def _directory(app: Flask) -> tuple[str, str, str]:
    """Two practitioners and one SOS structure; their national ids."""
    with app.app_context():
        s = db.session()
        a = add_practitioner(s, national_id="810000000001")
        b = add_practitioner(s, national_id="810000000002")
        s.add(Structure(national_id="312345678900012", kind="SOS", name="SOS 47", department="47"))
        s.commit()
        return a.national_id, b.national_id, "312345678900012"


def _rows(app: Flask) -> list[tuple[str, dict]]:
    with app.app_context():
        found = db.session().scalars(select(ConnectorBinding).order_by(ConnectorBinding.id))
        return [(b.source, dict(b.upstream_ids)) for b in found]


def test_import_reports_every_line_and_a_bad_line_never_aborts_the_others(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    a, b, sos = _directory(app)
    file = tmp_path / "liaisons.csv"
    file.write_text(
        "source;national_id;upstream_id\n"
        f"sos_medecins;{sos};SOS-47\n"
        f"inconnue;{a};x\n"
        f"cpts;{a}\n"
        "cpts;81234;x\n"
        "cpts;899999999999;x\n"
        f"cpts;{b};un id avec espaces\n"
        "trop;de;colonnes;ici\n"
        f"cpts;{b};B-2\n",
        encoding="utf-8",
    )
    result = runner.invoke(args=["bindings", "import", str(file)])
    assert result.exit_code == 1, result.output  # some lines were refused
    out = result.output
    assert f"ligne 2 : sos_medecins {sos} SOS-47 : créée" in out
    assert "ligne 3 : inconnue" in out and "source inconnue « inconnue »" in out
    assert f"ligne 4 : cpts {a} - : créée" in out
    assert "ligne 5 : cpts 81234 x : refusée — identifiant national mal formé" in out
    assert "ligne 6 : cpts 899999999999 x : refusée — praticien inconnu(e) de l'annuaire" in out
    assert "ligne 7" in out and "identifiant amont mal formé" in out
    assert "ligne 8" in out and "4 colonnes au lieu de 3" in out
    assert f"ligne 9 : cpts {b} B-2 : créée" in out
    assert "3 créée(s), 0 mise à jour(s), 0 inchangée(s), 5 refusée(s)" in out
    assert _rows(app) == [("sos_medecins", {"id": "SOS-47"}), ("cpts", {}), ("cpts", {"id": "B-2"})]

    file.write_text(f"cpts,{b},B-3\ncpts,{a},\n", encoding="utf-8")
    again = runner.invoke(args=["bindings", "import", str(file)])
    assert again.exit_code == 0, again.output
    assert f"cpts {b} B-3 : mise à jour" in again.output
    assert f"cpts {a} - : inchangée" in again.output
    assert ("cpts", {"id": "B-3"}) in _rows(app)


def test_dry_run_stores_nothing(app: Flask, runner: FlaskCliRunner, tmp_path: Path) -> None:
    a, _, _ = _directory(app)
    file = tmp_path / "liaisons.csv"
    file.write_text(f"cpts,{a},A-1\n", encoding="utf-8")
    result = runner.invoke(args=["bindings", "import", "--dry-run", str(file)])
    assert result.exit_code == 0, result.output
    assert "Simulation (rien n'est enregistré) : 1 créée(s)" in result.output
    assert _rows(app) == []


def test_long_file_reports_progress_per_chunk(app: Flask) -> None:
    a, b, _ = _directory(app)
    entries = [bindings.Entry("cpts", a if i % 2 else b, f"U-{i}", line=i) for i in range(1, 1201)]
    seen: list[int] = []
    with app.app_context():
        report = bindings.store(db.session(), entries, {"cpts"}, progress=seen.append)
    assert seen == [500, 1000, 1200]
    assert report.counts == {"created": 2, "updated": 1198}
    assert sorted(u["id"] for _, u in _rows(app)) == ["U-1199", "U-1200"]


def test_list_and_remove(app: Flask, runner: FlaskCliRunner, tmp_path: Path) -> None:
    a, b, sos = _directory(app)
    file = tmp_path / "liaisons.csv"
    file.write_text(f"cpts,{a},A\ncpts,{b},B\nsos_medecins,{sos},S\n", encoding="utf-8")
    assert runner.invoke(args=["bindings", "import", str(file)]).exit_code == 0

    listed = runner.invoke(args=["bindings", "list", "--source", "cpts"])
    assert listed.exit_code == 0
    assert f"cpts\t{a}\tid=A\tTest Fictif" in listed.output
    assert sos not in listed.output and "2 rattachement(s)." in listed.output

    removed = runner.invoke(args=["bindings", "remove", "cpts", a])
    assert removed.exit_code == 0 and "supprimé" in removed.output
    assert runner.invoke(args=["bindings", "remove", "cpts", a]).exit_code == 1
    assert [r for r in _rows(app) if r[0] == "cpts"] == [("cpts", {"id": "B"})]
    with app.app_context():
        event = db.session().scalars(select(AuditEvent)).one()
        assert (event.action, event.target, event.details) == (
            "connector_binding_removed", "cpts", {"national_id": a},
        )  # fmt: skip


class _Lister:
    """A connector that can list whom it serves (one unknown, one malformed)."""

    @staticmethod
    def connector_info():  # type: ignore[no-untyped-def]
        from portal.domain import ConnectorInfo

        return ConnectorInfo(
            name="lister", label="Éditeur listant", kind="editor", capabilities=frozenset()
        )

    @staticmethod
    def discover_targets(config):  # type: ignore[no-untyped-def]
        return [(nid, f"{config['prefix']}{i}") for i, nid in enumerate(config["ids"])]


class _Mute:
    @staticmethod
    def discover_targets(config):  # type: ignore[no-untyped-def]
        return None


def test_discover_stores_what_the_connectors_say(app: Flask, tmp_path: Path) -> None:
    from hookspecs import hookimpl
    from portal.plugins import make_plugin_manager
    from tests.conftest import dispose_engine, make_test_app

    lister = SimpleNamespace(
        connector_info=hookimpl(_Lister.connector_info),
        discover_targets=hookimpl(_Lister.discover_targets),
    )
    mute = SimpleNamespace(discover_targets=hookimpl(_Mute.discover_targets))
    pm = make_plugin_manager(load_entry_points=False, plugins={"lister": lister, "mute": mute})
    a, b, _ = _directory(app)
    config = {"CONNECTORS": {"lister": {"prefix": "L-", "ids": [a, b, "812"]}}}
    other = make_test_app(
        app.config["DATABASE_URL"], tmp_path / "other", plugin_manager=pm, **config
    )
    try:
        result = other.test_cli_runner().invoke(args=["bindings", "discover"])
    finally:
        dispose_engine(other)
    assert result.exit_code == 1, result.output  # the malformed id is refused
    assert "mute : ne sait pas lister ses praticiens" in result.output
    assert f"lister {a} L-0 : créée" in result.output
    assert f"lister {b} L-1 : créée" in result.output
    assert "lister 812 L-2 : refusée — identifiant national mal formé" in result.output
    assert _rows(app) == [("lister", {"id": "L-0"}), ("lister", {"id": "L-1"})]
