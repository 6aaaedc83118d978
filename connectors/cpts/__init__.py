"""CPTS (INT_R04): slots tied to a HealthcareService provided by a CPTS Organization."""

from __future__ import annotations

from portal import ConnectorInfo, hookimpl

NAME = "cpts"


@hookimpl
def connector_info() -> ConnectorInfo:
    return ConnectorInfo(
        name=NAME,
        label="CPTS (communautés professionnelles territoriales de santé)",
        kind="structure",
        capabilities=frozenset({"slots", "booking_redirect"}),
        refresh_interval_s=300,
    )
