"""Editors implementing the national individual-PS slot search (INT_R01), booking
redirects and regulator accounts (INT_R02)."""

from __future__ import annotations

from portal import ConnectorInfo, hookimpl

NAME = "doctolib_like"


@hookimpl
def connector_info() -> ConnectorInfo:
    return ConnectorInfo(
        name=NAME,
        label="Éditeurs de prise de rendez-vous (PS individuels)",
        kind="editor",
        capabilities=frozenset({"slots", "booking_redirect", "accounts"}),
        refresh_interval_s=300,
    )
