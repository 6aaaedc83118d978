"""Contracts of booking: what every booking connector does (:class:`BookingContract`),
then one contract per way of booking: by redirect (:class:`RedirectBookingContract`),
directly (:class:`DirectBookingContract`), and cancelling (:class:`CancelContract`).

Each of the last three includes :class:`BookingContract`: opt into those of what the
connector does; one it cannot satisfy fails, saying what is missing."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pluggy
import pytest

from portal.domain import Booking, BookingRequest, ConnectorInfo, Slot
from portal.errors import SlotNoLongerAvailable
from portal.testing.conformance.base import FOREIGN_SOURCE, ConnectorContract
from portal.testing.conformance.upstream import Upstream

Window = tuple[datetime, datetime]


class BookingContract(ConnectorContract):
    """``book_slot`` answers for its own slots (a redirect, or a confirmed booking) and
    ``None`` for the others'. The connector claims ``booking_redirect`` or ``booking_direct``."""

    @pytest.fixture
    def booking_request(self) -> BookingRequest:
        """Who books: a regulator, from an LRM; never any patient identity."""
        return BookingRequest(regulator_id="810000000001", origin="lrm-conformance")

    def require_booking(self, info: ConnectorInfo) -> None:
        self.require_capability("BookingContract", info, "booking_redirect", "booking_direct")

    def book(
        self, pm: pluggy.PluginManager, upstream: Upstream, slot: Slot, request: BookingRequest
    ) -> Booking | None:
        """``book_slot`` through the plugin manager (``firstresult``), as the portal calls it."""
        result: Booking | None = pm.hook.book_slot(
            slot=slot, request=request, config=upstream.config
        )
        return result

    def bookable_slot(
        self,
        pm: pluggy.PluginManager,
        info: ConnectorInfo,
        upstream: Upstream,
        slot_window: Window,
    ) -> Slot:
        slots = self.fetch_some(pm, info, upstream, upstream.targets(self.query_size), slot_window)
        bookable = [s for s in slots if s.bookable]
        assert bookable, "no bookable slot among the fetched ones"
        return bookable[0]

    def test_booking_a_foreign_slot_returns_none(
        self,
        conformance_pm: pluggy.PluginManager,
        info: ConnectorInfo,
        upstream: Upstream,
        booking_request: BookingRequest,
    ) -> None:
        self.require_booking(info)
        start = datetime.now().astimezone() + timedelta(hours=2)
        foreign = Slot(
            source=FOREIGN_SOURCE,
            id="rdv-1",
            start=start,
            end=start + timedelta(minutes=15),
            practitioner="810000000002",
            booking_url="https://ailleurs.invalid/rdv/1",
        )
        assert self.book(conformance_pm, upstream, foreign, booking_request) is None

    def test_booking_a_fetched_slot_answers_for_that_slot(
        self,
        conformance_pm: pluggy.PluginManager,
        info: ConnectorInfo,
        upstream: Upstream,
        slot_window: Window,
        booking_request: BookingRequest,
    ) -> None:
        self.require_booking(info)
        slot = self.bookable_slot(conformance_pm, info, upstream, slot_window)
        booking = self.book(conformance_pm, upstream, slot, booking_request)
        assert isinstance(booking, Booking), f"book_slot gave {booking!r} for its own slot"
        assert (booking.source, booking.slot_id) == (slot.source, slot.id)
        if booking.status == "redirect":
            assert "booking_redirect" in info.capabilities, "redirects without booking_redirect"
            assert booking.redirect_url, "a redirect needs its URL"
        else:
            assert booking.status == "confirmed", f"status {booking.status!r}"
            assert "booking_direct" in info.capabilities, "confirms without booking_direct"
            assert booking.reference, "a confirmed booking needs the upstream's reference"


class RedirectBookingContract(BookingContract):
    """Booking by redirect (``booking_redirect``): the redirect URL carries ``origin``."""

    def test_booking_redirect_carries_origin(
        self,
        conformance_pm: pluggy.PluginManager,
        info: ConnectorInfo,
        upstream: Upstream,
        slot_window: Window,
        booking_request: BookingRequest,
    ) -> None:
        self.require_capability("RedirectBookingContract", info, "booking_redirect")
        slot = self.bookable_slot(conformance_pm, info, upstream, slot_window)
        booking = self.book(conformance_pm, upstream, slot, booking_request)
        assert booking is not None and booking.redirect_url, (
            f"book_slot gave {booking!r}: a redirect with its URL was expected"
        )
        url = urlsplit(booking.redirect_url)
        assert url.scheme in ("http", "https") and url.netloc, booking.redirect_url
        origin = parse_qs(url.query).get("origin")
        assert origin and origin[0], f"no origin in {booking.redirect_url}"
        expected = getattr(upstream, "origin", None)
        if expected:
            assert origin == [expected], f"origin {origin}, configured {expected!r}"


class DirectBookingContract(BookingContract):
    """Direct booking (``booking_direct``): the upstream's 409/410 (the slot was taken
    meanwhile) → :class:`~portal.errors.SlotNoLongerAvailable`. The upstream simulates
    ``gone``."""

    def test_booking_a_gone_slot_raises_slot_no_longer_available(
        self,
        conformance_pm: pluggy.PluginManager,
        info: ConnectorInfo,
        upstream: Upstream,
        slot_window: Window,
        booking_request: BookingRequest,
    ) -> None:
        self.require_capability("DirectBookingContract", info, "booking_direct")
        self.require_modes("DirectBookingContract", upstream, "gone")
        slot = self.bookable_slot(conformance_pm, info, upstream, slot_window)
        upstream.set_behaviour("gone")
        with pytest.raises(SlotNoLongerAvailable):
            self.book(conformance_pm, upstream, slot, booking_request)


class CancelContract(BookingContract):
    """``cancel_booking`` (direct bookings only) answers ``None`` for another source's
    booking."""

    def test_cancelling_a_foreign_booking_returns_none(
        self, conformance_pm: pluggy.PluginManager, connector: object, upstream: Upstream
    ) -> None:
        self.require_hook("CancelContract", conformance_pm, connector, "cancel_booking")
        booking = Booking(FOREIGN_SOURCE, "rdv-1", "confirmed", reference="ref-1")
        assert conformance_pm.hook.cancel_booking(booking=booking, config=upstream.config) is None
