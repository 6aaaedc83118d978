"""FHIR JSON building helpers of the sandboxes: the systems and profiles of the national
guide, FHIR ids, R4B-validated resource JSON, Bundle entries and error answers."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from fhir.resources.R4B.operationoutcome import OperationOutcome
from pydantic import BaseModel
from werkzeug.wrappers import Response

from portal.identifiers import SAS_SYSTEM

FHIR_JSON = "application/fhir+json"
SAS_SOURCE = SAS_SYSTEM
ID_TYPE_SYSTEM = "http://interopsante.org/fhir/CodeSystem/fr-v2-0203"
LOCATION_ID_TYPE_SYSTEM = "http://interopsante.org/fhir/CodeSystem/fr-location-identifier-type"
R314_SYSTEM = "https://mos.esante.gouv.fr/NOS/TRE_R314-TypeCreneau/FHIR/TRE-R314-TypeCreneau"
R38_SYSTEM = (
    "https://mos.esante.gouv.fr/NOS/TRE_R38-SpecialiteOrdinale/FHIR/TRE-R38-SpecialiteOrdinale"
)
ACTCODE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
APPOINTMENT_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v2-0276"
#: System of the editors' internal place identifiers (made up, like the guide's examples).
PLACE_SYSTEM = "https://sandbox.sas-portal.invalid/lieux"
_SAS = "http://sas.fr/fhir/StructureDefinition/"
PROFILE_BUNDLE = _SAS + "BundleAgregateur"
PROFILE_SLOT = _SAS + "FrSlotAgregateur"
PROFILE_SCHEDULE = _SAS + "FrScheduleAgregateur"
PROFILE_PRACTITIONER = _SAS + "FrPractitionerAgregateur"
PROFILE_ROLE = _SAS + "FrPractitionerRoleExerciceAgregateur"
PROFILE_LOCATION = _SAS + "FrLocationAgregateur"
_FHIR_ID_UNSAFE = re.compile(r"[^A-Za-z0-9.\-]")


def fhir_id(key: str) -> str:
    """A valid FHIR id derived from a key (national ids are already valid)."""
    return _FHIR_ID_UNSAFE.sub(".", key)[:40]


def resource_json(model: type[BaseModel], data: Mapping[str, Any]) -> str:
    """Build ``data`` with an R4B model (which validates it) and serialise it.

    The sandboxes write their input in the models' canonical JSON form, so the text
    is ``data`` itself: identical to ``model_dump(mode="json", exclude_none=True)``
    (the tests check it for every resource) at a third of the cost, which matters
    for the first (cold) search of a batch.
    """
    model.model_validate(data)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def entry_json(full_url: str, resource: str, mode: str) -> str:
    return (
        f'{{"fullUrl":{json.dumps(full_url)},"resource":{resource},"search":{{"mode":"{mode}"}}}}'
    )


def fhir_response(body: str | bytes, status: int = 200, **headers: str) -> Response:
    return Response(body, status=status, content_type=FHIR_JSON, headers=headers)


def outcome(status: int, diagnostics: str, code: str = "invalid", **headers: str) -> Response:
    """An error answer: ``status`` with an R4B OperationOutcome."""
    body = resource_json(
        OperationOutcome,
        {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "diagnostics": diagnostics}],
        },
    )
    return fhir_response(body, status, **headers)


def identifier(system: str, value: str, type_code: str, type_system: str = ID_TYPE_SYSTEM) -> dict:
    return {
        "type": {"coding": [{"system": type_system, "code": type_code}]},
        "system": system,
        "value": value,
    }


def address(line: str, postal_code: str, city: str) -> dict[str, Any]:
    data: dict[str, Any] = {"line": [line]} if line else {}
    if city:
        data["city"] = city
    if postal_code:
        data["postalCode"] = postal_code
    return data


def human_name(family: str, given: str) -> dict[str, Any]:
    name: dict[str, Any] = {"family": family} if family else {}
    if given:
        name["given"] = [given]
    return name


def coding(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}
