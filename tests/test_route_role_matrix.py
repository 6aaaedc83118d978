"""Every route × every role (and anonymous), as the permission table says.

The expected outcome is computed from ``ENDPOINTS`` and ``ACTIONS``: anonymous
users are sent to ``/connexion`` (an HTMX request gets 401 + ``HX-Redirect``),
roles without the endpoint's action get 403, the others get the endpoint's
normal answer (200 unless :data:`ALLOWED_STATUS` says otherwise). A route
missing from the table fails :func:`test_every_route_is_in_the_permission_table`.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask, url_for
from werkzeug.routing import Rule

from portal import db
from portal.models import Structure, User, UserRole
from portal.permissions import ACTIONS, AUTHENTICATED, ENDPOINTS, PUBLIC, ROLES
from tests.factories import add_practitioner, add_territories, add_user, login

ANONYMOUS = "anonyme"

#: what an allowed request answers when it is not a plain 200 (sample values below)
ALLOWED_STATUS: dict[str, set[int]] = {
    "index": {302},  # to the user's home page
    "auth.login": {200, 302},  # a logged-in user is sent home
    "auth.logout": {302, 303},
    "auth.psc_start": {302, 303},  # to the provider, or back to /connexion when not set up
    "auth.psc_callback": {302, 303},  # no pending login: back to /connexion with a notice
    "auth.local_login": {200},  # empty form: the login page with its error
    "auth.totp": {302, 303},  # no first factor in the session: back to /connexion
    "auth.totp_enrol": {302, 303},
    "auth.password_reset": {400, 404, 410},  # unknown token
    "admin.kill_switch": {404},  # the sample source is unknown
    "admin.confirm_kill": {404},
    "admin.refresh_source": {404},
    "bindings.index": {404},  # the sample source is unknown
    "bindings.add": {404},
    "bindings.remove": {404},
    "booking.reserve": {410},  # the sample slot is not (or no longer) cached
    "accounts.grant": {303},
    "accounts.revoke": {303},
    "accounts.deactivate": {303},
    "accounts.reactivate": {303},
    "accounts.reset_link": {303},
    "accounts.reset_totp": {303},
    "accounts.allow_local": {303},
    "participation.update": {303},
    "lrm_origins.create": {303},  # empty form: back to the page with an error notice
    "lrm_origins.toggle": {404},  # no such origin
}
#: endpoints whose allowed answer may legitimately lead to /connexion
LEADS_TO_LOGIN = {
    "auth.logout",
    "auth.psc_start",
    "auth.psc_callback",
    "auth.totp",
    "auth.totp_enrol",
}


def expected_allowed(endpoint: str, role: str) -> bool:
    action = ENDPOINTS[endpoint]
    if action == PUBLIC:
        return True
    if role == ANONYMOUS:
        return False
    return action == AUTHENTICATED or role in ACTIONS[action]


@pytest.fixture
def samples(app: Flask) -> dict[str, Any]:
    """One user per role (scoped to SAS-47, a structure or a PS there) and sample URL values."""
    with app.app_context():
        s = db.session()
        add_territories(s, "47")
        structure = Structure(
            national_id="347000000000001", kind="SOS", name="SOS 47", department="47"
        )
        s.add(structure)
        s.flush()
        ps = add_practitioner(s, insee="47001")
        scopes: dict[str, dict[str, object]] = {
            "effecteur": {"practitioner_id": ps.id},
            "delegataire": {"practitioner_id": ps.id},
            "gestionnaire_structure": {"structure_id": structure.id},
            "administrateur": {},
        }
        users = {
            role: add_user(s, (role, scopes.get(role, {"territory_code": "SAS-47"}))).id
            for role in ROLES
        }
        target = add_user(
            s, ("regulateur", {"territory_code": "SAS-47"}), ("ioa", {"territory_code": "SAS-47"})
        )
        ioa = next(r for r in target.roles if r.role == "ioa")
        s.commit()
        return {
            "users": users,
            "values": {
                "user_id": target.id,
                "role_id": ioa.id,
                "source": "inconnue",
                "token": "jeton-inconnu",
                "filename": "css/portal.css",
                "slot_id": "absent",
            },
            "forms": {
                "accounts.grant": {"role": "regulateur", "territory": "SAS-47"},
                "accounts.allow_local": {"autorise": "1"},
                "participation.update": {"practitioner_id": str(ps.id), "participation": "cpts"},
            },
        }


def request_for(app: Flask, rule: Rule, samples: dict[str, Any]) -> tuple[str, str, dict]:
    """(method, URL, form) exercising one rule with sample values."""
    missing = set(rule.arguments) - set(samples["values"])
    assert not missing, f"{rule.endpoint}: add a sample value for {missing}"
    with app.test_request_context():
        url = url_for(rule.endpoint, **{a: samples["values"][a] for a in rule.arguments})
    method = "GET" if "GET" in (rule.methods or ()) else "POST"
    return method, url, samples["forms"].get(rule.endpoint, {}) if method == "POST" else {}


def test_every_route_is_in_the_permission_table(app: Flask) -> None:
    routes = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert routes - set(ENDPOINTS) == set(), "routes missing from permissions.ENDPOINTS"
    assert set(ENDPOINTS) - routes == set(), "stale entries in permissions.ENDPOINTS"
    for endpoint, action in ENDPOINTS.items():
        assert action in ACTIONS or action in {PUBLIC, AUTHENTICATED}, endpoint
    assert set(ALLOWED_STATUS) <= routes


@pytest.mark.parametrize("role", [ANONYMOUS, *ROLES])
def test_route_role_matrix(app: Flask, samples: dict[str, Any], role: str) -> None:
    user = None
    if role != ANONYMOUS:
        with app.app_context():
            user = db.session().get(User, samples["users"][role])
    problems = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.endpoint, r.rule)):
        endpoint = rule.endpoint
        method, url, form = request_for(app, rule, samples)
        client = app.test_client()  # fresh: logout or a deactivation must not leak
        if user is not None:
            login(client, user)
        response = client.open(url, method=method, data=form)
        response.close()  # static files are streamed
        location = response.headers.get("Location", "")
        got = f"{method} {url} as {role}: {response.status_code} {location}".strip()
        if expected_allowed(endpoint, role):
            wanted = ALLOWED_STATUS.get(endpoint, {200})
            sent_to_login = location.startswith("/connexion") and endpoint not in LEADS_TO_LOGIN
            if response.status_code not in wanted or sent_to_login:
                problems.append(f"{got} (expected {sorted(wanted)})")
        elif role == ANONYMOUS:
            if response.status_code != 302 or not location.startswith("/connexion?next="):
                problems.append(f"{got} (expected 302 to /connexion)")
            htmx = client.open(url, method=method, data=form, headers={"HX-Request": "true"})
            htmx.close()
            redirect_to = htmx.headers.get("HX-Redirect", "")
            if htmx.status_code != 401 or not redirect_to.startswith("/connexion"):
                problems.append(f"HTMX {got}: {htmx.status_code} (expected 401 + HX-Redirect)")
        elif response.status_code != 403:
            problems.append(f"{got} (expected 403)")
    assert not problems, "\n".join(problems)


def test_forbidden_requests_change_nothing(app: Flask, samples: dict[str, Any]) -> None:
    """A refused POST is refused before the view: the target account is untouched."""
    with app.app_context():
        regulator = db.session().get(User, samples["users"]["regulateur"])
    client = app.test_client()
    login(client, regulator)  # type: ignore[arg-type]
    target = samples["values"]["user_id"]
    assert client.post(f"/admin/comptes/{target}/desactivation").status_code == 403
    assert (
        client.post(f"/admin/comptes/{target}/roles", data={"role": "administrateur"}).status_code
        == 403
    )
    with app.app_context():
        user = db.session().get(User, target)
        assert user is not None and user.active
        assert {r.role for r in db.session().query(UserRole).filter_by(user_id=target)} == {
            "regulateur",
            "ioa",
        }
