"""Pro Santé Connect login: the portal as an OpenID Connect relying party.

Authorization code flow with PKCE (S256), ``scope`` and ``acr_values`` from
the configuration; state, nonce, code verifier and the page asked for are kept
in the Flask session during the round trip. On the way back: state checked,
code exchanged with the verifier, ID token verified (signature, issuer,
audience, expiry, nonce), userinfo read (JSON or signed JWT), and ``acr``
required to equal ``PSC_REQUIRED_ACR`` — from the ID token, else userinfo.
The provider side is :mod:`portal.identity.psc`.
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from flask import current_app, session

from portal.identity.psc import (
    CACHE_KEY,
    MESSAGES,
    TRANSPORT_KEY,
    ProviderClient,
    PscError,
    Settings,
)

__all__ = [
    "FLOW_KEY",
    "MESSAGES",
    "TRANSPORT_KEY",
    "Identity",
    "PscError",
    "Settings",
    "begin",
    "complete",
    "end_session_url",
    "pending_next",
]

log = logging.getLogger(__name__)

FLOW_KEY = "psc_flow"
FLOW_MAX_AGE_S = 600  # a login round trip left longer than this is refused (as a bad state)


@dataclass(frozen=True, slots=True)
class Identity:
    """Who Pro Santé Connect says logged in (identity only: the portal decides roles)."""

    issuer: str
    sub: str
    national_id: str  # SubjectNameID (8 + RPPS …), else sub
    given_name: str
    family_name: str
    acr: str | None
    id_token: str
    #: ``SubjectRefPro.exercices``: professions, specialties, activities (structures), raw
    exercices: list[dict[str, Any]] = field(default_factory=list)

    @property
    def subject(self) -> str:
        """The stable key stored in ``User.oidc_subject``."""
        return f"{self.issuer}|{self.sub}"


def _client() -> ProviderClient:
    return ProviderClient(
        Settings.from_config(current_app.config),
        cache=current_app.extensions.setdefault(CACHE_KEY, {}),
        transport=current_app.extensions.get(TRANSPORT_KEY),
    )


def begin(redirect_uri: str, next_url: str | None) -> str:
    """Start a login: remember the round trip in the session, return the authorize URL.

    :raises PscError: not configured, or the provider unreachable.
    """
    with _client() as provider:
        endpoint = str(provider.meta["authorization_endpoint"])
    s = provider.settings
    flow = {
        "state": secrets.token_urlsafe(32),
        "nonce": secrets.token_urlsafe(32),
        "code_verifier": secrets.token_urlsafe(64),  # 86 characters, within RFC 7636's 43–128
        "next": next_url,
        "at": time.time(),
    }
    session[FLOW_KEY] = flow
    params = [
        ("response_type", "code"),
        ("client_id", s.client_id),
        ("redirect_uri", redirect_uri),
        ("scope", s.scope),
        ("state", flow["state"]),
        ("nonce", flow["nonce"]),
        ("code_challenge", create_s256_code_challenge(flow["code_verifier"])),
        ("code_challenge_method", "S256"),
    ]
    if s.acr_values:
        params.append(("acr_values", s.acr_values))
    return str(add_params_to_uri(endpoint, params))


def pending_next() -> str | None:
    """The page asked for before the login round trip, if one is under way."""
    flow = session.get(FLOW_KEY)
    return flow.get("next") if isinstance(flow, dict) else None


def complete(args: Mapping[str, str], redirect_uri: str) -> Identity:
    """Finish a login from the provider's redirect (``args``: its query parameters).

    The round trip is forgotten whatever happens, so a callback URL cannot be replayed.

    :raises PscError: with the reason to audit and the message to show.
    """
    flow = session.pop(FLOW_KEY, None)
    if args.get("error"):
        reason = "access_denied" if args["error"] == "access_denied" else "provider_error"
        raise PscError(reason, f"{args['error']}: {args.get('error_description', '')}")
    state = args.get("state", "")
    if not isinstance(flow, dict) or not hmac.compare_digest(state, str(flow.get("state"))):
        raise PscError("state", "state does not match the session")
    if time.time() - float(flow.get("at", 0)) > FLOW_MAX_AGE_S:
        raise PscError("state", "login round trip too old")
    if not args.get("code"):
        raise PscError("provider_error", "no authorization code")
    with _client() as provider:
        token = provider.exchange_code(args["code"], redirect_uri, flow["code_verifier"])
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise PscError("invalid_token", "no id_token in the token response")
        access_token = token.get("access_token")
        claims = provider.id_token_claims(id_token, flow["nonce"], access_token)
        userinfo: dict[str, Any] = {}
        if provider.meta.get("userinfo_endpoint") and access_token:
            userinfo = provider.userinfo(str(access_token))
    if userinfo.get("sub") not in (None, claims["sub"]):
        raise PscError("invalid_token", "userinfo is about another subject")
    return _identity(provider, claims, userinfo, id_token)


def _identity(
    provider: ProviderClient,
    claims: Mapping[str, Any],
    userinfo: Mapping[str, Any],
    id_token: str,
) -> Identity:
    merged = {**claims, **userinfo}
    national_id = str(merged.get("SubjectNameID") or claims["sub"])
    acr = claims.get("acr") or userinfo.get("acr")
    required = provider.settings.required_acr
    if required and acr != required:
        raise PscError("acr", f"acr {acr!r}, {required!r} required", national_id=national_id)
    return Identity(
        issuer=provider.issuer,
        sub=str(claims["sub"]),
        national_id=national_id,
        given_name=str(merged.get("given_name") or ""),
        family_name=str(merged.get("family_name") or ""),
        acr=str(acr) if acr is not None else None,
        id_token=id_token,
        exercices=_exercices(merged.get("SubjectRefPro")),
    )


def _exercices(ref: Any) -> list[dict[str, Any]]:
    if isinstance(ref, str):  # some PSC environments serialise it as a JSON string
        try:
            ref = json.loads(ref)
        except ValueError:
            return []
    exercices = ref.get("exercices") if isinstance(ref, dict) else None
    if not isinstance(exercices, list):
        return []
    return [e for e in exercices if isinstance(e, dict)]


def end_session_url(id_token: str | None, post_logout_redirect_uri: str) -> str | None:
    """Where to send the browser to end the PSC session too.

    :return: the provider's end-session URL with ``id_token_hint``; None when
        the provider has no end-session endpoint or cannot be reached.
    """
    try:
        with _client() as provider:
            endpoint = provider.meta.get("end_session_endpoint")
    except PscError as exc:
        log.warning("Pro Santé Connect end of session skipped: %s", exc)
        return None
    if not endpoint:
        return None
    params = [
        ("post_logout_redirect_uri", post_logout_redirect_uri),
        ("client_id", provider.settings.client_id),
    ]
    if id_token:
        params.insert(0, ("id_token_hint", id_token))
    return str(add_params_to_uri(str(endpoint), params))
