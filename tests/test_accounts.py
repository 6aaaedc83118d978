"""Account management (``/admin/comptes``): territories, scope of account managers,
local account creation, roles, deactivation and its push to the connectors."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from portal import RegulatorAccount, Unavailable, db, hookimpl
from portal.directory import territories
from portal.identity import provisioning
from portal.models import (
    AuditEvent,
    PasswordResetToken,
    Territory,
    User,
    UserRole,
)
from tests.factories import (
    add_practitioner,
    add_structure,
    add_territories,
    add_user,
    as_user,
)

IDNPS = "urn:oid:1.2.250.1.71.4.2.1"
SAS_TECHNICAL = "urn:oid:1.2.250.1.213.3.6"




def events(app: Flask, action: str | None = None) -> list[AuditEvent]:
    with app.app_context():
        query = select(AuditEvent).order_by(AuditEvent.id)
        if action:
            query = query.where(AuditEvent.action == action)
        return list(db.session().scalars(query))


@pytest.fixture
def world(app: Flask) -> dict[str, Any]:
    """Two territories, a manager of SAS-47, an administrator and users on both sides."""
    with app.app_context():
        s = db.session()
        add_territories(s, "47", "92")
        structure47 = add_structure(s, "47")
        structure92 = add_structure(s, "92")
        ps47 = add_practitioner(s, insee="47001")
        ps92 = add_practitioner(s, insee="92012")
        ids = {
            "manager": add_user(s, ("gestionnaire_comptes", {"territory_code": "SAS-47"})).id,
            "admin": add_user(s, "administrateur").id,
            "reg47": add_user(
                s,
                ("regulateur", {"territory_code": "SAS-47"}),
                family_name="Agenais",
                national_id="810001234567",
            ).id,
            "reg92": add_user(
                s, ("regulateur", {"territory_code": "SAS-92"}), family_name="Altoséquanais"
            ).id,
            "both": add_user(
                s,
                ("ioa", {"territory_code": "SAS-47"}),
                ("ioa", {"territory_code": "SAS-92"}),
                family_name="Bilocal",
            ).id,
            "struct47": add_user(
                s,
                ("gestionnaire_structure", {"structure_id": structure47.id}),
                family_name="Structurel",
            ).id,
            "deleg92": add_user(
                s, ("delegataire", {"practitioner_id": ps92.id}), family_name="Délégué"
            ).id,
            "structure47": structure47.national_id,
            "structure92": structure92.national_id,
            "ps47": ps47.national_id,
            "ps92": ps92.national_id,
        }
        s.commit()
    return ids


def roles_of(app: Flask, user_id: int) -> set[tuple[str, str | None, int | None, int | None]]:
    with app.app_context():
        rows = db.session().scalars(select(UserRole).where(UserRole.user_id == user_id))
        return {(r.role, r.territory_code, r.structure_id, r.practitioner_id) for r in rows}


# ---------- territories ----------


def test_ensure_all_creates_every_territory_once(app: Flask, runner: Any) -> None:
    with app.app_context():
        s = db.session()
        s.add(Territory(code="SAS-47", label="déjà là (démo)", department="47"))
        s.flush()
        created = territories.ensure_all(s)
        s.commit()
        assert created >= 100  # every department of the national radius table
        assert territories.ensure_all(s) == 0
        agen = s.scalar(select(Territory).where(Territory.department == "47"))
        assert agen is not None and agen.label == "déjà là (démo)"
        corse = s.get(Territory, "SAS-20A")
        assert corse is not None and corse.department == "2A"
        assert s.get(Territory, "SAS-976") is not None
        count = s.scalar(select(func.count()).select_from(Territory))
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session().scalar(select(func.count()).select_from(Territory)) == count


def test_db_upgrade_creates_the_territories(app: Flask, runner: Any) -> None:
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "territoires SAS créés" in result.output
    with app.app_context():
        territory = db.session().get(Territory, "SAS-92")
        assert territory is not None and territory.label == "Hauts-de-Seine"


# ---------- scope of an account manager ----------


def test_manager_sees_only_the_accounts_of_their_territories(app: Flask, world: dict) -> None:
    manager = as_user(app, world["manager"])
    html = manager.get("/admin/comptes").get_data(as_text=True)
    assert "Agenais" in html and "Structurel" in html and "Bilocal" in html
    assert "Altoséquanais" not in html and "Délégué" not in html

    assert manager.get(f"/admin/comptes/{world['reg47']}").status_code == 200
    for user in ("reg92", "deleg92", "admin"):
        assert manager.get(f"/admin/comptes/{world[user]}").status_code == 403
        assert manager.post(f"/admin/comptes/{world[user]}/desactivation").status_code == 403
        assert manager.post(f"/admin/comptes/{world[user]}/lien").status_code == 403
        response = manager.post(
            f"/admin/comptes/{world[user]}/roles",
            data={"role": "regulateur", "territory": "SAS-47"},
        )
        assert response.status_code == 403
    with app.app_context():
        reg92 = db.session().get(User, world["reg92"])
        assert reg92 is not None and reg92.active
    assert ("regulateur", "SAS-47", None, None) not in roles_of(app, world["reg92"])

    admin = as_user(app, world["admin"])
    html = admin.get("/admin/comptes").get_data(as_text=True)
    assert "Altoséquanais" in html and "Délégué" in html and "Agenais" in html


def test_manager_cannot_grant_administrateur_nor_outside_their_territories(
    app: Flask, world: dict
) -> None:
    manager = as_user(app, world["manager"])
    url = f"/admin/comptes/{world['reg47']}/roles"
    before = roles_of(app, world["reg47"])

    assert manager.post(url, data={"role": "administrateur"}).status_code == 403
    response = manager.post(url, data={"role": "referent_territorial", "territory": "SAS-92"})
    assert response.status_code == 303
    html = manager.get(response.location).get_data(as_text=True)
    assert "Choisissez un territoire" in html
    response = manager.post(
        url, data={"role": "gestionnaire_structure", "structure": world["structure92"]}
    )
    assert response.status_code == 403
    response = manager.post(url, data={"role": "delegataire", "practitioner": world["ps92"]})
    assert response.status_code == 403
    response = manager.post(
        url, data={"role": "pape", "territory": "SAS-47"}, follow_redirects=True
    )
    assert "Rôle inconnu" in response.get_data(as_text=True)
    assert roles_of(app, world["reg47"]) == before
    assert not events(app, "role_granted")

    # within their territory: territory, structure of a department, PS practising there
    manager.post(url, data={"role": "ioa", "territory": "SAS-47"})
    manager.post(url, data={"role": "gestionnaire_structure", "structure": world["structure47"]})
    manager.post(url, data={"role": "delegataire", "practitioner": world["ps47"][1:]})  # RPPS
    granted = {r[0] for r in roles_of(app, world["reg47"])}
    assert {"ioa", "gestionnaire_structure", "delegataire"} <= granted
    assert len(events(app, "role_granted")) == 3
    response = manager.post(url, data={"role": "ioa", "territory": "SAS-47"}, follow_redirects=True)
    assert "déjà ce rôle" in response.get_data(as_text=True)


def test_manager_cannot_deactivate_an_account_with_roles_elsewhere(app: Flask, world: dict) -> None:
    manager = as_user(app, world["manager"])
    html = manager.get(f"/admin/comptes/{world['both']}").get_data(as_text=True)
    assert "hors de vos territoires" in html and "Désactiver le compte" not in html
    assert manager.post(f"/admin/comptes/{world['both']}/desactivation").status_code == 403
    assert manager.post(f"/admin/comptes/{world['both']}/totp").status_code == 403
    with app.app_context():
        roles = db.session().scalars(select(UserRole).where(UserRole.user_id == world["both"]))
        by_territory = {r.territory_code: r.id for r in roles}
    path = f"/admin/comptes/{world['both']}/roles/{{}}/retrait"
    assert manager.post(path.format(by_territory["SAS-92"])).status_code == 403
    assert manager.post(path.format(by_territory["SAS-47"])).status_code == 303
    assert roles_of(app, world["both"]) == {("ioa", "SAS-92", None, None)}
    assert manager.get(f"/admin/comptes/{world['both']}").status_code == 403  # now out of sight


def test_nobody_deactivates_themselves_nor_changes_their_own_roles(app: Flask, world: dict) -> None:
    admin = as_user(app, world["admin"])
    response = admin.post(f"/admin/comptes/{world['admin']}/desactivation", follow_redirects=True)
    assert "propre compte" in response.get_data(as_text=True)
    response = admin.post(
        f"/admin/comptes/{world['admin']}/roles", data={"role": "regulateur", "territory": "SAS-47"}
    )
    assert response.status_code == 403
    with app.app_context():
        me = db.session().get(User, world["admin"])
        assert me is not None and me.active
    assert not events(app, "account_deactivated")


def test_list_filters(app: Flask, world: dict) -> None:
    admin = as_user(app, world["admin"])

    def names(**query: str) -> str:
        return admin.get("/admin/comptes", query_string=query).get_data(as_text=True)

    html = names(q="agen")
    assert "Agenais" in html and "Altoséquanais" not in html
    html = names(role="gestionnaire_structure")
    assert "Structurel" in html and "Agenais" not in html
    html = names(territoire="SAS-92")
    assert "Altoséquanais" in html and "Délégué" in html and "Bilocal" in html
    assert "Agenais" not in html and "Structurel" not in html
    with app.app_context():
        user = db.session().get(User, world["reg92"])
        assert user is not None
        user.active = False
        db.session().commit()
    html = names(actif="0")
    assert "Altoséquanais" in html and "Agenais" not in html
    assert "Altoséquanais" not in names(actif="1")


# ---------- creation, reset link, TOTP ----------


def test_create_account_shows_the_link_once_and_audits(app: Flask, world: dict) -> None:
    manager = as_user(app, world["manager"])
    assert manager.get("/admin/comptes/nouveau").status_code == 200
    response = manager.post(
        "/admin/comptes/nouveau",
        data={
            "email": " Claire.Martin@Example.test ",
            "given_name": "Claire",
            "family_name": "Martin",
            "role": "gestionnaire_structure",
            "structure": world["structure47"],
        },
    )
    assert response.status_code == 303
    html = manager.get(response.location).get_data(as_text=True)
    assert "/mot-de-passe/" in html and "72 heures" in html
    token = html.split("/mot-de-passe/")[1].split('"')[0]
    assert "/mot-de-passe/" not in manager.get(response.location).get_data(as_text=True)

    with app.app_context():
        s = db.session()
        user = s.scalar(select(User).where(User.email == "claire.martin@example.test"))
        assert user is not None and user.password_hash is None
        assert [r.role for r in user.roles] == ["gestionnaire_structure"]
        assert s.scalar(select(PasswordResetToken).where(PasswordResetToken.user_id == user.id))
        user_id = user.id
    actions = [(e.action, e.actor, e.target) for e in events(app)]
    target = f"user:{user_id}"
    assert ("account_created", str(world["manager"]), target) in actions
    assert ("role_granted", str(world["manager"]), target) in actions
    assert ("reset_link_issued", str(world["manager"]), target) in actions
    assert all(token not in str(e.details) for e in events(app))
    assert app.test_client().get(f"/mot-de-passe/{token}").status_code == 200


def test_create_account_refusals(app: Flask, world: dict) -> None:
    manager = as_user(app, world["manager"])
    base = {"email": "x@example.test", "family_name": "X", "role": "ioa", "territory": "SAS-47"}
    for changes, message in [
        ({"email": "pas-une-adresse"}, "Adresse électronique invalide"),
        ({"role": ""}, "au moins un rôle"),
        ({"territory": "SAS-92"}, "Choisissez un territoire"),
        ({"family_name": " "}, "nom est obligatoire"),
    ]:
        response = manager.post("/admin/comptes/nouveau", data={**base, **changes})
        assert response.status_code == 400
        assert message in response.get_data(as_text=True)
    assert (
        manager.post("/admin/comptes/nouveau", data={**base, "role": "administrateur"}).status_code
        == 403
    )
    assert manager.post("/admin/comptes/nouveau", data=base).status_code == 303
    response = manager.post("/admin/comptes/nouveau", data={**base, "email": "X@example.test"})
    assert response.status_code == 400 and "existe déjà" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session().scalar(select(func.count()).where(User.email == "x@example.test")) == 1
    assert len(events(app, "account_created")) == 1


def test_new_reset_link_and_totp_reset(app: Flask, world: dict) -> None:
    with app.app_context():
        s = db.session()
        user = s.get(User, world["struct47"])
        assert user is not None
        user.totp_secret, user.totp_enrolled_at = "JBSWY3DPEHPK3PXP", user.created_at
        s.commit()
    manager = as_user(app, world["manager"])
    response = manager.post(f"/admin/comptes/{world['struct47']}/lien")
    assert response.status_code == 303
    assert "/mot-de-passe/" in manager.get(response.location).get_data(as_text=True)
    assert manager.post(f"/admin/comptes/{world['struct47']}/totp").status_code == 303
    with app.app_context():
        user = db.session().get(User, world["struct47"])
        assert user is not None and user.totp_secret is None and user.totp_enrolled_at is None
    assert [e.target for e in events(app, "reset_link_issued")] == [f"user:{world['struct47']}"]
    assert [e.actor for e in events(app, "totp_reset")] == [str(world["manager"])]
    assert all("JBSWY3DPEHPK3PXP" not in str(e.details) for e in events(app))


def test_only_administrators_allow_a_local_login_for_a_regulator(app: Flask, world: dict) -> None:
    manager = as_user(app, world["manager"])
    url = f"/admin/comptes/{world['reg47']}/connexion-locale"
    assert "Autoriser la connexion" not in manager.get(f"/admin/comptes/{world['reg47']}").get_data(
        as_text=True
    )
    assert manager.post(url, data={"autorise": "1"}).status_code == 403
    admin = as_user(app, world["admin"])
    assert "Autoriser la connexion" in admin.get(f"/admin/comptes/{world['reg47']}").get_data(
        as_text=True
    )
    assert admin.post(url, data={"autorise": "1"}).status_code == 303
    with app.app_context():
        user = db.session().get(User, world["reg47"])
        assert user is not None and user.allow_local_regulator
    [event] = events(app, "local_regulator_allowed")
    assert event.actor == str(world["admin"]) and event.details == {"allowed": True}


# ---------- deactivation and the connectors ----------


class Recorder:
    """An inline connector that records the accounts it is sent."""

    def __init__(self) -> None:
        self.calls: list[tuple[RegulatorAccount, dict]] = []

    @hookimpl
    def provision_regulator(self, account: RegulatorAccount, config: dict) -> None:
        self.calls.append((account, dict(config)))


class Broken:
    @hookimpl
    def provision_regulator(self, account: RegulatorAccount, config: dict) -> None:
        raise Unavailable("éditeur injoignable")


@pytest.fixture
def recorder(app: Flask, register_plugin: Any) -> Recorder:
    """An accounts editor and a broken one, in the app's plugin manager (``inline_plugins``)."""
    plugin = Recorder()
    register_plugin(plugin, "recorder")
    register_plugin(Broken(), "broken")
    app.config["CONNECTORS"] = {"recorder": {"base_url": "https://editeur.test"}}
    return plugin


@pytest.mark.inline_plugins
def test_deactivating_a_regulator_pushes_it_at_once_despite_a_failing_connector(
    app: Flask, world: dict, recorder: Recorder
) -> None:
    regulator = as_user(app, world["reg47"])
    assert regulator.get("/recherche").status_code == 200
    manager = as_user(app, world["manager"])

    response = manager.post(f"/admin/comptes/{world['reg47']}/desactivation")
    assert response.status_code == 303
    html = manager.get(response.location).get_data(as_text=True)
    assert "broken" in html and "pas pu être informé" in html and "désactivé" in html

    [(account, config)] = recorder.calls
    assert account == RegulatorAccount(
        IDNPS, "810001234567", "Agenais", "Test", account.email, active=False
    )
    assert account.email and account.email.endswith("@example.test")
    assert config == {"base_url": "https://editeur.test"}
    with app.app_context():
        user = db.session().get(User, world["reg47"])
        assert user is not None and not user.active and user.deactivated_at is not None
    [failure] = events(app, "provisioning_failed")
    assert failure.details["plugin"] == "broken" and "injoignable" in failure.details["error"]
    assert failure.target == f"user:{world['reg47']}"
    [event] = events(app, "account_deactivated")
    assert event.actor == str(world["manager"])

    # the regulator's session stops at their next request
    response = regulator.get("/recherche")
    assert response.status_code == 302 and response.location.startswith("/connexion")

    assert manager.post(f"/admin/comptes/{world['reg47']}/reactivation").status_code == 303
    assert len(events(app, "account_reactivated")) == 1
    assert len(recorder.calls) == 1  # reactivation is pushed at the next login
    assert as_user(app, world["reg47"]).get("/recherche").status_code == 200


@pytest.mark.inline_plugins
def test_a_regulator_without_national_id_is_pushed_with_a_stable_technical_id(
    app: Flask, world: dict, recorder: Recorder
) -> None:
    with app.app_context():
        user = db.session().get(User, world["reg92"])
        assert user is not None
        first = provisioning.regulator_account(user, active=False)
        assert first == provisioning.regulator_account(user, active=False)
    assert first.identifier_system == SAS_TECHNICAL and len(first.identifier_value) == 36
    admin = as_user(app, world["admin"])
    admin.post(f"/admin/comptes/{world['reg92']}/desactivation")
    assert [account for account, _ in recorder.calls] == [first]


@pytest.mark.inline_plugins
def test_revoking_the_last_regulator_role_pushes_the_deactivation(
    app: Flask, world: dict, recorder: Recorder
) -> None:
    manager = as_user(app, world["manager"])
    manager.post(
        f"/admin/comptes/{world['reg47']}/roles",
        data={"role": "gestionnaire_structure", "structure": world["structure47"]},
    )
    with app.app_context():
        roles = db.session().scalars(select(UserRole).where(UserRole.user_id == world["reg47"]))
        by_role = {r.role: r.id for r in roles}
    url = f"/admin/comptes/{world['reg47']}/roles/{{}}/retrait"
    assert manager.post(url.format(by_role["gestionnaire_structure"])).status_code == 303
    assert recorder.calls == []
    assert manager.post(url.format(by_role["regulateur"])).status_code == 303
    [(account, _)] = recorder.calls
    assert account.identifier_value == "810001234567" and account.active is False
    assert [e.details["role"] for e in events(app, "role_revoked")] == [
        "gestionnaire_structure",
        "regulateur",
    ]
    assert len(events(app, "provisioning_failed")) == 1
    with app.app_context():
        user = db.session().get(User, world["reg47"])
        assert user is not None and user.active  # still a user, no longer a regulator
