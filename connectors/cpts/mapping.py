"""Pure mapping: CPTS (INT_R04) bundles → normalised slots."""

from __future__ import annotations

from portal.domain import Slot
from portal.errors import ConnectorError
from portal.fhir import read_bundle
from portal.kit import with_source


def read_slots(body: bytes, *, source: str) -> tuple[list[Slot], list[str]]:
    """The slots of an INT_R04 searchset bundle (with their CPTS) and the reader's warnings.

    :raises portal.errors.MalformedResponse: not JSON, or not a Bundle.
    :raises portal.errors.UpstreamRejected: an OperationOutcome instead of a Bundle.
    """
    try:
        result = read_bundle(body, source=source, flow="cpts")
    except ConnectorError as exc:
        raise with_source(exc, source) from exc
    return result.slots, result.warnings
