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
from portal.slots import ondemand
from portal.slots.states import STATE_LABELS, state_label
from portal.web import plugins as app_plugins
from portal.web import session as auth_session

bp = Blueprint("admin", __name__, url_prefix="/admin")

#: bounds of the reason asked when a source is switched off
MIN_REASON, MAX_REASON = 5, 500


@bp.get("/connecteurs")
def connectors() -> str:
    """Health of every slot source, with its kill switch."""
    health = connector_health.source_health(db.session(), current_app.config)
    return render_template(
        "admin/connectors.html",
        health=health,
        labels=STATE_LABELS,
        problems=app_plugins.connector_problems(),
        refreshes={h.source: refreshes().get(h.source) for h in health},
        state_label=state_label,
    )


def _known_source(source: str) -> None:
    known = {h.source for h in connector_health.source_health(db.session(), current_app.config)}
    if source not in known:
        abort(404)


@bp.get("/connecteurs/<path:source>/coupure")
def confirm_kill(source: str) -> str:
    """Ask for confirmation, and a reason, before switching a source off."""
    _known_source(source)
    return render_template("admin/kill_confirm.html", source=source, reason="", error=None)


@bp.post("/connecteurs/<path:source>/coupure")
def kill_switch(source: str) -> Response | tuple[str, int]:
    """Turn a source off (its slots are hidden, it is no longer called) or back on.

    Switching off needs a reason (from the confirmation page); it is audited with it."""
    _known_source(source)
    killed = request.form.get("coupee") == "1"
    reason = " ".join(request.form.get("motif", "").split())[:MAX_REASON]
    if killed and len(reason) < MIN_REASON:
        error = f"Indiquez le motif de la coupure (au moins {MIN_REASON} caractères)."
        page = render_template("admin/kill_confirm.html", source=source, reason=reason, error=error)
        return page, 422
    principal = auth_session.current()
    connector_health.switch(
        db.session(), source, killed, actor=str(principal.user_id) if principal else None,
        ip=request.remote_addr, request_id=g.get("request_id"), reason=reason or None,
    )  # fmt: skip
    flash(f"Source {source} {'coupée' if killed else 'rétablie'}.", "info")
    return redirect(url_for("admin.connectors"), code=303)


def refreshes() -> ondemand.Refreshes:
    """The app's on-demand refreshes (created on first use)."""
    return current_app.extensions.setdefault("portal.ondemand_refreshes", ondemand.Refreshes())


@bp.post("/connecteurs/<path:source>/rafraichir")
def refresh_source(source: str) -> Response:
    """Start refreshing one source in the background; the table shows its progress."""
    job = refreshes().start(db.session_factory(), app_plugins.manager(), source, current_app.config)
    if job is None:
        abort(404)
    flash(f"Rafraîchissement de la source {source} lancé : {job.total} rattachés.", "info")
    return redirect(url_for("admin.connectors"), code=303)


@bp.get("/connecteurs/<path:source>/rafraichissement")
def refresh_status(source: str) -> str:
    """The progress of a source's on-demand refresh (an HTMX fragment that polls itself
    while the refresh runs)."""
    return render_template(
        "admin/_refresh.html", source=source, job=refreshes().get(source), state_label=state_label
    )
