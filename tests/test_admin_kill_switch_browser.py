"""In Chromium: switching a source off asks for confirmation and a reason, then is audited;
'Rafraîchir' runs in the background and the page follows its progress."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from portal import db, hookimpl, migrate
from portal.devtools.browser import LiveServer
from portal.domain import Slot
from portal.models import AuditEvent, ConnectorBinding, ConnectorState
from portal.plugins import make_plugin_manager
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


class Slowpoke:
    """An inline connector that answers only when the test lets it."""

    def __init__(self) -> None:
        self.go = threading.Event()

    @hookimpl
    def fetch_slots(self, query, config):  # type: ignore[no-untyped-def]
        self.go.wait(5)
        return [
            Slot(source=t.source, id=f"{t.national_id}-1", practitioner=t.national_id,
                 start=query.start + timedelta(hours=1),
                 end=query.start + timedelta(hours=1, minutes=15))
            for t in query.targets
        ]  # fmt: skip


def test_refresh_shows_progress_then_its_outcome(tmp_path: Path, browser: Browser) -> None:
    slow = Slowpoke()
    pm = make_plugin_manager(load_entry_points=False, plugins={"slowpoke": slow})
    app = make_test_app(
        f"sqlite:///{tmp_path / 'refresh.sqlite3'}", tmp_path / "instance", plugin_manager=pm
    )
    with app.app_context():
        migrate.upgrade(db.engine())
        s = db.session()
        for _n in range(2):
            s.add(ConnectorBinding(source="slowpoke", practitioner_id=add_practitioner(s).id))
        cookie = session_cookie(app, add_user(s, "administrateur"))
        s.commit()
    try:
        with LiveServer(app) as live:
            context = browser.new_context(locale="fr-FR")
            context.add_cookies([{**cookie, "url": live.url}])
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(live.url + "/admin/connecteurs")
            page.get_by_role("button", name="Rafraîchir slowpoke").click()
            progress = page.locator(".refresh-progress")
            expect(progress).to_contain_text("Rafraîchissement en cours : 0 / 2 rattachés")
            expect(page.get_by_role("button", name="Rafraîchir slowpoke")).to_be_disabled()
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=SHOTS / "refresh-running.png", full_page=True)
            slow.go.set()
            # the fragment polls itself: the outcome shows without reloading the page
            expect(progress).to_contain_text("2 créneaux pour 2 rattachés", timeout=10_000)
            expect(progress).to_contain_text("Rafraîchi à")
            page.screenshot(path=SHOTS / "refresh-done.png", full_page=True)
            assert not errors
            context.close()
            job = app.extensions["portal.ondemand_refreshes"].get("slowpoke")
            assert job.wait(5)
    finally:
        slow.go.set()
        dispose_engine(app)
