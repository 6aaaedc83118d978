"""The patient's place in a real browser (issue 10, points 1 and 3): an address without a
geocoder searches from the commune centre, says so and keeps the street visible; a
commune name shared by several communes shows the choices instead of a guess."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from portal import db, migrate
from portal.devtools.browser import LiveServer
from portal.directory import territories
from tests.conftest import dispose_engine, make_test_app
from tests.factories import add_practitioner, add_user, session_cookie

pytestmark = pytest.mark.browser

WHERE = "Commune, code postal ou code INSEE"


@pytest.fixture(scope="module")
def place_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """Practitioners in Agen and in Saint-Pierre (La Réunion), a regulator without territory,
    no geocoder."""
    tmp = tmp_path_factory.mktemp("place")
    app = make_test_app(f"sqlite:///{tmp / 'place.sqlite3'}", tmp / "instance")
    app.config["GEOCODER_URL"] = ""
    with app.app_context():
        migrate.upgrade(db.engine())
        session = db.session()
        territories.ensure_all(session)
        for n in range(3):
            add_practitioner(session, family_name=f"Agenais{n}", dlat=0.01 * n)
        add_practitioner(session, family_name="Réunionnais", insee="97416")
        regulator = add_user(session, ("regulateur", {"territory_code": None}))
        session.commit()
        app.config["TEST_COOKIE"] = session_cookie(app, regulator)
    try:
        yield app
    finally:
        dispose_engine(app)


@pytest.fixture
def server(place_app: Flask, page: Page) -> Iterator[LiveServer]:
    with LiveServer(place_app) as live:
        page.context.add_cookies([{**place_app.config["TEST_COOKIE"], "url": live.url}])
        yield live


@pytest.fixture
def errors(page: Page) -> list[str]:
    found: list[str] = []
    page.on("console", lambda m: found.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: found.append(str(e)))
    return found


@pytest.fixture
def artefacts(pytestconfig: pytest.Config) -> Path:
    folder = Path(str(pytestconfig.getoption("--output") or "test-results"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_an_address_searches_from_the_commune_centre_and_keeps_the_street(
    page: Page, server: LiveServer, errors: list[str], artefacts: Path
) -> None:
    page.goto(server.url + "/recherche")
    where = page.get_by_role("combobox", name=WHERE)
    where.fill("12 rue Voltaire Agen")
    where.press("Enter")
    notice = page.locator("#resultats .notice", has_text="non géolocalisée")
    expect(notice).to_contain_text("centre de la commune, Agen (47000)")
    expect(notice).to_contain_text("12 rue Voltaire Agen")
    expect(page.locator(".results-summary")).to_contain_text("Agen (47000)")
    expect(page.locator(".results-summary")).not_to_contain_text("Aveyron")
    expect(page.locator("#resultats")).to_have_attribute("data-precision", "commune")
    # the street stays in the field, so the regulator can read it back to the patient
    expect(where).to_have_value("12 rue Voltaire Agen")
    expect(page.locator("#liste-resultats > li").first).to_be_visible()
    page.screenshot(path=str(artefacts / "lieu-adresse-sans-geocodeur.png"))
    assert errors == []


def test_an_ambiguous_commune_shows_the_choices(
    page: Page, server: LiveServer, errors: list[str], artefacts: Path
) -> None:
    page.goto(server.url + "/recherche")
    where = page.get_by_role("combobox", name=WHERE)
    where.fill("Saint-Pierre")
    where.press("Enter")
    problem = page.get_by_role("alert")
    expect(problem).to_contain_text("Plusieurs communes s'appellent « Saint-Pierre »")
    choices = problem.get_by_role("link")
    assert choices.count() >= 4
    expect(page.locator("#liste-resultats")).to_have_count(0)
    page.screenshot(path=str(artefacts / "lieu-communes-homonymes.png"))
    choices.filter(has_text="(97410)").click()
    expect(page.locator(".results-summary")).to_contain_text("Saint-Pierre (97410)")
    assert errors == []
