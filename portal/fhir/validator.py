"""Compatibility alias: the validator lives in :mod:`portal.fhir.validation`."""

from portal.fhir.validation import (
    InputError,
    Problem,
    Report,
    validate,
    validate_appointment,
    validate_regulator,
)

__all__ = [
    "InputError",
    "Problem",
    "Report",
    "validate",
    "validate_appointment",
    "validate_regulator",
]
