"""Pro Santé Connect login against a real OpenID Connect provider on loopback.

The portal side goes through Flask's test client; the provider side is real
HTTP (``httpx``) to :class:`portal.devtools.oidc.LocalProvider`. The provider
checks neither PKCE nor ``acr_values``: those are asserted on the requests the
portal sends.
"""

from __future__ import annotations

import base64
import hashlib
import html
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import select
from werkzeug.test import TestResponse

from portal import db, hookimpl
from portal.devtools import demo_identities
from portal.devtools.demo_directory import generate_demo_directory
from portal.devtools.oidc import LocalProvider, ProviderUser, psc_claims
from portal.directory import territories
from portal.errors import Unavailable
from portal.identity import provisioning
from portal.identity.psc import ProviderClient
from portal.models import AuditEvent, Practitioner, User
from portal.web import psc
from tests.factories import add_user

REGULATOR_ID = "810000000471"
SOS_SITE = {"raisonSocialeSite": "SOS Médecins Agen", "numeroSiretSite": "99904700000011"}
USERS = [
    ProviderUser(
        "reg-47",
        psc_claims(REGULATOR_ID, "Jeanne", "Marius", structures=[SOS_SITE]),
        label="Jeanne Marius — régulatrice SAS-47",
    ),
    ProviderUser("inconnu", psc_claims("810000000999", "Paul", "Inconnu")),
    ProviderUser("ancien", psc_claims("810000000472", "Luc", "Ancien")),
    ProviderUser("faible", psc_claims("810000000473", "Léa", "Faible", acr="eidas0")),
    ProviderUser("sans-acr", psc_claims("810000000474", "Max", "Sansacr", acr=None)),
    # a provider that puts another nonce in the ID token (a replayed token)
    ProviderUser("rejeu", {**psc_claims(REGULATOR_ID, "Jeanne", "Marius"), "nonce": "ancien"}),
]
LRM_LINK = "/recherche?origin=x&inseecode=47001"


class Recorder(httpx.BaseTransport):
    """Real HTTP, with every request the portal sends kept for assertions."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.inner.handle_request(request)

    def sent_to(self, url: str) -> list[httpx.Request]:
        return [r for r in self.requests if str(r.url).split("?")[0] == url]


@pytest.fixture
def provider() -> Iterator[LocalProvider]:
    with LocalProvider(USERS) as op:
        yield op


@pytest.fixture
def recorder(app: Flask) -> Recorder:
    transport = Recorder()
    app.extensions[psc.TRANSPORT_KEY] = transport
    return transport


@pytest.fixture
def psc_app(app: Flask, provider: LocalProvider, recorder: Recorder) -> Flask:
    """The app pointed at the local provider, with a regulator and a deactivated account."""
    app.config.update(provider.portal_config())
    with app.app_context():
        session = db.session()
        add_user(session, "regulateur", national_id=REGULATOR_ID, family_name="Ancien-nom")
        add_user(session, "regulateur", national_id="810000000472", active=False)
        add_user(session, "regulateur", national_id="810000000473")
        add_user(session, "regulateur", national_id="810000000474")
        session.commit()
    return app


def start(client: FlaskClient, next_url: str | None = None) -> str:
    """``/connexion/psc``: the provider's authorization URL."""
    response = client.get("/connexion/psc", query_string={"next": next_url} if next_url else {})
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"]


def authorize(authorize_url: str, sub: str) -> str:
    """Pick ``sub`` on the provider's page (its form POSTs ``sub``): the portal callback URL."""
    answer = httpx.post(authorize_url, data={"sub": sub})
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"]


def psc_login(client: FlaskClient, sub: str, next_url: str | None = None) -> TestResponse:
    return client.get(authorize(start(client, next_url), sub))


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def audit_events(app: Flask, action: str) -> list[AuditEvent]:
    with app.app_context():
        return list(db.session().scalars(select(AuditEvent).where(AuditEvent.action == action)))


def assert_refused(client: FlaskClient, response: TestResponse, message: str) -> None:
    """Back on /connexion with ``message`` shown, no session, no stack trace."""
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/connexion"
    page = html.unescape(client.get(response.headers["Location"]).get_data(as_text=True))
    assert message in page
    assert "Traceback" not in page and "PscError" not in page
    with client.session_transaction() as sess:
        assert "uid" not in sess


def failure_reasons(app: Flask) -> list[str]:
    return [e.details["reason"] for e in audit_events(app, "login_failed")]


# ---------------------------------------------------------------- the request we send


def test_authorization_request_carries_pkce_state_nonce_and_acr(
    psc_app: Flask, provider: LocalProvider
) -> None:
    client = psc_app.test_client()
    url = start(client, LRM_LINK)
    assert url.startswith(f"{provider.issuer}/oauth2/authorize?")
    params = query(url)
    assert params["response_type"] == "code"
    assert params["client_id"] == "sas-portal"
    assert params["scope"] == "openid scope_all"
    assert params["acr_values"] == "eidas1"
    assert params["redirect_uri"] == "http://localhost/connexion/psc/retour"
    assert params["code_challenge_method"] == "S256"
    with client.session_transaction() as sess:
        flow = sess[psc.FLOW_KEY]
    assert params["state"] == flow["state"] and params["nonce"] == flow["nonce"]
    assert flow["next"] == LRM_LINK
    digest = hashlib.sha256(flow["code_verifier"].encode()).digest()
    assert params["code_challenge"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert 43 <= len(flow["code_verifier"]) <= 128


def test_discovery_uses_psc_wallet_document_name_by_default(app: Flask) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(503)

    app.config.update(PSC_ISSUER="https://auth.example/auth/realms/esante-wallet",
                      PSC_CLIENT_ID="portail")  # fmt: skip
    app.extensions[psc.TRANSPORT_KEY] = httpx.MockTransport(handler)
    client = app.test_client()
    response = client.get("/connexion/psc")
    assert seen == [
        "https://auth.example/auth/realms/esante-wallet/.well-known/wallet-openid-configuration"
    ]
    assert_refused(client, response, "Pro Santé Connect est indisponible")


# ---------------------------------------------------------------- success


def test_login_opens_the_session_and_returns_to_the_lrm_link(
    psc_app: Flask, provider: LocalProvider, recorder: Recorder
) -> None:
    client = psc_app.test_client()
    response = psc_login(client, "reg-47", LRM_LINK)

    assert response.status_code == 302
    assert response.headers["Location"] == LRM_LINK  # query string intact
    with client.session_transaction() as sess:
        assert sess["auth_method"] == "psc"
        assert sess["psc_id_token"].count(".") == 2
        assert psc.FLOW_KEY not in sess
        user_id = sess["uid"]
    with psc_app.app_context():
        user = db.session().get(User, user_id)
        assert user is not None
        assert user.national_id == REGULATOR_ID
        assert (user.given_name, user.family_name) == ("Jeanne", "Marius")  # updated from PSC
        assert user.oidc_subject == f"{provider.issuer}|reg-47"
        assert user.last_login_at is not None
    (login,) = audit_events(psc_app, "login")
    assert login.actor == str(user_id) and login.target == REGULATOR_ID
    assert login.details["method"] == "psc" and login.details["acr"] == "eidas1"
    exercice = login.details["exercices"][0]
    assert exercice["codeProfession"] == "10"
    assert exercice["activities"][0]["raisonSocialeSite"] == "SOS Médecins Agen"

    # the token request carried the PKCE verifier and the client's credentials
    (token_request,) = recorder.sent_to(f"{provider.issuer}/oauth2/token")
    form = parse_qs(token_request.content.decode())
    assert form["grant_type"] == ["authorization_code"]
    assert len(form["code_verifier"][0]) >= 43
    assert form["redirect_uri"] == ["http://localhost/connexion/psc/retour"]
    assert token_request.headers["Authorization"].startswith("Basic ")
    assert recorder.sent_to(f"{provider.issuer}/userinfo")

    assert client.get(LRM_LINK).status_code == 200  # the session works


def test_second_login_finds_the_account_by_its_psc_subject(psc_app: Flask) -> None:
    client = psc_app.test_client()
    psc_login(client, "reg-47")
    with psc_app.app_context():
        session = db.session()
        user = session.scalars(select(User).where(User.national_id == REGULATOR_ID)).one()
        user.national_id = "autre"  # the subject, bound at the first login, is enough
        session.commit()
    client = psc_app.test_client()
    response = psc_login(client, "reg-47")
    assert response.status_code == 302 and response.headers["Location"] == "/recherche"


def test_without_next_the_user_lands_on_the_home_of_their_role(psc_app: Flask) -> None:
    response = psc_login(psc_app.test_client(), "reg-47")
    assert response.headers["Location"] == "/recherche"


def test_open_redirects_are_refused(psc_app: Flask) -> None:
    response = psc_login(psc_app.test_client(), "reg-47", "//evil.example/x")
    assert response.headers["Location"] == "/recherche"


def test_acr_is_read_from_userinfo_when_the_id_token_lacks_it(
    psc_app: Flask, provider: LocalProvider
) -> None:
    provider.userinfo_only_claims = {"acr"}
    response = psc_login(psc_app.test_client(), "reg-47")
    assert response.headers["Location"] == "/recherche"
    assert audit_events(psc_app, "login")[0].details["acr"] == "eidas1"


def test_userinfo_answered_as_a_signed_jwt(psc_app: Flask, provider: LocalProvider) -> None:
    provider.userinfo_as_jwt = True
    provider.userinfo_only_claims = {"acr", "SubjectNameID", "given_name", "family_name"}
    response = psc_login(psc_app.test_client(), "reg-47", LRM_LINK)
    assert response.headers["Location"] == LRM_LINK
    with psc_app.app_context():
        user = db.session().scalars(select(User).where(User.national_id == REGULATOR_ID)).one()
        assert user.given_name == "Jeanne"


def test_acr_is_not_required_when_configured_so(psc_app: Flask) -> None:
    psc_app.config["PSC_REQUIRED_ACR"] = ""
    assert psc_login(psc_app.test_client(), "faible").headers["Location"] == "/recherche"


# ---------------------------------------------------------------- refusals


def test_unknown_account_is_refused(psc_app: Flask) -> None:
    client = psc_app.test_client()
    response = psc_login(client, "inconnu", LRM_LINK)
    assert_refused(
        client,
        response,
        "Votre compte n'est pas habilité sur ce portail : contactez votre gestionnaire de comptes.",
    )
    assert query(response.headers["Location"])["next"] == LRM_LINK  # kept for another try
    (event,) = audit_events(psc_app, "login_failed")
    assert event.details == {"method": "psc", "reason": "unknown_account", "detail": "sub inconnu"}
    assert event.target == "810000000999"


def test_deactivated_account_is_refused(psc_app: Flask) -> None:
    client = psc_app.test_client()
    assert_refused(client, psc_login(client, "ancien"), "Votre compte est désactivé")
    assert failure_reasons(psc_app) == ["deactivated"]


def test_wrong_state_is_refused(psc_app: Flask) -> None:
    client = psc_app.test_client()
    callback = authorize(start(client), "reg-47")
    params = query(callback)
    forged = callback.replace(params["state"], "etat-forge")
    assert_refused(client, client.get(forged), "a expiré ou a été interrompue")
    assert failure_reasons(psc_app) == ["state"]


def test_callback_without_a_login_under_way_is_refused(psc_app: Flask) -> None:
    client = psc_app.test_client()
    callback = authorize(start(client), "reg-47")
    other = psc_app.test_client()  # another browser: no state in its session
    assert_refused(other, other.get(callback), "a expiré ou a été interrompue")
    assert failure_reasons(psc_app) == ["state"]


def test_wrong_nonce_is_refused(psc_app: Flask) -> None:
    client = psc_app.test_client()
    callback = authorize(start(client), "reg-47")
    with client.session_transaction() as sess:
        sess[psc.FLOW_KEY] = {**sess[psc.FLOW_KEY], "nonce": "un-autre-nonce"}
    assert_refused(client, client.get(callback), "n'a pas pu être vérifiée")
    assert failure_reasons(psc_app) == ["nonce"]


def test_id_token_with_another_nonce_is_refused(psc_app: Flask) -> None:
    client = psc_app.test_client()
    assert_refused(client, psc_login(client, "rejeu"), "n'a pas pu être vérifiée")
    assert failure_reasons(psc_app) == ["nonce"]


def test_a_login_left_too_long_is_refused(psc_app: Flask) -> None:
    client = psc_app.test_client()
    callback = authorize(start(client), "reg-47")
    with client.session_transaction() as sess:
        sess[psc.FLOW_KEY] = {**sess[psc.FLOW_KEY], "at": time.time() - psc.FLOW_MAX_AGE_S - 1}
    assert_refused(client, client.get(callback), "a expiré ou a été interrompue")
    assert failure_reasons(psc_app) == ["state"]


def test_acr_below_eidas1_is_refused(psc_app: Flask) -> None:
    client = psc_app.test_client()
    assert_refused(client, psc_login(client, "faible"), "Ce moyen d'identification n'est pas")
    (event,) = audit_events(psc_app, "login_failed")
    assert event.details["reason"] == "acr" and "eidas0" in event.details["detail"]
    assert event.target == "810000000473"


def test_missing_acr_is_refused(psc_app: Flask) -> None:
    client = psc_app.test_client()
    assert_refused(client, psc_login(client, "sans-acr"), "Ce moyen d'identification n'est pas")
    assert failure_reasons(psc_app) == ["acr"]


def test_consent_denied_on_the_provider(psc_app: Flask) -> None:
    client = psc_app.test_client()
    denied = httpx.post(start(client), data={"action": "deny"})
    assert query(denied.headers["Location"])["error"] == "access_denied"
    response = client.get(denied.headers["Location"])
    assert_refused(client, response, "La connexion a été annulée sur Pro Santé Connect.")
    assert failure_reasons(psc_app) == ["access_denied"]


def test_provider_down_before_the_login(psc_app: Flask, provider: LocalProvider) -> None:
    provider.stop()
    client = psc_app.test_client()
    response = client.get("/connexion/psc", query_string={"next": LRM_LINK})
    assert_refused(
        client, response, "Pro Santé Connect est indisponible, réessayez dans quelques instants"
    )
    assert query(response.headers["Location"])["next"] == LRM_LINK
    (event,) = audit_events(psc_app, "login_failed")
    assert event.details["reason"] == "unavailable"
    assert "discovery" in event.details["detail"]


def test_provider_down_at_the_token_endpoint(psc_app: Flask, provider: LocalProvider) -> None:
    client = psc_app.test_client()
    callback = authorize(start(client), "reg-47")
    provider.stop()
    assert_refused(client, client.get(callback), "Pro Santé Connect est indisponible")
    (event,) = audit_events(psc_app, "login_failed")
    assert event.details["reason"] == "unavailable"
    assert "token endpoint" in event.details["detail"]


def test_token_endpoint_refusal(psc_app: Flask) -> None:
    client = psc_app.test_client()
    callback = authorize(start(client), "reg-47")
    httpx.post(  # someone else used the code first: the provider refuses it now
        psc_app.config["PSC_ISSUER"] + "/oauth2/token",
        data={"grant_type": "authorization_code", "code": query(callback)["code"],
              "redirect_uri": "http://localhost/connexion/psc/retour"},
        auth=("sas-portal", "x"),
    ).raise_for_status()  # fmt: skip
    assert_refused(client, client.get(callback), "Pro Santé Connect a refusé la connexion")
    assert failure_reasons(psc_app) == ["token_error"]


def test_unconfigured_psc(app: Flask) -> None:
    client = app.test_client()
    assert_refused(client, client.get("/connexion/psc"), "n'est pas configuré")


def test_unreadable_client_certificate_is_a_configuration_error(
    psc_app: Flask, tmp_path: Any
) -> None:
    psc_app.extensions.pop(psc.TRANSPORT_KEY)  # the certificate is loaded by the real transport
    psc_app.config["PSC_CLIENT_CERT"] = str(tmp_path / "absent.pem")
    client = psc_app.test_client()
    assert_refused(client, client.get("/connexion/psc"), "mal configuré")
    assert failure_reasons(psc_app) == ["configuration"]


# ---------------------------------------------------------------- signed userinfo (unit)


def signed_userinfo_client(app: Flask) -> tuple[RSAKey, ProviderClient]:
    """A provider whose discovery document and keys are served by a mock transport."""
    key = RSAKey.generate_key(2048, parameters={"kid": "k1"}, private=True)
    jwks = KeySet([key]).as_dict(private=False)
    meta = {
        "issuer": "https://psc.example",
        "authorization_endpoint": "https://psc.example/auth",
        "token_endpoint": "https://psc.example/token",
        "jwks_uri": "https://psc.example/certs",
    }
    app.extensions[psc.TRANSPORT_KEY] = httpx.MockTransport(
        lambda request: httpx.Response(200, json=jwks if request.url.path == "/certs" else meta)
    )
    app.config.update(PSC_ISSUER="https://psc.example", PSC_CLIENT_ID="portail")
    return key, ProviderClient(
        psc.Settings.from_config(app.config), transport=app.extensions[psc.TRANSPORT_KEY]
    )


def test_signed_userinfo_is_verified_with_the_provider_keys(app: Flask) -> None:
    with app.app_context():
        key, provider = signed_userinfo_client(app)
        claims = {"sub": "s", "SubjectNameID": "899700000001", "acr": "eidas1",
                  "iss": "https://psc.example", "aud": "portail"}  # fmt: skip
        value = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, key)
        assert provider.read_signed_userinfo(value) == claims

        for bad_claims in ({**claims, "aud": "un-autre-client"}, {**claims, "iss": "https://x"}):
            value = jwt.encode({"alg": "RS256", "kid": "k1"}, bad_claims, key)
            with pytest.raises(psc.PscError) as refused:
                provider.read_signed_userinfo(value)
            assert refused.value.reason == "invalid_token"

        stranger = RSAKey.generate_key(2048, parameters={"kid": "k1"}, private=True)
        forged = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, stranger)
        with pytest.raises(psc.PscError, match="signature"):
            provider.read_signed_userinfo(forged)


def test_unsigned_userinfo_jwt_is_refused(app: Flask) -> None:
    with app.app_context():
        _, provider = signed_userinfo_client(app)
        header = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode()
        body = base64.urlsafe_b64encode(b'{"sub":"s"}').rstrip(b"=").decode()
        with pytest.raises(psc.PscError):
            provider.read_signed_userinfo(f"{header}.{body}.")


# ---------------------------------------------------------------- provisioning, logout


class AccountsEditor:
    def __init__(self) -> None:
        self.accounts: list[Any] = []

    @hookimpl
    def provision_regulator(self, account: Any, config: Any) -> None:
        self.accounts.append(account)


class BrokenEditor:
    @hookimpl
    def provision_regulator(self, account: Any, config: Any) -> None:
        raise Unavailable("éditeur en panne")


@pytest.mark.inline_plugins
def test_regulator_login_provisions_the_editors_and_survives_a_failing_one(
    psc_app: Flask, register_plugin: Any
) -> None:
    editor = AccountsEditor()
    register_plugin(editor, "test-editor")
    register_plugin(BrokenEditor(), "test-broken")
    response = psc_login(psc_app.test_client(), "reg-47", LRM_LINK)
    assert response.headers["Location"] == LRM_LINK  # the failure did not block the login
    provisioning.wait_for_background()  # the push runs after the response
    (account,) = editor.accounts
    assert account.identifier_system == "urn:oid:1.2.250.1.71.4.2.1"
    assert account.identifier_value == REGULATOR_ID
    assert (account.given_name, account.family_name, account.active) == ("Jeanne", "Marius", True)
    failures = [e for e in audit_events(psc_app, "provisioning_failed")
                if e.details["plugin"] == "test-broken"]  # fmt: skip
    assert len(failures) == 1 and "éditeur en panne" in failures[0].details["error"]


@pytest.mark.inline_plugins
def test_non_regulators_are_not_provisioned(psc_app: Flask, register_plugin: Any) -> None:
    editor = AccountsEditor()
    register_plugin(editor, "test-editor")
    with psc_app.app_context():
        session = db.session()
        user = session.scalars(select(User).where(User.national_id == REGULATOR_ID)).one()
        user.roles[0].role = "administrateur"
        session.commit()
    psc_login(psc_app.test_client(), "reg-47")
    provisioning.wait_for_background()
    assert editor.accounts == []


def test_logout_ends_the_psc_session(psc_app: Flask, provider: LocalProvider) -> None:
    client = psc_app.test_client()
    psc_login(client, "reg-47")
    with client.session_transaction() as sess:
        id_token = sess["psc_id_token"]
    response = client.post("/deconnexion")
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(f"{provider.issuer}/oauth2/end_session?")
    params = query(location)
    assert params["id_token_hint"] == id_token
    assert params["post_logout_redirect_uri"] == "http://localhost/connexion"
    with client.session_transaction() as sess:
        assert "uid" not in sess
    # the provider's page then sends the browser back to the portal
    assert httpx.get(location).status_code == 200


def test_end_session_url_without_an_endpoint(app: Flask) -> None:
    discovery = {
        "issuer": "https://psc.example",
        "authorization_endpoint": "https://psc.example/a",
        "token_endpoint": "https://psc.example/t",
        "jwks_uri": "https://psc.example/k",
    }
    app.config.update(PSC_ISSUER="https://psc.example", PSC_CLIENT_ID="portail")
    app.extensions[psc.TRANSPORT_KEY] = httpx.MockTransport(
        lambda request: httpx.Response(200, json=discovery)
    )
    with app.test_request_context():
        assert psc.end_session_url("jeton", "http://localhost/connexion") is None


def test_a_page_the_user_may_not_open_gives_way_to_their_home(psc_app: Flask) -> None:
    with psc_app.app_context():
        session = db.session()
        user = session.scalars(select(User).where(User.national_id == REGULATOR_ID)).one()
        user.roles[0].role = "administrateur"
        session.commit()
    client = psc_app.test_client()
    response = psc_login(client, "reg-47", LRM_LINK)  # an LRM link, but not a regulator
    assert response.status_code == 302 and response.headers["Location"] != LRM_LINK
    assert client.get(response.headers["Location"]).status_code == 200


# ---------------------------------------------------------------- the demo identities


def test_every_demo_identity_logs_in_through_the_local_provider(app: Flask) -> None:
    with app.app_context():
        session = db.session()
        territories.ensure_all(session)
        generate_demo_directory(session, ["47"])
        identities = demo_identities.demo_identities(session)
        assert demo_identities.ensure_users(session, identities) == len(identities)
        assert demo_identities.ensure_users(session, identities) == 0  # idempotent
        session.commit()
        ps = session.scalars(select(Practitioner).where(Practitioner.id == _ps_id(identities)))
        assert ps.one().national_id == _by_sub(identities, "ps-effecteur").national_id
    assert [i.sub for i in identities] == [
        "regulateur-sas47", "regulateur-sas92", "gestionnaire-sos", "gestionnaire-cpts",
        "ps-effecteur", "administrateur",
    ]  # fmt: skip
    provider = demo_identities.start_provider(identities)
    try:
        app.config.update(provider.portal_config(client_id=demo_identities.DEMO_CLIENT_ID))
        page = httpx.get(start(app.test_client())).text
        assert "Régulateur SAS-47 — Jeanne Marius" in html.unescape(page)
        for identity in identities:
            client = app.test_client()
            response = psc_login(client, identity.sub)
            assert response.status_code == 302, identity.sub
            assert client.get(response.headers["Location"]).status_code == 200, identity.sub
            expected = "/recherche" if identity.sub.startswith("regulateur") else None
            if expected:
                assert response.headers["Location"] == expected
    finally:
        provider.stop()
    assert len(audit_events(app, "login")) == len(identities)


def _by_sub(identities: list[demo_identities.DemoIdentity], sub: str) -> Any:
    return next(i for i in identities if i.sub == sub)


def _ps_id(identities: list[demo_identities.DemoIdentity]) -> int:
    return int(_by_sub(identities, "ps-effecteur").grants[0][1]["practitioner_id"])
