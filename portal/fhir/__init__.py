"""FHIR R4 in and out: the tolerant reader, references, the validator.

Modules: ``reader`` (editors' slot Bundles into ``Slot`` values, bad entries skipped
with a warning), ``references`` and ``slot_elements`` (what the reader resolves and
maps), ``validation`` / ``validator`` (the strict validator behind ``sas-portal
validate``; see ``VALIDATOR.md``). The Appointment endpoint's parsing will live here.

Shared by connectors and the portal. May import: the contract (``portal.domain``,
``portal.errors``, ``portal.identifiers``) and ``portal.reference``. No database, no
Flask, no domain package.
"""

from __future__ import annotations

from portal.fhir.reader import Flow, ReadResult, detect_flow, read_bundle

__all__ = ["Flow", "ReadResult", "detect_flow", "read_bundle"]
