"""Regulator accounts (INT_R02): profile FrPractitionerRegul.

Enforced: ``meta.source`` = ``urn:oid:1.2.250.1.213.3.6`` (the SAS platform),
exactly one ``identifier`` (slice IdentifiantNatPS: IDNPS; or slice
IdentifiantInterne: INTRN UUID under ``urn:oid:1.2.250.1.213.3.6``), ``active``
1..1, ``name.family`` 1..1 and ``name.given`` 1..1, a ``telecom`` email.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from portal.fhir.validation.common import Ctx, check_identifier_type
from portal.fhir.validation.identifiers import UUID, check_idnps
from portal.fhir.validation.jsonutil import as_dict, as_list, as_str, dicts, quote
from portal.fhir.validation.terminology import PROFILES, profile_name
from portal.identifiers import IDNPS_SYSTEM, SAS_SYSTEM

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def is_regulator(practitioner: Mapping[str, Any]) -> bool:
    meta = as_dict(practitioner.get("meta"))
    if meta.get("source") == SAS_SYSTEM:
        return True
    return any(
        isinstance(url, str) and profile_name(url) == "FrPractitionerRegul"
        for url in as_list(meta.get("profile"))
    )


def check_regulator(practitioner: Mapping[str, Any], base: str, ctx: Ctx) -> None:
    out = ctx.out
    meta = as_dict(practitioner.get("meta"))
    source = meta.get("source")
    if source != SAS_SYSTEM:
        out.error(
            f"{base}.meta.source",
            f"meta.source {quote(source) if source else 'absent'} : {SAS_SYSTEM} attendu "
            "(compte provisionné par la plateforme SAS)",
        )
    if PROFILES["FrPractitionerRegul"] not in as_list(meta.get("profile")):
        out.warning(
            f"{base}.meta.profile",
            f"profil {quote(PROFILES['FrPractitionerRegul'])} non déclaré",
        )
    identifiers = list(dicts(practitioner.get("identifier")))
    if len(identifiers) != 1 and "identifier" not in practitioner:
        out.error(f"{base}.identifier", "identifiant du régulateur absent (exactement un attendu)")
    elif len(identifiers) > 1:
        out.error(
            f"{base}.identifier",
            f"{len(identifiers)} identifiants : exactement un attendu (IDNPS ou identifiant "
            "technique SAS)",
        )
    for index, identifier in identifiers:
        where = f"{base}.identifier[{index}]"
        system = as_str(identifier.get("system"))
        value = as_str(identifier.get("value"))
        if "value" not in identifier:
            out.error(f"{where}.value", "valeur de l'identifiant absente")
        if system == IDNPS_SYSTEM:
            check_identifier_type(identifier, where, "IDNPS", ctx)
            if value:
                result = check_idnps(value, regulator=True)
                for message in result.errors:
                    out.error(f"{where}.value", message)
                for message in result.warnings:
                    out.warning(f"{where}.value", message)
        elif system == SAS_SYSTEM:
            check_identifier_type(identifier, where, "INTRN", ctx)
            if value and not UUID.match(value):
                out.error(
                    f"{where}.value", f"identifiant technique SAS {quote(value)} : UUID attendu"
                )
        else:
            out.error(
                f"{where}.system",
                f"system {quote(system) if system else 'absent'} : {IDNPS_SYSTEM} (IDNPS) ou "
                f"{SAS_SYSTEM} (identifiant technique SAS, type INTRN) attendu",
            )
    active = practitioner.get("active")
    if active is None:
        out.error(
            f"{base}.active",
            "active absent : true pour créer ou mettre à jour, false pour désactiver le compte",
        )
    names = list(dicts(practitioner.get("name")))
    if not names and "name" not in practitioner:
        out.error(f"{base}.name", "nom du régulateur absent (name.family et name.given)")
    for index, name in names:
        where = f"{base}.name[{index}]"
        if "family" not in name:
            out.error(f"{where}.family", "nom de famille absent (name.family 1..1)")
        given = [g for g in as_list(name.get("given")) if isinstance(g, str)]
        if not given and "given" not in name:
            out.error(f"{where}.given", "prénom absent (name.given 1..1)")
        elif len(given) > 1:
            out.error(f"{where}.given", f"{len(given)} prénoms : un seul attendu (name.given 1..1)")
    emails = []
    for index, telecom in dicts(practitioner.get("telecom")):
        where = f"{base}.telecom[{index}]"
        system = as_str(telecom.get("system"))
        value = as_str(telecom.get("value"))
        if system != "email":
            out.error(f"{where}.system", f"telecom.system {quote(system)} : « email » attendu")
        elif value and not EMAIL.match(value):
            out.error(f"{where}.value", f"adresse électronique {quote(value)} invalide")
        else:
            emails.append(value)
    if not emails and "telecom" not in practitioner:
        out.error(f"{base}.telecom", "adresse électronique du régulateur absente (telecom email)")
