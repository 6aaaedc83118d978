"""sas-portal: the regulator portal of the Service d'Accès aux Soins.

Plugin authors need one import::

    from portal import hookimpl, Slot, SlotQuery, ConnectorInfo

That import stays light: it loads the contract (``hookspecs``, ``portal.domain``,
``portal.errors``) and neither Flask, SQLAlchemy nor the models. ``create_app`` is
resolved on first access (``portal.create_app``), so the web application is loaded only
by those who ask for it.
"""

from __future__ import annotations

import importlib
from typing import Any

from hookspecs import hookimpl
from portal.domain import (
    Address,
    Booking,
    BookingRequest,
    ConnectorInfo,
    PartialSlots,
    RegulatorAccount,
    Slot,
    SlotQuery,
    SlotTarget,
    source_plugin,
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
    "PartialSlots",
    "RegulatorAccount",
    "Slot",
    "SlotNoLongerAvailable",
    "SlotQuery",
    "SlotTarget",
    "Unavailable",
    "UpstreamRejected",
    "create_app",
    "hookimpl",
    "source_plugin",
]


def __getattr__(name: str) -> Any:
    # The application factory is loaded on first use (PEP 562): a plugin's
    # ``from portal import hookimpl`` must not import Flask and the models.
    if name == "create_app":
        return importlib.import_module("portal.app").create_app
    raise AttributeError(f"module 'portal' has no attribute {name!r}")
