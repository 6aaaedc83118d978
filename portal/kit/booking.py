"""Booking by redirect: the editor's booking page, with the portal's ``origin``."""

from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit

from portal.domain import Booking, Slot
from portal.errors import UpstreamRejected


def with_origin(url: str, origin: str) -> str:
    """``url`` with ``origin=<origin>`` appended to its query (existing parameters kept
    as they are, a previous ``origin`` replaced, the fragment kept last)."""
    parts = urlsplit(url)
    kept = [p for p in parts.query.split("&") if p and p.split("=", 1)[0] != "origin"]
    kept.append(f"origin={quote(origin, safe='')}")
    return urlunsplit(parts._replace(query="&".join(kept)))


def redirect_booking(slot: Slot, *, origin: str) -> Booking:
    """The redirect to the editor's booking page (SSO "flow V2" is the editor's job).

    :raises UpstreamRejected: walk-in slot, or no usable booking URL.
    """
    if not slot.bookable:
        raise UpstreamRejected(
            f"{slot.source} : ce créneau est sans rendez-vous (accueil libre), "
            "il ne se réserve pas ; orientez le patient directement"
        )
    url = (slot.booking_url or "").strip()
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
        raise UpstreamRejected(
            f"{slot.source} : ce créneau n'a pas de lien de réservation valide"
            + (f" ({url[:100]})" if url else "")
        )
    return Booking(
        source=slot.source,
        slot_id=slot.id,
        status="redirect",
        redirect_url=with_origin(url, origin),
    )
