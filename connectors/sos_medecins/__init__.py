"""SOS Médecins associations: slots of their fixed consultation sites, searched by SIRET."""

from __future__ import annotations

from portal import ConnectorInfo, hookimpl

NAME = "sos_medecins"


@hookimpl
def connector_info() -> ConnectorInfo:
    return ConnectorInfo(
        name=NAME,
        label="SOS Médecins",
        kind="structure",
        capabilities=frozenset({"slots", "booking_redirect"}),
        refresh_interval_s=300,
    )
