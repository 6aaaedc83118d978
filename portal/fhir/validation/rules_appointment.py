"""Appointment feedback (INT_R03): profiles FrAppointmentSAS and sas-sos-appointment.

Cardinalities enforced (differentials): ``identifier`` 1..1 with ``system`` and
``value``; ``status`` booked | fulfilled | noshow | cancelled (+ pending for SOS);
``start``, ``end`` 1..1; ``created`` (must-support, required here: the portal
matches orientations on it); ``participant`` 1..* with ``status`` accepted |
needs-action and, for FrAppointmentSAS, an ``actor.identifier`` IDNPS;
extension FrAppointmentOperator 1..1 with ``valueReference.identifier`` (type,
system, value); optional extension sas-categorie-orientation. No patient data.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from portal.fhir.validation.common import Ctx, check_identifier_type, parse_instant
from portal.fhir.validation.identifiers import UUID, check_idnps
from portal.fhir.validation.jsonutil import as_dict, as_list, as_str, codings, dicts, quote
from portal.fhir.validation.terminology import (
    APPOINTMENT_STATUSES,
    OPERATOR_EXTENSION,
    ORIENTATION_CODES,
    ORIENTATION_EXTENSION,
    PARTICIPANT_STATUSES,
    PATIENT_IDENTIFIER_OID_PREFIX,
    PROFILES,
    SOS_APPOINTMENT_STATUSES,
    profile_name,
)
from portal.identifiers import IDNPS_SYSTEM, SAS_SYSTEM

PATIENT_TYPES = {"Patient", "RelatedPerson", "Person"}
#: v3-ParticipationType codes that designate the patient
PATIENT_PARTICIPATION = {"SBJ", "PAT", "RCT"}


def _is_patient_reference(reference: str) -> bool:
    parts = reference.split("/_history/")[0].split("/")
    return len(parts) >= 2 and parts[-2] in PATIENT_TYPES


def appointment_variant(appointment: Mapping[str, Any]) -> str:
    """``"sos"`` for sas-sos-appointment, else ``"sas"``."""
    for url in as_list(as_dict(appointment.get("meta")).get("profile")):
        if isinstance(url, str) and profile_name(url) == "sas-sos-appointment":
            return "sos"
    return "sas"


def check_appointment(appointment: Mapping[str, Any], base: str, ctx: Ctx) -> str:
    """Returns the variant (``sas`` or ``sos``)."""
    out = ctx.out
    variant = appointment_variant(appointment)
    declared = [
        p for p in as_list(as_dict(appointment.get("meta")).get("profile")) if isinstance(p, str)
    ]
    if not {PROFILES["FrAppointmentSAS"], PROFILES["sas-sos-appointment"]} & set(declared):
        out.warning(
            f"{base}.meta.profile",
            f"profil absent : déclarez {quote(PROFILES['FrAppointmentSAS'])} "
            f"(ou {quote(PROFILES['sas-sos-appointment'])} pour SOS Médecins)",
        )
    _identifier(appointment, base, ctx)
    _status(appointment, base, ctx, variant)
    _dates(appointment, base, ctx)
    _participants(appointment, base, ctx, variant)
    _extensions(appointment, base, ctx)
    _no_patient_data(appointment, base, ctx)
    return variant


def _identifier(appointment: Mapping[str, Any], base: str, ctx: Ctx) -> None:
    identifiers = list(dicts(appointment.get("identifier")))
    if not identifiers:
        if "identifier" not in appointment:
            ctx.out.error(
                f"{base}.identifier",
                "identifiant du rendez-vous absent (identifier 1..1, system + value) : il sert "
                "aux mises à jour (PUT ?identifier=system|value)",
            )
        return
    if len(identifiers) > 1:
        ctx.out.error(
            f"{base}.identifier", f"{len(identifiers)} identifiants : un seul est attendu (1..1)"
        )
    for index, identifier in identifiers:
        where = f"{base}.identifier[{index}]"
        for element in ("system", "value"):
            if element not in identifier:
                ctx.out.error(f"{where}.{element}", f"identifier.{element} absent (1..1)")
        system = as_str(identifier.get("system"))
        if system and ":" not in system:
            ctx.out.error(
                f"{where}.system",
                f"system {quote(system)} : une URI est attendue (urn:oid:… ou https://…)",
            )


def _status(appointment: Mapping[str, Any], base: str, ctx: Ctx, variant: str) -> None:
    status = appointment.get("status")
    allowed = SOS_APPOINTMENT_STATUSES if variant == "sos" else APPOINTMENT_STATUSES
    if status is None:
        ctx.out.error(f"{base}.status", f"statut absent : {' | '.join(sorted(allowed))} attendu")
    elif not isinstance(status, str) or status not in allowed:
        hint = (
            " (pending est réservé au profil SOS sas-sos-appointment)"
            if status == "pending"
            else ""
        )
        ctx.out.error(
            f"{base}.status",
            f"statut {quote(status)} : {' | '.join(sorted(allowed))} attendu{hint}",
        )


def _dates(appointment: Mapping[str, Any], base: str, ctx: Ctx) -> None:
    labels = {"start": "début", "end": "fin", "created": "création"}
    parsed = {}
    for name, label in labels.items():
        value = appointment.get(name)
        if value is None:
            ctx.out.error(f"{base}.{name}", f"date de {label} absente ({name} attendu)")
        elif name != "created" and (moment := parse_instant(value)) is not None:
            parsed[name] = moment
    if len(parsed) == 2 and parsed["start"] >= parsed["end"]:
        ctx.out.error(
            f"{base}.end",
            f"fin {quote(appointment.get('end'))} antérieure ou égale au début "
            f"{quote(appointment.get('start'))}",
        )


def _participants(appointment: Mapping[str, Any], base: str, ctx: Ctx, variant: str) -> None:
    participants = list(dicts(appointment.get("participant")))
    with_ps = 0
    for index, participant in participants:
        where = f"{base}.participant[{index}]"
        status = participant.get("status")
        if status is not None and (
            not isinstance(status, str) or status not in PARTICIPANT_STATUSES
        ):
            ctx.out.error(
                f"{where}.status",
                f"statut du participant {quote(status)} : accepted ou needs-action attendu",
            )
        for sub, concept in dicts(participant.get("type")):
            for _, coding in codings(concept):
                if as_str(coding.get("code")) in PATIENT_PARTICIPATION:
                    ctx.out.error(
                        f"{where}.type[{sub}]",
                        f"participant de type {as_str(coding.get('code'))} (patient) : aucune "
                        "donnée patient ne doit être transmise",
                    )
        actor = participant.get("actor")
        if not isinstance(actor, Mapping):
            continue
        actor_type = as_str(actor.get("type"))
        reference = as_str(actor.get("reference"))
        if actor_type in PATIENT_TYPES or _is_patient_reference(reference):
            ctx.out.error(
                f"{where}.actor",
                "participant patient : aucune donnée patient ne doit être transmise (seul le PS "
                "effecteur est participant, identifié par son IDNPS)",
            )
            continue
        identifier = actor.get("identifier")
        if not isinstance(identifier, Mapping):
            ctx.out.error(
                f"{where}.actor.identifier",
                "actor.identifier absent : le PS est identifié par son IDNPS "
                f"(system {IDNPS_SYSTEM}, value 8 + RPPS)",
            )
            continue
        iwhere = f"{where}.actor.identifier"
        system = as_str(identifier.get("system"))
        if system != IDNPS_SYSTEM:
            ctx.out.error(
                f"{iwhere}.system",
                f"system {quote(system) if system else 'absent'} : {IDNPS_SYSTEM} (IDNPS) attendu",
            )
            continue
        if "type" not in identifier:
            ctx.out.error(f"{iwhere}.type", "type absent : IDNPS (fr-v2-0203) attendu")
        else:
            check_identifier_type(identifier, iwhere, "IDNPS", ctx)
        value = as_str(identifier.get("value"))
        if not value:
            ctx.out.error(f"{iwhere}.value", "IDNPS du PS absent")
            continue
        with_ps += 1
        result = check_idnps(value)
        for message in result.errors:
            ctx.out.error(f"{iwhere}.value", message)
        for message in result.warnings:
            ctx.out.warning(f"{iwhere}.value", message)
    if participants and not with_ps and variant != "sos":
        ctx.out.error(
            f"{base}.participant",
            "aucun participant PS : participant.actor.identifier porte l'IDNPS du PS effecteur",
        )


def _extensions(appointment: Mapping[str, Any], base: str, ctx: Ctx) -> None:
    extensions = list(dicts(appointment.get("extension")))
    operators = [(i, e) for i, e in extensions if e.get("url") == OPERATOR_EXTENSION]
    if not operators:
        ctx.out.error(
            f"{base}.extension",
            f"extension {OPERATOR_EXTENSION} absente : valueReference.identifier porte "
            "l'identifiant du régulateur tel que provisionné",
        )
    elif len(operators) > 1:
        ctx.out.error(
            f"{base}.extension", f"{len(operators)} extensions FrAppointmentOperator : une seule"
        )
    for index, extension in operators:
        where = f"{base}.extension[{index}]"
        reference = extension.get("valueReference")
        identifier = as_dict(reference).get("identifier")
        if not isinstance(identifier, Mapping):
            ctx.out.error(
                f"{where}.valueReference.identifier",
                "identifiant du régulateur absent "
                "(valueReference.identifier : type, system, value)",
            )
            continue
        _regulator_identifier(identifier, f"{where}.valueReference.identifier", ctx)
    for index, extension in extensions:
        url = extension.get("url")
        where = f"{base}.extension[{index}]"
        if url == ORIENTATION_EXTENSION:
            concept = extension.get("valueCodeableConcept")
            found = [(as_str(c.get("system")), as_str(c.get("code"))) for _, c in codings(concept)]
            if not found:
                ctx.out.error(
                    f"{where}.valueCodeableConcept",
                    "catégorie d'orientation sans coding (001 PS, 002 place de marché, 003 SOS, "
                    "TRE_R66 604 CPTS, 603 MSP, 124 CDS)",
                )
            for system, code in found:
                if code not in ORIENTATION_CODES.get(system, ()):
                    ctx.out.error(
                        f"{where}.valueCodeableConcept",
                        f"catégorie d'orientation {quote(code)} ({system or 'sans system'}) "
                        "hors du jeu de valeurs SAS (001 PS, 002 place de marché, 003 SOS ; "
                        "TRE_R66 604 CPTS, 603 MSP, 124 CDS)",
                    )
        elif url != OPERATOR_EXTENSION:
            ctx.out.warning(where, f"extension {quote(url)} inconnue : ignorée par la plateforme")


def _regulator_identifier(identifier: Mapping[str, Any], where: str, ctx: Ctx) -> None:
    """The regulator's id as provisioned (INT_R02): IDNPS, or the SAS technical UUID."""
    system = as_str(identifier.get("system"))
    value = as_str(identifier.get("value"))
    for element in ("type", "system", "value"):
        if element not in identifier:
            ctx.out.error(f"{where}.{element}", f"{element} absent (1..1)")
    if system == IDNPS_SYSTEM:
        if "type" in identifier:
            check_identifier_type(identifier, where, "IDNPS", ctx)
        if value:
            result = check_idnps(value, regulator=True)
            for message in result.errors:
                ctx.out.error(f"{where}.value", message)
            for message in result.warnings:
                ctx.out.warning(f"{where}.value", message)
    elif system == SAS_SYSTEM:
        if "type" in identifier:
            check_identifier_type(identifier, where, "INTRN", ctx)
        if value and not UUID.match(value):
            ctx.out.error(
                f"{where}.value",
                f"identifiant technique SAS {quote(value)} : un UUID est attendu",
            )
    elif system:
        ctx.out.error(
            f"{where}.system",
            f"system {quote(system)} : {IDNPS_SYSTEM} (IDNPS) ou {SAS_SYSTEM} (identifiant "
            "technique SAS) attendu",
        )


def _walk(node: Any, where: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    if isinstance(node, Mapping):
        yield where, node
        for key, value in node.items():
            yield from _walk(value, f"{where}.{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _walk(item, f"{where}[{index}]")


def _no_patient_data(appointment: Mapping[str, Any], base: str, ctx: Ctx) -> None:
    """No Patient resource, reference or identifier anywhere (INS, NIR…)."""
    for where, node in _walk(appointment, base):
        resource_type = node.get("resourceType")
        if where != base and isinstance(resource_type, str) and resource_type in PATIENT_TYPES:
            ctx.out.error(
                where, f"ressource {resource_type} : aucune donnée patient ne doit être transmise"
            )
        reference = node.get("reference")
        if (
            isinstance(reference, str)
            and ".participant[" not in where
            and _is_patient_reference(reference)
        ):
            ctx.out.error(
                f"{where}.reference",
                f"référence {quote(reference)} à un patient : aucune donnée patient ne doit être "
                "transmise",
            )
        system = node.get("system")
        if isinstance(system, str) and system.startswith(PATIENT_IDENTIFIER_OID_PREFIX):
            ctx.out.error(
                where,
                f"identifiant patient ({quote(system)}, INS/NIR) : aucune donnée patient ne doit "
                "être transmise",
            )
    for element in ("comment", "patientInstruction", "description"):
        if isinstance(appointment.get(element), str):
            ctx.out.warning(
                f"{base}.{element}",
                "texte libre transmis : il ne doit contenir aucune donnée permettant d'identifier "
                "le patient",
            )
