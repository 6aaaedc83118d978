"""Administration of the LRM allow-list (``/admin/origines-lrm``)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from portal import db
from portal.search import lrm, lrm_origins
from portal.web import session as auth_session

bp = Blueprint("lrm_origins", __name__, url_prefix="/admin/origines-lrm")


def _actor() -> str | None:
    principal = auth_session.current()
    return str(principal.user_id) if principal else None


@bp.get("")
def index() -> str:
    """The allowed origins, their state and hits, and the form to add one."""
    s = db.session()
    return render_template(
        "lrm_origins/index.html",
        rows=lrm_origins.list_origins(s),
        stats=lrm_origins.parameter_stats(s),
        statuses=lrm.PARAM_STATUSES,
        days=lrm_origins.STATS_DAYS,
    )


@bp.post("")
def create() -> Response:
    """Add an origin (enabled); errors come back as a notice on the page."""
    code, label = request.form.get("code", "")[:100], request.form.get("label", "")[:300]
    try:
        lrm_origins.create_origin(db.session(), code, label, actor=_actor())
    except lrm_origins.OriginError as exc:
        flash(str(exc), "error")
    else:
        flash(f"Origine {code.strip()} ajoutée et active.", "info")
    return redirect(url_for("lrm_origins.index"), code=303)


@bp.post("/etat")
def toggle() -> Response:
    """Enable (``active=1``) or disable an origin: its links are then refused."""
    code, enabled = request.form.get("code", ""), request.form.get("active") == "1"
    try:
        lrm_origins.set_enabled(db.session(), code, enabled, actor=_actor())
    except KeyError:
        abort(404)
    flash(f"Origine {code} {'activée' if enabled else 'désactivée'}.", "info")
    return redirect(url_for("lrm_origins.index"), code=303)
