"""In Chromium: switching a source off asks for confirmation and a reason, then is audited."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from portal import db, migrate
from portal.devtools.browser import LiveServer
from portal.models import AuditEvent, ConnectorBinding, ConnectorState
from tests.conftest import dispose_engine, make_test_app
from tests.factories import add_practitioner, add_user, session_cookie

pytestmark = pytest.mark.browser

SOURCE = "doctolib_like:editeur-a"
SHOTS = Path(__file__).parents[1] / "test-results" / "admin"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The app on a SQLite file with one bound source, served on loopback."""
    app = make_test_app(f"sqlite:///{tmp_path / 'kill.sqlite3'}", tmp_path / "instance")
    app.config["CONNECTORS"] = {"doctolib_like": {"editors": {"editeur-a": {}}}}
    with app.app_context():
        migrate.upgrade(db.engine())
        s = db.session()
        s.add(ConnectorBinding(source=SOURCE, practitioner_id=add_practitioner(s).id))
        admin = add_user(s, "administrateur")
        s.commit()
        cookie = session_cookie(app, admin)
    with LiveServer(app) as live:
        yield {"app": app, "url": live.url, "cookie": cookie}
    dispose_engine(app)


def killed(site: dict[str, Any]) -> bool:
    with site["app"].app_context():
        state = db.session().get(ConnectorState, SOURCE)
        return bool(state and state.killed)


def test_switching_off_asks_confirmation_and_reason(site: dict[str, Any], browser: Browser) -> None:
    context = browser.new_context(locale="fr-FR")
    context.add_cookies([{**site["cookie"], "url": site["url"]}])
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    SHOTS.mkdir(parents=True, exist_ok=True)

    page.goto(site["url"] + "/admin/connecteurs")
    page.get_by_role("link", name=f"Couper… {SOURCE}").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Couper la source {SOURCE}")
    page.screenshot(path=SHOTS / "kill-confirmation.png", full_page=True)
    assert not killed(site)  # the link only asks

    # cancelling changes nothing
    page.get_by_role("link", name="Annuler").click()
    expect(page.get_by_role("link", name=f"Couper… {SOURCE}")).to_be_visible()
    assert not killed(site)

    # confirming without a reason: the browser refuses the empty field, nothing is sent
    page.get_by_role("link", name=f"Couper… {SOURCE}").click()
    page.get_by_role("button", name="Confirmer la coupure").click()
    assert page.eval_on_selector("#motif", "el => !el.validity.valid")
    assert not killed(site)

    page.get_by_label("Motif de la coupure (obligatoire)").fill("Créneaux fantômes signalés")
    page.get_by_role("button", name="Confirmer la coupure").click()
    expect(page.get_by_role("status").first).to_contain_text(f"Source {SOURCE} coupée")
    expect(page.get_by_role("button", name=f"Rétablir {SOURCE}")).to_be_visible()
    page.screenshot(path=SHOTS / "kill-done.png", full_page=True)
    assert killed(site) and not errors
    with site["app"].app_context():
        event = db.session().scalars(select(AuditEvent)).one()
        assert event.target == SOURCE
        assert event.details == {"killed": True, "reason": "Créneaux fantômes signalés"}
    context.close()
