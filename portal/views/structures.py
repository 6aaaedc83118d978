"""Structures (``/structures``): a manager's structures, or all of them for administrators."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request

from portal import db
from portal.directory import structures
from portal.web import session as auth_session

bp = Blueprint("structures", __name__, url_prefix="/structures")


@bp.get("")
def index() -> str:
    """Each structure with its kind, national id, addresses, members and feed mode."""
    principal = auth_session.current()
    if principal is None:  # the guard already sent anonymous users to /connexion
        abort(401)
    args = request.args
    filters = structures.StructureFilter(
        q=args.get("q", "")[:100],
        kind=args.get("type", "")[:16],
        department=args.get("departement", "")[:3],
    )
    result = structures.list_structures(
        db.session(), principal, filters, args.get("page", 1, type=int)
    )
    return render_template(
        "structures/index.html",
        result=result,
        filters=filters,
        kind_labels=structures.KIND_LABELS,
        feed_labels=structures.FEED_LABELS,
    )
