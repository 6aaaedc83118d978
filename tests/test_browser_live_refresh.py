"""In a real browser: a late editor's slots appear without reloading the page.

The live refresh gives up waiting at its budget and says which source is still asked;
the fragment then asks once more by itself (HTMX ``load delay``), and the slots that
landed in the cache meanwhile are shown.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from portal import db, migrate
from portal.devtools.browser import LiveServer
from portal.models import ConnectorBinding
from portal.plugins import make_plugin_manager
from tests.conftest import dispose_engine, make_test_app
from tests.factories import DelayedEditor, add_practitioner, add_user, session_cookie

pytestmark = pytest.mark.browser


def test_a_late_editor_shows_up_after_one_more_request(page: Page, tmp_path: Path) -> None:
    editor = DelayedEditor("tardif", delay_s=1.2)
    app = make_test_app(
        f"sqlite:///{tmp_path / 'live.sqlite3'}",
        tmp_path / "instance",
        plugin_manager=make_plugin_manager(load_entry_points=False, plugins={"tardif": editor}),
        SESSION_COOKIE_SECURE=False,
        LIVE_REFRESH_BUDGET_S=0.3,
        CONNECTOR_DEADLINE_S=2.5,
    )
    try:
        with app.app_context():
            migrate.upgrade(db.engine())
            s = db.session()
            p = add_practitioner(s, family_name="Attendu", dlat=0.01, sas_participation=True)
            s.add(ConnectorBinding(source="tardif", practitioner_id=p.id, upstream_ids={}))
            cookie = session_cookie(app, add_user(s, "regulateur"))
            s.commit()
        with LiveServer(app) as live:
            page.context.add_cookies([{**cookie, "url": live.url}])
            page.goto(live.url + "/recherche?insee=47001&specialite=SM54")
            status = page.locator("#actualisation-statut")
            expect(status).to_contain_text("Tardif (réponse attendue)", timeout=5_000)
            expect(status).to_contain_text("Nouvel essai dans 2 s pour Tardif.")
            expect(page.locator("#resultats a.slot")).to_have_count(0)
            # the second request, on its own: the late answer is in the cache by then
            expect(page.locator("#resultats a.slot").first).to_be_visible(timeout=8_000)
            expect(status).not_to_contain_text("réponse attendue")
            expect(status).to_contain_text("Créneaux actualisés")
        assert editor.calls == 1
    finally:
        dispose_engine(app)
