"""``sas-portal demo`` allows the national LRM simulator's origin (issue 10, point 15)."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select

from portal import db
from portal.devtools.demo import LRM_SIMULATOR_ORIGIN, ensure_demo_origins, start_sandboxes
from portal.devtools.demo_directory import generate_demo_directory
from portal.models import CachedSlot, LrmHit, LrmOrigin, Practitioner
from portal.slots import aggregation as slots
from portal.web import plugins as app_plugins


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


def test_the_simulator_inf_link_finds_demo_nurses_with_slots(
    app: Flask, regulator_client: FlaskClient
) -> None:
    """Point 16 in the demo: ``INF`` under the R38 OID lists nurses whose slots came over HTTP."""
    with app.app_context():
        session = db.session()
        generate_demo_directory(session, ["47"])
        ensure_demo_origins(session)
        session.commit()
        stack = start_sandboxes(session)
        app.config["CONNECTORS"] = stack.connectors_config()
    try:
        with app.app_context():
            session = db.session()
            start, end = slots.window()
            slots.refresh_all(
                session, app_plugins.manager(), slots.bound_targets(session), start, end,
                slots.settings_from_config(app.config),
            )  # fmt: skip
            nurse_ids = set(
                session.scalars(
                    select(Practitioner.national_id).where(Practitioner.profession_code == "60")
                )
            )
            cached = set(session.scalars(select(CachedSlot.practitioner)))
            assert nurse_ids & cached, "no nurse slot came from the sandbox editors"
        link = (
            "/recherche?origin=TEST-SAMU000&inseecode=47001"
            "&specialty=urn%3Aoid%3A1.2.250.1.213.2.28%7CINF"
        )
        html = regulator_client.get(link).get_data(as_text=True)
        assert "lu comme la profession « Infirmier »" in html
        assert "result-card" in html and "avant les filtres" not in html
    finally:
        stack.stop()
