"""A regulator logs in through Pro Santé Connect in a real Chromium, and the page
they asked for (with its query string) survives the round trip; logging out ends
the PSC session too."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from portal import db, migrate
from portal.devtools.browser import LiveServer
from portal.devtools.oidc import LocalProvider, ProviderUser, psc_claims
from tests.conftest import make_test_app
from tests.factories import add_practitioner, add_user

pytestmark = pytest.mark.browser

REGULATOR = ProviderUser(
    "regulateur-sas47",
    psc_claims("899047990017", "Jeanne", "Marius"),
    label="Régulateur SAS-47 — Jeanne Marius",
)
PS = ProviderUser("ps-effecteur", psc_claims("899047000015", "Mathilde", "Meyer"),
                  label="Professionnel de santé — Mathilde Meyer")  # fmt: skip


@pytest.fixture
def provider() -> Iterator[LocalProvider]:
    with LocalProvider([REGULATOR, PS]) as op:
        yield op


@pytest.fixture
def server(tmp_path: Path, provider: LocalProvider) -> Iterator[LiveServer]:
    """The portal on loopback, pointed at the local provider, with one regulator account."""
    app: Flask = make_test_app(
        f"sqlite:///{tmp_path / 'browser.sqlite3'}",
        tmp_path / "instance",
        SESSION_COOKIE_SECURE=False,  # plain HTTP on loopback, as in the demo
        **provider.portal_config(),
    )
    with app.app_context():
        migrate.upgrade(db.engine())
        session = db.session()
        add_practitioner(session, family_name="Garonne", sas_participation=True)
        add_user(session, "regulateur", national_id="899047990017", family_name="Marius")
        session.commit()
    with LiveServer(app) as live:
        yield live


def test_login_with_pro_sante_connect_returns_to_the_search(
    page: Page, server: LiveServer, provider: LocalProvider
) -> None:
    page.goto(server.url + "/recherche?lieu=Agen")
    expect(page).to_have_url(re.compile(r"/connexion\?next="))

    page.get_by_role("link", name="Se connecter avec Pro Santé Connect").click()
    expect(page).to_have_url(re.compile("^" + re.escape(provider.issuer + "/oauth2/authorize?")))
    page.get_by_role("button", name="Régulateur SAS-47 — Jeanne Marius").click()

    expect(page).to_have_url(server.url + "/recherche?lieu=Agen")
    expect(page.locator(".user-name")).to_have_text("Jeanne Marius")

    # logging out goes through the provider's end-session page, then back to /connexion
    page.get_by_role("button", name="Se déconnecter").click()
    expect(page).to_have_url(re.compile(re.escape(provider.issuer + "/oauth2/end_session?")))
    page.get_by_role("button", name="Terminer la session").click()
    expect(page).to_have_url(server.url + "/connexion")
    expect(page.get_by_role("link", name="Se connecter avec Pro Santé Connect")).to_be_visible()
