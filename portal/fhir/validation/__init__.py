"""``sas-portal validate``: the strict checker of the FHIR payloads exchanged with the SAS.

Integrators run it on their answers before going live::

    from portal.fhir.validation import validate

    report = validate(Path("bundle.json").read_bytes())
    if not report.valid:
        for problem in report.errors:
            print(problem.location, problem.message)

It recognises slot-search Bundles (flows ``ps``, ``cpts``, ``sos``), Appointments
(INT_R03), regulator accounts (Practitioner FrPractitionerRegul, INT_R02) and the
single resources of the guide (Slot, Schedule, Practitioner, PractitionerRole,
Location, Organization, HealthcareService). Rules and their sources:
``portal/fhir/VALIDATOR.md``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from portal.fhir.validation import structure
from portal.fhir.validation.common import Ctx
from portal.fhir.validation.jsonutil import (
    InputError,
    as_dict,
    as_list,
    as_str,
    dicts,
    load,
    quote,
    scan_empty,
)
from portal.fhir.validation.report import Collector, Problem, Report
from portal.fhir.validation.rules_appointment import check_appointment
from portal.fhir.validation.rules_bundle import validate_bundle
from portal.fhir.validation.rules_regulator import check_regulator, is_regulator
from portal.fhir.validation.rules_resources import (
    check_healthcare_service,
    check_location,
    check_organization,
    check_practitioner,
    check_practitioner_role,
    check_schedule,
)
from portal.fhir.validation.rules_slot import check_slot
from portal.fhir.validation.terminology import flow_of_profile, profile_name

__all__ = [
    "InputError",
    "Problem",
    "Report",
    "validate",
    "validate_appointment",
    "validate_regulator",
]

_SINGLE: dict[str, Callable[[Mapping[str, Any], str, Ctx], Any]] = {
    "Slot": check_slot,
    "Schedule": check_schedule,
    "Practitioner": check_practitioner,
    "PractitionerRole": check_practitioner_role,
    "Location": check_location,
    "Organization": check_organization,
    "HealthcareService": check_healthcare_service,
}
_ENTRY = re.compile(r"^Bundle\.entry\[(\d+)\]")


def validate(data: bytes | str | Mapping[str, Any]) -> Report:
    """Validate a document: a slot-search Bundle, an Appointment, a regulator account or one
    resource of the guide.

    :param data: JSON text (bytes or str) or the already decoded mapping.
    :raises InputError: when ``data`` is not UTF-8 JSON.
    """
    document, duplicates = load(data)
    return _run(document, duplicates, expect=None)


def validate_appointment(data: bytes | str | Mapping[str, Any]) -> Report:
    """Validate an Appointment (INT_R03, FrAppointmentSAS or sas-sos-appointment)."""
    document, duplicates = load(data)
    return _run(document, duplicates, expect="Appointment")


def validate_regulator(data: bytes | str | Mapping[str, Any]) -> Report:
    """Validate a regulator account (INT_R02, Practitioner FrPractitionerRegul)."""
    document, duplicates = load(data)
    return _run(document, duplicates, expect="regulator")


def _run(document: Any, duplicates: list[str], expect: str | None) -> Report:
    out = Collector()
    if not isinstance(document, Mapping):
        out.error("(racine)", "un objet JSON (ressource FHIR) est attendu à la racine")
        return Report(out.problems, "inconnu")
    resource_type = document.get("resourceType")
    root = resource_type if isinstance(resource_type, str) and resource_type else "(racine)"
    for key in sorted(set(duplicates)):
        out.error(
            root,
            f"clé JSON {quote(key)} en double dans un même objet (la dernière masque la première)",
        )
    if expect == "Appointment" and resource_type != "Appointment":
        out.error(
            f"{root}.resourceType", f"resourceType {quote(resource_type)} : Appointment attendu"
        )
        return Report(out.problems, "inconnu")
    if expect == "regulator" and resource_type != "Practitioner":
        out.error(
            f"{root}.resourceType", f"resourceType {quote(resource_type)} : Practitioner attendu"
        )
        return Report(out.problems, "inconnu")

    empty = scan_empty(document, root, out)
    if resource_type == "Bundle":
        structural = structure.check_bundle_shell(document)
        for index, resource in structure.entry_resources(document):
            if isinstance(resource, Mapping):
                structural += structure.check_resource(resource, f"Bundle.entry[{index}].resource")
        flow = validate_bundle(document, out)
        kind = f"Bundle ({flow})"
    elif resource_type == "Appointment":
        structural = structure.check_resource(document, root)
        variant = check_appointment(document, root, Ctx(out))
        kind = "Appointment (sos)" if variant == "sos" else "Appointment"
    elif resource_type == "Practitioner" and (expect == "regulator" or is_regulator(document)):
        structural = structure.check_resource(document, root)
        check_regulator(document, root, Ctx(out))
        kind = "Practitioner (régulateur)"
    elif resource_type == "OperationOutcome":
        structural = structure.check_resource(document, root)
        texts = [
            as_str(issue.get("diagnostics")) or as_str(as_dict(issue.get("details")).get("text"))
            for _, issue in dicts(document.get("issue"))
        ]
        out.error(
            root,
            "réponse d'erreur (OperationOutcome) au lieu d'un Bundle searchset"
            + (f" : {' ; '.join(t for t in texts if t)}" if any(texts) else ""),
        )
        kind = "OperationOutcome"
    elif isinstance(resource_type, str) and resource_type in _SINGLE:
        structural = structure.check_resource(document, root)
        _SINGLE[resource_type](document, root, Ctx(out, flow=_resource_flow(document)))
        kind = resource_type
    else:
        out.error(
            f"{root}.resourceType",
            f"resourceType {quote(resource_type)} non pris en charge : Bundle (recherche de "
            "créneaux), Appointment, Practitioner (régulateur) ou une ressource du guide attendus",
        )
        return Report(out.problems, "inconnu")

    for problem in structural:
        if _covered(problem.location, empty) or out.has_error_at(problem.location):
            continue
        out.add(problem.severity, problem.location, problem.message)
    return Report(_ordered(out.problems), kind)


def _resource_flow(resource: Mapping[str, Any]) -> str:
    for url in as_list(as_dict(resource.get("meta")).get("profile")):
        if isinstance(url, str) and (flow := flow_of_profile(profile_name(url) or "")):
            return flow
    actors = [as_dict(a).get("reference") for a in as_list(resource.get("actor"))]
    if any(isinstance(a, str) and a.startswith("Location/") for a in actors):
        return "sos"
    return "ps"


def _covered(location: str, empty: set[str]) -> bool:
    return any(location == e or location.startswith((e + ".", e + "[")) for e in empty)


def _ordered(problems: list[Problem]) -> list[Problem]:
    """Bundle-level problems first, then entry by entry (stable within an entry)."""

    def key(problem: Problem) -> int:
        match = _ENTRY.match(problem.location)
        return int(match.group(1)) if match else -1

    return sorted(problems, key=key)
