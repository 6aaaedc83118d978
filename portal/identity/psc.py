"""Talking to the Pro Santé Connect provider: discovery, keys, token, userinfo.

Every endpoint comes from the discovery document, which PSC publishes as
``<issuer>/.well-known/wallet-openid-configuration`` (``PSC_DISCOVERY_URL``
overrides it); the document and the keys are cached per app for an hour, the
keys fetched again at once when a token names an unknown key id.

HTTP goes through httpx directly: authlib's httpx integration is deprecated
(httpx2) and its ``userinfo()`` assumes JSON, while PSC may answer a signed
JWT. authlib gives the ID token claim rules, joserfc the signatures.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import quote

import httpx
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import ClaimError, InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

TRANSPORT_KEY = "sas_portal.psc.transport"  # tests may put an httpx transport in app.extensions
CACHE_KEY = "sas_portal.psc.cache"
CACHE_TTL_S = 3600
WALLET_DISCOVERY = "/.well-known/wallet-openid-configuration"
# Asymmetric only: accepting HS256 would let anyone holding the client secret sign tokens.
SIGNING_ALGS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
LEEWAY_S = 120

#: audit reason → what the user reads on /connexion
MESSAGES = {
    "not_configured": "Pro Santé Connect n'est pas configuré sur ce portail.",
    "configuration": "Pro Santé Connect est mal configuré sur ce portail : prévenez "
    "l'administrateur.",
    "unavailable": "Pro Santé Connect est indisponible, réessayez dans quelques instants.",
    "access_denied": "La connexion a été annulée sur Pro Santé Connect.",
    "provider_error": "Pro Santé Connect n'a pas pu vous identifier : recommencez la connexion.",
    "state": "La connexion Pro Santé Connect a expiré ou a été interrompue : recommencez.",
    "nonce": "La réponse de Pro Santé Connect n'a pas pu être vérifiée : recommencez la connexion.",
    "invalid_token": "La réponse de Pro Santé Connect n'a pas pu être vérifiée : recommencez "
    "la connexion.",
    "token_error": "Pro Santé Connect a refusé la connexion : recommencez.",
    "acr": "Ce moyen d'identification n'est pas suffisant pour le portail : connectez-vous "
    "avec votre carte CPS ou l'application e-CPS.",
    "unknown_account": "Votre compte n'est pas habilité sur ce portail : contactez votre "
    "gestionnaire de comptes.",
    "deactivated": "Votre compte est désactivé sur ce portail : contactez votre gestionnaire "
    "de comptes.",
}


class PscError(Exception):
    """A Pro Santé Connect login that cannot go on.

    :param reason: a key of :data:`MESSAGES`, recorded in the audit trail.
    :param detail: for the log and the audit (never shown to the user).
    :param national_id: who tried, when known.
    """

    def __init__(self, reason: str, detail: str = "", *, national_id: str | None = None) -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        self.national_id = national_id

    @property
    def message(self) -> str:
        return MESSAGES.get(self.reason, MESSAGES["provider_error"])


@dataclass(frozen=True, slots=True)
class Settings:
    """The ``PSC_*`` configuration."""

    issuer: str
    discovery_url: str
    client_id: str
    client_secret: str = ""
    client_cert: str = ""
    client_key: str = ""
    scope: str = "openid scope_all"
    acr_values: str = "eidas1"
    required_acr: str = "eidas1"
    timeout_s: float = 10.0
    proxy: str | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        issuer = str(config.get("PSC_ISSUER") or "").rstrip("/")
        discovery = str(config.get("PSC_DISCOVERY_URL") or "")
        return cls(
            issuer=issuer,
            discovery_url=discovery or (issuer + WALLET_DISCOVERY if issuer else ""),
            client_id=str(config.get("PSC_CLIENT_ID") or ""),
            client_secret=str(config.get("PSC_CLIENT_SECRET") or ""),
            client_cert=str(config.get("PSC_CLIENT_CERT") or ""),
            client_key=str(config.get("PSC_CLIENT_KEY") or ""),
            scope=str(config.get("PSC_SCOPE") or "openid"),
            acr_values=str(config.get("PSC_ACR_VALUES") or ""),
            required_acr=str(config.get("PSC_REQUIRED_ACR") or ""),
            timeout_s=float(config.get("PSC_TIMEOUT_S") or 10.0),
            proxy=config.get("PSC_PROXY") or None,
        )


class ProviderClient:
    """One conversation with the provider (a context manager).

    :raises PscError: on entering, ``not_configured`` or ``configuration`` (bad
        client certificate); from every call, the reason of the failure.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        cache: dict[str, tuple[float, dict[str, Any]]] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not settings.client_id or not settings.discovery_url:
            raise PscError("not_configured")
        self.settings = settings
        verify: Any = True
        if settings.client_cert:  # mutual TLS: PSC may require it at the token endpoint
            try:
                verify = httpx.create_ssl_context(trust_env=False)
                verify.load_cert_chain(settings.client_cert, settings.client_key or None)
            except OSError as exc:
                raise PscError("configuration", f"client certificate: {exc}") from exc
        self.http = httpx.Client(
            timeout=settings.timeout_s,
            verify=verify,
            trust_env=False,
            proxy=settings.proxy,
            transport=transport,
            headers={"Accept": "application/json"},
        )
        self._meta: dict[str, Any] | None = None
        self._cache = {} if cache is None else cache  # the app keeps one across requests

    def __enter__(self) -> ProviderClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.http.close()

    def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            response = self.http.get(url)
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise PscError("unavailable", f"{what}: {exc}") from exc
        if not isinstance(body, dict):
            raise PscError("unavailable", f"{what}: not a JSON object")
        return body

    @property
    def meta(self) -> dict[str, Any]:
        """The discovery document (cached)."""
        if self._meta is None:
            self._meta = self._discovery()
        return self._meta

    @property
    def issuer(self) -> str:
        return str(self.meta["issuer"]).rstrip("/")

    def _discovery(self) -> dict[str, Any]:
        url = self.settings.discovery_url
        hit = self._cache.get(url)
        if hit and time.monotonic() - hit[0] < CACHE_TTL_S:
            return hit[1]
        meta = self._get_json(url, "discovery")
        needed = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
        if missing := [k for k in needed if not meta.get(k)]:
            raise PscError("configuration", f"discovery document without {', '.join(missing)}")
        issuer = str(meta["issuer"]).rstrip("/")
        if self.settings.issuer and issuer != self.settings.issuer:
            raise PscError("configuration", f"issuer {issuer} is not {self.settings.issuer}")
        self._cache[url] = (time.monotonic(), meta)
        return meta

    def _keys(self, *, force: bool = False) -> KeySet:
        uri = str(self.meta["jwks_uri"])
        hit = self._cache.get(uri)
        if force or not hit or time.monotonic() - hit[0] >= CACHE_TTL_S:
            hit = (time.monotonic(), self._get_json(uri, "jwks"))
            self._cache[uri] = hit
        try:
            return KeySet.import_key_set(cast(Any, hit[1]))
        except (JoseError, ValueError, KeyError, TypeError) as exc:
            raise PscError("invalid_token", f"jwks: {exc}") from exc

    def verify_jwt(self, value: str) -> jwt.Token:
        """Check a JWT's signature with the provider's keys."""
        offered = self.meta.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = [a for a in offered if a in SIGNING_ALGS]
        registry = JWSRegistry(algorithms=algorithms, strict_check_header=False)
        try:
            try:
                return jwt.decode(value, self._keys(), registry=registry)
            except InvalidKeyIdError:  # the provider rotated its keys
                return jwt.decode(value, self._keys(force=True), registry=registry)
        except (JoseError, ValueError) as exc:
            raise PscError("invalid_token", f"signature: {exc}") from exc

    def exchange_code(self, code: str, redirect_uri: str, code_verifier: str) -> dict[str, Any]:
        """The token endpoint's answer for an authorization code (with the PKCE verifier)."""
        s = self.settings
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
        }
        auth: httpx.Auth | None = None
        if s.client_secret:  # client_secret_basic: RFC 6749 §2.3.1 form-encodes both parts
            auth = httpx.BasicAuth(quote(s.client_id, safe=""), quote(s.client_secret, safe=""))
        else:
            data["client_id"] = s.client_id
        endpoint = str(self.meta["token_endpoint"])
        try:
            response = self.http.post(endpoint, data=data, auth=auth or httpx.USE_CLIENT_DEFAULT)
        except httpx.HTTPError as exc:
            raise PscError("unavailable", f"token endpoint: {exc}") from exc
        if response.status_code >= 500:
            raise PscError("unavailable", f"token endpoint answered {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200 or not isinstance(body, dict):
            detail = f"token endpoint {response.status_code}: {response.text[:200]}"
            raise PscError("token_error", detail)
        return body

    def id_token_claims(
        self, id_token: str, nonce: str, access_token: str | None = None
    ) -> dict[str, Any]:
        """The claims of a verified ID token (signature, iss, aud, exp, nonce, at_hash)."""
        decoded = self.verify_jwt(id_token)
        client_id = self.settings.client_id
        claims = CodeIDToken(
            decoded.claims,
            decoded.header,
            {
                "iss": {"essential": True, "value": str(self.meta["issuer"])},
                "aud": {"essential": True, "value": client_id},
            },
            {"nonce": nonce, "client_id": client_id, "access_token": access_token},
        )
        try:
            claims.validate(leeway=LEEWAY_S)
        except ClaimError as exc:
            reason = "nonce" if exc.claim == "nonce" else "invalid_token"
            raise PscError(reason, f"id_token: {exc}") from exc
        except JoseError as exc:
            raise PscError("invalid_token", f"id_token: {exc}") from exc
        return dict(claims)

    def userinfo(self, access_token: str) -> dict[str, Any]:
        """The userinfo claims, whether answered as JSON or as a signed JWT."""
        headers = {
            "Authorization": f"Bearer {access_token}",
            "Accept": "application/json, application/jwt",
        }
        try:
            response = self.http.get(str(self.meta["userinfo_endpoint"]), headers=headers)
        except httpx.HTTPError as exc:
            raise PscError("unavailable", f"userinfo: {exc}") from exc
        if response.status_code >= 500:
            raise PscError("unavailable", f"userinfo answered {response.status_code}")
        if response.status_code != 200:
            detail = f"userinfo {response.status_code}: {response.text[:200]}"
            raise PscError("token_error", detail)
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type == "application/jwt":
            return self.read_signed_userinfo(response.text.strip())
        try:
            body = response.json()
        except ValueError as exc:
            raise PscError("invalid_token", f"userinfo: {exc}") from exc
        if not isinstance(body, dict):
            raise PscError("invalid_token", "userinfo: not a JSON object")
        return body

    def read_signed_userinfo(self, value: str) -> dict[str, Any]:
        """Claims of a userinfo JWT, after checking its signature, ``iss`` and ``aud``."""
        claims = dict(self.verify_jwt(value).claims)
        if "iss" in claims and str(claims["iss"]).rstrip("/") != self.issuer:
            raise PscError("invalid_token", f"userinfo issued by {claims['iss']}")
        audience = claims.get("aud")
        if audience is not None:
            audiences = audience if isinstance(audience, list) else [audience]
            if self.settings.client_id not in audiences:
                raise PscError("invalid_token", "userinfo is for another client")
        return claims
