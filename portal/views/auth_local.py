"""Local accounts: e-mail and password, then the mandatory TOTP second factor
(enrolled at first login), and the password page reached by a single-use link.

The first factor lives in the session for a few minutes (user id, time, the
page to go back to); the user is logged in only once the code is accepted.
"""

from __future__ import annotations

import time
from typing import Any

from flask import current_app, flash, g, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from portal import db
from portal.identity import logins, passwords, qr, reset_links, second_factor
from portal.identity.throttle import ThrottlePolicy
from portal.models import User
from portal.views.auth import bp
from portal.web import session as auth_session

PENDING_KEY = "local_pending"  # {"uid": …, "at": epoch seconds, "next": path or None}

Page = str | tuple[str, int] | Response


def _policy() -> ThrottlePolicy:
    return ThrottlePolicy.from_config(current_app.config)


def _client() -> dict[str, Any]:
    return {"ip": request.remote_addr, "request_id": g.get("request_id")}


def _login_page(next_url: str | None, error: str, email: str, status: int) -> tuple[str, int]:
    """``/connexion`` again, with the local form's error."""
    page = render_template(
        "auth/login.html",
        next_url=next_url,
        expired=False,
        psc_enabled=bool(current_app.config.get("PSC_CLIENT_ID")),
        local_error=error,
        local_email=email,
    )
    return page, status


def _pending_user() -> User | None:
    """The user whose password was accepted less than 5 minutes ago, if any."""
    pending = session.get(PENDING_KEY)
    if not isinstance(pending, dict):
        return None
    if time.time() - float(pending.get("at", 0)) > passwords.FIRST_FACTOR_VALIDITY_S:
        return None
    user = db.session().get(User, pending.get("uid"))
    return user if user is not None and user.active else None


def _restart(message: str, category: str = "warning") -> Response:
    """Back to ``/connexion`` (keeping ``next``), the pending first factor dropped."""
    pending = session.pop(PENDING_KEY, None) or {}
    flash(message, category)
    return redirect(url_for("auth.login", next=pending.get("next")), code=303)


@bp.post("/connexion/locale")
def local_login() -> Page:
    """First factor: e-mail and password."""
    next_url = auth_session.safe_next(request.form.get("next"))
    email = request.form.get("email", "")
    result = logins.first_factor(
        db.session(), email, request.form.get("password", ""), policy=_policy(), **_client()
    )
    if not result.ok or result.user is None:
        return _login_page(
            next_url, result.message, email, 429 if result.reason == "blocked" else 200
        )
    session[PENDING_KEY] = {"uid": result.user.id, "at": time.time(), "next": next_url}
    step = "auth.totp" if result.user.totp_enrolled_at else "auth.totp_enrol"
    return redirect(url_for(step), code=303)


def _second_factor(user: User, template: str, **context: Any) -> Page:
    """Check the posted code; on success log in and go back to the page asked for."""
    result = logins.second_factor(
        db.session(), user, request.form.get("code", ""), policy=_policy(), **_client()
    )
    if not result.ok:
        if result.reason == "blocked":
            return _restart(result.message, "error")
        return render_template(template, error=result.message, **context), 200
    next_url = auth_session.safe_next((session.get(PENDING_KEY) or {}).get("next"))
    auth_session.login(user, "local")  # a fresh session: the pending first factor goes too
    return redirect(auth_session.landing(next_url, auth_session.principal_for(user)), 303)


@bp.route("/connexion/totp", methods=["GET", "POST"])
def totp() -> Page:
    """Second factor: the code of the enrolled authenticator app."""
    user = _pending_user()
    if user is None:
        return _restart("Votre connexion a expiré : saisissez de nouveau vos identifiants.")
    if user.totp_enrolled_at is None:
        return redirect(url_for("auth.totp_enrol"), code=303)
    if request.method == "GET":
        return render_template("auth/totp.html")
    return _second_factor(user, "auth/totp.html")


@bp.route("/connexion/totp/enrolement", methods=["GET", "POST"])
def totp_enrol() -> Page:
    """First login: show the new secret (QR code and text), confirm with a first code."""
    user = _pending_user()
    if user is None:
        return _restart("Votre connexion a expiré : saisissez de nouveau vos identifiants.")
    if user.totp_enrolled_at is not None:
        return redirect(url_for("auth.totp"), code=303)
    secret = logins.start_enrolment(db.session(), user)
    uri = second_factor.provisioning_uri(user, current_app.config["TOTP_ISSUER"])
    context = {
        "secret_groups": [secret[i : i + 4] for i in range(0, len(secret), 4)],
        "qr": qr.qr_svg(uri, label="Code QR à scanner avec l'application d'authentification"),
    }
    if request.method == "GET":
        return render_template("auth/totp_enrol.html", **context)
    return _second_factor(user, "auth/totp_enrol.html", **context)


def _invalid_link() -> tuple[str, int]:
    return render_template("auth/password_reset.html", invalid=reset_links.MSG_RESET_INVALID), 404


@bp.route("/mot-de-passe/<token>", methods=["GET", "POST"])
def password_reset(token: str) -> Page:
    """Choose a password through an administrator's single-use link."""
    dbs = db.session()
    user = reset_links.reset_token_user(dbs, token)
    if user is None:
        return _invalid_link()
    if request.method == "GET":
        return render_template("auth/password_reset.html", user=user)
    try:
        logins.reset_password(
            dbs, token, request.form.get("password", ""), request.form.get("confirm", ""),
            **_client(),
        )  # fmt: skip
    except reset_links.InvalidResetToken:
        return _invalid_link()
    except passwords.PasswordPolicyError as exc:
        return render_template("auth/password_reset.html", user=user, problems=exc.problems), 200
    flash("Mot de passe enregistré : connectez-vous avec votre adresse e-mail.", "info")
    return redirect(url_for("auth.login"), code=303)
