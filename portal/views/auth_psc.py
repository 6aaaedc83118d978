"""Pro Santé Connect login: ``/connexion/psc`` and the provider's return.

PSC tells who the person is; the portal decides what they may do: only a
person with an account here (found by their PSC subject, else by national id)
gets in, with the roles of that account.
"""

from __future__ import annotations

import logging

from flask import current_app, flash, g, redirect, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from portal import audit, db
from portal.identity import provisioning
from portal.models import User
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
        user = account_for(identity)
    except psc.PscError as exc:
        return _refused(exc, next_url)
    auth_session.login(user, "psc", id_token=identity.id_token)
    details: dict[str, object] = {
        "method": "psc",
        "acr": identity.acr,
        "exercices": identity.exercices,
    }
    _audit("login", actor=str(user.id), target=identity.national_id, details=details)
    db.session().commit()
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
    _audit("login_failed", actor=None, target=exc.national_id,
           details={"method": "psc", "reason": exc.reason, "detail": exc.detail[:500]})  # fmt: skip
    db.session().commit()
    flash(exc.message, "error")
    return redirect(url_for("auth.login", next=next_url) if next_url else url_for("auth.login"))


def _audit(
    action: str, *, actor: str | None, target: str | None, details: dict[str, object]
) -> None:
    audit.record(db.session(), action, actor=actor, target=target, details=details,
                 ip=request.remote_addr, request_id=g.get("request_id"))  # fmt: skip


def account_for(identity: psc.Identity) -> User:
    """The portal account of a PSC identity; binds the PSC subject on first login.

    :raises psc.PscError: ``unknown_account`` or ``deactivated``.
    """
    session = db.session()
    user = session.scalar(select(User).where(User.oidc_subject == identity.subject))
    if user is None:
        candidates = session.scalars(
            select(User).where(User.national_id == identity.national_id).order_by(User.id)
        ).all()
        user = next((u for u in candidates if u.active), candidates[0] if candidates else None)
    if user is None:
        raise psc.PscError("unknown_account", f"sub {identity.sub}",
                           national_id=identity.national_id)  # fmt: skip
    if not user.active:
        raise psc.PscError("deactivated", f"user {user.id}", national_id=identity.national_id)
    if user.oidc_subject != identity.subject:
        if user.oidc_subject:  # e.g. moved from the sandbox to production
            log.warning("user %s: PSC subject %s replaced", user.id, user.oidc_subject)
        user.oidc_subject = identity.subject
    if identity.given_name:
        user.given_name = identity.given_name
    if identity.family_name:
        user.family_name = identity.family_name
    return user


