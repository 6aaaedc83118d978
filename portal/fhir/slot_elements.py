"""The elements of one Slot, read from its plain JSON (no reference is followed here).

These readers run once per Slot of every ingested Bundle. They are plain loops
over the JSON, with ``type(x) is dict`` checks and no helper call per coding:
that halves their cost and keeps ingestion over ten times faster than a full
``fhir.resources`` parse. Every one tolerates missing, empty or mistyped
elements (the guide's list of common editor mistakes).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypeVar

from portal.domain import Modality, Visibility
from portal.fhir.references import as_dict, as_list, strip_history

_T = TypeVar("_T")

ACT_CODE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
R314_SYSTEM = "https://mos.esante.gouv.fr/NOS/TRE_R314-TypeCreneau/FHIR/TRE-R314-TypeCreneau"
R38_OID = "urn:oid:1.2.250.1.213.2.28"
SERVICE_TYPE_EXTENSION = "http://hl7.org/fhir/5.0/StructureDefinition/extension-Slot.serviceType"
MODALITIES: Mapping[str, Modality] = {"AMB": "cabinet", "VR": "teleconsultation", "HH": "domicile"}
VISIBILITIES: Mapping[str, Visibility] = dict(PUBLIC="public", PRO="pro", SNP="sas", CPTS="cpts")
_APPOINTMENT_TYPES: Mapping[str, bool] = {"ROUTINE": True, "WALKIN": False}  # v2-0276
_URL = re.compile(r"^https?://\S+$", re.IGNORECASE)
_BARE_R38 = re.compile(r"^SM\d{2}$")


class UnusableEntry(Exception):
    """An entry that cannot become a Slot; the message says why (in French)."""


def codings_of(concept: Any) -> list[Mapping[str, Any]]:
    """The codings of a CodeableConcept that are objects."""
    codings = concept.get("coding") if type(concept) is dict else None
    return [c for c in codings if type(c) is dict] if type(codings) is list else []


def lookup(table: Mapping[str, _T], code: Any) -> _T | None:
    """``table[code]``, tolerating case and blanks; callers try ``table.get(code)`` first."""
    return table.get(code.strip().upper()) if isinstance(code, str) else None


def clean_text(value: Any) -> str:
    """A string, stripped; anything else is ""."""
    return value.strip() if isinstance(value, str) else ""


def unique(values: list[_T]) -> tuple[_T, ...]:
    """The values without repeats, in their first order."""
    return tuple(values) if len(values) < 2 else tuple(dict.fromkeys(values))


def instant(resource: Mapping[str, Any], name: str) -> datetime:
    """``start``/``end`` as an aware datetime; a missing offset makes the Slot unusable."""
    raw = resource.get(name)
    if not isinstance(raw, str) or not raw.strip():
        raise UnusableEntry(f"pas de {name}")
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        try:
            value = datetime.fromisoformat(raw.strip())
        except ValueError:
            raise UnusableEntry(f"{name} illisible « {raw} »") from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise UnusableEntry(f"{name} sans fuseau horaire « {raw} »")
    return value


def slot_kinds(meta: Any) -> tuple[Visibility, ...]:
    """Visibility from the TRE_R314 codes of ``meta.security`` (or, failing that, ``meta.tag``)."""
    if type(meta) is not dict:
        return ()
    for element in ("security", "tag"):  # kinds put in meta.tag: a known editor mistake
        codings = meta.get(element)
        if type(codings) is not list:
            continue
        kinds = []
        for coding in codings:
            if type(coding) is dict and coding.get("system") in (None, "", R314_SYSTEM):
                code: Any = coding.get("code")
                kind = VISIBILITIES.get(code) or lookup(VISIBILITIES, code)
                if kind is not None:
                    kinds.append(kind)
        if kinds:
            return unique(kinds)
    return ()


def service_types(
    slot: Mapping[str, Any],
) -> tuple[tuple[Modality, ...], tuple[str, ...], bool]:
    """Modalities (ActCode codings), reasons (texts, other systems' displays), and
    whether a serviceType points at a CPTS HealthcareService."""
    modalities: list[Modality] = []
    reasons: list[str] = []
    services = False
    concepts = slot.get("serviceType")
    for concept in concepts if type(concepts) is list else ():
        if type(concept) is not dict:
            continue
        if "extension" in concept and service_extension_refs(concept):
            services = True  # the CPTS HealthcareService pointer, not a reason
            continue
        codings = concept.get("coding")
        for coding in codings if type(codings) is list else ():
            if type(coding) is not dict:
                continue
            system = coding.get("system")
            if not system or system == ACT_CODE_SYSTEM:
                code: Any = coding.get("code")
                modality = MODALITIES.get(code) or lookup(MODALITIES, code)
                if modality is not None:
                    modalities.append(modality)
            elif clean_text(coding.get("display")):
                reasons.append(clean_text(coding.get("display")))
        text = concept.get("text")
        if type(text) is str and text.strip():
            reasons.append(text.strip())
    return unique(modalities), unique(reasons), services


def specialties(slot: Mapping[str, Any]) -> tuple[str, ...]:
    """R38 codes; the texts and displays only when there is no code at all."""
    codes: list[str] = []
    concepts = slot.get("specialty")
    if type(concepts) is not list:
        return ()
    for concept in concepts:
        codings = concept.get("coding") if type(concept) is dict else None
        for coding in codings if type(codings) is list else ():
            code = coding.get("code") if type(coding) is dict else None
            if type(code) is not str or not code.strip():
                continue
            system = coding.get("system")
            r38 = system == R38_OID or (type(system) is str and "R38" in system)
            if r38 or (not system and _BARE_R38.match(code.strip())):  # "SM54", system left out
                codes.append(code.strip())
    if not codes:  # "specialty text instead of code": keep the words rather than nothing
        codes = [clean_text(concept.get("text")) for concept in concepts if type(concept) is dict]
        codes += [clean_text(coding.get("display")) for c in concepts for coding in codings_of(c)]
        codes = [code for code in codes if code]
    return unique(codes)


def bookable(slot: Mapping[str, Any]) -> bool:
    """``appointmentType`` (v2-0276): WALKIN is not bookable; ROUTINE or nothing is."""
    walkin = False
    for coding in codings_of(slot.get("appointmentType")):
        code: Any = coding.get("code")
        routine = _APPOINTMENT_TYPES.get(code)
        routine = lookup(_APPOINTMENT_TYPES, code) if routine is None else routine
        if routine:
            return True
        walkin = walkin or routine is False
    return not walkin


def slot_id(resource: Mapping[str, Any], entry: Mapping[str, Any]) -> str:
    """The Slot's id, else the last segment of its entry's ``fullUrl`` ("" if neither)."""
    rid = resource.get("id")
    if isinstance(rid, str) and rid.strip():
        return rid.strip()
    full_url = clean_text(entry.get("fullUrl"))
    tail = strip_history(full_url).rsplit("/", 1)[-1]
    return tail.rsplit(":", 1)[-1] if tail.startswith("urn:") else tail


def booking_url(slot: Mapping[str, Any]) -> str | None:
    """``Slot.comment`` when it is an http(s) URL (the editor's booking page)."""
    comment = slot.get("comment")
    if type(comment) is not str:
        return None
    comment = comment.strip()
    return comment if _URL.match(comment) else None


def service_extension_refs(element: Mapping[str, Any]) -> list[Any]:
    """References carried by ``element``'s R5 ``Slot.serviceType`` extensions."""
    refs: list[Any] = []
    for ext in as_list(element.get("extension")):
        ext = as_dict(ext)
        if ext.get("url") == SERVICE_TYPE_EXTENSION:
            value = as_dict(ext.get("valueCodeableReference")).get("reference")
            value = value or ext.get("valueReference")
            if value:
                refs.append(value)
    return refs


def service_references(slot: Mapping[str, Any]) -> list[Any]:
    """The HealthcareService references of a CPTS slot (R5 serviceType extension).

    The guide puts the extension on ``Slot.serviceType[]``; R5 backports
    put it on the Slot itself: both are read.
    """
    refs = service_extension_refs(slot) if "extension" in slot else []
    for concept in as_list(slot.get("serviceType")):
        if isinstance(concept, dict) and "extension" in concept:
            refs += service_extension_refs(concept)
    return refs
