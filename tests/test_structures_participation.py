"""Structures page (a manager's own structures, all of them for administrators) and
the SAS participation settings of a PS (themselves or their delegate)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from portal import db
from portal.models import (
    AuditEvent,
    PlaceOfPractice,
    Practitioner,
    Structure,
    StructureMembership,
    User,
)
from tests.factories import (
    add_practitioner,
    add_structure,
    add_territories,
    add_user,
    as_user,
    login,
)


@pytest.fixture
def directory(app: Flask) -> dict[str, Any]:
    """An SOS association with a member and a place, an MSP elsewhere, their managers, PS."""
    with app.app_context():
        s = db.session()
        add_territories(s, "47", "92")
        sos = add_structure(s, "47", name="SOS Médecins Agen")
        msp = add_structure(s, "92", kind="MSP", name="MSP des Coteaux", feed_mode="automatic")
        member = add_practitioner(s, family_name="Membre", insee="47001")
        resident = add_practitioner(s, family_name="Résident", insee="47001")
        other = add_practitioner(s, family_name="Autre", insee="92012")
        s.add(StructureMembership(structure_id=sos.id, practitioner_id=member.id))
        s.add(
            PlaceOfPractice(
                activity_key="sos-agen",
                practitioner_id=resident.id,
                structure_id=sos.id,
                name="Maison médicale de garde",
                address_line="1 place de la Garde",
                postal_code="47000",
                city="Agen",
                department="47",
                phone="05 53 00 00 00",
            )
        )
        ids = {
            "sos": sos.id,
            "msp": msp.id,
            "member": member.id,
            "resident": resident.id,
            "other": other.id,
            "manager": add_user(s, ("gestionnaire_structure", {"structure_id": sos.id})).id,
            "admin": add_user(s, "administrateur").id,
            "ps": add_user(s, ("effecteur", {"practitioner_id": member.id})).id,
            "delegate": add_user(
                s,
                ("delegataire", {"practitioner_id": member.id}),
                ("delegataire", {"practitioner_id": resident.id}),
            ).id,
            "lonely_ps": add_user(s, "effecteur").id,
        }
        s.commit()
    return ids


# ---------- structures ----------


def test_structure_manager_sees_only_their_structures(app: Flask, directory: dict) -> None:
    html = as_user(app, directory["manager"]).get("/structures").get_data(as_text=True)
    assert "Mes structures" in html and "SOS Médecins Agen" in html
    assert "Association SOS Médecins" in html and "saisie manuelle" in html
    assert "1 place de la Garde" in html and "Maison médicale de garde" in html
    assert "Membre" in html and "Résident" in html  # by membership and by place
    assert "2 professionnels rattachés" in html
    assert "MSP des Coteaux" not in html and "Autre" not in html


def test_structure_manager_without_structure_sees_none(app: Flask, directory: dict) -> None:
    with app.app_context():
        s = db.session()
        user = add_user(s, ("gestionnaire_structure", {"structure_id": None}))
        s.commit()
        client = app.test_client()
        login(client, user)
    html = client.get("/structures").get_data(as_text=True)
    assert "Aucune structure n&#39;est rattachée" in html
    assert "SOS Médecins Agen" not in html


def test_administrator_sees_every_structure_with_filters(app: Flask, directory: dict) -> None:
    admin = as_user(app, directory["admin"])
    html = admin.get("/structures").get_data(as_text=True)
    assert "SOS Médecins Agen" in html and "MSP des Coteaux" in html
    assert "automatique, par le logiciel" in html and "<strong>2</strong> structures" in html
    html = admin.get("/structures", query_string={"type": "MSP"}).get_data(as_text=True)
    assert "MSP des Coteaux" in html and "SOS Médecins Agen" not in html
    html = admin.get("/structures", query_string={"departement": "47"}).get_data(as_text=True)
    assert "SOS Médecins Agen" in html and "MSP des Coteaux" not in html
    html = admin.get("/structures", query_string={"q": "coteaux"}).get_data(as_text=True)
    assert "MSP des Coteaux" in html and "SOS Médecins Agen" not in html


def test_structures_are_paginated_for_administrators(app: Flask, directory: dict) -> None:
    with app.app_context():
        s = db.session()
        for n in range(25):
            s.add(
                Structure(
                    national_id=f"1470000{n:02d}",
                    kind="CDS",
                    name=f"Centre {n:02d}",
                    department="47",
                )
            )
        s.commit()
    admin = as_user(app, directory["admin"])
    first = admin.get("/structures").get_data(as_text=True)
    assert "Page 1 sur 2" in first and "Centre 00" in first and "SOS Médecins Agen" not in first
    second = admin.get("/structures", query_string={"page": 2}).get_data(as_text=True)
    assert "SOS Médecins Agen" in second and "Centre 00" not in second


# ---------- participation ----------


def practitioner(app: Flask, practitioner_id: int) -> Practitioner:
    with app.app_context():
        found = db.session().get(Practitioner, practitioner_id)
        assert found is not None
        return found


def test_effecteur_edits_their_own_settings_only(app: Flask, directory: dict) -> None:
    ps = as_user(app, directory["ps"])
    html = ps.get("/participation").get_data(as_text=True)
    assert "Membre" in html and "votre fiche" in html and "Résident" not in html

    response = ps.post(
        "/participation",
        data={
            "practitioner_id": directory["member"],
            "participation": "cpts",
            "accepts_extra_patients": "1",
            "refuses_pro_display": "1",
        },
    )
    assert response.status_code == 303
    assert "Paramètres enregistrés" in ps.get(response.location).get_data(as_text=True)
    saved = practitioner(app, directory["member"])
    assert saved.sas_participation and saved.participation_mode == "cpts"
    assert saved.accepts_extra_patients and saved.refuses_pro_display
    assert not saved.refuses_public_display

    with app.app_context():
        [event] = db.session().scalars(
            select(AuditEvent).where(AuditEvent.action == "participation_changed")
        )
    assert event.actor == str(directory["ps"])
    assert event.target == f"practitioner:{saved.national_id}"
    assert event.details["acting_as"] == "effecteur"
    assert event.details["changes"]["participation_mode"] == [None, "cpts"]

    for other in ("resident", "other"):
        response = ps.post(
            "/participation",
            data={
                "practitioner_id": directory[other],
                "participation": "individual",
            },
        )
        assert response.status_code == 403
        assert not practitioner(app, directory[other]).sas_participation

    ps.post("/participation", data={"practitioner_id": directory["member"], "participation": "non"})
    saved = practitioner(app, directory["member"])
    assert not saved.sas_participation and saved.participation_mode is None


def test_delegate_edits_each_practitioner_they_act_for(app: Flask, directory: dict) -> None:
    delegate = as_user(app, directory["delegate"])
    html = delegate.get("/participation").get_data(as_text=True)
    assert "Membre" in html and "Résident" in html and "Autre" not in html
    assert "pour le compte de ce professionnel" in html
    for target in ("member", "resident"):
        response = delegate.post(
            "/participation",
            data={
                "practitioner_id": directory[target],
                "participation": "sos",
                "refuses_public_display": "1",
            },
        )
        assert response.status_code == 303
        saved = practitioner(app, directory[target])
        assert saved.participation_mode == "sos" and saved.refuses_public_display
    response = delegate.post(
        "/participation",
        data={
            "practitioner_id": directory["other"],
            "participation": "sos",
        },
    )
    assert response.status_code == 403
    assert not practitioner(app, directory["other"]).sas_participation


def test_participation_refusals(app: Flask, directory: dict) -> None:
    ps = as_user(app, directory["ps"])
    response = ps.post(
        "/participation",
        data={
            "practitioner_id": directory["member"],
            "participation": "teleportation",
        },
        follow_redirects=True,
    )
    assert "Mode de participation inconnu" in response.get_data(as_text=True)
    assert not practitioner(app, directory["member"]).sas_participation
    assert ps.post("/participation", data={"participation": "cpts"}).status_code == 400
    # a structure manager or an administrator has no say on a PS's participation
    for user in ("manager", "admin"):
        response = as_user(app, directory[user]).post(
            "/participation",
            data={
                "practitioner_id": directory["member"],
                "participation": "cpts",
            },
        )
        assert response.status_code == 403


def test_effecteur_without_practitioner_row_is_told_so(app: Flask, directory: dict) -> None:
    html = as_user(app, directory["lonely_ps"]).get("/participation").get_data(as_text=True)
    assert "Aucune fiche de professionnel" in html
    with app.app_context():
        assert db.session().get(User, directory["lonely_ps"]) is not None
