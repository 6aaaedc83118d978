"""The audit trail for administrators (``/admin/audit``) and its CSV export."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import (
    Blueprint,
    Response,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from jinja2_fragments.flask import render_block
from werkzeug.datastructures import MultiDict

from portal import audit, db
from portal.audit_display import detail_items
from portal.permissions import ENDPOINTS, can
from portal.web import session as auth_session
from portal.web.localtime import reader_zone

bp = Blueprint("audit", __name__, url_prefix="/admin/audit")

PER_PAGE = 50
#: query-string names of the filters (French, as the rest of the portal's URLs)
FILTER_ARGS = ("action", "acteur", "du", "au", "texte")


def _date(value: str) -> date | None:
    try:
        return date.fromisoformat(value.strip()) if value.strip() else None
    except ValueError:
        return None


def _filters(args: MultiDict[str, str]) -> tuple[audit.AuditFilter, dict[str, str]]:
    """The filter and the form values to show back (an invalid date is dropped)."""
    values = {name: args.get(name, "")[:200].strip() for name in FILTER_ARGS}
    first, last = _date(values["du"]), _date(values["au"])
    values["du"] = first.isoformat() if first else ""
    values["au"] = last.isoformat() if last else ""
    since, until = audit.local_day_bounds(first, last, reader_zone().key)
    found = audit.AuditFilter(
        action=values["action"][:64],
        actor=values["acteur"][:64],
        since=since,
        until=until,
        text=values["texte"],
    )
    return found, {k: v for k, v in values.items() if v}


def _page_number() -> int:
    value = request.args.get("page", "1")
    # isdecimal() and ASCII: "²".isdigit() is true and int() would raise
    return max(1, int(value)) if value.isascii() and value.isdecimal() else 1


@bp.get("")
def index() -> Response:
    """The trail, newest first, filtered by action, actor, dates and text."""
    filters, values = _filters(request.args)
    session = db.session()
    zone = reader_zone()
    result = audit.list_events(session, filters, page=_page_number(), per_page=PER_PAGE)
    context: dict[str, Any] = {
        "result": result,
        "values": values,
        "actions": audit.actions(session),
        "labels": audit.ACTION_LABELS,
        "names": audit.actor_names(session, result.events),
        "timezone": zone.key,
        "local": lambda at: at.astimezone(zone).strftime("%d/%m/%Y %H:%M:%S"),
        "details": lambda found: detail_items(found, zone),
        "can_export": can(auth_session.current(), ENDPOINTS["audit.export"]),
    }
    if request.headers.get("HX-Request") and not request.headers.get("HX-Boosted"):
        response = Response(render_block("audit/index.html", "results", **context))
        # the address bar shows the filters in use, without the empty fields of the form
        shown: dict[str, Any] = dict(values, page=result.page) if result.page > 1 else dict(values)
        response.headers["HX-Push-Url"] = url_for("audit.index", **shown)
    else:
        response = Response(render_template("audit/index.html", **context))
    response.vary.add("HX-Request")
    return response


@bp.get("/export.csv")
def export() -> Response:
    """The filtered trail as CSV (oldest first); the export is itself audited."""
    asked, _values = _filters(request.args)
    session = db.session()
    principal = auth_session.current()
    filters = audit.record_export(
        session, asked, actor=str(principal.user_id) if principal else None
    )
    body = stream_with_context(audit.iter_csv(session, filters))
    response = Response(body, mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="journal-audit.csv"'
    return response
