"""Slot rules: profiles FrSlotAgregateur, sas-cpts-slot-aggregator, sas-sos-slot-aggregator.

Cardinalities enforced (differential of the three profiles, plus the test kit):
``schedule`` 1..1 with a reference, ``status`` 1..1 fixed ``free``, ``start`` and
``end`` 1..1, ``meta.security`` ≥ 1 slot kind of TRE_R314 (kit: required),
``serviceType`` ≥ 1 v3-ActCode modality (kit), ``specialty`` ≥ 1 outside SOS
(kit), ``appointmentType`` 0..1 ROUTINE | WALKIN, ``comment`` the booking URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from portal.fhir.validation.common import (
    INSTANT,
    KIT_INSTANT,
    Ctx,
    check_profile,
    is_http_url,
    parse_instant,
    reference_of,
)
from portal.fhir.validation.jsonutil import as_dict, as_str, codings, quote
from portal.fhir.validation.rules_slot_codes import (
    check_misplaced_kinds,
    check_security,
    check_service_types,
    check_specialties,
    kind_code,
)
from portal.fhir.validation.terminology import APPOINTMENT_TYPES, V2_0276_SYSTEM

SLOT_STATUSES = {"free", "busy", "busy-unavailable", "busy-tentative", "entered-in-error"}


@dataclass
class SlotFacts:
    """What the bundle rules need from a Slot."""

    start: datetime | None = None
    schedule: str = ""
    service_refs: list[tuple[str, str]] = field(default_factory=list)  # (location, reference)
    kinds: list[str] = field(default_factory=list)


def check_slot(slot: Mapping[str, Any], base: str, ctx: Ctx) -> SlotFacts:
    facts = SlotFacts()
    check_profile(slot, base, ctx)
    _status(slot, base, ctx)
    facts.start = _dates(slot, base, ctx)
    facts.schedule = _schedule(slot, base, ctx)
    facts.kinds = check_security(slot, base, ctx)
    check_misplaced_kinds(slot, base, ctx)
    facts.service_refs = check_service_types(slot, base, ctx)
    check_specialties(slot, base, ctx)
    bookable = _appointment_type(slot, base, ctx)
    _comment(slot, base, ctx, bookable)
    return facts


def _status(slot: Mapping[str, Any], base: str, ctx: Ctx) -> None:
    status = slot.get("status")
    where = f"{base}.status"
    if status is None:
        ctx.out.error(where, "statut absent : « free » attendu", 10)
    elif status == "busy-unavailable":
        ctx.out.error(
            where,
            "indisponibilité transmise (status busy-unavailable) : seuls les créneaux libres "
            "(free) doivent être envoyés",
            47,
        )
    elif status != "free":
        known = (
            "" if isinstance(status, str) and status in SLOT_STATUSES else " (code inconnu de FHIR)"
        )
        ctx.out.error(
            where,
            f"statut {quote(status)}{known} : seuls les créneaux libres (free) sont attendus",
            10,
        )


def _dates(slot: Mapping[str, Any], base: str, ctx: Ctx) -> datetime | None:
    parsed: dict[str, datetime] = {}
    labels = {"start": "début", "end": "fin"}
    for name in ("start", "end"):
        value = slot.get(name)
        where = f"{base}.{name}"
        if value is None:
            ctx.out.error(where, f"date de {labels[name]} absente ({name} obligatoire)", 11)
            continue
        moment = parse_instant(value)
        if moment is None:
            hint = (
                " (fuseau horaire obligatoire)"
                if isinstance(value, str) and not INSTANT.match(value) and "T" in value
                else ""
            )
            ctx.out.error(
                where,
                f"date de {labels[name]} {quote(value)} invalide{hint} : format attendu "
                "AAAA-MM-JJThh:mm:ss.000+hh:mm (ex. 2024-06-12T16:40:00.000+02:00)",
                45,
            )
            continue
        parsed[name] = moment
        if not KIT_INSTANT.match(value):
            ctx.out.warning(
                where,
                f"date {quote(value)} valide en FHIR, mais le kit attend exactement "
                "AAAA-MM-JJThh:mm:ss.000+hh:mm (millisecondes et décalage horaire explicites)",
                45,
            )
    if "start" in parsed and "end" in parsed and parsed["start"] >= parsed["end"]:
        ctx.out.error(
            f"{base}.end",
            f"fin {quote(slot.get('end'))} antérieure ou égale au début {quote(slot.get('start'))}",
            11,
        )
    return parsed.get("start")


def _schedule(slot: Mapping[str, Any], base: str, ctx: Ctx) -> str:
    reference = reference_of(slot.get("schedule"))
    if not reference:
        ctx.out.error(
            f"{base}.schedule",
            "schedule.reference absent : chaque créneau référence son Schedule (Schedule/id)",
            12,
        )
    elif "Schedule/" not in reference and not reference.startswith("urn:uuid:"):
        ctx.out.error(
            f"{base}.schedule.reference",
            f"schedule.reference {quote(reference)} ne désigne pas un Schedule "
            "(Schedule/id attendu)",
            12,
        )
    return reference


def _appointment_type(slot: Mapping[str, Any], base: str, ctx: Ctx) -> bool | None:
    """ROUTINE (bookable) → True, WALKIN → False, unknown → None."""
    where = f"{base}.appointmentType"
    concept = slot.get("appointmentType")
    if concept is None:
        ctx.out.warning(
            where,
            "appointmentType absent : précisez ROUTINE (sur RDV) ou WALKIN (sans RDV) "
            "(v2-0276) ; le créneau est traité comme ROUTINE",
            49,
        )
        return True
    found = list(codings(concept))
    values: set[str] = set()
    if not found:
        text = as_str(as_dict(concept).get("text"))
        ctx.out.error(
            where,
            f"appointmentType sans coding{f' (texte {quote(text)})' if text else ''} : "
            f"ROUTINE ou WALKIN attendu (system {V2_0276_SYSTEM})",
            49,
        )
        return None
    for sub, coding in found:
        cwhere = f"{where}.coding[{sub}]"
        system = as_str(coding.get("system"))
        code = as_str(coding.get("code"))
        if kind_code(coding):
            continue
        if system == V2_0276_SYSTEM and code in APPOINTMENT_TYPES:
            values.add(code)
        elif code in APPOINTMENT_TYPES:
            ctx.out.error(
                f"{cwhere}.system",
                f"appointmentType {code} avec le system {quote(system) if system else 'absent'} : "
                f"attendu {V2_0276_SYSTEM}",
                49,
            )
        else:
            ctx.out.error(
                f"{cwhere}.code",
                f"appointmentType {quote(code)} : ROUTINE (sur RDV) ou WALKIN (sans RDV) attendu",
                49,
            )
    if len(values) > 1:
        ctx.out.error(where, "appointmentType à la fois ROUTINE et WALKIN", 49)
        return None
    if values:
        return values == {"ROUTINE"}
    return None


def _comment(slot: Mapping[str, Any], base: str, ctx: Ctx, bookable: bool | None) -> None:
    where = f"{base}.comment"
    comment = slot.get("comment")
    if comment is None:
        if bookable is False:
            ctx.out.warning(
                where,
                "URL de redirection absente (Slot.comment) sur un créneau sans RDV (WALKIN) : "
                "le kit l'exige sur chaque créneau",
                25,
            )
        else:
            ctx.out.error(
                where,
                "URL de prise de RDV absente (Slot.comment) sur un créneau réservable (ROUTINE) : "
                "la plateforme y redirige le régulateur",
                25,
            )
        return
    if not isinstance(comment, str) or not comment.strip():
        return  # wrong type or blank: reported by the structural / empty-element pass
    if not is_http_url(comment.strip()):
        ctx.out.error(
            where,
            f"Slot.comment {quote(comment)} n'est pas une URL http(s) : il porte l'URL de prise "
            "de RDV vers laquelle la plateforme redirige",
            25,
        )
    elif comment.strip().startswith("http://"):
        ctx.out.warning(where, f"URL de prise de RDV en http:// {quote(comment)} : utilisez https")
