"""sas-portal: the regulator portal of the Service d'Accès aux Soins.

Plugin authors need one import::

    from portal import hookimpl, Slot, SlotQuery, ConnectorInfo
"""

from __future__ import annotations

from hookspecs import hookimpl
from portal.app import create_app
from portal.domain import (
    Address,
    Booking,
    BookingRequest,
    ConnectorInfo,
    RegulatorAccount,
    Slot,
    SlotQuery,
    SlotTarget,
)
from portal.errors import (
    AuthError,
    ConnectorError,
    ConnectorTimeout,
    MalformedResponse,
    SlotNoLongerAvailable,
    Unavailable,
    UpstreamRejected,
)

__all__ = [
    "Address",
    "AuthError",
    "Booking",
    "BookingRequest",
    "ConnectorError",
    "ConnectorInfo",
    "ConnectorTimeout",
    "MalformedResponse",
    "RegulatorAccount",
    "Slot",
    "SlotNoLongerAvailable",
    "SlotQuery",
    "SlotTarget",
    "Unavailable",
    "UpstreamRejected",
    "create_app",
    "hookimpl",
]
