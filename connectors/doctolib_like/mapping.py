"""Pure mapping: editor bundles → normalised slots, regulator accounts → FHIR (INT_R02)."""

from __future__ import annotations

from typing import Any

from portal.domain import RegulatorAccount, Slot
from portal.errors import ConnectorError, UpstreamRejected
from portal.fhir import read_bundle
from portal.identifiers import IDNPS_SYSTEM, SAS_SYSTEM
from portal.kit import with_source

REGULATOR_PROFILE = (
    "https://interop.esante.gouv.fr/ig/fhir/sas/StructureDefinition/FrPractitionerRegul"
)
IDENTIFIER_TYPES = "http://interopsante.org/fhir/CodeSystem/fr-v2-0203"
#: Identifier systems a regulator account may carry, and their identifier type code.
REGULATOR_ID_TYPES = {IDNPS_SYSTEM: "IDNPS", SAS_SYSTEM: "INTRN"}


def read_slots(body: bytes, *, source: str) -> tuple[list[Slot], list[str]]:
    """The slots of an INT_R01 searchset bundle and the reader's warnings.

    :raises portal.errors.MalformedResponse: not JSON, or not a Bundle.
    :raises portal.errors.UpstreamRejected: an OperationOutcome instead of a Bundle.
    """
    try:
        result = read_bundle(body, source=source, flow="ps")
    except ConnectorError as exc:
        raise with_source(exc, source) from exc
    return result.slots, result.warnings


def regulator_resource(account: RegulatorAccount) -> dict[str, Any]:
    """The FrPractitionerRegul body of ``account``: one identifier, active, name, email.

    :raises UpstreamRejected: the account's identifier system is neither IDNPS
        nor the SAS technical id, or an active account lacks its name or email
        (editors would reject it).
    """
    type_code = REGULATOR_ID_TYPES.get(account.identifier_system)
    if type_code is None or not account.identifier_value.strip():
        raise UpstreamRejected(
            "compte régulateur sans identifiant national (IDNPS) ni identifiant technique SAS : "
            f"{account.identifier_system}|{account.identifier_value}"
        )
    missing = [
        label
        for label, value in (
            ("nom", account.family_name),
            ("prénom", account.given_name),
            ("adresse électronique", account.email),
        )
        if not (value or "").strip()
    ]
    if account.active and missing:  # a deactivation goes out with whatever is known
        raise UpstreamRejected(
            f"compte régulateur {account.identifier_value} incomplet ({', '.join(missing)}) : "
            "exigé par le profil FrPractitionerRegul"
        )
    name: dict[str, Any] = {"family": account.family_name}
    if account.given_name:
        name["given"] = [account.given_name]
    resource: dict[str, Any] = {
        "resourceType": "Practitioner",
        "meta": {"source": SAS_SYSTEM, "profile": [REGULATOR_PROFILE]},
        "identifier": [
            {
                "type": {"coding": [{"system": IDENTIFIER_TYPES, "code": type_code}]},
                "system": account.identifier_system,
                "value": account.identifier_value.strip(),
            }
        ],
        "active": account.active,
        "name": [name],
    }
    if account.email:
        resource["telecom"] = [{"system": "email", "value": account.email}]
    return resource
