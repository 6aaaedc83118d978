"""FHIR R4 in and out: the tolerant reader of editors' slot Bundles (shared by connectors)."""

from __future__ import annotations

from portal.fhir.reader import Flow, ReadResult, detect_flow, read_bundle

__all__ = ["Flow", "ReadResult", "detect_flow", "read_bundle"]
