"""Context and helpers shared by the rule modules."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from portal.fhir.validation.jsonutil import as_dict, as_list, as_str, codings, dicts, quote
from portal.fhir.validation.report import Collector
from portal.fhir.validation.terminology import (
    EXPECTED_PROFILES,
    FR_V2_0203_SYSTEMS,
    PROFILES,
    profile_name,
)

#: FHIR instant: date, time, optional fraction, mandatory offset
INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")
#: the shape the test kit expects (agg-psindiv-45): milliseconds and an explicit offset
KIT_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{2}:\d{2}$")
PHONE = re.compile(r"^\+\d{8,15}$")
LOOKS_LIKE_PHONE = re.compile(r"^[+(]?[\d .()/-]{8,}$")

#: test-kit requirement of "the resource declares its SAS profile", per resource type
PROFILE_REQUIREMENT = {"Slot": 9, "Bundle": 13, "PractitionerRole": 31, "Practitioner": 32}


@dataclass
class Ctx:
    """Where the rules report, and in which flow (``ps``, ``cpts``, ``sos``) they judge."""

    out: Collector
    flow: str = "ps"
    in_bundle: bool = False


def parse_instant(value: Any) -> datetime | None:
    """A FHIR instant as an aware datetime, or ``None`` when it is not one."""
    if not isinstance(value, str) or not INSTANT.match(value):
        return None
    text = value.replace("Z", "+00:00")
    if "." in text:  # datetime.fromisoformat takes at most 6 fraction digits
        head, tail = text.split(".", 1)
        digits = re.match(r"\d+", tail)
        assert digits is not None
        text = f"{head}.{digits.group()[:6].ljust(6, '0')}{tail[digits.end() :]}"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def is_http_url(value: str) -> bool:
    if not value or any(c.isspace() for c in value):
        return False
    parts = urlsplit(value)
    return parts.scheme in {"http", "https"} and bool(parts.netloc)


def check_profile(resource: Mapping[str, Any], base: str, ctx: Ctx, *, soft: bool = False) -> None:
    """The resource declares the SAS profile of its type in this flow (``meta.profile``).

    The national test kit selects resources by their exact profile URL: a resource
    without it is invisible to the kit. ``soft`` reports a warning only (contained
    resources, which the kit does not select by profile).
    """
    resource_type = as_str(resource.get("resourceType"))
    expected = EXPECTED_PROFILES.get(ctx.flow, {}).get(resource_type)
    if not expected:
        return
    where = f"{base}.meta.profile"
    declared = [
        p for p in as_list(as_dict(resource.get("meta")).get("profile")) if isinstance(p, str)
    ]
    canonical = {PROFILES[name] for name in expected}
    if canonical & set(declared):
        return
    req = PROFILE_REQUIREMENT.get(resource_type)
    report = ctx.out.warning if soft else ctx.out.error
    for url in declared:
        name = profile_name(url)
        if name in expected:
            report(
                where,
                f"URL de profil non canonique {quote(url)} : attendu {quote(PROFILES[name])} "
                "(le kit de conformité sélectionne les ressources par l'URL exacte)",
                req,
            )
            return
        if name in PROFILES:
            report(
                where,
                f"profil {quote(name)} inattendu pour un {resource_type} du flux {ctx.flow} "
                f"(attendu {quote(PROFILES[expected[0]])})",
                req,
            )
            return
    report(
        where,
        f"profil SAS absent de meta.profile : déclarez {quote(PROFILES[expected[0]])} "
        "(le kit de conformité sélectionne les ressources par cette URL)",
        req,
    )


def check_identifier_type(
    identifier: Mapping[str, Any], where: str, expected: str, ctx: Ctx, req: int | None = None
) -> None:
    """``identifier.type``, when given, is ``expected`` (IDNPS, IDNST, INTRN) of fr-v2-0203."""
    concept = identifier.get("type")
    if concept is None:
        return
    found = [(as_str(c.get("system")), as_str(c.get("code"))) for _, c in codings(concept)]
    if any(code == expected and system in FR_V2_0203_SYSTEMS for system, code in found):
        return
    shown = ", ".join(f"{code or '?'} ({system or 'sans system'})" for system, code in found)
    ctx.out.error(
        f"{where}.type",
        f"type d'identifiant {shown or 'sans coding'} : {expected} "
        "(http://interopsante.org/fhir/CodeSystem/fr-v2-0203) attendu",
        req,
    )


def check_telecoms(resource: Mapping[str, Any], base: str, ctx: Ctx) -> None:
    """Phone numbers in international format with ``system = phone`` (agg-psindiv-34/35)."""
    for index, telecom in dicts(resource.get("telecom")):
        where = f"{base}.telecom[{index}]"
        system = as_str(telecom.get("system"))
        value = as_str(telecom.get("value"))
        if not value:
            continue
        if system == "phone":
            if not PHONE.match(value):
                ctx.out.error(
                    f"{where}.value",
                    f"numéro de téléphone {quote(value)} : format international attendu, "
                    "+indicatif puis chiffres sans espace (ex. +33561855977)",
                    34,
                )
        elif not system and LOOKS_LIKE_PHONE.match(value):
            ctx.out.error(
                f"{where}.system",
                f"telecom {quote(value)} sans system : un numéro de téléphone porte system = phone",
                35,
            )


def reference_of(value: Any) -> str:
    """``reference`` of a Reference, or ``""``."""
    return as_str(as_dict(value).get("reference"))
