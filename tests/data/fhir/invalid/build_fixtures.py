"""Rebuild the crafted invalid fixtures of ``sas-portal validate`` from the official examples.

    .venv/bin/python tests/data/fhir/invalid/build_fixtures.py

Each fixture is an official example of the SAS guide (``../sas-ig/``, narratives
removed) with one mistake; ``expected.json`` lists, per file, the problems the
validator must report (severity, exact location, test-kit requirement, a piece of
the message). The tests read the JSON files and the manifest, never this script.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
IG = HERE.parent / "sas-ig"
R314 = "https://mos.esante.gouv.fr/NOS/TRE_R314-TypeCreneau/FHIR/TRE-R314-TypeCreneau"
ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
E = "Bundle.entry"

Doc = dict[str, Any]


def official(name: str) -> Doc:
    doc = json.loads((IG / name).read_text(encoding="utf-8"))

    def strip(node: Any) -> None:
        if isinstance(node, dict):
            node.pop("text", None) if isinstance(node.get("text"), dict) else None
            for value in node.values():
                strip(value)
        elif isinstance(node, list):
            for item in node:
                strip(item)

    strip(doc)
    return doc


PS = "Bundle-ExampleBundlePSIndiv.json"
CPTS = "Bundle-ExampleBundleCPTS1.json"
SOS = "Bundle-ExampleBundleAgregateurSOS.json"
APPT = "Appointment-1.json"
APPT_SOS = "Appointment-12345678.json"
REGUL = "Practitioner-ExamplePractitionerRegul2.json"
REGUL_UUID = "Practitioner-ExamplePractitionerRegul4.json"


def res(doc: Doc, index: int) -> Doc:
    return doc["entry"][index]["resource"]


def expect(location: str, req: int | None = None, contains: str = "", severity: str = "error"):
    return {
        "severity": severity,
        "location": location,
        "requirement": f"agg-psindiv-{req}" if req else None,
        "contains": contains,
    }


def drop_entries(doc: Doc, resource_type: str) -> None:
    doc["entry"] = [e for e in doc["entry"] if e["resource"]["resourceType"] != resource_type]


# name -> (base document, mutation, expected problems)
FIXTURES: dict[str, tuple[str, Callable[[Doc], None], list[dict[str, Any]]]] = {}


def fixture(name: str, base: str, *expected: dict[str, Any]):
    def register(mutate: Callable[[Doc], None]) -> Callable[[Doc], None]:
        FIXTURES[name] = (base, mutate, list(expected))
        return mutate

    return register


# -- test-kit requirements, PS flow -----------------------------------------------------


@fixture(
    "ps-05-creneau-avant-la-fenetre", PS, expect(f"{E}[0].resource.start", 5, "avant la borne")
)
def _(d: Doc) -> None:
    res(d, 0).update(start="2021-11-04T08:00:00.000+00:00", end="2021-11-04T08:30:00.000+00:00")


@fixture(
    "ps-07-creneau-apres-la-fenetre", PS, expect(f"{E}[0].resource.start", 7, "après la borne")
)
def _(d: Doc) -> None:
    res(d, 0).update(start="2021-11-07T09:00:00.000+00:00", end="2021-11-07T09:30:00.000+00:00")


@fixture("ps-08-ressources-sans-creneau", PS, expect("Bundle.entry", 8, "aucun créneau"))
def _(d: Doc) -> None:
    drop_entries(d, "Slot")
    d["total"] = 0


@fixture(
    "ps-09-profil-slot-absent", PS, expect(f"{E}[0].resource.meta.profile", 9, "FrSlotAgregateur")
)
def _(d: Doc) -> None:
    del res(d, 0)["meta"]["profile"]


@fixture("ps-10-statut-busy", PS, expect(f"{E}[0].resource.status", 10, "« busy »"))
def _(d: Doc) -> None:
    res(d, 0)["status"] = "busy"


@fixture("ps-11-sans-fin", PS, expect(f"{E}[0].resource.end", 11, "date de fin absente"))
def _(d: Doc) -> None:
    del res(d, 0)["end"]


@fixture("ps-11-fin-avant-debut", PS, expect(f"{E}[0].resource.end", 11, "antérieure ou égale"))
def _(d: Doc) -> None:
    res(d, 0)["end"] = "2021-11-05T08:30:00.000+00:00"


@fixture(
    "ps-12-sans-schedule-reference",
    PS,
    expect(f"{E}[0].resource.schedule", 12, "schedule.reference"),
)
def _(d: Doc) -> None:
    res(d, 0)["schedule"] = {"display": "Agenda du Dr Thomas"}


@fixture("ps-13-profil-bundle-absent", PS, expect("Bundle.meta.profile", 13, "BundleAgregateur"))
def _(d: Doc) -> None:
    del d["meta"]


@fixture("ps-14-type-collection", PS, expect("Bundle.type", 14, "searchset"))
def _(d: Doc) -> None:
    d["type"] = "collection"


@fixture("ps-15-sans-practitioner", PS, expect("Bundle.entry", 15, "aucune ressource Practitioner"))
def _(d: Doc) -> None:
    drop_entries(d, "Practitioner")


@fixture(
    "ps-16-identifiant-non-national",
    PS,
    expect(f"{E}[9].resource.identifier", 16, "aucun identifiant national"),
)
def _(d: Doc) -> None:
    identifier = res(d, 9)["identifier"][0]
    identifier["system"] = "https://editeur.example/praticiens"
    del identifier["type"]


@fixture(
    "ps-17-rpps-sans-prefixe",
    PS,
    expect(
        f"{E}[9].resource.identifier[0].value",
        17,
        "identifiant IDNPS sans préfixe : « 10002673899 » (attendu 8+RPPS ou 0+ADELI)",
    ),
)
def _(d: Doc) -> None:
    res(d, 9)["identifier"][0]["value"] = "10002673899"


@fixture(
    "ps-17-adeli", PS, expect(f"{E}[9].resource.identifier[0].value", 17, "le kit exige 8 + RPPS")
)
def _(d: Doc) -> None:
    res(d, 9)["identifier"][0]["value"] = "0471234567"


@fixture(
    "ps-18-ps-non-demande",
    PS,
    expect(f"{E}[9].resource.identifier", 18, "ne fait pas partie des identifiants demandés"),
)
def _(d: Doc) -> None:
    res(d, 9)["identifier"][0]["value"] = "810002909371"


@fixture("ps-19-sans-practitionerrole", PS, expect("Bundle.entry", 19, "PractitionerRole"))
def _(d: Doc) -> None:
    drop_entries(d, "PractitionerRole")


@fixture(
    "ps-20-structure-absente",
    PS,
    expect(f"{E}[3].resource.organization.identifier", 20, "structure d'exercice absent"),
)
def _(d: Doc) -> None:
    del res(d, 3)["organization"]


@fixture(
    "ps-20-idnst-sans-prefixe",
    PS,
    expect(
        f"{E}[3].resource.organization.identifier.value",
        20,
        "identifiant IDNST sans préfixe : « 810004421 »",
    ),
)
def _(d: Doc) -> None:
    res(d, 3)["organization"]["identifier"]["value"] = "810004421"


@fixture(
    "ps-21-sans-practitioner-reference",
    PS,
    expect(f"{E}[3].resource.practitioner", 21, "practitioner.reference absent"),
)
def _(d: Doc) -> None:
    del res(d, 3)["practitioner"]


@fixture(
    "ps-22-location-non-contenue",
    PS,
    expect(f"{E}[3].resource.contained", 22, "aucune Location contenue"),
    expect(f"{E}[3].resource.location[0].reference", 22, "« #id »"),
)
def _(d: Doc) -> None:
    role = res(d, 3)
    del role["contained"]
    role["location"] = [{"reference": "Location/ExampleLocation3"}]


@fixture("ps-23-sans-type-de-creneau", PS, expect(f"{E}[0].resource.meta.security", 23, "TRE_R314"))
def _(d: Doc) -> None:
    del res(d, 0)["meta"]["security"]


@fixture(
    "ps-23-type-de-creneau-inconnu",
    PS,
    expect(f"{E}[0].resource.meta.security[0].code", 23, "« PRIVATE » inconnu de TRE_R314"),
)
def _(d: Doc) -> None:
    res(d, 0)["meta"]["security"][0]["code"] = "PRIVATE"


@fixture("ps-24-sans-modalite", PS, expect(f"{E}[0].resource.serviceType", 24, "aucune modalité"))
def _(d: Doc) -> None:
    res(d, 0)["serviceType"] = [{"text": "Visite de contrôle"}]


@fixture(
    "ps-25-comment-pas-une-url",
    PS,
    expect(f"{E}[0].resource.comment", 25, "n'est pas une URL http(s)"),
)
def _(d: Doc) -> None:
    res(d, 0)["comment"] = "Prendre RDV par téléphone"


@fixture("ps-25-routine-sans-url", PS, expect(f"{E}[0].resource.comment", 25, "créneau réservable"))
def _(d: Doc) -> None:
    del res(d, 0)["comment"]


@fixture(
    "ps-31-profil-practitionerrole-non-canonique",
    PS,
    expect(f"{E}[3].resource.meta.profile", 31, "non canonique"),
)
def _(d: Doc) -> None:
    res(d, 3)["meta"]["profile"] = [
        "https://interop.esante.gouv.fr/ig/fhir/sas/StructureDefinition/"
        "FrPractitionerRoleExerciceAgregateur"
    ]


@fixture(
    "ps-32-profil-practitioner-absent",
    PS,
    expect(f"{E}[9].resource.meta.profile", 32, "FrPractitionerAgregateur"),
)
def _(d: Doc) -> None:
    del res(d, 9)["meta"]


@fixture(
    "ps-34-telephone-national", PS, expect(f"{E}[10].resource.telecom[0].value", 34, "+indicatif")
)
def _(d: Doc) -> None:
    res(d, 10)["telecom"][0]["value"] = "05 61 85 59 77"


@fixture(
    "ps-35-telecom-sans-system", PS, expect(f"{E}[10].resource.telecom[0].system", 35, "phone")
)
def _(d: Doc) -> None:
    del res(d, 10)["telecom"][0]["system"]


@fixture(
    "ps-38-deux-lignes-d-adresse",
    PS,
    expect(f"{E}[3].resource.contained[0].address.line", 38, "2 lignes d'adresse"),
)
def _(d: Doc) -> None:
    res(d, 3)["contained"][0]["address"]["line"] = ["1 rue Mme DELMAS", "Bâtiment B"]


@fixture("ps-39-sans-commune", PS, expect(f"{E}[3].resource.contained[0].address.city", 39))
def _(d: Doc) -> None:
    del res(d, 3)["contained"][0]["address"]["city"]


@fixture(
    "ps-40-code-postal-4-chiffres",
    PS,
    expect(f"{E}[3].resource.contained[0].address.postalCode", 40, "5 chiffres"),
)
def _(d: Doc) -> None:
    res(d, 3)["contained"][0]["address"]["postalCode"] = "4700"


@fixture("ps-41-sans-specialite", PS, expect(f"{E}[0].resource.specialty", 41, "aucune spécialité"))
def _(d: Doc) -> None:
    del res(d, 0)["specialty"]


@fixture(
    "ps-42-plusieurs-lieux-par-schedule",
    PS,
    expect(f"{E}[1].resource.actor", 42, "plusieurs lieux (2 PractitionerRole)"),
)
def _(d: Doc) -> None:
    res(d, 1)["actor"].append({"reference": "PractitionerRole/ExamplePractitionerRoleAgregateur3"})


@fixture(
    "ps-42-plusieurs-ps-par-schedule",
    PS,
    expect(f"{E}[1].resource.actor", 42, "plusieurs PS (Practitioner) (2 Practitioner)"),
)
def _(d: Doc) -> None:
    res(d, 1)["actor"].append({"reference": "Practitioner/ExamplePractitioner3"})


@fixture(
    "ps-43-schedule-et-role-incoherents",
    PS,
    expect(f"{E}[1].resource.actor", 43, "incohérence"),
)
def _(d: Doc) -> None:
    res(d, 1)["actor"][0]["reference"] = "Practitioner/ExamplePractitioner3"


@fixture(
    "ps-43-reference-non-resolue",
    PS,
    expect(f"{E}[1].resource.actor[1].reference", 43, "non résolue"),
)
def _(d: Doc) -> None:
    res(d, 1)["actor"][1]["reference"] = "PractitionerRole/Inconnu"


@fixture("ps-44-ps-en-double", PS, expect(f"{E}[9].resource.identifier", 44, "déjà décrit"))
def _(d: Doc) -> None:
    res(d, 9)["identifier"][0]["value"] = "810100050075"


@fixture(
    "ps-45-date-sans-fuseau",
    PS,
    expect(f"{E}[0].resource.start", 45, "fuseau horaire obligatoire"),
)
def _(d: Doc) -> None:
    res(d, 0)["start"] = "2021-11-05T09:00:00"


@fixture(
    "ps-46-type-de-creneau-dans-meta-tag",
    PS,
    expect(f"{E}[0].resource.meta.tag[0]", 46, "placé dans meta.tag"),
)
def _(d: Doc) -> None:
    meta = res(d, 0)["meta"]
    meta["tag"] = meta.pop("security")


@fixture(
    "ps-46-type-de-creneau-dans-servicetype",
    PS,
    expect(f"{E}[0].resource.serviceType[3].text", 46, "placé dans serviceType"),
)
def _(d: Doc) -> None:
    slot = res(d, 0)
    del slot["meta"]["security"]
    slot["serviceType"].append({"text": "PUBLIC"})


@fixture(
    "ps-47-indisponibilite-transmise",
    PS,
    expect(f"{E}[0].resource.status", 47, "busy-unavailable"),
)
def _(d: Doc) -> None:
    res(d, 0)["status"] = "busy-unavailable"


@fixture(
    "ps-48-modalite-en-texte-seul",
    PS,
    expect(f"{E}[0].resource.serviceType[1].text", 48, "donnée en texte seul"),
)
def _(d: Doc) -> None:
    res(d, 0)["serviceType"][1] = {"text": "Téléconsultation"}


@fixture(
    "ps-48-motif-code-en-actcode",
    PS,
    expect(f"{E}[0].resource.serviceType[2].coding[0].code", 48, "n'est pas une modalité"),
)
def _(d: Doc) -> None:
    res(d, 0)["serviceType"][2] = {"coding": [{"system": ACT, "code": "Visite de contrôle"}]}


@fixture(
    "ps-49-appointmenttype-inconnu",
    PS,
    expect(f"{E}[0].resource.appointmentType.coding[0].code", 49, "ROUTINE"),
)
def _(d: Doc) -> None:
    res(d, 0)["appointmentType"]["coding"][0]["code"] = "EMERGENCY"


# -- other mistakes -------------------------------------------------------------------


@fixture(
    "ps-specialite-code-en-texte",
    PS,
    expect(f"{E}[0].resource.specialty[0].text", None, "code TRE_R38 « SM54 » donné en texte"),
)
def _(d: Doc) -> None:
    res(d, 0)["specialty"] = [{"text": "SM54"}]


@fixture(
    "ps-elements-vides",
    PS,
    expect(f"{E}[0].resource.comment", None, "chaîne vide interdite"),
    expect(f"{E}[0].resource.meta.tag", None, "tableau vide interdit"),
    expect(f"{E}[0].resource.specialty[1]", None, "objet vide interdit"),
)
def _(d: Doc) -> None:
    slot = res(d, 0)
    slot["comment"] = ""
    slot["meta"]["tag"] = []
    slot["specialty"][1] = {}


@fixture(
    "ps-elements-inconnus",
    PS,
    expect(f"{E}[0].resource.foo", None, "élément inconnu « foo »"),
    expect(f"{E}[3].resource.contained[0].address.bogus", None, "élément inconnu « bogus »"),
)
def _(d: Doc) -> None:
    res(d, 0)["foo"] = 1
    res(d, 3)["contained"][0]["address"]["bogus"] = True


@fixture(
    "ps-search-mode-include-sur-slot",
    PS,
    expect(f"{E}[0].search.mode", None, "« match » attendu pour un Slot"),
)
def _(d: Doc) -> None:
    d["entry"][0]["search"]["mode"] = "include"


@fixture(
    "ps-patient-inclus",
    PS,
    expect(f"{E}[12].resource", None, "aucune donnée patient"),
)
def _(d: Doc) -> None:
    d["entry"].append(
        {
            "fullUrl": "https://exemple.com/ans-sas/Patient/1",
            "resource": {"resourceType": "Patient", "id": "1", "name": [{"family": "Dupont"}]},
            "search": {"mode": "include"},
        }
    )


@fixture(
    "cpts-servicetype-sans-extension",
    CPTS,
    expect(f"{E}[0].resource.serviceType[1]", None, "sans l'extension"),
)
def _(d: Doc) -> None:
    del res(d, 0)["serviceType"][1]["extension"]


@fixture(
    "cpts-healthcareservice-non-inclus",
    CPTS,
    expect(
        f"{E}[0].resource.serviceType[1].extension[0].valueReference.reference", 43, "non résolue"
    ),
)
def _(d: Doc) -> None:
    drop_entries(d, "HealthcareService")


@fixture(
    "sos-creneau-pro",
    SOS,
    expect(f"{E}[0].resource.meta.security[1].code", 23, "non autorisé dans le flux sos"),
)
def _(d: Doc) -> None:
    res(d, 0)["meta"]["security"][1]["code"] = "PRO"


@fixture(
    "sos-slot-en-match",
    SOS,
    expect(f"{E}[0].search.mode", None, "« include » attendu pour un Slot"),
)
def _(d: Doc) -> None:
    d["entry"][0]["search"]["mode"] = "match"


@fixture(
    "sos-organisation-par-finess",
    SOS,
    expect(f"{E}[3].resource.identifier[0].value", None, "identifiée par 3+SIRET"),
)
def _(d: Doc) -> None:
    res(d, 3)["identifier"][0]["value"] = "1950047225"


@fixture("sos-schedule-deux-lieux", SOS, expect(f"{E}[1].resource.actor", 42, "plusieurs lieux"))
def _(d: Doc) -> None:
    res(d, 1)["actor"].append({"reference": "Location/2222222222"})


# -- appointments and regulator accounts ----------------------------------------------


@fixture("appointment-sans-identifiant", APPT, expect("Appointment.identifier", None, "absent"))
def _(d: Doc) -> None:
    del d["identifier"]


@fixture("appointment-statut-invalide", APPT, expect("Appointment.status", None, "« proposed »"))
def _(d: Doc) -> None:
    d["status"] = "proposed"


@fixture("appointment-pending-hors-sos", APPT, expect("Appointment.status", None, "réservé"))
def _(d: Doc) -> None:
    d["status"] = "pending"


@fixture(
    "appointment-participant-patient",
    APPT,
    expect("Appointment.participant[1].actor", None, "aucune donnée patient"),
)
def _(d: Doc) -> None:
    d["participant"].append(
        {"actor": {"reference": "Patient/123", "display": "Jean Dupont"}, "status": "accepted"}
    )


@fixture(
    "appointment-ps-sans-prefixe",
    APPT,
    expect("Appointment.participant[0].actor.identifier.value", None, "sans préfixe"),
)
def _(d: Doc) -> None:
    d["participant"][0]["actor"]["identifier"]["value"] = "10100050075"


@fixture(
    "appointment-sans-operateur",
    APPT,
    expect("Appointment.extension", None, "FrAppointmentOperator absente"),
)
def _(d: Doc) -> None:
    del d["extension"]


@fixture(
    "appointment-orientation-inconnue",
    APPT_SOS,
    expect("Appointment.extension[1].valueCodeableConcept", None, "« 999 »"),
)
def _(d: Doc) -> None:
    d["extension"].append(
        {
            "url": "https://interop.esante.gouv.fr/ig/fhir/sas/StructureDefinition/"
            "sas-categorie-orientation",
            "valueCodeableConcept": {
                "coding": [
                    {
                        "system": "https://interop.esante.gouv.fr/ig/fhir/sas/CodeSystem/"
                        "categorie-orientation-sas-codesystem",
                        "code": "999",
                    }
                ]
            },
        }
    )


@fixture("regulateur-sans-source", REGUL, expect("Practitioner.meta.source", None, "absent"))
def _(d: Doc) -> None:
    del d["meta"]["source"]


@fixture(
    "regulateur-deux-identifiants",
    REGUL,
    expect("Practitioner.identifier", None, "exactement un attendu"),
)
def _(d: Doc) -> None:
    d["identifier"].append(
        {"system": "urn:oid:1.2.250.1.213.3.6", "value": "1ef1c748-01a3-6180-b098-73283ce4e5b1"}
    )


@fixture(
    "regulateur-uuid-invalide",
    REGUL_UUID,
    expect("Practitioner.identifier[0].value", None, "UUID attendu"),
)
def _(d: Doc) -> None:
    d["identifier"][0]["value"] = "regulateur-42"


@fixture(
    "regulateur-sans-email", REGUL, expect("Practitioner.telecom[0].system", None, "« email »")
)
def _(d: Doc) -> None:
    d["telecom"] = [{"system": "phone", "value": "+33612345678"}]


def build() -> dict[str, list[dict[str, Any]]]:
    manifest = {}
    for path in HERE.glob("*.json"):
        path.unlink()
    for name, (base, mutate, expected) in sorted(FIXTURES.items()):
        doc = copy.deepcopy(official(base))
        mutate(doc)
        text = json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
        (HERE / f"{name}.json").write_text(text, encoding="utf-8")
        manifest[f"{name}.json"] = expected
    (HERE / "expected.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return manifest


if __name__ == "__main__":
    print(f"{len(build())} fixtures")
