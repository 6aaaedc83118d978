"""Administration of the slot sources: health table and kill switch (audited)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from portal import db, hookimpl
from portal.domain import Slot
from portal.models import AuditEvent, ConnectorBinding, ConnectorRun, ConnectorState
from tests.factories import add_practitioner, add_territories, add_user, login


def test_health_table_and_kill_switch(app, admin_client) -> None:  # type: ignore[no-untyped-def]
    app.config["CONNECTORS"] = {"doctolib_like": {"editors": {"editeur-a": {}, "editeur-b": {}}}}
    with app.app_context():
        s = db.session()
        p = add_practitioner(s)
        s.add(ConnectorBinding(source="doctolib_like:editeur-a", practitioner_id=p.id))
        s.add(ConnectorRun(source="doctolib_like:editeur-a", duration_ms=321, ids_asked=1,
                           slot_count=17, status="failed", error="panne simulée"))  # fmt: skip
        s.commit()
    html = admin_client.get("/admin/connecteurs").get_data(as_text=True)
    assert "doctolib_like:editeur-a" in html and "doctolib_like:editeur-b" in html
    assert "en échec" in html and "panne simulée" in html and "321 ms" in html

    # "Couper…" leads to a confirmation page asking for a reason; nothing is switched off yet
    assert "/admin/connecteurs/doctolib_like:editeur-a/coupure" in html
    page = admin_client.get("/admin/connecteurs/doctolib_like:editeur-a/coupure")
    assert page.status_code == 200 and "Motif de la coupure" in page.get_data(as_text=True)
    # without a reason the switch is refused, with the reason asked again
    refused = admin_client.post("/admin/connecteurs/doctolib_like:editeur-a/coupure",
                                data={"coupee": "1", "motif": "  "})  # fmt: skip
    assert refused.status_code == 422 and "Indiquez le motif" in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session().get(ConnectorState, "doctolib_like:editeur-a") is None
        assert db.session().scalars(select(AuditEvent)).first() is None

    response = admin_client.post("/admin/connecteurs/doctolib_like:editeur-a/coupure",
                           data={"coupee": "1", "motif": "Créneaux  en double"})  # fmt: skip
    assert response.status_code == 303
    with app.app_context():
        s = db.session()
        state = s.get(ConnectorState, "doctolib_like:editeur-a")
        assert state is not None and state.killed
        event = s.scalars(select(AuditEvent)).one()
        assert event.action == "connector_kill_switch"
        assert event.details == {"killed": True, "reason": "Créneaux en double"}
    assert "Rétablir" in admin_client.get("/admin/connecteurs").get_data(as_text=True)
    admin_client.post("/admin/connecteurs/doctolib_like:editeur-a/coupure", data={"coupee": "0"})
    with app.app_context():
        state = db.session().get(ConnectorState, "doctolib_like:editeur-a")
        assert state is not None and not state.killed


def test_kill_switch_of_unknown_source_is_404(admin_client) -> None:  # type: ignore[no-untyped-def]
    assert (
        admin_client.post("/admin/connecteurs/nope/coupure", data={"coupee": "1"}).status_code
        == 404
    )
    assert admin_client.get("/admin/connecteurs/nope/coupure").status_code == 404


def test_times_are_local_and_overseas_in_the_department_zone(app) -> None:  # type: ignore[no-untyped-def]
    """Last call in Europe/Paris for a national administrator; La Réunion's own time for an
    administrator whose territories all lie in 974."""
    app.config["CONNECTORS"] = {"doctolib_like": {"editors": {"editeur-a": {}}}}
    with app.app_context():
        s = db.session()
        add_territories(s, "974")
        s.add(ConnectorRun(source="doctolib_like:editeur-a", duration_ms=5, ids_asked=1,
                           slot_count=3, status="ok",
                           started_at=datetime(2026, 7, 1, 10, 15, tzinfo=UTC)))  # fmt: skip
        national = add_user(s, "administrateur")
        reunion = add_user(s, ("administrateur", {"territory_code": "SAS-974"}))
        s.commit()
    paris_client, reunion_client = app.test_client(), app.test_client()
    with app.app_context():
        login(paris_client, national)
        login(reunion_client, reunion)
    paris = paris_client.get("/admin/connecteurs").get_data(as_text=True)
    assert "01/07/2026 12:15" in paris and "Europe/Paris" in paris  # UTC+2 in summer
    assert "01/07/2026 10:15" not in paris
    overseas = reunion_client.get("/admin/connecteurs").get_data(as_text=True)
    assert "01/07/2026 14:15" in overseas and "Indian/Reunion" in overseas  # UTC+4


class Slowpoke:
    """An inline connector that answers only when the test lets it."""

    def __init__(self) -> None:
        self.go = threading.Event()
        self.called = threading.Event()

    @hookimpl
    def fetch_slots(self, query, config):  # type: ignore[no-untyped-def]
        self.called.set()
        self.go.wait(5)
        return [
            Slot(source=t.source, id=f"{t.national_id}-1", practitioner=t.national_id,
                 start=query.start + timedelta(hours=1),
                 end=query.start + timedelta(hours=1, minutes=15))
            for t in query.targets
        ]  # fmt: skip


@pytest.mark.inline_plugins
def test_refresh_runs_in_the_background_and_shows_progress(  # type: ignore[no-untyped-def]
    app, admin_client, register_plugin
) -> None:
    slow = register_plugin(Slowpoke(), name="slowpoke")
    with app.app_context():
        s = db.session()
        for _n in range(3):
            s.add(ConnectorBinding(source="slowpoke", practitioner_id=add_practitioner(s).id))
        s.commit()
    began = time.perf_counter()
    response = admin_client.post("/admin/connecteurs/slowpoke/rafraichir")
    assert response.status_code == 303 and time.perf_counter() - began < 2  # not waited for
    assert slow.called.wait(5)
    page = admin_client.get("/admin/connecteurs").get_data(as_text=True)
    assert "Rafraîchissement de la source slowpoke lancé : 3 rattachés" in page
    assert "Rafraîchissement en cours : 0 / 3 rattachés" in page and 'max="3" value="0"' in page
    assert "disabled>Rafraîchir" in page  # one refresh of a source at a time
    fragment = admin_client.get("/admin/connecteurs/slowpoke/rafraichissement")
    assert 'hx-trigger="load delay:1s"' in fragment.get_data(as_text=True)  # polls while running

    slow.go.set()
    job = app.extensions["portal.ondemand_refreshes"].get("slowpoke")
    assert job.wait(10) and job.done == 3
    done = admin_client.get("/admin/connecteurs/slowpoke/rafraichissement").get_data(as_text=True)
    done = " ".join(done.split())
    assert "Rafraîchi à" in done and "à jour, 3 créneaux pour 3 rattachés" in done
    assert "hx-trigger" not in done  # polling stops
    assert "0 / 3" not in admin_client.get("/admin/connecteurs").get_data(as_text=True)
    assert admin_client.post("/admin/connecteurs/inconnue/rafraichir").status_code == 404
