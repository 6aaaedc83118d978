"""How the audit page shows an event's details: French labels, readable values.

The trail stores details as JSON (``None``, booleans, lists, ISO times); an
administrator reads "oui", "non", "—" and local times, never ``None`` or ``True``.
Empty details (``None``) are left out of the page; the CSV export keeps the raw JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

__all__ = ["DETAIL_LABELS", "detail_items", "detail_text"]

#: French labels of the detail keys met across the portal (others show as is).
DETAIL_LABELS: Final = {
    "killed": "coupée",
    "reason": "motif",
    "method": "méthode",
    "step": "étape",
    "detail": "précision",
    "plugin": "connecteur",
    "active": "active",
    "error": "erreur",
    "via": "par",
    "outcome": "résultat",
    "national_id": "identifiant national",
    "label": "libellé",
    "enabled": "activée",
    "specialty": "spécialité",
    "insee": "commune (INSEE)",
    "department": "département",
    "precision": "précision du lieu",
    "radius_km": "rayon (km)",
    "result_count": "résultats",
    "with_slots": "avec créneaux",
    "origin": "origine",
    "lrm_origin": "origine LRM",
    "status": "statut",
    "practitioner": "professionnel",
    "structure": "structure",
    "start": "début",
    "roles": "rôles",
    "role": "rôle",
    "territory": "territoire",
}


def detail_text(value: Any, zone: ZoneInfo | None = None) -> str:
    """One detail value as an administrator reads it (``None`` → "—", booleans → oui/non,
    lists joined, ISO times with an offset in ``zone``)."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, list | tuple):
        return ", ".join(detail_text(v, zone) for v in value) if value else "—"
    if isinstance(value, Mapping):
        return " ; ".join(f"{k} : {detail_text(v, zone)}" for k, v in sorted(value.items()))
    if isinstance(value, str) and zone is not None and len(value) >= 19 and "T" in value:
        try:
            at = datetime.fromisoformat(value)
        except ValueError:
            return value
        if at.tzinfo is not None:
            return at.astimezone(zone).strftime("%d/%m/%Y %H:%M")
    return str(value)


def detail_items(
    details: Mapping[str, Any] | None, zone: ZoneInfo | None = None
) -> list[tuple[str, str]]:
    """(label, text) of an event's details, sorted by key; empty values left out."""
    return [
        (DETAIL_LABELS.get(key, key), detail_text(value, zone))
        for key, value in sorted((details or {}).items())
        if value is not None and value != "" and value != []
    ]
