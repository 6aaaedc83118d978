"""The normalised slot's JSON form, back to a ``Slot`` (cache rows, tests, tools)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from portal.domain import Address, Slot


def slot_from_json(data: Mapping[str, Any]) -> Slot:
    """Inverse of ``Slot.as_json()``."""
    address = data.get("address")
    return Slot(
        source=data["source"],
        id=data["id"],
        practitioner=data.get("practitioner"),
        structure=data.get("structure"),
        start=datetime.fromisoformat(data["start"]),
        end=datetime.fromisoformat(data["end"]),
        modalities=tuple(data.get("modalities") or ()),
        visibility=tuple(data.get("visibility") or ()),
        bookable=bool(data.get("bookable", True)),
        specialties=tuple(data.get("specialties") or ()),
        reasons=tuple(data.get("reasons") or ()),
        booking_url=data.get("booking_url"),
        capacity=int(data.get("capacity") or 1),
        address=Address(**address) if address else None,
        cpts=tuple(data.get("cpts") or ()),
    )
