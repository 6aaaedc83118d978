"""Every GET page of every role, opened in Chromium: HTML, French, no console error, axe-clean.

The pages come from the app's own routes and the permission table
(``portal.permissions``): each role (and an anonymous visitor) opens every GET
page it may open. One browser for the module, one context per role; a
screenshot of each page is saved under ``test-results/pages/`` (a page reached
again through a redirect, same address and text, is checked once).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, url_for
from playwright.sync_api import Browser, ConsoleMessage

from portal import db, migrate
from portal.devtools.browser import LiveServer
from portal.identity import reset_links
from portal.models import ConnectorBinding, Structure
from portal.permissions import ACTIONS, AUTHENTICATED, ENDPOINTS, PUBLIC, ROLES
from portal.web import plugins as app_plugins
from tests.conftest import dispose_engine, make_test_app
from tests.factories import add_practitioner, add_territories, add_user, session_cookie

pytestmark = pytest.mark.browser

ROOT = Path(__file__).parents[1]
AXE_URL = "/static/vendor/axe-core-4.14.1/axe.min.js"
SHOTS = ROOT / "test-results" / "pages"
ANONYMOUS = "anonyme"

#: GET endpoints that are not pages a person opens, and why
NOT_PAGES: dict[str, str] = {
    "static": "files",
    "health.healthz": "JSON for the load balancer",
    "audit.export": "a CSV download",
    "search.communes": "an HTMX fragment (autocomplete)",
    "search.slots": "an HTMX fragment (live slot refresh)",
    "admin.refresh_status": "an HTMX fragment (on-demand refresh progress)",
    "booking.reserve": "a redirect to the slot's booking page (tests/test_booking_redirect.py)",
}


def may_open(endpoint: str, role: str) -> bool:
    """Whether the permission table lets ``role`` open ``endpoint``."""
    action = ENDPOINTS[endpoint]
    if action == PUBLIC:
        return True
    if role == ANONYMOUS:
        return False
    return action == AUTHENTICATED or role in ACTIONS[action]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The app on a SQLite file, one user per role in SAS-47, served on loopback."""
    tmp = tmp_path_factory.mktemp("pages")
    app = make_test_app(f"sqlite:///{tmp / 'pages.sqlite3'}", tmp / "instance")
    with app.app_context():
        migrate.upgrade(db.engine())
        s = db.session()
        add_territories(s, "47")
        structure = Structure(
            national_id="347000000000001", kind="SOS", name="SOS Médecins 47", department="47"
        )
        s.add(structure)
        s.flush()
        ps = add_practitioner(s, family_name="Garonne", insee="47001", sas_participation=True)
        add_practitioner(s, family_name="Pruneau", insee="47001", dlat=0.05)
        scopes: dict[str, dict[str, object]] = {
            "effecteur": {"practitioner_id": ps.id},
            "delegataire": {"practitioner_id": ps.id},
            "gestionnaire_structure": {"structure_id": structure.id},
            "administrateur": {},
        }
        users = {
            role: add_user(s, (role, scopes.get(role, {"territory_code": "SAS-47"})))
            for role in ROLES
        }
        target = add_user(s, ("regulateur", {"territory_code": "SAS-47"}), family_name="Cible")
        token = reset_links.issue_reset_link(s, target, created_by=users["administrateur"].id)
        s.commit()
        cookies = {role: session_cookie(app, user) for role, user in users.items()}
        values = {"user_id": target.id, "token": token, "source": app_plugins.connector_names()[0]}
        # a bound source, so that its pages (kill-switch confirmation…) exist
        s.add(ConnectorBinding(source=values["source"], practitioner_id=ps.id))
        s.commit()
    with LiveServer(app) as live:
        yield {"app": app, "url": live.url, "cookies": cookies, "values": values}
    dispose_engine(app)


def pages_for(app: Flask, role: str, values: dict[str, Any]) -> list[tuple[str, str]]:
    """(endpoint, path) of every GET page ``role`` may open, sample values filled in."""
    found = []
    with app.test_request_context():
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
            if "GET" not in (rule.methods or ()) or rule.endpoint in NOT_PAGES:
                continue
            if may_open(rule.endpoint, role):
                args = {name: values[name] for name in rule.arguments}
                found.append((rule.endpoint, url_for(rule.endpoint, **args)))
    return found


def test_every_get_route_is_a_page_or_said_not_to_be(site: dict[str, Any]) -> None:
    app: Flask = site["app"]
    get_routes = {r.endpoint for r in app.url_map.iter_rules() if "GET" in (r.methods or ())}
    assert set(NOT_PAGES) <= get_routes, "stale entries in NOT_PAGES"
    every_page = {
        e for role in (ANONYMOUS, *ROLES) for e, _ in pages_for(app, role, site["values"])
    }
    assert every_page == get_routes - set(NOT_PAGES)
    assert "accounts.detail" in every_page and "structures.index" in every_page


@pytest.mark.parametrize("role", [ANONYMOUS, *ROLES])
def test_every_page_renders_in_french_without_error(
    site: dict[str, Any], browser: Browser, role: str
) -> None:
    context = browser.new_context(locale="fr-FR")
    if role != ANONYMOUS:
        context.add_cookies([{**site["cookies"][role], "url": site["url"]}])
    page = context.new_page()
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(f"console: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    problems: list[str] = []
    SHOTS.mkdir(parents=True, exist_ok=True)
    pages = pages_for(site["app"], role, site["values"])
    assert pages, role
    # (final URL, text) already checked: a logged-in user's /connexion lands on their home
    # page, checked once (a flash message makes another text: checked again)
    checked: set[tuple[str, str]] = set()
    for endpoint, path in pages:
        errors.clear()
        response = page.goto(site["url"] + path)
        assert response is not None, path
        # the page's own HTMX requests (live slot refresh) are part of it
        page.wait_for_function("!document.querySelector('.htmx-request')")
        where = f"{role} {path} → {page.url.removeprefix(site['url'])}"
        content_type = response.headers.get("content-type", "")
        if not content_type.startswith("text/html"):
            problems.append(f"{where}: Content-Type {content_type!r}")
            continue
        if response.status >= 400:
            problems.append(f"{where}: HTTP {response.status}")
        seen = (page.url, page.inner_text("body"))
        if seen in checked and not errors:
            continue
        checked.add(seen)
        if page.get_attribute("html", "lang") != "fr":
            problems.append(f"{where}: <html lang> is not 'fr'")
        page.add_script_tag(url=site["url"] + AXE_URL)  # the strict CSP refuses inline scripts
        violations = page.evaluate(
            """async () => {
                const r = await axe.run(document, {
                    runOnly: ['wcag2a', 'wcag2aa', 'wcag21aa'], resultTypes: ['violations'],
                });
                return r.violations.map(v => `${v.id} (${v.impact}): ${v.nodes.length} nœud(s)`);
            }"""
        )
        problems += [f"{where}: axe {v}" for v in violations]
        problems += [f"{where}: {e}" for e in errors]
        page.screenshot(path=SHOTS / f"{role}--{endpoint}.png", full_page=True)
    context.close()
    assert not problems, "\n".join(problems)
