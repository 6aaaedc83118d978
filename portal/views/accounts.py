"""Account management (``/admin/comptes``): list, detail, create, roles, deactivation."""

from __future__ import annotations

from typing import cast

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import Forbidden, HTTPException, NotFound
from werkzeug.wrappers import Response

from portal import db
from portal.identity import accounts
from portal.permissions import ROLE_LABELS, can
from portal.web import plugins as app_plugins
from portal.web import session as auth_session

bp = Blueprint("accounts", __name__, url_prefix="/admin/comptes")

# The raw set-password link is carried to the next page (303 then GET) in the signed,
# HttpOnly session cookie and dropped as soon as it is shown: the server keeps only its hash.
LINK_KEY = "account_link"


def _actor() -> accounts.Actor:
    principal = auth_session.current()
    if principal is None:  # the guard already sent anonymous users to /connexion
        abort(401)
    return accounts.Actor(principal, request.remote_addr, g.get("request_id"))


def _to_detail(user_id: int) -> Response:
    return redirect(url_for("accounts.detail", user_id=user_id), code=303)


def _role_spec() -> accounts.RoleSpec:
    form = request.form
    return accounts.RoleSpec(
        role=form.get("role", "")[:32],
        territory=form.get("territory", "")[:16],
        structure=form.get("structure", "")[:40],
        practitioner=form.get("practitioner", "")[:32],
    )


def _keep_link(user_id: int, token: str) -> None:
    url = url_for("auth.password_reset", token=token, _external=True)
    session[LINK_KEY] = {"user_id": user_id, "url": url}


def _report(report: accounts.ProvisioningReport) -> None:
    for plugin, error in report.failures:
        flash(
            f"Le connecteur {plugin} n'a pas pu être informé de la désactivation ({error}). "
            "L'échec est consigné au journal d'audit.",
            "warning",
        )


def _http_error(error: HTTPException) -> ResponseReturnValue:
    """Answer with the app's own page for this HTTP error (as ``abort`` would)."""
    return cast("ResponseReturnValue", current_app.handle_http_exception(error))


@bp.errorhandler(accounts.OutOfScope)
def _out_of_scope(exc: accounts.OutOfScope) -> ResponseReturnValue:
    return _http_error(Forbidden(str(exc)))


@bp.errorhandler(accounts.AccountNotFound)
def _not_found(exc: accounts.AccountNotFound) -> ResponseReturnValue:
    return _http_error(NotFound())


@bp.errorhandler(accounts.AccountError)
def _refused(exc: accounts.AccountError) -> Response:
    flash(str(exc), "error")
    user_id = (request.view_args or {}).get("user_id")
    return _to_detail(user_id) if user_id else redirect(url_for("accounts.index"), code=303)


@bp.get("")
def index() -> str:
    """Accounts the user may manage, filtered and paginated."""
    args = request.args
    filters = accounts.UserFilter(
        q=args.get("q", "")[:100],
        role=args.get("role", "")[:32],
        territory=args.get("territoire", "")[:16],
        active=args.get("actif", "")[:1],
    )
    actor = _actor()
    result = accounts.list_accounts(db.session(), actor, filters, args.get("page", 1, type=int))
    return render_template(
        "accounts/index.html",
        result=result,
        filters=filters,
        role_labels=ROLE_LABELS,
        territories=accounts.grantable_territories(db.session(), actor),
    )


@bp.route("/nouveau", methods=["GET", "POST"])
def create() -> str | Response | tuple[str, int]:
    """Create a local account; the set-password link is shown once on its page."""
    actor, form = _actor(), request.form
    context = {
        "form": form,
        "roles": accounts.grantable_roles(actor),
        "territories": accounts.grantable_territories(db.session(), actor),
    }
    if request.method == "GET":
        return render_template("accounts/create.html", **context)
    try:
        user, token = accounts.create_account(
            db.session(),
            actor,
            validity_s=int(current_app.config["PASSWORD_RESET_VALIDITY_S"]),
            email=form.get("email", "")[:254],
            given_name=form.get("given_name", "")[:120],
            family_name=form.get("family_name", "")[:120],
            roles=[_role_spec()],
        )
    except accounts.OutOfScope:
        raise
    except accounts.AccountError as exc:
        db.session().rollback()
        return render_template("accounts/create.html", error=str(exc), **context), 400
    _keep_link(user.id, token)
    flash("Compte créé.", "info")
    return _to_detail(user.id)


@bp.get("/<int:user_id>")
def detail(user_id: int) -> Response:
    """One account: identity, roles, actions."""
    actor = _actor()
    account = accounts.get_account(db.session(), actor, user_id)
    link = session.pop(LINK_KEY, None)
    html = render_template(
        "accounts/detail.html",
        account=account,
        actor=actor,
        link=link["url"] if link and link.get("user_id") == user_id else None,
        roles=accounts.grantable_roles(actor),
        territories=accounts.grantable_territories(db.session(), actor),
        may_allow_local=can(actor.principal, "allow_local_regulator"),
    )
    # Flask's response class (text/html): werkzeug's Response defaults to text/plain,
    # which nosniff makes the browser show as raw markup.
    response = make_response(html)
    response.headers["Cache-Control"] = "no-store"  # may hold a set-password link
    return response


@bp.post("/<int:user_id>/roles")
def grant(user_id: int) -> Response:
    accounts.grant_role(db.session(), _actor(), user_id, _role_spec())
    flash("Rôle attribué.", "info")
    return _to_detail(user_id)


@bp.post("/<int:user_id>/roles/<int:role_id>/retrait")
def revoke(user_id: int, role_id: int) -> Response:
    report = accounts.revoke_role(
        db.session(),
        _actor(),
        user_id,
        role_id,
        pm=app_plugins.manager(),
        configs=current_app.config["CONNECTORS"],
    )
    flash("Rôle retiré.", "info")
    _report(report)
    return _to_detail(user_id)


@bp.post("/<int:user_id>/desactivation")
def deactivate(user_id: int) -> Response:
    report = accounts.set_active(
        db.session(),
        _actor(),
        user_id,
        False,
        pm=app_plugins.manager(),
        configs=current_app.config["CONNECTORS"],
    )
    flash("Compte désactivé : ses sessions s'arrêtent à la prochaine requête.", "info")
    _report(report)
    return _to_detail(user_id)


@bp.post("/<int:user_id>/reactivation")
def reactivate(user_id: int) -> Response:
    accounts.set_active(
        db.session(),
        _actor(),
        user_id,
        True,
        pm=app_plugins.manager(),
        configs=current_app.config["CONNECTORS"],
    )
    flash("Compte réactivé.", "info")
    return _to_detail(user_id)


@bp.post("/<int:user_id>/lien")
def reset_link(user_id: int) -> Response:
    validity_s = int(current_app.config["PASSWORD_RESET_VALIDITY_S"])
    _keep_link(
        user_id,
        accounts.issue_reset_link(db.session(), _actor(), user_id, validity_s=validity_s),
    )
    flash(
        "Nouveau lien de définition du mot de passe émis : le précédent ne fonctionne plus.", "info"
    )
    return _to_detail(user_id)


@bp.post("/<int:user_id>/totp")
def reset_totp(user_id: int) -> Response:
    accounts.reset_totp(db.session(), _actor(), user_id)
    flash(
        "Second facteur réinitialisé : l'utilisateur l'enrôlera à sa prochaine connexion.", "info"
    )
    return _to_detail(user_id)


@bp.post("/<int:user_id>/connexion-locale")
def allow_local(user_id: int) -> Response:
    allowed = request.form.get("autorise") == "1"
    accounts.allow_local_regulator(db.session(), _actor(), user_id, allowed)
    flash("Connexion par compte local " + ("autorisée." if allowed else "retirée."), "info")
    return _to_detail(user_id)
