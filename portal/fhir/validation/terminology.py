"""Code systems, value sets and profile URLs of the SAS implementation guide (v1.2)."""

from __future__ import annotations

import functools

from portal.fhir.validation.jsonutil import fold

R314_SYSTEM = "https://mos.esante.gouv.fr/NOS/TRE_R314-TypeCreneau/FHIR/TRE-R314-TypeCreneau"
R38_SYSTEM = (
    "https://mos.esante.gouv.fr/NOS/TRE_R38-SpecialiteOrdinale/FHIR/TRE-R38-SpecialiteOrdinale"
)
R38_OID = "urn:oid:1.2.250.1.213.2.28"
R66_SYSTEM = (
    "https://mos.esante.gouv.fr/NOS/TRE_R66-CategorieEtablissement/FHIR/"
    "TRE-R66-CategorieEtablissement"
)
ACTCODE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
V2_0276_SYSTEM = "http://terminology.hl7.org/CodeSystem/v2-0276"
SERVICE_TYPE_R5_EXTENSION = "http://hl7.org/fhir/5.0/StructureDefinition/extension-Slot.serviceType"

#: identifier type code systems seen in the guide's profiles and examples
FR_V2_0203_SYSTEMS = frozenset(
    {
        "http://interopsante.org/fhir/CodeSystem/fr-v2-0203",
        "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203",
        # the SOS Organization profile patterns IDNST with this (odd but official) system
        "http://interopsante.org/fhir/CodeSystem/fr-location-identifier-type",
    }
)
FR_LOCATION_ID_TYPE = "http://interopsante.org/fhir/CodeSystem/fr-location-identifier-type"

OPERATOR_EXTENSION = "http://interopsante.org/fhir/StructureDefinition/FrAppointmentOperator"
ORIENTATION_EXTENSION = (
    "https://interop.esante.gouv.fr/ig/fhir/sas/StructureDefinition/sas-categorie-orientation"
)
ORIENTATION_SYSTEM = (
    "https://interop.esante.gouv.fr/ig/fhir/sas/CodeSystem/categorie-orientation-sas-codesystem"
)
#: ValueSet categorie-orientation-sas-valueset: the SAS CodeSystem + CPTS, MSP, CDS of R66
ORIENTATION_CODES: dict[str, frozenset[str]] = {
    ORIENTATION_SYSTEM: frozenset({"001", "002", "003"}),
    R66_SYSTEM: frozenset({"604", "603", "124"}),
}

#: v3-ActCode modalities (sas-valueset-typeconsultation)
MODALITIES = {"AMB": "au cabinet", "VR": "téléconsultation", "HH": "visite à domicile"}
#: free texts that mean a modality (compared folded)
MODALITY_WORDS = frozenset(
    fold(w)
    for w in (
        "AMB",
        "VR",
        "HH",
        "ambulatory",
        "virtual",
        "home health",
        "cabinet",
        "au cabinet",
        "consultation au cabinet",
        "téléconsultation",
        "teleconsultation",
        "tele-consultation",
        "domicile",
        "à domicile",
        "visite à domicile",
        "consultation à domicile",
    )
)

#: TRE_R314 slot kinds (the guide adds CPTS); SOS slots use only PUBLIC and SNP
SLOT_KINDS = {
    "ps": frozenset({"PUBLIC", "PRO", "SNP", "CPTS"}),
    "cpts": frozenset({"PUBLIC", "PRO", "SNP", "CPTS"}),
    "sos": frozenset({"PUBLIC", "SNP"}),
}
ALL_SLOT_KINDS = SLOT_KINDS["ps"]

APPOINTMENT_TYPES = frozenset({"ROUTINE", "WALKIN"})
APPOINTMENT_STATUSES = frozenset({"booked", "fulfilled", "noshow", "cancelled"})
SOS_APPOINTMENT_STATUSES = APPOINTMENT_STATUSES | {"pending"}
PARTICIPANT_STATUSES = frozenset({"accepted", "needs-action"})

#: OIDs under which patient identifiers (INS, NIR…) are issued in France
PATIENT_IDENTIFIER_OID_PREFIX = "urn:oid:1.2.250.1.213.1.4."

SAS_PROFILE_BASE = "https://interop.esante.gouv.fr/ig/fhir/sas/StructureDefinition/"
LEGACY_PROFILE_BASE = "http://sas.fr/fhir/StructureDefinition/"

#: canonical URL of each profile, as published in its StructureDefinition
PROFILES: dict[str, str] = {
    name: LEGACY_PROFILE_BASE + name
    for name in (
        "BundleAgregateur",
        "FrSlotAgregateur",
        "FrScheduleAgregateur",
        "FrPractitionerAgregateur",
        "FrPractitionerRoleExerciceAgregateur",
        "FrLocationAgregateur",
        "FrAppointmentSAS",
    )
} | {
    name: SAS_PROFILE_BASE + name
    for name in (
        "FrPractitionerRegul",
        "sas-cpts-bundle-aggregator",
        "sas-cpts-slot-aggregator",
        "sas-cpts-healthcareservice-aggregator",
        "sas-cpts-organization-aggregator",
        "sas-sos-bundle-aggregator",
        "sas-sos-slot-aggregator",
        "sas-sos-schedule-aggregator",
        "sas-sos-location-aggregator",
        "sas-sos-organization-aggregator",
        "sas-sos-appointment",
    )
}

#: profiles expected per flow and resource type (first = the one suggested)
EXPECTED_PROFILES: dict[str, dict[str, tuple[str, ...]]] = {
    "ps": {
        "Bundle": ("BundleAgregateur",),
        "Slot": ("FrSlotAgregateur",),
        "Schedule": ("FrScheduleAgregateur",),
        "Practitioner": ("FrPractitionerAgregateur",),
        "PractitionerRole": ("FrPractitionerRoleExerciceAgregateur",),
        "Location": ("FrLocationAgregateur",),
    },
    "cpts": {
        "Bundle": ("sas-cpts-bundle-aggregator",),
        "Slot": ("sas-cpts-slot-aggregator", "FrSlotAgregateur"),
        "Schedule": ("FrScheduleAgregateur",),
        "Practitioner": ("FrPractitionerAgregateur",),
        "PractitionerRole": ("FrPractitionerRoleExerciceAgregateur",),
        "Location": ("FrLocationAgregateur",),
        "HealthcareService": ("sas-cpts-healthcareservice-aggregator",),
        "Organization": ("sas-cpts-organization-aggregator",),
    },
    "sos": {
        "Bundle": ("sas-sos-bundle-aggregator",),
        "Slot": ("sas-sos-slot-aggregator",),
        "Schedule": ("sas-sos-schedule-aggregator",),
        "Location": ("sas-sos-location-aggregator",),
        "Organization": ("sas-sos-organization-aggregator",),
    },
}


def profile_name(url: str) -> str | None:
    """``"http://sas.fr/fhir/StructureDefinition/FrSlotAgregateur"`` → ``"FrSlotAgregateur"``
    (either SAS base; ``None`` for other URLs)."""
    for base in (SAS_PROFILE_BASE, LEGACY_PROFILE_BASE):
        if url.startswith(base):
            return url[len(base) :].split("|", 1)[0] or None
    return None


def flow_of_profile(name: str) -> str | None:
    if name.startswith("sas-cpts-"):
        return "cpts"
    if name.startswith("sas-sos-"):
        return "sos"
    if name in PROFILES and name not in {"FrPractitionerRegul", "FrAppointmentSAS"}:
        return "ps"
    return None


@functools.cache
def r38_codes() -> dict[str, str]:
    """TRE_R38 specialties shipped with the portal: code → label."""
    from portal.reference.terminology import specialties

    return specialties()


def suggest_r38(text: str) -> str | None:
    """The R38 code whose label matches a free-text specialty, if exactly one does."""
    wanted = fold(text).removesuffix(" (sm)")
    matches = [
        code
        for code, label in r38_codes().items()
        if fold(label) == wanted or fold(label).removesuffix(" (sm)") == wanted
    ]
    return matches[0] if len(matches) == 1 else None
