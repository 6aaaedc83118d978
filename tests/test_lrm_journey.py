"""The LRM contextual link (INT_L01) end to end: the médecin traitant is pinned first."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from portal import db, migrate
from portal.devtools.browser import LiveServer
from portal.models import LrmOrigin
from tests.conftest import make_test_app
from tests.factories import add_practitioner, add_user, session_cookie

IDNPS = "urn:oid:1.2.250.1.71.4.2.1"
R38 = "urn:oid:1.2.250.1.213.2.28"


def _lrm_url(treating: str, **extra: str) -> str:
    params = {
        "origin": "SAMU47",
        "practitioner": f"{IDNPS}|{treating}",
        "specialty": f"{R38}|SM54",
        "inseecode": "47001",
        **extra,
    }
    return "/recherche?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())


@pytest.fixture
def lrm_app(tmp_path: Path) -> Iterator[Flask]:
    app = make_test_app(f"sqlite:///{tmp_path / 'lrm.sqlite3'}", tmp_path / "instance")
    with app.app_context():
        migrate.upgrade(db.engine())
        s = db.session()
        for i in range(6):
            add_practitioner(s, family_name=f"Voisin{i}", dlat=0.005 * (i + 1))
        treating = add_practitioner(s, family_name="Traitant", dlat=0.15)  # the furthest one
        s.add(LrmOrigin(code="SAMU47", label="LRM du SAMU 47", enabled=True))
        regulator = add_user(s, "regulateur")
        s.commit()
        app.config["TEST_COOKIE"] = session_cookie(app, regulator)
        app.config["TREATING"] = treating.national_id
    yield app


def test_lrm_link_pins_the_treating_doctor_first(lrm_app: Flask, page: Page) -> None:
    with LiveServer(lrm_app) as server:
        page.context.add_cookies([{**lrm_app.config["TEST_COOKIE"], "url": server.url}])
        page.goto(server.url + _lrm_url(lrm_app.config["TREATING"]))
        first = page.locator("#resultats .result-card").first
        expect(first).to_contain_text("Traitant")
        expect(first).to_contain_text("Médecin traitant")
        page.screenshot(path=str(Path("test-results") / "lrm-medecin-traitant.png"), full_page=True)


def test_lrm_link_with_unknown_treating_form_says_so(lrm_app: Flask) -> None:
    client = lrm_app.test_client()
    client.set_cookie(lrm_app.config["TEST_COOKIE"]["name"], lrm_app.config["TEST_COOKIE"]["value"])
    html = client.get("/recherche?origin=SAMU47&practitioner=Dr%20Dupont&inseecode=47001").get_data(
        as_text=True
    )
    assert "non identifié" in html
    assert "result-card" in html


def test_lrm_link_from_a_disabled_origin_is_refused_in_french(lrm_app: Flask) -> None:
    with lrm_app.app_context():
        db.session().get(LrmOrigin, "SAMU47").enabled = False  # type: ignore[union-attr]
        db.session().commit()
    client = lrm_app.test_client()
    client.set_cookie(lrm_app.config["TEST_COOKIE"]["name"], lrm_app.config["TEST_COOKIE"]["value"])
    html = client.get(_lrm_url(lrm_app.config["TREATING"])).get_data(as_text=True)
    assert "désactivé" in html and "result-card" not in html


def test_logged_out_regulator_sees_why_the_lrm_link_asks_to_log_in(
    lrm_app: Flask, page: Page
) -> None:
    """Point 18: the login page says the prefilled search opens after login; only for LRM links."""
    with LiveServer(lrm_app) as server:
        page.goto(server.url + _lrm_url(lrm_app.config["TREATING"]))
        expect(page).to_have_url(re.compile(r"/connexion\?next="))
        reason = page.locator("#lrm-login-reason")
        expect(reason).to_be_visible()
        expect(reason).to_contain_text("logiciel de régulation")
        expect(reason).to_contain_text("s'ouvrira dès que vous serez connecté")
        # the login carries the LRM search through to the page it opens
        kept = page.locator('input[name="next"]').get_attribute("value") or ""
        assert kept.startswith("/recherche?") and "origin=SAMU47" in kept
        page.screenshot(path=str(Path("test-results") / "lrm-connexion.png"), full_page=True)
        page.goto(server.url + "/recherche?where=Agen")
        expect(page.locator("h1")).to_contain_text("Connexion")
        expect(page.locator("#lrm-login-reason")).to_have_count(0)
