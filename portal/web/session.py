"""The login session: who is logged in, since when, and the timeouts.

Sessions are Flask's signed cookies (stateless web workers); the user row is
re-read on every request, so a deactivated account or a revoked role takes
effect at the next click.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, g, session
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal import db
from portal.models import User
from portal.permissions import Grant, Principal

USER_KEY = "uid"
METHOD_KEY = "auth_method"
LOGIN_AT_KEY = "login_at"
SEEN_AT_KEY = "seen_at"
ID_TOKEN_KEY = "psc_id_token"  # kept for the end-session request at logout


def principal_for(user: User) -> Principal:
    name = f"{user.given_name} {user.family_name}".strip() or (user.email or "")
    return Principal(
        user_id=user.id,
        display_name=name,
        national_id=user.national_id,
        grants=tuple(
            Grant(r.role, r.territory_code, r.structure_id, r.practitioner_id) for r in user.roles
        ),
        auth_method=session.get(METHOD_KEY, "local"),
    )


def login(user: User, method: str, *, id_token: str | None = None) -> None:
    """Start a fresh session for ``user`` (the old one is dropped: no fixation).

    The login itself (time, audit) is recorded by :mod:`portal.identity.logins`.
    """
    session.clear()
    now = time.time()
    session[USER_KEY] = user.id
    session[METHOD_KEY] = method
    session[LOGIN_AT_KEY] = now
    session[SEEN_AT_KEY] = now
    if id_token:
        session[ID_TOKEN_KEY] = id_token
    session.permanent = True
    g.pop("principal", None)


def logout() -> dict[str, Any]:
    """End the session; returns what the caller needs to end the PSC session too."""
    ended = {"method": session.get(METHOD_KEY), "id_token": session.get(ID_TOKEN_KEY)}
    session.clear()
    g.pop("principal", None)
    return ended


def idle_timeout_s(principal: Principal) -> float:
    config = current_app.config
    if "regulateur" in principal.roles or "ioa" in principal.roles:
        return float(config["SESSION_IDLE_TIMEOUT_REGULATOR_S"])
    return float(config["SESSION_IDLE_TIMEOUT_S"])


def current() -> Principal | None:
    """The logged-in principal, or None (no session, expired, or account deactivated)."""
    if "principal" in g:
        return g.principal
    g.principal = None
    user_id = session.get(USER_KEY)
    if user_id is None:
        return None
    user = db.session().scalar(
        select(User).options(selectinload(User.roles)).where(User.id == user_id)
    )
    if user is None or not user.active:
        session.clear()
        return None
    principal = principal_for(user)
    now = time.time()
    login_at = float(session.get(LOGIN_AT_KEY, 0))
    seen_at = float(session.get(SEEN_AT_KEY, 0))
    absolute = float(current_app.config["SESSION_ABSOLUTE_TIMEOUT_S"])
    if now - login_at > absolute or now - seen_at > idle_timeout_s(principal):
        session.clear()
        g.session_expired = True
        return None
    session[SEEN_AT_KEY] = now
    g.principal = principal
    return principal


def safe_next(target: str | None) -> str | None:
    """A local path to go back to after login (open redirects refused)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target:
        return None
    return target


def landing(next_url: str | None, principal: Principal) -> str:
    """``next_url`` when this user may open it, else the home page of their role.

    A structure manager following an LRM link lands on their home, not on a 403.
    """
    from flask import request, url_for
    from werkzeug.exceptions import HTTPException

    from portal.permissions import can, endpoint_action, home_endpoint

    adapter = current_app.create_url_adapter(request)
    if next_url and adapter is not None:
        try:
            endpoint, _ = adapter.match(urlsplit(next_url).path, method="GET")
        except HTTPException:  # unknown page, or a redirect to the canonical URL
            endpoint = None
        action = endpoint_action(endpoint)
        if action is not None and can(principal, action):
            return next_url
    return url_for(home_endpoint(principal))
