"""Pure mapping: SOS Médecins bundles → normalised slots."""

from __future__ import annotations

from collections.abc import Mapping

from portal.domain import Slot
from portal.errors import ConnectorError
from portal.fhir import read_bundle
from portal.kit import with_source


def read_slots(body: bytes, *, source: str) -> tuple[list[Slot], list[str]]:
    """The slots of an SOS Schedule searchset bundle (``_revinclude``d Slots, their
    consultation site and association) and the reader's warnings.

    :raises portal.errors.MalformedResponse: not JSON, or not a Bundle.
    :raises portal.errors.UpstreamRejected: an OperationOutcome instead of a Bundle.
    """
    try:
        result = read_bundle(body, source=source, flow="sos")
    except ConnectorError as exc:
        raise with_source(exc, source) from exc
    return result.slots, result.warnings


def structure_id(national_id: str, upstream_ids: Mapping[str, str]) -> str | None:
    """The ``3``+SIRET an association is searched by: its national id when it is one,
    else the SIRET its binding recorded; ``None`` when there is neither."""
    if national_id.startswith("3") and len(national_id) == 15:
        return national_id
    siret = (upstream_ids.get("siret") or "").replace(" ", "")
    if siret.startswith("3") and len(siret) == 15:
        return siret
    if len(siret) == 14 and siret.isdigit():
        return "3" + siret
    return None
