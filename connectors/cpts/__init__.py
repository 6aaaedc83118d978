"""CPTS (INT_R04): slots tied to a HealthcareService provided by a CPTS Organization."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.cpts import client
from portal import Booking, BookingRequest, ConnectorInfo, Slot, SlotQuery, hookimpl

NAME = client.NAME


@hookimpl
def connector_info() -> ConnectorInfo:
    return ConnectorInfo(
        name=NAME,
        label="CPTS (communautés professionnelles territoriales de santé)",
        kind="structure",
        capabilities=frozenset({"slots", "booking_redirect"}),
        refresh_interval_s=300,
        requires_contract="1.1",
    )


@hookimpl
def fetch_slots(query: SlotQuery, config: Mapping[str, Any]) -> list[Slot] | None:
    return client.fetch_slots(query, config)


@hookimpl
def book_slot(slot: Slot, request: BookingRequest, config: Mapping[str, Any]) -> Booking | None:
    return client.book_slot(slot, config)


@hookimpl
def check_config(config: Mapping[str, Any]) -> list[str]:
    return client.check_config(config)


@hookimpl
def startup() -> None:
    client.POOL.open()


@hookimpl
def shutdown() -> None:
    client.POOL.close()
