"""Journeys a person clicks through, in a real headless Chromium (Debian's)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from portal import db, migrate
from portal.devtools.browser import LiveServer
from tests.conftest import make_test_app
from tests.factories import add_practitioner, add_user, session_cookie

pytestmark = pytest.mark.browser

STATIC = Path(__file__).parents[1] / "portal/static"
AXE = STATIC / "vendor/axe-core-4.14.1/axe.min.js"


@pytest.fixture
def live_app(tmp_path: Path) -> Iterator[Flask]:
    """The app on a fresh SQLite file, with a few practitioners around Agen."""
    app = make_test_app(f"sqlite:///{tmp_path / 'browser.sqlite3'}", tmp_path / "instance")
    with app.app_context():
        migrate.upgrade(db.engine())
        s = db.session()
        add_practitioner(s, family_name="Garonne", dlat=0.01, sas_participation=True)
        add_practitioner(s, family_name="Pruneau", dlat=0.05)
        add_practitioner(s, family_name="Pediatre", specialty="SM40")
        regulator = add_user(s, "regulateur")
        s.commit()
        app.config["TEST_COOKIE"] = session_cookie(app, regulator)
    yield app


@pytest.fixture
def server(live_app: Flask, page: Page) -> Iterator[LiveServer]:
    """The app served on loopback, the browser logged in as a regulator."""
    with LiveServer(live_app) as live:
        page.context.add_cookies([{**live_app.config["TEST_COOKIE"], "url": live.url}])
        yield live


def test_pick_a_commune_with_the_keyboard_and_see_results(page: Page, server: LiveServer) -> None:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.url + "/recherche")

    where = page.get_by_role("combobox", name="Commune, code postal ou code INSEE")
    where.click()
    where.press_sequentially("Agen", delay=30)
    listbox = page.get_by_role("listbox", name="Communes proposées")
    expect(listbox).to_be_visible()
    expect(where).to_have_attribute("aria-expanded", "true")
    expect(listbox.get_by_role("option").first).to_contain_text("Agen")
    where.press("ArrowDown")
    expect(listbox.get_by_role("option").first).to_have_attribute("aria-selected", "true")
    where.press("Enter")
    expect(where).to_have_value("Agen (47000)")
    expect(page.locator("#lieu-insee")).to_have_value("47001")
    expect(listbox).to_be_hidden()

    page.get_by_label("Spécialité").select_option(label="Médecine générale")
    page.get_by_role("button", name="Rechercher").click()

    cards = page.locator("#resultats .result-card")
    expect(cards).to_have_count(2)
    expect(cards.first).to_contain_text("Garonne")
    expect(cards.first.locator(".distance")).to_contain_text("km")
    expect(page.locator(".results-summary")).to_contain_text("Agen (47000)")
    assert "insee=47001" in page.url and "specialite=SM54" in page.url  # shareable URL
    assert errors == []


def test_search_page_has_no_serious_accessibility_violation(page: Page, server: LiveServer) -> None:
    page.goto(server.url + "/recherche?insee=47001&specialite=SM54")
    expect(page.locator("#resultats .result-card").first).to_be_visible()
    # served by the portal itself: the strict CSP refuses injected inline scripts
    page.add_script_tag(url=server.url + "/static/" + AXE.relative_to(STATIC).as_posix())
    violations = page.evaluate(
        """async () => {
            const r = await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21aa']});
            return r.violations.map(v => `${v.id} (${v.impact}): ${v.nodes.length} nœud(s)`);
        }"""
    )
    assert violations == []
