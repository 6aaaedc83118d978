"""``sas-portal demo`` allows the national LRM simulator's origin (issue 10, point 15)."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select

from portal import db
from portal.devtools.demo import LRM_SIMULATOR_ORIGIN, ensure_demo_origins
from portal.models import LrmHit, LrmOrigin


def test_demo_registers_the_simulator_origin_and_says_so(
    app: Flask, runner: FlaskCliRunner, regulator_client: FlaskClient
) -> None:
    result = runner.invoke(args=["demo", "--no-serve", "--departments", "47"])
    assert result.exit_code == 0, result.output
    assert f"Origine LRM autorisée : {LRM_SIMULATOR_ORIGIN}" in result.output
    with app.app_context():
        origin = db.session().get(LrmOrigin, "TEST-SAMU000")
        assert origin is not None and origin.enabled
    # a link as the national simulator sends it opens a search, not a refusal
    link = (
        "/recherche?origin=TEST-SAMU000&specialty=urn%3Aoid%3A1.2.250.1.213.2.28%7CSM54"
        "&inseecode=47001&city=Agen"
    )
    html = regulator_client.get(link).get_data(as_text=True)
    assert "désactivé ou inconnu" not in html
    assert "result-card" in html
    with app.app_context():
        hits = db.session().scalars(select(LrmHit)).all()
        assert [(h.origin, h.accepted) for h in hits] == [("TEST-SAMU000", True)]
    again = runner.invoke(args=["demo", "--no-serve", "--departments", "47"])
    assert again.exit_code == 0 and "TEST-SAMU000" in again.output


def test_an_administrator_disabling_the_simulator_origin_is_respected(app: Flask) -> None:
    with app.app_context():
        session = db.session()
        assert ensure_demo_origins(session) == ("TEST-SAMU000", True)
        session.get(LrmOrigin, "TEST-SAMU000").enabled = False  # type: ignore[union-attr]
        session.commit()
        assert ensure_demo_origins(session) == ("TEST-SAMU000", False)
        assert len(session.scalars(select(LrmOrigin)).all()) == 1
