"""Booking a slot from a result card: ``/creneaux/<source>/<slot>/reserver``.

The slot's owner answers through ``portal.booking.redirect``; an editor's booking
page opens (303) in the tab the card's link opened, with the portal's ``origin``.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from flask import Blueprint, current_app, redirect, render_template, request
from werkzeug.wrappers import Response

from portal import db
from portal.booking.redirect import book_cached_slot
from portal.domain import BookingRequest
from portal.errors import ConnectorError, SlotNoLongerAvailable
from portal.web import plugins as app_plugins
from portal.web import session as auth_session

bp = Blueprint("booking", __name__)

#: Path segments that need no quoting (RFC 3986 unreserved characters, ":" and "/").
_PLAIN_SOURCE = re.compile(r"[A-Za-z0-9._~:-]+")
_PLAIN_ID = re.compile(r"[A-Za-z0-9._~:/-]+")


@bp.app_template_filter("reserve_href")
def reserve_href(slot: Any) -> str:
    """The card's link to :func:`reserve` for ``slot`` (anything with ``source`` and ``id``).

    Built by hand rather than with ``url_for``: a results page holds hundreds of slot
    links and ``url_for`` cost about 7 ms per page (``sas-portal bench search``). The
    route below parses exactly this form back (a test checks they agree).
    """
    source, slot_id = str(slot.source), str(slot.id)
    if not _PLAIN_SOURCE.fullmatch(source):
        source = quote(source, safe=":")
    if not _PLAIN_ID.fullmatch(slot_id):  # editors' ids are nearly always plain
        slot_id = quote(slot_id, safe="/")
    return f"{request.script_root}/creneaux/{source}/{slot_id}/reserver"


@bp.get("/creneaux/<source>/<path:slot_id>/reserver")
def reserve(source: str, slot_id: str) -> Response | tuple[str, int]:
    """Send the regulator to the booking page of the slot (or say why not)."""
    principal = auth_session.current()
    assert principal is not None  # the guard let only regulators in
    try:
        booking = book_cached_slot(
            db.session(),
            app_plugins.manager(),
            source,
            slot_id,
            request=BookingRequest(regulator_id=principal.national_id or str(principal.user_id)),
            actor=str(principal.user_id),
            configs=current_app.config["CONNECTORS"],
            deadline=float(current_app.config.get("CONNECTOR_DEADLINE_S", 7.0)),
        )
    except ConnectorError as exc:
        status = 410 if isinstance(exc, SlotNoLongerAvailable) else 502
        return render_template("booking/unavailable.html", message=str(exc)), status
    if booking.redirect_url:
        return redirect(booking.redirect_url, code=303)
    message = f"Créneau réservé (référence {booking.reference or 'non communiquée'})."
    return render_template("booking/unavailable.html", message=message, booked=True), 200
