"""Rules of the resources around the Slots: Schedule, Practitioner, PractitionerRole,
Location, Organization, HealthcareService (aggregator profiles of the three flows).

Cardinalities enforced (differentials): FrScheduleAgregateur ``actor`` 1..* (one
Practitioner + one PractitionerRole, kit), SOS Schedule ``actor.reference`` 1..1
(one Location); FrPractitionerAgregateur ``identifier`` 1..* with an IDNPS;
FrPractitionerRoleExerciceAgregateur ``contained`` 1..*, ``location`` 1..1
(contained), ``practitioner`` (kit: required), ``organization.identifier`` IDNST
(kit: required); FrLocationAgregateur ``address`` 1..1 with ``line`` 1..1, ``city``
and ``postalCode``; SOS Location ``name`` and ``managingOrganization.reference``
1..1; CPTS/SOS Organization ``identifier`` 1..1 IDNST; CPTS HealthcareService
``id`` and ``providedBy`` 1..1.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from portal.fhir.validation.common import (
    Ctx,
    check_identifier_type,
    check_profile,
    check_telecoms,
    reference_of,
)
from portal.fhir.validation.identifiers import check_idnps, check_idnst
from portal.fhir.validation.jsonutil import as_dict, as_list, as_str, dicts, quote
from portal.identifiers import IDNPS_SYSTEM, IDNST_SYSTEM


def _ref_type(reference: str) -> str:
    match = re.search(r"(?:^|/)([A-Z][A-Za-z]+)/[^/]+(?:/_history/[^/]+)?$", reference)
    return match.group(1) if match else ""


def check_schedule(schedule: Mapping[str, Any], base: str, ctx: Ctx) -> None:
    check_profile(schedule, base, ctx)
    actors = list(dicts(schedule.get("actor")))
    by_type: dict[str, list[int]] = {}
    for index, actor in actors:
        reference = reference_of(actor)
        if not reference:
            ctx.out.error(
                f"{base}.actor[{index}]",
                "acteur sans reference : le Schedule référence ses acteurs par Type/id",
                43,
            )
            continue
        by_type.setdefault(_ref_type(reference), []).append(index)
    if not actors:
        return  # actor 1..* : reported by the structural pass
    if ctx.flow == "sos":
        locations = by_type.pop("Location", [])
        if not locations:
            ctx.out.error(
                f"{base}.actor",
                "Schedule SOS sans acteur Location : un Schedule par lieu de consultation fixe",
                42,
            )
        elif len(locations) > 1:
            ctx.out.error(
                f"{base}.actor",
                f"plusieurs lieux ({len(locations)}) pour un même Schedule : un Schedule par "
                "lieu de consultation",
                42,
            )
    else:
        for kind, label in (("Practitioner", "PS (Practitioner)"), ("PractitionerRole", "lieux")):
            found = by_type.pop(kind, [])
            if not found:
                ctx.out.error(
                    f"{base}.actor",
                    f"Schedule sans acteur {kind} : chaque Schedule référence le Practitioner et "
                    "le PractitionerRole (lieu) du PS",
                    42,
                )
            elif len(found) > 1:
                ctx.out.error(
                    f"{base}.actor",
                    f"plusieurs {label} ({len(found)} {kind}) pour un même Schedule : un Schedule "
                    "par PS et par lieu d'exercice",
                    42,
                )
    for kind, indexes in by_type.items():
        for index in indexes:
            ctx.out.warning(
                f"{base}.actor[{index}]",
                f"acteur {kind or 'de type inconnu'} inattendu dans un Schedule du flux {ctx.flow}",
            )


def check_practitioner(practitioner: Mapping[str, Any], base: str, ctx: Ctx) -> list[str]:
    """Returns the IDNPS values found (for the bundle's cross checks)."""
    check_profile(practitioner, base, ctx)
    identifiers = list(dicts(practitioner.get("identifier")))
    national = [(i, idf) for i, idf in identifiers if as_str(idf.get("system")) == IDNPS_SYSTEM]
    values: list[str] = []
    if not identifiers:
        ctx.out.error(
            f"{base}.identifier",
            f"identifiant national absent : ajoutez l'IDNPS (system {IDNPS_SYSTEM}, "
            "value 8 + RPPS)",
            16,
        )
    elif not national:
        systems = ", ".join(sorted({as_str(i.get("system")) or "absent" for _, i in identifiers}))
        ctx.out.error(
            f"{base}.identifier",
            f"aucun identifiant national (system {IDNPS_SYSTEM}) ; systems présents : {systems}",
            16,
        )
    if len(national) > 1:
        ctx.out.warning(
            f"{base}.identifier",
            f"{len(national)} identifiants IDNPS pour un même PS : un seul est attendu",
        )
    for index, identifier in national:
        where = f"{base}.identifier[{index}]"
        check_identifier_type(identifier, where, "IDNPS", ctx, 16)
        value = as_str(identifier.get("value"))
        if not value:
            if "value" not in identifier:
                ctx.out.error(f"{where}.value", "valeur de l'identifiant national absente", 16)
            continue
        values.append(value)
        result = check_idnps(value)
        for message in result.errors:
            ctx.out.error(f"{where}.value", message, 17)
        for message in result.warnings:
            ctx.out.warning(f"{where}.value", message)
        if result.kind == "adeli":
            ctx.out.error(
                f"{where}.value",
                f"IDNPS ADELI {quote(value)} : la recherche de créneaux se fait par RPPS, le kit "
                "exige 8 + RPPS (12 chiffres commençant par 8)",
                17,
            )
    if not any(as_str(as_dict(n).get("family")) for _, n in dicts(practitioner.get("name"))):
        ctx.out.warning(
            f"{base}.name", "nom du PS absent (name.family) : il est affiché aux régulateurs"
        )
    check_telecoms(practitioner, base, ctx)
    return values


def check_practitioner_role(role: Mapping[str, Any], base: str, ctx: Ctx) -> None:
    check_profile(role, base, ctx)
    reference = reference_of(role.get("practitioner"))
    if not reference:
        ctx.out.error(
            f"{base}.practitioner",
            "practitioner.reference absent : le PractitionerRole référence son Practitioner",
            21,
        )
    elif _ref_type(reference) != "Practitioner":
        ctx.out.error(
            f"{base}.practitioner.reference",
            f"{quote(reference)} : référence à un Practitioner attendue",
            21,
        )
    _organization_identifier(role, base, ctx)
    _role_location(role, base, ctx)
    check_telecoms(role, base, ctx)


def _organization_identifier(role: Mapping[str, Any], base: str, ctx: Ctx) -> None:
    where = f"{base}.organization.identifier"
    identifier = as_dict(as_dict(role.get("organization")).get("identifier"))
    value = as_str(identifier.get("value"))
    # The PS test kit requires it; the same profile serves the CPTS flow, whose official
    # example has a bare value: strict only inside a PS bundle.
    strict = ctx.flow == "ps" and ctx.in_bundle
    if not value:
        (ctx.out.error if strict else ctx.out.warning)(
            where,
            "identifiant de la structure d'exercice absent (organization.identifier : IDNST "
            "1+FINESS ou 3+SIRET)",
            20,
        )
        return
    system = as_str(identifier.get("system"))
    if system and system != IDNST_SYSTEM:
        ctx.out.error(
            f"{where}.system", f"system {quote(system)} : {IDNST_SYSTEM} (IDNST) attendu", 20
        )
        return
    if not system:
        (ctx.out.error if strict else ctx.out.warning)(
            f"{where}.system", f"system absent : {IDNST_SYSTEM} (IDNST) attendu", 20
        )
    check_identifier_type(identifier, where, "IDNST", ctx, 20)
    result = check_idnst(value)
    report = ctx.out.error if (system or strict) else ctx.out.warning
    for message in result.errors:
        report(f"{where}.value", message, 20)
    for message in result.warnings:
        ctx.out.warning(f"{where}.value", message)
    if result.kind == "adeli-rang" and strict:
        ctx.out.error(
            f"{where}.value",
            f"IDNST ADELI-rang {quote(value)} : le kit n'accepte que 1+FINESS, 3+SIRET ou "
            "4+RPPS-rang",
            20,
        )


def _role_location(role: Mapping[str, Any], base: str, ctx: Ctx) -> None:
    contained = {
        as_str(item.get("id")): (index, item)
        for index, item in dicts(role.get("contained"))
        if item.get("resourceType") == "Location"
    }
    if not contained:
        ctx.out.error(
            f"{base}.contained",
            "aucune Location contenue : le lieu d'exercice est une Location dans "
            "PractitionerRole.contained",
            22,
        )
    locations = list(dicts(role.get("location")))
    if not locations and "location" not in role:
        ctx.out.error(
            f"{base}.location",
            "PractitionerRole.location absent : référencez la Location contenue (#id)",
            22,
        )
    elif len(locations) > 1:
        ctx.out.error(
            f"{base}.location",
            f"plusieurs lieux ({len(locations)}) pour un même PractitionerRole : un "
            "PractitionerRole (et un Schedule) par lieu d'exercice",
            42,
        )
    for index, location in locations:
        reference = reference_of(location)
        where = f"{base}.location[{index}].reference"
        if not reference:
            ctx.out.error(where, "référence au lieu absente (#id de la Location contenue)", 22)
        elif not reference.startswith("#"):
            ctx.out.error(
                where,
                f"{quote(reference)} : la Location doit être contenue dans le PractitionerRole "
                "et référencée par « #id »",
                22,
            )
        elif reference[1:] not in contained:
            ctx.out.error(
                where, f"{quote(reference)} : aucune Location contenue ne porte cet id", 22
            )
    for index, item in contained.values():
        check_location(item, f"{base}.contained[{index}]", ctx, contained=True)


def check_location(
    location: Mapping[str, Any], base: str, ctx: Ctx, *, contained: bool = False
) -> None:
    check_profile(location, base, ctx, soft=contained)
    address = location.get("address")
    if not isinstance(address, Mapping):
        if address is None:
            ctx.out.error(
                f"{base}.address", "adresse du lieu absente (line, city et postalCode attendus)", 38
            )
        return
    lines = [line for line in as_list(address.get("line")) if isinstance(line, str)]
    if not lines and "line" not in address:
        ctx.out.error(f"{base}.address.line", "ligne d'adresse absente (address.line)", 38)
    elif len(lines) > 1:
        ctx.out.error(
            f"{base}.address.line",
            f"{len(lines)} lignes d'adresse : le profil en attend une seule (numéro et voie)",
            38,
        )
    if "city" not in address:
        ctx.out.error(f"{base}.address.city", "commune absente (address.city)", 39)
    postal = address.get("postalCode")
    if postal is None:
        ctx.out.error(f"{base}.address.postalCode", "code postal absent (address.postalCode)", 40)
    elif isinstance(postal, str) and postal.strip() and not re.fullmatch(r"\d{5}", postal):
        ctx.out.error(
            f"{base}.address.postalCode",
            f"code postal {quote(postal)} : 5 chiffres attendus",
            40,
        )
    if ctx.flow == "sos" and not contained:
        if "name" not in location:
            ctx.out.error(f"{base}.name", "nom du lieu de consultation absent (name 1..1)")
        reference = reference_of(location.get("managingOrganization"))
        if not reference:
            ctx.out.error(
                f"{base}.managingOrganization",
                "managingOrganization.reference absent : le lieu référence l'Organization de "
                "l'association SOS Médecins",
            )
        elif _ref_type(reference) != "Organization":
            ctx.out.error(
                f"{base}.managingOrganization.reference",
                f"{quote(reference)} : référence à une Organization attendue",
            )
    check_telecoms(location, base, ctx)


def check_organization(organization: Mapping[str, Any], base: str, ctx: Ctx) -> list[str]:
    """Returns the IDNST values found."""
    check_profile(organization, base, ctx)
    identifiers = list(dicts(organization.get("identifier")))
    values: list[str] = []
    if not identifiers:
        ctx.out.error(
            f"{base}.identifier", "identifiant national de structure (IDNST) absent (1..1)"
        )
    elif len(identifiers) > 1:
        ctx.out.error(
            f"{base}.identifier",
            f"{len(identifiers)} identifiants : le profil en attend un seul (IDNST)",
        )
    expected = {"sos": ("siret", "3+SIRET"), "cpts": ("finess", "1+FINESS")}.get(ctx.flow)
    for index, identifier in identifiers:
        where = f"{base}.identifier[{index}]"
        system = as_str(identifier.get("system"))
        if system != IDNST_SYSTEM:
            ctx.out.error(
                f"{where}.system",
                f"system {quote(system) if system else 'absent'} : {IDNST_SYSTEM} (IDNST) attendu",
            )
        check_identifier_type(identifier, where, "IDNST", ctx)
        value = as_str(identifier.get("value"))
        if not value:
            continue
        values.append(value)
        result = check_idnst(value)
        for message in result.errors:
            ctx.out.error(f"{where}.value", message)
        for message in result.warnings:
            ctx.out.warning(f"{where}.value", message)
        if expected and result.ok and result.kind != expected[0]:
            (ctx.out.error if ctx.flow == "sos" else ctx.out.warning)(
                f"{where}.value",
                f"IDNST {quote(value)} : une structure {ctx.flow.upper()} est identifiée par "
                f"{expected[1]}",
            )
    if "name" not in organization:
        ctx.out.warning(
            f"{base}.name", "nom de la structure absent : il est affiché aux régulateurs"
        )
    check_telecoms(organization, base, ctx)
    return values


def check_healthcare_service(service: Mapping[str, Any], base: str, ctx: Ctx) -> None:
    check_profile(service, base, ctx)
    if "id" not in service:
        ctx.out.error(
            f"{base}.id", "id absent (1..1) : les créneaux référencent ce service par son id"
        )
    reference = reference_of(service.get("providedBy"))
    if not reference:
        ctx.out.error(
            f"{base}.providedBy",
            "providedBy.reference absent : le service référence l'Organization de la CPTS",
        )
    elif _ref_type(reference) != "Organization":
        ctx.out.error(
            f"{base}.providedBy.reference",
            f"{quote(reference)} : référence à une Organization attendue",
        )


def practitioner_values(resource: Mapping[str, Any]) -> list[str]:
    return [
        as_str(i.get("value"))
        for _, i in dicts(resource.get("identifier"))
        if as_str(i.get("system")) == IDNPS_SYSTEM and as_str(i.get("value"))
    ]
