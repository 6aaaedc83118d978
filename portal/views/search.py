"""The regulator's search page (``/recherche``) and its fragments."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, render_template, request
from jinja2_fragments.flask import render_block

from portal import db
from portal.auth import session as auth_session
from portal.services import geo, reference
from portal.services.search import SearchRequest, search

bp = Blueprint("search", __name__)


def _vary(response: Response) -> Response:
    response.vary.add("HX-Request")
    return response


@bp.get("/recherche")
def page() -> Response:
    """The search form and, when a place is given, its results."""
    form = SearchRequest(
        where=request.args.get("lieu", "")[:200],
        insee=request.args.get("insee", "")[:5],
        specialty=request.args.get("specialite", current_app.config["DEFAULT_SPECIALTY"])[:16],
        limit=int(current_app.config["SEARCH_PAGE_SIZE"]),
    )
    principal = auth_session.current()
    outcome = search(db.session(), form, actor=str(principal.user_id) if principal else None)
    context = {
        "outcome": outcome,
        "form": form,
        "specialties": reference.specialty_choices(),
        "specialty_label": reference.display_specialty(form.specialty) if form.specialty else "",
    }
    if request.headers.get("HX-Request") and not request.headers.get("HX-Boosted"):
        return _vary(Response(render_block("search/page.html", "results", **context)))
    return _vary(Response(render_template("search/page.html", **context)))


@bp.get("/recherche/communes")
def communes() -> Response:
    """Autocompletion of the where-field: communes by name, postcode or INSEE code."""
    text = request.args.get("lieu", "")[:100]
    found = geo.get_index().suggest(text, limit=10) if len(text.strip()) >= 2 else []
    return _vary(Response(render_template("search/_suggestions.html", communes=found)))
