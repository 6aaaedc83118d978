"""Coded elements of a Slot: slot kinds (``meta.security``, TRE_R314), modalities
(``serviceType``, v3-ActCode), the CPTS reference (TRE_R66 604 + R5 extension) and
specialties (TRE_R38) — where editors most often go wrong."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from portal.fhir.validation.common import Ctx, reference_of
from portal.fhir.validation.jsonutil import as_dict, as_str, codings, dicts, fold, quote
from portal.fhir.validation.terminology import (
    ACTCODE_SYSTEM,
    ALL_SLOT_KINDS,
    MODALITIES,
    MODALITY_WORDS,
    R38_OID,
    R38_SYSTEM,
    R66_SYSTEM,
    R314_SYSTEM,
    SERVICE_TYPE_R5_EXTENSION,
    SLOT_KINDS,
    r38_codes,
    suggest_r38,
)

_MODALITY_BY_WORD = {
    fold(word): code
    for code, words in {
        "AMB": ("AMB", "ambulatory", "cabinet", "au cabinet", "consultation au cabinet"),
        "VR": ("VR", "virtual", "téléconsultation", "teleconsultation", "tele-consultation"),
        "HH": (
            "HH",
            "home health",
            "domicile",
            "à domicile",
            "visite à domicile",
            "consultation à domicile",
        ),
    }.items()
    for word in words
}


def check_security(slot: Mapping[str, Any], base: str, ctx: Ctx) -> list[str]:
    allowed = SLOT_KINDS[ctx.flow]
    kinds: list[str] = []
    misplaced = False
    for index, coding in dicts(as_dict(slot.get("meta")).get("security")):
        where = f"{base}.meta.security[{index}]"
        system = as_str(coding.get("system"))
        code = as_str(coding.get("code"))
        if system == R314_SYSTEM:
            if code in allowed:
                kinds.append(code)
            elif code.upper() in allowed:
                ctx.out.error(
                    f"{where}.code",
                    f"type de créneau {quote(code)} : les codes TRE_R314 s'écrivent en majuscules "
                    f"({code.upper()})",
                    23,
                )
            elif code in ALL_SLOT_KINDS:
                ctx.out.error(
                    f"{where}.code",
                    f"type de créneau {code} non autorisé dans le flux {ctx.flow} "
                    f"(autorisés : {', '.join(sorted(allowed))})",
                    23,
                )
            else:
                ctx.out.error(
                    f"{where}.code",
                    f"type de créneau {quote(code)} inconnu de TRE_R314 "
                    f"(attendu : {', '.join(sorted(allowed))})",
                    23,
                )
        elif code.upper() in ALL_SLOT_KINDS:
            misplaced = True
            ctx.out.error(
                f"{where}.system",
                f"type de créneau {code} avec le system {quote(system) if system else 'absent'} : "
                f"attendu {R314_SYSTEM}",
                46,
            )
        else:
            ctx.out.warning(
                where,
                f"étiquette de sécurité {quote(code or system)} hors TRE_R314 : ignorée par la "
                "plateforme",
            )
    if not kinds and not misplaced:
        ctx.out.error(
            f"{base}.meta.security",
            "aucun type de créneau dans meta.security (TRE_R314 : "
            f"{', '.join(sorted(allowed))}) : la plateforme ne sait pas à qui montrer ce créneau",
            23,
        )
    return kinds


def kind_code(coding: Mapping[str, Any]) -> str | None:
    code = as_str(coding.get("code"))
    if as_str(coding.get("system")) == R314_SYSTEM or code.upper() in ALL_SLOT_KINDS:
        return code or "?"
    return None


def check_misplaced_kinds(slot: Mapping[str, Any], base: str, ctx: Ctx) -> None:
    """Slot kinds put anywhere but ``meta.security`` (agg-psindiv-46)."""

    def report(where: str, code: str, place: str) -> None:
        ctx.out.error(
            where,
            f"type de créneau {code} placé dans {place} : il doit figurer dans meta.security "
            f"(system {R314_SYSTEM})",
            46,
        )

    for index, coding in dicts(as_dict(slot.get("meta")).get("tag")):
        if code := kind_code(coding):
            report(f"{base}.meta.tag[{index}]", code, "meta.tag")
    for element in ("serviceType", "specialty"):
        for index, concept in dicts(slot.get(element)):
            for sub, coding in codings(concept):
                if code := kind_code(coding):
                    report(f"{base}.{element}[{index}].coding[{sub}]", code, element)
            text = as_str(concept.get("text"))
            if text.upper() in ALL_SLOT_KINDS:
                report(f"{base}.{element}[{index}].text", text, element)
    concept = as_dict(slot.get("appointmentType"))
    for sub, coding in codings(concept):
        if code := kind_code(coding):
            report(f"{base}.appointmentType.coding[{sub}]", code, "appointmentType")


def check_service_types(slot: Mapping[str, Any], base: str, ctx: Ctx) -> list[tuple[str, str]]:
    modalities: list[str] = []
    refs: list[tuple[str, str]] = []
    for index, concept in dicts(slot.get("serviceType")):
        where = f"{base}.serviceType[{index}]"
        found = list(codings(concept))
        text = as_str(concept.get("text"))
        extensions = [
            (sub, ext)
            for sub, ext in dicts(concept.get("extension"))
            if ext.get("url") == SERVICE_TYPE_R5_EXTENSION
        ]
        has_act = False
        has_r66 = False
        for sub, coding in found:
            cwhere = f"{where}.coding[{sub}]"
            system = as_str(coding.get("system"))
            code = as_str(coding.get("code"))
            if system == ACTCODE_SYSTEM:
                has_act = True
                if code in MODALITIES:
                    modalities.append(code)
                elif code.upper() in MODALITIES:
                    ctx.out.error(
                        f"{cwhere}.code",
                        f"modalité {quote(code)} : les codes v3-ActCode s'écrivent {code.upper()}",
                        48,
                    )
                else:
                    reason = " " in code or any(c.islower() for c in code)
                    hint = (
                        " : un motif se donne en texte seul, dans un serviceType séparé"
                        if reason
                        else ""
                    )
                    ctx.out.error(
                        f"{cwhere}.code",
                        f"{quote(code)} codé en v3-ActCode n'est pas une modalité "
                        f"(AMB, VR ou HH){hint}",
                        48,
                    )
            elif system == R66_SYSTEM:
                has_r66 = True
                if ctx.flow != "cpts":
                    ctx.out.warning(
                        cwhere,
                        "catégorie d'établissement (TRE_R66) dans serviceType : ignorée hors du "
                        "flux CPTS",
                    )
                elif code != "604":
                    ctx.out.error(
                        f"{cwhere}.code",
                        f"catégorie {quote(code)} : seul 604 (CPTS) est attendu dans serviceType",
                    )
            elif code.upper() in MODALITIES:
                ctx.out.error(
                    f"{cwhere}.system",
                    f"modalité {code} sans le system v3-ActCode "
                    f"({quote(system) if system else 'system absent'}) : attendu {ACTCODE_SYSTEM}",
                    48,
                )
            elif kind_code(coding):
                pass  # reported as a misplaced slot kind
            elif ctx.flow == "sos":
                ctx.out.error(
                    cwhere,
                    f"code {quote(code)} ({system or 'sans system'}) hors du jeu de valeurs SOS "
                    "des types de consultation (v3-ActCode AMB, VR, HH)",
                    48,
                )
            else:
                ctx.out.warning(
                    cwhere,
                    f"code {quote(code)} ({system or 'sans system'}) inconnu dans serviceType : "
                    "ignoré par la plateforme",
                )
        folded = fold(text)
        if text and not found and folded in MODALITY_WORDS:
            code = _MODALITY_BY_WORD.get(folded, "AMB, VR ou HH")
            ctx.out.error(
                f"{where}.text",
                f"modalité {quote(text)} donnée en texte seul : codez-la "
                f"(coding system {ACTCODE_SYSTEM}, code {code})",
                48,
            )
        elif text and has_act and folded not in MODALITY_WORDS:
            ctx.out.warning(
                f"{where}.text",
                f"modalité et motif mélangés dans le même serviceType : le motif {quote(text)} "
                "doit être un serviceType séparé, en texte seul",
                48,
            )
        for sub, ext in extensions:
            ewhere = f"{where}.extension[{sub}]"
            if has_act:
                ctx.out.error(
                    ewhere,
                    "référence CPTS (extension-Slot.serviceType) sur un serviceType de modalité : "
                    "placez-la sur un serviceType séparé codé TRE_R66 604",
                )
            reference = reference_of(ext.get("valueReference"))
            if not reference:
                ctx.out.error(
                    f"{ewhere}.valueReference",
                    "extension-Slot.serviceType sans valueReference.reference vers le "
                    "HealthcareService de la CPTS",
                )
            elif "HealthcareService/" not in reference:
                ctx.out.error(
                    f"{ewhere}.valueReference.reference",
                    f"{quote(reference)} : référence à un HealthcareService attendue",
                )
            else:
                refs.append((f"{ewhere}.valueReference.reference", reference))
            if ctx.flow != "cpts":
                ctx.out.warning(ewhere, "référence CPTS ignorée hors du flux CPTS")
        if has_r66 and not extensions and ctx.flow == "cpts":
            ctx.out.error(
                where,
                "serviceType CPTS (TRE_R66 604) sans l'extension "
                f"{SERVICE_TYPE_R5_EXTENSION} qui référence le HealthcareService de la CPTS",
            )
    if not modalities:
        ctx.out.error(
            f"{base}.serviceType",
            "aucune modalité dans serviceType (coding v3-ActCode AMB cabinet, VR "
            "téléconsultation, HH visite à domicile)",
            24,
        )
    duplicates = sorted({m for m in modalities if modalities.count(m) > 1})
    if duplicates:
        ctx.out.warning(f"{base}.serviceType", f"modalité répétée : {', '.join(duplicates)}")
    return refs


def check_specialties(slot: Mapping[str, Any], base: str, ctx: Ctx) -> None:
    items = list(dicts(slot.get("specialty")))
    if not items and ctx.flow != "sos" and "specialty" not in slot:
        ctx.out.error(
            f"{base}.specialty",
            "aucune spécialité : le kit attend Slot.specialty (TRE_R38) sur chaque créneau",
            41,
        )
    codes = r38_codes()
    for index, concept in items:
        where = f"{base}.specialty[{index}]"
        found = list(codings(concept))
        for sub, coding in found:
            cwhere = f"{where}.coding[{sub}]"
            system = as_str(coding.get("system"))
            code = as_str(coding.get("code"))
            if system == R38_SYSTEM:
                if code and code not in codes:
                    ctx.out.error(f"{cwhere}.code", f"spécialité {quote(code)} inconnue de TRE_R38")
            elif code in codes:
                detail = (
                    " (l'OID est la forme des liens LRM ; en FHIR, l'URL du CodeSystem)"
                    if system == R38_OID
                    else ""
                )
                ctx.out.error(
                    f"{cwhere}.system",
                    f"spécialité {code} avec le system {quote(system) if system else 'absent'} : "
                    f"attendu {R38_SYSTEM}{detail}",
                )
            elif kind_code(coding) is None:
                ctx.out.warning(
                    cwhere,
                    f"spécialité {quote(code)} ({system or 'sans system'}) hors TRE_R38 : "
                    "ignorée par la plateforme",
                )
        text = as_str(concept.get("text"))
        if text and not found:
            if text.upper() in codes:
                ctx.out.error(
                    f"{where}.text",
                    f"code TRE_R38 {quote(text)} donné en texte : utilisez coding "
                    f"(system {R38_SYSTEM}, code {text.upper()})",
                )
            elif text.upper() not in ALL_SLOT_KINDS:
                guess = suggest_r38(text)
                hint = f" (code {guess} ?)" if guess else ""
                ctx.out.warning(
                    f"{where}.text",
                    f"spécialité en texte seul {quote(text)} : codez-la en TRE_R38{hint}, "
                    "la plateforme filtre sur le code",
                )
