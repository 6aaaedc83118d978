"""The demo's slot pipeline end to end: directory → sandbox editors over loopback HTTP →
aggregation → cache → result cards; a killed editor leaves the others visible."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from portal import db
from portal.devtools.demo import DemoSandboxes, start_sandboxes
from portal.devtools.demo_directory import generate_demo_directory
from portal.models import CachedSlot
from portal.slots import aggregation as slots
from portal.web import plugins as app_plugins
from tests.factories import add_user, login


@pytest.fixture
def demo(app: Flask) -> Iterator[tuple[Flask, DemoSandboxes]]:
    with app.app_context():
        session = db.session()
        generate_demo_directory(session, ["47"])
        session.commit()
        stack = start_sandboxes(session)
        app.config["CONNECTORS"] = stack.connectors_config()
        app.config["CONNECTOR_DEADLINE_S"] = 5.0
    try:
        yield app, stack
    finally:
        stack.stop()


def _client(app: Flask, role: str) -> FlaskClient:
    client = app.test_client()
    with app.app_context():
        session = db.session()
        user = add_user(session, role)
        session.commit()
        login(client, user)
    return client


def _counts() -> dict[str, int]:
    rows = db.session().execute(select(CachedSlot.source, func.count()).group_by(CachedSlot.source))
    return {source: count for source, count in rows}


def _refresh(app: Flask) -> slots.RefreshReport:
    with app.app_context():
        session = db.session()
        start, end = slots.window()
        return slots.refresh_all(
            session, app_plugins.manager(), slots.bound_targets(session), start, end,
            slots.settings_from_config(app.config),
        )  # fmt: skip


def test_slots_come_over_http_and_survive_a_dead_editor(demo) -> None:  # type: ignore[no-untyped-def]
    app, stack = demo
    report = _refresh(app)
    for source in ("doctolib_like:editeur-a", "doctolib_like:editeur-b", "cpts", "sos_medecins"):
        assert report.statuses[source].state == "fresh", (source, report.statuses[source])
        assert report.statuses[source].slot_count > 0, source
        assert stack.servers[source].requests, f"{source} was never called over HTTP"
    with app.app_context():
        before = _counts()

    stack.servers["doctolib_like:editeur-a"].stop()  # the editor dies mid-demo
    report = _refresh(app)
    assert report.statuses["doctolib_like:editeur-a"].state == "failed"
    assert report.statuses["doctolib_like:editeur-b"].state == "fresh"
    with app.app_context():
        after = _counts()
    assert after["doctolib_like:editeur-a"] == before["doctolib_like:editeur-a"]  # last known kept

    page = (
        _client(app, "regulateur")
        .get("/recherche?insee=47001&specialite=SM54")
        .get_data(as_text=True)
    )
    assert "Source en échec : Éditeur A (en échec, dernière réponse à " in page
    assert page.count('class="slot') > 50  # the other editors' slots are still shown
    health = _client(app, "administrateur").get("/admin/connecteurs").get_data(as_text=True)
    assert "en échec" in health


def test_admin_refresh_on_demand(demo) -> None:  # type: ignore[no-untyped-def]
    app, stack = demo
    client = _client(app, "administrateur")
    response = client.post("/admin/connecteurs/cpts/rafraichir", follow_redirects=True)
    assert response.status_code == 200  # at once: the refresh runs in the background
    assert "Rafraîchissement de la source cpts lancé" in response.get_data(as_text=True)
    job = app.extensions["portal.ondemand_refreshes"].get("cpts")
    assert job.wait(30)
    done = client.get("/admin/connecteurs/cpts/rafraichissement").get_data(as_text=True)
    assert "à jour" in done and "Rafraîchi à" in done
    assert stack.servers["cpts"].requests
    assert client.post("/admin/connecteurs/inconnue/rafraichir").status_code == 404
