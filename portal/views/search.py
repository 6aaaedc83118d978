"""The regulator's search page (``/recherche``) and its fragments.

One page, fragments rendered from its own blocks (``render_block``) so they
cannot drift: an HTMX request of the form, the filters, the pagination or the
map's "Relancer la recherche ici" gets the ``results`` block only. The cards'
slots come from the cache at once; ``/recherche/creneaux`` then refreshes the
visible cards live and answers out-of-band calendars.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, render_template, request, url_for
from jinja2_fragments.flask import render_block
from werkzeug.datastructures import MultiDict

from portal import db
from portal.directory import territories
from portal.reference import geo, vocabulary
from portal.reference import terminology as reference
from portal.search import geocoding, live, lrm
from portal.search.service import Card, SearchRequest, search
from portal.web import plugins as app_plugins
from portal.web import session as auth_session

bp = Blueprint("search", __name__)

#: URL parameters (French, see docs/search-contract.md) that make a search.
WINDOWS = vocabulary.window_choices()
MODALITIES = vocabulary.modality_choices()
KINDS = vocabulary.slot_kind_choices()
PRECISIONS = {
    "adresse": "Adresse précise",
    "commune": "Centre de la commune",
    "carte": "Zone de la carte",
}
_WINDOW_VALUES = {v for v, _ in WINDOWS}
_MODALITY_VALUES = {v for v, _ in MODALITIES}
_KIND_VALUES = {v for v, _ in KINDS}


@bp.app_context_processor
def _search_globals() -> dict[str, Any]:
    return {
        "FILTER_WINDOWS": WINDOWS,
        "FILTER_MODALITIES": MODALITIES,
        "FILTER_KINDS": KINDS,
        "PRECISIONS": PRECISIONS,
        "MAP_TILE_URL": current_app.config.get("MAP_TILE_URL", ""),
        "MAP_ATTRIBUTION": current_app.config.get("MAP_ATTRIBUTION", ""),
    }


def _vary(response: Response) -> Response:
    response.vary.add("HX-Request")
    return response


def _float(value: str | None, low: float, high: float) -> float | None:
    try:
        number = float((value or "").replace(",", "."))
    except ValueError:
        return None
    return number if low <= number <= high else None


def _page(value: str | None) -> int:
    return int(value) if value and value.isdigit() and 0 < int(value) < 10_000 else 1


def _picked(values: Iterable[str], allowed: set[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v in allowed))


def parse_request(args: MultiDict[str, str]) -> SearchRequest:
    """The search asked by the URL's parameters (unknown values are dropped)."""
    config = current_app.config
    within = args.get("dispo", "")
    return SearchRequest(
        where=args.get("lieu", "")[:200],
        insee=args.get("insee", "")[:5],
        lat=_float(args.get("lat"), -90, 90),
        lon=_float(args.get("lon"), -180, 180),
        radius_km=_float(args.get("rayon"), 0.5, 200),
        specialty=args.get("specialite", config["DEFAULT_SPECIALTY"])[:16],
        profession=args.get("profession", "")[:8],
        name=args.get("nom", "")[:100],
        text=args.get("texte", "")[:200],
        within=within if within in _WINDOW_VALUES else "",
        modalities=_picked(args.getlist("modalite"), _MODALITY_VALUES),
        sas_only=args.get("sas") == "1",
        kinds=_picked(args.getlist("type"), _KIND_VALUES),
        treating=args.get("mt", "")[:20],
        cpts=args.get("cpts", "")[:20],
        page=_page(args.get("page")),
        page_size=int(config["SEARCH_PAGE_SIZE"]),
    )


def canonical_args(form: SearchRequest) -> MultiDict[str, str]:
    """The URL parameters of ``form`` (an LRM link's are translated to the page's own)."""
    pairs: list[tuple[str, str]] = [
        ("lieu", form.where),
        ("insee", form.insee),
        ("lat", f"{form.lat:.5f}" if form.lat is not None else ""),
        ("lon", f"{form.lon:.5f}" if form.lon is not None else ""),
        ("rayon", f"{form.radius_km:g}" if form.radius_km else ""),
        ("specialite", form.specialty),
        ("profession", form.profession),
        ("nom", form.name),
        ("texte", form.text),
        ("dispo", form.within),
        *(("modalite", m) for m in form.modalities),
        ("sas", "1" if form.sas_only else ""),
        *(("type", k) for k in form.kinds),
        ("mt", form.treating),
        ("cpts", form.cpts),
        ("page", str(form.page) if form.page > 1 else ""),
    ]
    args: MultiDict[str, str] = MultiDict()
    for key, value in pairs:
        if value or key == "specialite":  # an empty specialty means "all", not the default
            args.add(key, value)
    return args


def url_with(form: SearchRequest, **changes: Any) -> str:
    """The URL of the search ``form`` with some parameters changed (``None`` removes one)."""
    args = canonical_args(form)
    for key, value in changes.items():
        args.pop(key, None)
        if value is not None:
            args[key] = str(value)
    query: dict[str, Any] = {key: args.getlist(key) for key in args}
    return url_for("search.page", **query)


def live_ids(cards: Sequence[Card]) -> list[str]:
    """National ids of the cards on the page and their CPTS members, in page order."""
    ids: list[str] = []
    for card in cards:
        ids.append(card.hit.national_id)
        ids.extend(m.hit.national_id for m in card.members)
    return list(dict.fromkeys(ids))[: live.MAX_IDS]


def regulator_departments() -> tuple[str, ...]:
    """The departments of the logged-in user's territories (homonyms there win)."""
    principal = auth_session.current()
    codes = {g.territory for g in principal.grants if g.territory} if principal else set()
    return tuple(sorted(territories.departments_of(db.session(), codes))) if codes else ()


@bp.get("/recherche")
def page() -> Response:
    """The search form and, when a place is given, its results."""
    principal = auth_session.current()
    actor = str(principal.user_id) if principal else None
    session = db.session()
    form, messages, notices = parse_request(request.args), [], []
    if lrm.is_lrm_link(request.args):
        link = lrm.parse_lrm_link(
            session,
            request.args,
            actor=actor,
            street_level=bool(current_app.config.get("GEOCODER_URL")),
        )
        if link.request is None:
            form, messages = SearchRequest(), [link.refused or lrm.REFUSED]
        else:
            form, notices = replace(link.request, page_size=form.page_size), link.notices
    geocoder = geocoding.make_geocoder(current_app.config)
    departments = regulator_departments()
    outcome = search(
        session, form, actor=actor, geocoder=geocoder, departments=departments,
        labels=app_plugins.source_labels(),
    )  # fmt: skip
    outcome.notices = [*notices, *outcome.notices]
    if "lieu" in request.args and form.is_empty and not messages:
        outcome.problem = (
            "Indiquez le lieu du patient : une commune, un code postal, un département "
            "ou une adresse (par exemple « 12 rue Voltaire, Agen »)."
        )
    place = outcome.place
    keep_typed = place is None or place.precision == "carte" or place.street is not None
    context = {
        "outcome": outcome,
        "form": outcome.request,
        "where_value": place.label if place and not keep_typed else form.where,
        "insee_value": place.insee if place and place.precision == "commune" else form.insee,
        "specialties": reference.specialty_choices(),
        "professions": sorted(reference.professions().items(), key=lambda item: item[1]),
        "specialty_label": reference.display_specialty(form.specialty) if form.specialty else "",
        "url_with": lambda **changes: url_with(outcome.request, **changes),
        "live_ids": live_ids,
        "lrm_messages": messages,
        "token": secrets.token_hex(4),
    }
    if request.headers.get("HX-Request") and not request.headers.get("HX-Boosted"):
        body = render_block("search/page.html", "results", fragment=True, **context)
        return _vary(Response(body))
    return _vary(Response(render_template("search/page.html", fragment=False, **context)))


@bp.get("/recherche/creneaux")
def slots() -> Response:
    """Live refresh of the visible cards: out-of-band calendars (one aggregation)."""
    ids = [i.strip() for i in request.args.get("ids", "").split(",") if i.strip()][: live.MAX_IDS]
    slot_filter = live.SlotFilter(
        modalities=_picked(request.args.getlist("modalite"), _MODALITY_VALUES),
        kinds=_picked(request.args.getlist("type"), _KIND_VALUES),
    )
    labels = app_plugins.source_labels()
    cards, statuses = live.refresh_cards(
        db.session(), app_plugins.manager(), ids, current_app.config, slot_filter=slot_filter,
        labels=labels,
    )  # fmt: skip
    problems = {
        labels(source): problem
        for source, status in sorted(statuses.items())
        if (problem := live.source_problem(status)) is not None
    }
    tz = ZoneInfo(str(current_app.config.get("TIMEZONE") or "Europe/Paris"))
    pending = live.pending_sources(statuses)
    again = None  # sources still being asked: the fragment asks once more, not forever
    if pending and not request.args.get("relance"):
        asked: dict[str, Any] = request.args.to_dict(flat=False)
        again = url_for("search.slots", **asked, relance="1")
    deadline = float(current_app.config.get("CONNECTOR_DEADLINE_S", 7.0))
    budget = float(current_app.config.get("LIVE_REFRESH_BUDGET_S", live.DEFAULT_BUDGET_S))
    body = render_template(
        "search/_live.html",
        cards=cards,
        problems=problems,
        pending=labels.names(pending),
        again=again,
        again_after_s=max(1, round(deadline - budget)),
        refreshed_at=f"{datetime.now(UTC).astimezone(tz):%H:%M:%S}",
        token=request.args.get("jeton", "")[:16],
    )
    return _vary(Response(body))


@bp.get("/recherche/communes")
def communes() -> Response:
    """Autocompletion of the where-field: communes by name, postcode or INSEE code."""
    text = request.args.get("lieu", "")[:100]
    found = geo.get_index().suggest(text, limit=200) if len(text.strip()) >= 2 else []
    departments = regulator_departments()
    # the regulator's departments first, then the rest by the index's order
    found = sorted(found, key=lambda c: c.department not in departments)[:10]
    return _vary(Response(render_template("search/_suggestions.html", communes=found)))
