"""Configuration: defaults → instance file → ``SAS_PORTAL_*`` environment → test mapping."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

ENV_PREFIX = "SAS_PORTAL"
INSTANCE_FILE = "config.py"

DEFAULTS: dict[str, Any] = {
    # Database; empty means the SQLite file in the instance folder.
    "DATABASE_URL": "",
    "DATABASE_ECHO": False,
    # One scheduler process only (see jobs.py); off in web workers and tests.
    "SCHEDULER_ENABLED": False,
    # Connectors: per-connector configuration sections, keyed by entry-point name,
    # and the names of connectors that must not be loaded at all.
    "CONNECTORS": {},
    "DISABLED_CONNECTORS": [],
    "CONNECTOR_DEADLINE_S": 7.0,
    # A target fetched from a source less than this ago is read from the cache, not
    # asked again (page views do not multiply upstream requests).
    "SLOT_MIN_AGE_S": 60,
    # A page's live refresh waits this long for the editors; later answers land in the
    # cache and the page picks them up when it asks once more.
    "LIVE_REFRESH_BUDGET_S": 2.0,
    # Search
    "SEARCH_PAGE_SIZE": 20,
    # the cyclic garbage collector runs between requests (portal/web/gcpause.py)
    "GC_BETWEEN_REQUESTS": True,
    "DEFAULT_SPECIALTY": "SM54",
    "TIMEZONE": "Europe/Paris",
    # Map tiles ("https://tile.example/{z}/{x}/{y}.png"); empty: a map without tiles
    # (markers, scale and search circle on a plain background). Its origin joins img-src.
    "MAP_TILE_URL": "",
    "MAP_ATTRIBUTION": "",
    # Street-level geocoding through the national address API (BAN), e.g.
    # "https://api-adresse.data.gouv.fr/search/"; empty = commune centres only.
    "GEOCODER_URL": "",
    "GEOCODER_TIMEOUT_S": 1.5,
    # Cookies (Secure can be switched off for the local HTTP demo only)
    "SESSION_COOKIE_SECURE": True,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "WTF_CSRF_TIME_LIMIT": None,
    # Sessions: idle timeout (30 min for regulators and IOA), absolute timeout.
    "SESSION_IDLE_TIMEOUT_REGULATOR_S": 1800,
    "SESSION_IDLE_TIMEOUT_S": 3600,
    "SESSION_ABSOLUTE_TIMEOUT_S": 12 * 3600,
    # Pro Santé Connect (OpenID Connect). Sandbox values in README; production uses
    # the same paths on the auth.esw / wallet.esw hosts.
    "PSC_ISSUER": "",
    "PSC_DISCOVERY_URL": "",  # default: <issuer>/.well-known/wallet-openid-configuration
    "PSC_CLIENT_ID": "",
    "PSC_CLIENT_SECRET": "",
    "PSC_CLIENT_CERT": "",  # optional mutual-TLS client certificate for the token endpoint
    "PSC_CLIENT_KEY": "",
    "PSC_SCOPE": "openid scope_all",
    "PSC_ACR_VALUES": "eidas1",
    "PSC_REQUIRED_ACR": "eidas1",
    "PSC_TIMEOUT_S": 10.0,
    "PSC_REDIRECT_URI": "",  # when a reverse proxy changes the URL the portal sees
    "PSC_PROXY": "",  # outgoing HTTP proxy for Pro Santé Connect (environment proxies ignored)
    # Local accounts
    "LOGIN_MAX_FAILURES": 5,  # per account, within the window
    "LOGIN_MAX_FAILURES_PER_IP": 20,  # per IP: a whole hospital may share one address
    "LOGIN_FAILURE_WINDOW_S": 900,
    "LOGIN_BLOCK_S": 900,
    "PASSWORD_RESET_VALIDITY_S": 72 * 3600,
    "TOTP_ISSUER": "Portail SAS",
    # The portal's public URL (links in set-password e-mails printed by the CLI).
    "PUBLIC_URL": "http://localhost:5000",
    # Number of reverse proxies in front of the portal (X-Forwarded-For/Proto trusted).
    "PROXY_FIX_HOPS": 0,
}


def _secret_key(instance_path: Path) -> str | None:
    """The per-instance secret if it was already created (see :func:`ensure_secret_key`)."""
    path = instance_path / "secret_key"
    return path.read_text().strip() or None if path.exists() else None


def ensure_secret_key(app: Flask) -> None:
    """Create the per-instance secret on first need, never committed.

    Called when the app serves (``warm_up``, and before the first request), never
    when it is only built: ``sas-portal connectors`` or ``--help`` write nothing.
    Several workers starting together agree on one key (created with a hard link,
    which fails if another worker got there first).
    """
    if app.config.get("SECRET_KEY"):
        return
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / "secret_key"
    if not path.exists():
        draft = instance / f".secret_key.{os.getpid()}"
        draft.write_text(secrets.token_hex(32))
        draft.chmod(0o600)
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
        draft.unlink()
    app.config["SECRET_KEY"] = path.read_text().strip()


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return list(value or [])


def load_config(app: Flask, test_config: Mapping[str, Any] | None) -> None:
    """Fill ``app.config`` in the documented order of precedence."""
    app.config.from_mapping(DEFAULTS)
    app.config.from_pyfile(INSTANCE_FILE, silent=True)
    # JSON values are decoded ("false" → False, "5" → 5, '{"a": 1}' → dict).
    app.config.from_prefixed_env(ENV_PREFIX)
    app.config.pop("INSTANCE_PATH", None)  # SAS_PORTAL_INSTANCE_PATH is read by create_app
    if test_config:
        app.config.from_mapping(test_config)

    instance = Path(app.instance_path)
    if not app.config["DATABASE_URL"]:
        app.config["DATABASE_URL"] = f"sqlite:///{instance / 'sas-portal.sqlite3'}"
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _secret_key(instance)  # else created when serving
    app.config["DISABLED_CONNECTORS"] = _as_list(app.config["DISABLED_CONNECTORS"])
    app.permanent_session_lifetime = int(app.config["SESSION_ABSOLUTE_TIMEOUT_S"])


def instance_path_from_env() -> str | None:
    value = os.environ.get(f"{ENV_PREFIX}_INSTANCE_PATH")
    return str(Path(value).resolve()) if value else None
