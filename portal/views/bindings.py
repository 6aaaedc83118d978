"""Administration of one source's bindings: ``/admin/connecteurs/<source>/liaisons``.

Thin views over :mod:`portal.slots.bindings` (which audits and commits): a paginated
list, a form to bind one practitioner or structure, a button to unbind one.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from portal import db
from portal.permissions import ENDPOINTS, can
from portal.slots import bindings
from portal.slots.binding_entries import OUTCOME_LABELS
from portal.web import plugins as app_plugins
from portal.web import session as auth_session

bp = Blueprint("bindings", __name__, url_prefix="/admin/connecteurs")
PER_PAGE = 50


def _known_source(source: str) -> set[str]:
    """The sources one may bind to; 404 when ``source`` is not one of them."""
    known = bindings.known_sources(db.session(), current_app.config, app_plugins.connector_names())
    if source not in known:
        abort(404)
    return known


def _actor() -> str | None:
    principal = auth_session.current()
    return str(principal.user_id) if principal else None


@bp.get("/<path:source>/liaisons")
def index(source: str) -> str:
    """The practitioners and structures bound to ``source``, 50 per page."""
    _known_source(source)
    page = max(1, request.args.get("page", 1, type=int) or 1)
    rows, total = bindings.list_bindings(
        db.session(), source=source, offset=(page - 1) * PER_PAGE, limit=PER_PAGE
    )
    pages = max(1, -(-total // PER_PAGE))
    return render_template(
        "admin/bindings.html",
        source=source,
        rows=rows,
        total=total,
        page=page,
        pages=pages,
        can_manage=can(auth_session.current(), ENDPOINTS["bindings.add"]),
    )


@bp.post("/<path:source>/liaisons")
def add(source: str) -> Response:
    """Bind one practitioner or structure to ``source`` (audited)."""
    known = _known_source(source)
    entry = bindings.Entry(
        source,
        request.form.get("identifiant_national", "").strip(),
        request.form.get("identifiant_amont", "").strip(),
    )
    result = bindings.add_one(db.session(), entry, known, actor=_actor())
    if result.outcome == "refused":
        flash(f"Rattachement refusé : {result.reason}.", "error")
    else:
        flash(f"Rattachement de {entry.national_id} {OUTCOME_LABELS[result.outcome]}.", "info")
    return redirect(url_for("bindings.index", source=source), code=303)


@bp.post("/<path:source>/liaisons/suppression")
def remove(source: str) -> Response:
    """Unbind one practitioner or structure from ``source`` (audited)."""
    _known_source(source)
    national_id = request.form.get("identifiant_national", "").strip()
    if bindings.remove(db.session(), source, national_id, actor=_actor()):
        flash(f"Rattachement de {national_id} supprimé.", "info")
    else:
        flash(f"Aucun rattachement de {national_id} à cette source.", "error")
    return redirect(url_for("bindings.index", source=source), code=303)
