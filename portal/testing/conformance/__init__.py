"""The connector conformance kit: contract test classes a connector opts into.

A connector's test module subclasses the contracts of what it supports and overrides
two fixtures, its plugin and a started upstream::

    import pytest
    from portal.testing.conformance import (
        DirectBookingContract, EntryPointContract, ErrorContract, FetchContract,
    )

    class TestMyConnector(FetchContract, ErrorContract, DirectBookingContract,
                          EntryPointContract):
        @pytest.fixture
        def connector(self):
            return my_connector  # the module (or object) holding the @hookimpl functions

        @pytest.fixture
        def upstream(self):
            with make_sandbox() as server:  # anything implementing `Upstream`
                yield server

Every contract also runs the checks of :class:`ConnectorContract` (registration in
a fresh plugin manager, ``connector_info``, capabilities matching the implemented
hooks). The kit is plain test classes: importing them is all it takes, no pytest
plugin to register. No test skips: opt only into the contracts of what the connector
does; a contract it (or its upstream) cannot satisfy fails, saying what is missing.

- :class:`FetchContract`: slots of the asked targets only, within the window,
  timezone-aware, right ``source``; ``None`` when no target is for this connector;
  at most 25 ids per upstream request; slots survive the cache's JSON round trip;
  ``check_config`` accepts a working section; fetches work between ``startup`` and
  ``shutdown`` (idempotent) and after it.
- :class:`SourceFetchContract` (bulk publishers, ``fetch_source_slots``): one call
  reads the publication once and covers every bound target (the bulk counterpart of
  the 25-ids rule), slots well formed within the window, 5xx/401 as connector errors,
  broken lines skipped. Its upstream may be any :class:`~portal.testing.sandbox.SimulatorServer`.
- :class:`ErrorContract`: 5xx → retryable :class:`~portal.errors.Unavailable` with
  diagnostics; 401/403 → :class:`~portal.errors.AuthError`; a hanging upstream → a
  retryable error within the configured timeout, and never more than the portal's
  deadline; a slow upstream within the timeout still answers; broken entries are
  skipped, the good slots kept. The upstream simulates ``error``, ``auth``,
  ``timeout`` and ``malformed``.
- :class:`BookingContract` (``booking_redirect`` or ``booking_direct``): ``None`` for
  a foreign slot; a booking for its own slot (a redirect with its URL, or a confirmed
  booking with a reference).
- :class:`RedirectBookingContract` (``booking_redirect``, includes
  :class:`BookingContract`): the redirect URL carries ``origin``.
- :class:`DirectBookingContract` (``booking_direct``, includes
  :class:`BookingContract`): 409/410 → :class:`~portal.errors.SlotNoLongerAvailable`;
  the upstream simulates ``gone``.
- :class:`CancelContract` (``cancel_booking``, includes :class:`BookingContract`):
  ``None`` for another source's booking.
- :class:`AccountsContract` (``accounts``): ``provision_regulator`` creates, updates
  and deactivates; failures are connector errors (the upstream simulates ``error``
  and ``auth``).
- :class:`EntryPointContract`: an installed distribution declares the connector under
  the ``sas_portal.connectors`` entry-point group, named like it.
"""

from __future__ import annotations

from portal.testing.conformance.accounts import AccountsContract
from portal.testing.conformance.base import (
    FOREIGN_SOURCE,
    ConnectorContract,
    EntryPointContract,
)
from portal.testing.conformance.booking import (
    BookingContract,
    CancelContract,
    DirectBookingContract,
    RedirectBookingContract,
)
from portal.testing.conformance.fetch import ErrorContract, FetchContract, check_slots
from portal.testing.conformance.source import SourceFetchContract
from portal.testing.conformance.upstream import (
    KIT_ORIGIN,
    MODES,
    Mode,
    SandboxUpstream,
    Upstream,
)

__all__ = [
    "FOREIGN_SOURCE",
    "KIT_ORIGIN",
    "MODES",
    "AccountsContract",
    "BookingContract",
    "CancelContract",
    "ConnectorContract",
    "DirectBookingContract",
    "EntryPointContract",
    "ErrorContract",
    "FetchContract",
    "Mode",
    "RedirectBookingContract",
    "SandboxUpstream",
    "SourceFetchContract",
    "Upstream",
    "check_slots",
]
