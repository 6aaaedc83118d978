"""A real OpenID Connect provider on loopback, shaped like Pro Santé Connect.

Built on ``oidc-provider-mock`` (0.3.x), served in a thread by
:class:`~portal.devtools.browser.LiveServer`, so the tests and ``sas-portal
demo`` log in through exactly the production code path (discovery,
authorization code, token, ID token signature, userinfo)::

    jeanne = ProviderUser("reg-47", psc_claims("810000000001", "Jeanne", "Marius"))
    with LocalProvider([jeanne]) as op:
        app.config.update(op.portal_config())

What the mock does not do (see PITFALLS): it checks neither PKCE nor
``acr_values``. Adjustments make it behave like PSC, applied once per process
by :func:`_adapt_mock`:

- ``scope_all`` is a known scope granting every standard claim (names), as on PSC;
- the ID token is built through authlib's current API (the mock's
  ``get_jwt_config`` path raises a ``DeprecationWarning``, an error under
  ``filterwarnings = error``) and carries the key id (``kid``) like Keycloak's;
- a user's claims (``acr``, ``SubjectNameID``, ``SubjectRefPro`` …) go into both
  the ID token and userinfo (the mock's behaviour for non-standard claims).

``userinfo_as_jwt = True`` makes userinfo answer a signed JWT
(``application/jwt``) as PSC may; ``userinfo_only_claims`` leaves claims (e.g.
``acr``) out of the ID token, so they are only in userinfo. The pages are in
French, without external assets, and list the predefined users as buttons
labelled with :attr:`ProviderUser.label`.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import flask
import httpx
from authlib import deprecate as _authlib_deprecate  # noqa: F401  (see below)
from jinja2 import ChoiceLoader, DictLoader

from portal.devtools.browser import LiveServer

with warnings.catch_warnings():
    # The mock imports authlib.jose and authlib's httpx client, both deprecated.
    # authlib.deprecate installs an "always" filter when first imported: imported
    # above, so that the "ignore" below comes first.
    warnings.simplefilter("ignore", DeprecationWarning)
    import oidc_provider_mock
    from oidc_provider_mock import _app as mock_app
    from oidc_provider_mock import _storage as mock_storage

__all__ = ["LocalProvider", "ProviderUser", "psc_claims"]

ALG = "RS256"
USERINFO_ENDPOINT = "oidc-provider-mock.userinfo"
USERINFO_ONLY_KEY = "PSC_LOCAL_USERINFO_ONLY"  # claims left out of the ID token


@dataclass(frozen=True, slots=True)
class ProviderUser:
    """A predefined identity of the local provider (one button on its page)."""

    sub: str
    claims: Mapping[str, Any] = field(default_factory=dict)
    label: str = ""


def psc_claims(
    national_id: str,
    given_name: str,
    family_name: str,
    *,
    acr: str | None = "eidas1",
    profession: str = "10",
    specialty: str | None = "SM54",
    structures: Sequence[Mapping[str, str]] = (),
) -> dict[str, Any]:
    """Claims as Pro Santé Connect sends them (``SubjectNameID``, ``SubjectRefPro`` …).

    :param national_id: the prefixed national id (``8`` + RPPS).
    :param acr: the authentication level; ``None`` leaves the claim out.
    :param structures: activity places, e.g. ``{"raisonSocialeSite": …, "numeroSiretSite": …}``.
    """
    claims: dict[str, Any] = {
        "SubjectNameID": national_id,
        "preferred_username": national_id,
        "given_name": given_name,
        "family_name": family_name,
        "SubjectRefPro": {
            "codeCivilite": "",
            "exercices": [
                {
                    "codeProfession": profession,
                    "codeCategorieProfessionnelle": "C",
                    "codeCiviliteDexercice": "DR" if profession == "10" else "",
                    "nomDexercice": family_name.upper(),
                    "prenomDexercice": given_name,
                    "codeTypeSavoirFaire": "S" if specialty else "",
                    "codeSavoirFaire": specialty or "",
                    "activities": [{"codeModeExercice": "L", **s} for s in structures],
                }
            ],
        },
    }
    if acr is not None:
        claims["acr"] = acr
    return claims


# ---------------------------------------------------------------- the mock, adapted


def _storage() -> Any:
    return flask.g.oidc_provider_mock_storage


def _key_id() -> str:
    return str(_storage().jwk.as_dict()["kid"])


class _PscOpenIDCode(mock_app.OpenIDCode):
    """The mock's OpenID extension without the deprecated ``get_jwt_config`` path."""

    def resolve_client_private_key(self, client: object) -> dict[str, Any]:
        return dict(_storage().jwk.as_dict(is_private=True))

    def get_client_algorithm(self, client: object) -> str:
        return ALG

    def get_encode_header(self, client: object) -> dict[str, str]:
        return {"alg": ALG, "kid": _key_id()}

    def generate_user_info(self, user: Any, scope: str) -> dict[str, Any]:
        claims: dict[str, Any] = super().generate_user_info(user, scope)
        hidden = flask.current_app.config.get(USERINFO_ONLY_KEY, ())
        return {k: v for k, v in claims.items() if k not in hidden}

    def get_client_claims(self, client: Any) -> dict[str, Any]:
        return {
            "iss": flask.request.host_url.rstrip("/"),
            "aud": [client.get_client_id()],
            "exp": int(time.time()) + int(self._token_max_mage.total_seconds()),
        }


_adapted = False


def _adapt_mock() -> None:
    """Teach the mock PSC's ``scope_all`` and authlib's current ID-token API (idempotent)."""
    global _adapted
    if _adapted:
        return
    client_cls = mock_storage.Client
    if "scope_all" not in client_cls.SCOPES_SUPPORTED:
        client_cls.SCOPES_SUPPORTED = (*client_cls.SCOPES_SUPPORTED, "scope_all")
    mock_app._SCOPES_TO_CLAIMS["scope_all"] = sorted(mock_app._STANDARD_CLAIMS)
    mock_app.OpenIDCode = _PscOpenIDCode  # read when a provider app is built
    _adapted = True


_BASE = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>Pro Santé Connect (local)</title>
<style>body{font-family:sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem}
button{display:block;margin:.4rem 0;padding:.5rem .8rem;font-size:1rem;cursor:pointer}
.note{color:#555}</style></head>
<body><main>{% block content %}{{ content }}{% endblock %}</main></body></html>
"""

_AUTHORIZATION_FORM = """{% extends "_base.html" %}
{% block content %}
<h1>Pro Santé Connect — fournisseur local</h1>
<p class="note">Fournisseur OpenID Connect de démonstration et de test : aucune carte
CPS n'est lue. Application : <code>{{ client_id }}</code>.</p>
{% if predefined_users %}
<h2 id="heading-auth-predefined">Identités de démonstration</h2>
<form method="post" aria-labelledby="heading-auth-predefined">
{% for sub in predefined_users %}
  <button type="submit" name="sub" value="{{ sub }}">{{ user_labels.get(sub) or sub }}</button>
{% endfor %}
</form>
{% endif %}
<h2>Autre identifiant</h2>
<form method="post">
  <label for="sub">Identifiant (sub)</label>
  <input id="sub" type="text" name="sub" required
    {% if sub_missing %}aria-invalid="true"{% endif %}>
  <button type="submit">Se connecter</button>
</form>
<form method="post">
  <button type="submit" name="action" value="deny">Refuser la connexion</button>
</form>
<p class="note">Retour vers {{ redirect_uri }}</p>
{% endblock %}
"""

_END_SESSION_FORM = """{% extends "_base.html" %}
{% block content %}
<h1>Pro Santé Connect — fin de session</h1>
{% if not id_token_hint %}
<p class="note">Paramètre <code>id_token_hint</code> absent.</p>
{% endif %}
<form method="post" action="{{ end_session_confirm_url }}">
  {% if redirect_uri %}
  <input type="hidden" name="redirect_uri" value="{{ redirect_uri }}">
  {% endif %}
  <button type="submit">Terminer la session</button>
</form>
{% if redirect_uri %}<p class="note">Retour vers {{ redirect_uri }}</p>{% endif %}
{% endblock %}
"""

_ERROR = """{% extends "_base.html" %}
{% block content %}<h1>Erreur : {{ name }}</h1><p>{{ description }}</p>{% endblock %}
"""


class LocalProvider:
    """An OpenID Connect provider on ``127.0.0.1`` in a thread (a context manager).

    :param users: predefined identities, shown as buttons on the authorization page.
    :param port: 0 picks a free port.
    :param require_client_registration: when true, only clients registered with
        :meth:`register_client` are accepted (secret and redirect URI checked);
        otherwise any client id and secret are.
    """

    def __init__(
        self,
        users: Iterable[ProviderUser] = (),
        *,
        port: int = 0,
        require_client_registration: bool = False,
        require_nonce: bool = True,
    ) -> None:
        _adapt_mock()
        self.users = list(users)
        self.userinfo_as_jwt = False
        self.app = oidc_provider_mock.app(
            require_client_registration=require_client_registration,
            require_nonce=require_nonce,
            user_claims=[
                oidc_provider_mock.User(sub=u.sub, claims=dict(u.claims)) for u in self.users
            ],
        )
        self.app.jinja_loader = ChoiceLoader(
            [
                DictLoader(
                    {
                        "_base.html": _BASE,
                        "authorization_form.html": _AUTHORIZATION_FORM,
                        "end_session_form.html": _END_SESSION_FORM,
                        "error.html": _ERROR,
                    }
                ),
                self.app.jinja_loader,
            ]
        )
        labels = {u.sub: u.label for u in self.users if u.label}
        self.app.context_processor(lambda: {"user_labels": labels})
        self.userinfo_only_claims = frozenset()
        self._wrap_userinfo()
        self._server = LiveServer(self.app, port=port)

    @property
    def userinfo_only_claims(self) -> frozenset[str]:
        """Claims the ID token leaves out (userinfo still has them)."""
        return frozenset(self.app.config[USERINFO_ONLY_KEY])

    @userinfo_only_claims.setter
    def userinfo_only_claims(self, names: Iterable[str]) -> None:
        self.app.config[USERINFO_ONLY_KEY] = frozenset(names)

    # -- lifecycle

    def start(self) -> LocalProvider:
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop answering (connections are then refused). Idempotent."""
        self._server.stop()

    def __enter__(self) -> LocalProvider:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- addresses

    @property
    def issuer(self) -> str:
        """``http://127.0.0.1:<port>`` (the mock names itself after the Host it is asked on)."""
        return self._server.url

    @property
    def discovery_url(self) -> str:
        """The mock publishes the standard name, not PSC's ``wallet-openid-configuration``."""
        return f"{self.issuer}/.well-known/openid-configuration"

    def portal_config(
        self, client_id: str = "sas-portal", client_secret: str = "secret-local"
    ) -> dict[str, Any]:
        """The ``PSC_*`` configuration pointing the portal at this provider."""
        return {
            "PSC_ISSUER": self.issuer,
            "PSC_DISCOVERY_URL": self.discovery_url,
            "PSC_CLIENT_ID": client_id,
            "PSC_CLIENT_SECRET": client_secret,
        }

    # -- administration

    def register_client(
        self, redirect_uris: Sequence[str], scope: str = "openid scope_all"
    ) -> tuple[str, str]:
        """Register a client (dynamic registration); returns ``(client_id, client_secret)``."""
        response = httpx.post(
            f"{self.issuer}/oauth2/clients",
            json={"redirect_uris": list(redirect_uris), "scope": scope},
            timeout=5.0,
        )
        response.raise_for_status()
        body = response.json()
        return body["client_id"], body["client_secret"]

    def set_user(self, sub: str, claims: Mapping[str, Any]) -> None:
        """Create or replace a (non-predefined) user."""
        response = httpx.put(f"{self.issuer}/users/{sub}", json=dict(claims), timeout=5.0)
        response.raise_for_status()

    def _wrap_userinfo(self) -> None:
        from joserfc import jwt
        from joserfc.jwk import RSAKey

        original = self.app.view_functions[USERINFO_ENDPOINT]

        def userinfo() -> Any:
            response = original()  # checks the access token
            if not self.userinfo_as_jwt:
                return response
            claims = response.get_json()
            claims.setdefault("iss", flask.request.host_url.rstrip("/"))
            key = RSAKey.import_key(_storage().jwk.as_dict(is_private=True))
            token = jwt.encode({"alg": ALG, "kid": _key_id()}, claims, key)
            return flask.Response(token, content_type="application/jwt")

        self.app.view_functions[USERINFO_ENDPOINT] = userinfo
