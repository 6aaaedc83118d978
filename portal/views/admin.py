"""Administration pages (``/admin/…``)."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response

from portal import db
from portal.slots import health as connector_health
from portal.slots.states import STATE_LABELS, state_label
from portal.web import plugins as app_plugins
from portal.web import session as auth_session

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/connecteurs")
def connectors() -> str:
    """Health of every slot source, with its kill switch."""
    health = connector_health.source_health(db.session(), current_app.config)
    return render_template(
        "admin/connectors.html",
        health=health,
        labels=STATE_LABELS,
        problems=app_plugins.connector_problems(),
    )


@bp.post("/connecteurs/<path:source>/coupure")
def kill_switch(source: str) -> Response:
    """Turn a source off (its slots are hidden, it is no longer called) or back on."""
    known = {h.source for h in connector_health.source_health(db.session(), current_app.config)}
    if source not in known:
        abort(404)
    killed = request.form.get("coupee") == "1"
    principal = auth_session.current()
    connector_health.switch(
        db.session(), source, killed, actor=str(principal.user_id) if principal else None,
        ip=request.remote_addr, request_id=g.get("request_id"),
    )  # fmt: skip
    flash(f"Source {source} {'coupée' if killed else 'rétablie'}.", "info")
    return redirect(url_for("admin.connectors"), code=303)


@bp.post("/connecteurs/<path:source>/rafraichir")
def refresh_source(source: str) -> Response:
    """Refresh one source now (on demand), then show the health table."""
    report = connector_health.refresh_now(
        db.session(), app_plugins.manager(), source, current_app.config
    )
    if report is None:
        abort(404)
    status = report.statuses[source]
    flash(
        f"Source {source} : {state_label(status.state)}, "
        f"{status.slot_count} créneaux pour {status.ids_asked} rattachés"
        + (f" — {status.error}" if status.error else ""),
        "info" if status.ok else "error",
    )
    return redirect(url_for("admin.connectors"), code=303)
