"""Login and logout pages (``/connexion``, ``/deconnexion``).

Pro Santé Connect (``auth_psc.py``) and local accounts (``auth_local.py``)
add their routes to this blueprint.
"""

from __future__ import annotations

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from portal import db
from portal.identity import logins
from portal.web import session as auth_session

bp = Blueprint("auth", __name__)


@bp.get("/connexion")
def login() -> str | Response:
    """Pro Santé Connect first, the local account form second."""
    next_url = auth_session.safe_next(request.args.get("next"))
    principal = auth_session.current()
    if principal is not None:
        return redirect(auth_session.landing(next_url, principal))
    return render_template(
        "auth/login.html",
        next_url=next_url,
        expired=request.args.get("expiree") == "1",
        psc_enabled=bool(current_app.config.get("PSC_CLIENT_ID")),
    )


@bp.post("/deconnexion")
def logout() -> Response:
    principal = auth_session.current()
    ended = auth_session.logout()
    if principal is not None:
        logins.record_logout(
            db.session(), principal.user_id, ip=request.remote_addr,
            request_id=g.get("request_id"),
        )  # fmt: skip
    if ended["method"] == "psc":
        from portal.web import psc

        end_session = psc.end_session_url(
            ended.get("id_token"), url_for("auth.login", _external=True)
        )
        if end_session:
            return redirect(end_session)
    return redirect(url_for("auth.login"))


@bp.get("/sans-acces")
def no_access() -> str:
    """A logged-in account without any role that opens a page (instead of a redirect loop)."""
    return render_template("auth/no_access.html")
