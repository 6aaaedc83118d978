"""The bindings page of one source: list (paginated), add one, remove one (audited)."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from portal import db
from portal.models import AuditEvent, ConnectorBinding
from portal.slots import bindings
from tests.factories import add_practitioner


def test_add_list_remove_from_the_source_page(app: Flask, admin_client: FlaskClient) -> None:
    app.config["CONNECTORS"] = {"smart_bulk": {"manifest_url": "http://127.0.0.1:1/"}}
    with app.app_context():
        nid = add_practitioner(db.session(), national_id="810000000042").national_id
        db.session().commit()
    health = admin_client.get("/admin/connecteurs").get_data(as_text=True)
    assert 'href="/admin/connecteurs/smart_bulk/liaisons"' in health

    page = admin_client.get("/admin/connecteurs/smart_bulk/liaisons").get_data(as_text=True)
    assert "Personne n'est rattaché à cette source." in page and "Rattacher" in page

    added = admin_client.post(
        "/admin/connecteurs/smart_bulk/liaisons",
        data={"identifiant_national": nid, "identifiant_amont": "Practitioner/42"},
    )
    assert added.status_code == 303
    page = admin_client.get(added.headers["Location"]).get_data(as_text=True)
    assert f"Rattachement de {nid} créée." in page
    assert nid in page and "id=Practitioner/42" in page and "Test Fictif" in page

    refused = admin_client.post(
        "/admin/connecteurs/smart_bulk/liaisons", data={"identifiant_national": "12"},
        follow_redirects=True,
    )  # fmt: skip
    assert "Rattachement refusé : identifiant national mal formé" in refused.get_data(as_text=True)

    removed = admin_client.post(
        "/admin/connecteurs/smart_bulk/liaisons/suppression",
        data={"identifiant_national": nid}, follow_redirects=True,
    )  # fmt: skip
    assert f"Rattachement de {nid} supprimé." in removed.get_data(as_text=True)
    with app.app_context():
        s = db.session()
        assert s.scalars(select(ConnectorBinding)).all() == []
        events = [(e.action, e.target, e.details["national_id"]) for e in
                  s.scalars(select(AuditEvent).order_by(AuditEvent.id))]  # fmt: skip
    assert events == [
        ("connector_binding_set", "smart_bulk", nid),
        ("connector_binding_removed", "smart_bulk", nid),
    ]


def test_pagination_and_unknown_source(app: Flask, admin_client: FlaskClient) -> None:
    with app.app_context():
        s = db.session()
        entries = [
            bindings.Entry(
                "cpts", add_practitioner(s, national_id=f"8100000001{i:02d}").national_id
            )
            for i in range(55)
        ]
        s.commit()
        assert bindings.store(s, entries, {"cpts"}).counts == {"created": 55}
    first = admin_client.get("/admin/connecteurs/cpts/liaisons").get_data(as_text=True)
    assert "55 rattachement(s) — page 1 sur 2" in first
    assert "810000000100" in first and "810000000154" not in first
    second = admin_client.get("/admin/connecteurs/cpts/liaisons?page=2").get_data(as_text=True)
    assert "810000000154" in second and "810000000100" not in second
    assert admin_client.get("/admin/connecteurs/nulle-part/liaisons").status_code == 404
    assert (
        admin_client.post(
            "/admin/connecteurs/nulle-part/liaisons", data={"identifiant_national": "810000000100"}
        ).status_code
        == 404
    )


def test_a_territorial_referent_sees_the_bindings_but_cannot_change_them(app: Flask) -> None:
    from tests.factories import add_territories, add_user, login

    with app.app_context():
        s = db.session()
        add_territories(s, "47")
        nid = add_practitioner(s, national_id="810000000077").national_id
        bindings.store(s, [bindings.Entry("cpts", nid, "C-77")], {"cpts"})
        referent = add_user(s, ("referent_territorial", {"territory_code": "SAS-47"}))
        s.commit()
    client = app.test_client()
    login(client, referent)
    page = client.get("/admin/connecteurs/cpts/liaisons").get_data(as_text=True)
    assert nid in page and "id=C-77" in page
    assert "Rattacher" not in page and "Supprimer" not in page
    denied = client.post("/admin/connecteurs/cpts/liaisons/suppression",
                         data={"identifiant_national": nid})  # fmt: skip
    assert denied.status_code == 403
