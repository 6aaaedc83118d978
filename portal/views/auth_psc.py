"""Pro Santé Connect login: ``/connexion/psc`` and the provider's return.

PSC tells who the person is; the portal decides what they may do: only a
person with an account here (found by their PSC subject, else by national id)
gets in, with the roles of that account.
"""

from __future__ import annotations

import logging

from flask import current_app, flash, g, redirect, request, url_for
from werkzeug.wrappers import Response

from portal import db
from portal.identity import logins, provisioning
from portal.views.auth import bp
from portal.web import plugins as app_plugins
from portal.web import psc
from portal.web import session as auth_session

log = logging.getLogger(__name__)


@bp.get("/connexion/psc")
def psc_start() -> Response:
    """Send the browser to Pro Santé Connect (PKCE, state and nonce kept in the session)."""
    next_url = auth_session.safe_next(request.args.get("next"))
    try:
        return redirect(psc.begin(_redirect_uri(), next_url))
    except psc.PscError as exc:
        return _refused(exc, next_url)


@bp.get("/connexion/psc/retour")
def psc_callback() -> Response:
    """The provider's redirect: check it, find the account, open the session."""
    next_url = auth_session.safe_next(psc.pending_next())
    try:
        identity = psc.complete(request.args, _redirect_uri())
        user = logins.psc_login(db.session(), identity, **_client())
    except psc.PscError as exc:
        return _refused(exc, next_url)
    auth_session.login(user, "psc", id_token=identity.id_token)
    principal = auth_session.principal_for(user)
    provisioning.provision_at_login(
        db.session_factory(), app_plugins.manager(), user, current_app.config["CONNECTORS"]
    )
    return redirect(auth_session.landing(next_url, principal))


def _redirect_uri() -> str:
    # Behind a proxy the registered URI may differ from what Flask sees: configurable.
    return str(
        current_app.config.get("PSC_REDIRECT_URI") or url_for("auth.psc_callback", _external=True)
    )


def _refused(exc: psc.PscError, next_url: str | None) -> Response:
    log.warning("Pro Santé Connect login refused: %s", exc)
    logins.psc_refused(db.session(), exc, **_client())
    flash(exc.message, "error")
    return redirect(url_for("auth.login", next=next_url) if next_url else url_for("auth.login"))


def _client() -> dict[str, str | None]:
    return {"ip": request.remote_addr, "request_id": g.get("request_id")}
