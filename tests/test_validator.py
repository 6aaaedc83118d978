"""The strict FHIR validator (``portal.fhir.validation``): official examples, crafted
mistakes, test-kit coverage."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import pytest

from portal.fhir.validation import (
    InputError,
    Report,
    validate,
    validate_appointment,
    validate_regulator,
)
from portal.fhir.validation.identifiers import check_idnps, check_idnst, luhn_ok, siret_ok

DATA = Path(__file__).parent / "data" / "fhir"
IG = DATA / "sas-ig"
INVALID = DATA / "invalid"
VALIDATOR_MD = Path(__file__).parents[1] / "portal" / "fhir" / "VALIDATOR.md"
EXAMPLE_TYPES = {
    "Bundle",
    "Slot",
    "Schedule",
    "Practitioner",
    "PractitionerRole",
    "Location",
    "Organization",
    "HealthcareService",
    "Appointment",
}
MANIFEST: dict[str, list[dict[str, Any]]] = json.loads(
    (INVALID / "expected.json").read_text(encoding="utf-8")
)


def _examples() -> list[Path]:
    return sorted(
        path
        for path in IG.glob("*.json")
        if json.loads(path.read_text(encoding="utf-8")).get("resourceType") in EXAMPLE_TYPES
    )


def _load(name: str) -> dict[str, Any]:
    return json.loads((IG / name).read_text(encoding="utf-8"))


def _errors(report: Report) -> list[tuple[str, str]]:
    return [(p.location, p.message) for p in report.errors]


def _find(report: Report, location: str, severity: str = "error") -> list[str]:
    return [p.message for p in report.problems if p.location == location and p.severity == severity]


# -- official examples -------------------------------------------------------------------


def test_every_official_example_is_copied() -> None:
    names = {path.name for path in _examples()}
    assert len(names) >= 45
    assert {
        "Bundle-ExampleBundlePSIndiv.json",
        "Bundle-ExampleBundleCPTS1.json",
        "Bundle-ExampleBundleCPTS2.json",
        "Bundle-ExampleBundleAgregateurSOS.json",
        "Appointment-1.json",
        "Appointment-2.json",
        "Appointment-12345678.json",
        "Practitioner-ExamplePractitionerRegul4.json",
    } <= names
    assert (IG / "LICENSE").exists()


@pytest.mark.parametrize("path", _examples(), ids=lambda p: p.stem)
def test_official_example_has_no_error(path: Path) -> None:
    report = validate(path.read_bytes())
    assert report.valid, _errors(report)
    assert report.kind != "inconnu"


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("Bundle-ExampleBundlePSIndiv.json", "Bundle (ps)"),
        ("Bundle-ExampleBundleCPTS1.json", "Bundle (cpts)"),
        ("Bundle-ExampleBundleCPTS2.json", "Bundle (cpts)"),
        ("Bundle-ExampleBundleAgregateurSOS.json", "Bundle (sos)"),
        ("Appointment-1.json", "Appointment"),
        ("Appointment-12345678.json", "Appointment (sos)"),
        ("Practitioner-ExamplePractitionerRegul1.json", "Practitioner (régulateur)"),
        ("Practitioner-ExamplePractitioner.json", "Practitioner"),
        ("Slot-ExampleSlotSOS1.json", "Slot"),
    ],
)
def test_kind_is_detected(name: str, kind: str) -> None:
    assert validate(_load(name)).kind == kind


def test_flow_is_detected_without_bundle_profile() -> None:
    for name, flow in [
        ("Bundle-ExampleBundleCPTS1.json", "cpts"),
        ("Bundle-ExampleBundleAgregateurSOS.json", "sos"),
        ("Bundle-ExampleBundlePSIndiv.json", "ps"),
    ]:
        bundle = _load(name)
        del bundle["meta"]
        report = validate(bundle)
        assert report.kind == f"Bundle ({flow})"
        assert [p.requirement for p in report.errors] == ["agg-psindiv-13"]


# -- crafted invalid fixtures ------------------------------------------------------------


def test_fixtures_are_up_to_date() -> None:
    files = {path.name for path in INVALID.glob("*.json")} - {"expected.json"}
    assert files == set(MANIFEST)


@pytest.mark.parametrize("name", sorted(MANIFEST), ids=lambda n: n.removesuffix(".json"))
def test_invalid_fixture(name: str) -> None:
    report = validate((INVALID / name).read_bytes())
    for expected in MANIFEST[name]:
        matching = [
            p
            for p in report.problems
            if p.location == expected["location"]
            and p.severity == expected["severity"]
            and p.requirement == expected["requirement"]
            and expected["contains"] in p.message
        ]
        assert matching, (
            expected,
            [(p.location, p.requirement, p.message) for p in report.problems],
        )
        if expected["requirement"]:
            assert matching[0].message.startswith(f"[{expected['requirement']}] ")
    if any(e["severity"] == "error" for e in MANIFEST[name]):
        assert not report.valid


# -- the common editor mistakes of the guide ----------------------------------------------


def _ps_bundle() -> dict[str, Any]:
    return _load("Bundle-ExampleBundlePSIndiv.json")


def test_mistake_missing_idnps_prefix() -> None:
    bundle = _ps_bundle()
    bundle["entry"][9]["resource"]["identifier"][0]["value"] = "10001234567"
    report = validate(bundle)
    messages = _find(report, "Bundle.entry[9].resource.identifier[0].value")
    assert (
        "[agg-psindiv-17] identifiant IDNPS sans préfixe : « 10001234567 » "
        "(attendu 8+RPPS ou 0+ADELI) — un RPPS s'écrit 810001234567"
    ) in messages


def test_mistake_missing_idnst_prefix() -> None:
    bundle = _ps_bundle()
    bundle["entry"][3]["resource"]["organization"]["identifier"]["value"] = "33417374840002"
    report = validate(bundle)
    assert _find(report, "Bundle.entry[3].resource.organization.identifier.value") == [
        "[agg-psindiv-20] identifiant IDNST sans préfixe : « 33417374840002 » (attendu "
        "1+FINESS, 3+SIRET, 4+RPPS-rang ou 0+ADELI-rang) — un SIRET s'écrit 333417374840002"
    ]


def test_mistake_specialty_as_text() -> None:
    bundle = _ps_bundle()
    bundle["entry"][0]["resource"]["specialty"] = [{"text": "SM54"}]
    report = validate(bundle)
    assert _find(report, "Bundle.entry[0].resource.specialty[0].text") == [
        "code TRE_R38 « SM54 » donné en texte : utilisez coding (system "
        "https://mos.esante.gouv.fr/NOS/TRE_R38-SpecialiteOrdinale/FHIR/"
        "TRE-R38-SpecialiteOrdinale, code SM54)"
    ]
    # a label alone is only a warning (an official example does it), with a suggestion
    bundle["entry"][0]["resource"]["specialty"] = [{"text": "Médecine générale"}]
    report = validate(bundle)
    assert report.valid
    assert _find(report, "Bundle.entry[0].resource.specialty[0].text", "warning") == [
        "spécialité en texte seul « Médecine générale » : codez-la en TRE_R38 (code SM54 ?), "
        "la plateforme filtre sur le code"
    ]


def test_mistake_slot_kind_outside_meta_security() -> None:
    bundle = _ps_bundle()
    slot = bundle["entry"][0]["resource"]
    slot["meta"]["tag"] = slot["meta"].pop("security")
    report = validate(bundle)
    assert _find(report, "Bundle.entry[0].resource.meta.tag[0]") == [
        "[agg-psindiv-46] type de créneau PUBLIC placé dans meta.tag : il doit figurer dans "
        "meta.security (system https://mos.esante.gouv.fr/NOS/TRE_R314-TypeCreneau/FHIR/"
        "TRE-R314-TypeCreneau)"
    ]


def test_mistake_modality_mixed_with_reason() -> None:
    bundle = _ps_bundle()
    slot = bundle["entry"][0]["resource"]
    slot["serviceType"] = [
        {"text": "VR"},
        {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"}]},
        {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "Suivi"}
            ]
        },
    ]
    report = validate(bundle)
    assert _find(report, "Bundle.entry[0].resource.serviceType[0].text") == [
        "[agg-psindiv-48] modalité « VR » donnée en texte seul : codez-la (coding system "
        "http://terminology.hl7.org/CodeSystem/v3-ActCode, code VR)"
    ]
    assert _find(report, "Bundle.entry[0].resource.serviceType[2].coding[0].code") == [
        "[agg-psindiv-48] « Suivi » codé en v3-ActCode n'est pas une modalité (AMB, VR ou HH) : "
        "un motif se donne en texte seul, dans un serviceType séparé"
    ]


def test_mistake_several_places_for_one_schedule() -> None:
    bundle = _ps_bundle()
    bundle["entry"][1]["resource"]["actor"].append(
        {"reference": "PractitionerRole/ExamplePractitionerRoleAgregateur3"}
    )
    report = validate(bundle)
    assert _find(report, "Bundle.entry[1].resource.actor") == [
        "[agg-psindiv-42] plusieurs lieux (2 PractitionerRole) pour un même Schedule : un "
        "Schedule par PS et par lieu d'exercice"
    ]


def test_mistake_empty_bundle_is_a_warning() -> None:
    empty = {
        "resourceType": "Bundle",
        "meta": {"profile": ["http://sas.fr/fhir/StructureDefinition/BundleAgregateur"]},
        "type": "searchset",
        "total": 0,
        "link": [{"relation": "self", "url": "https://editeur.example/Slot?status=free"}],
    }
    report = validate(empty)
    assert report.valid
    assert [(p.location, p.severity, p.requirement) for p in report.problems] == [
        ("Bundle", "warning", "agg-psindiv-8")
    ]
    # an empty "entry" array is an empty element, forbidden by FHIR
    report = validate({**empty, "entry": []})
    assert _find(report, "Bundle.entry") == ["tableau vide interdit en FHIR : omettez l'élément"]


def test_mistake_empty_elements() -> None:
    bundle = _ps_bundle()
    bundle["entry"][0]["resource"]["comment"] = ""
    bundle["entry"][3]["resource"]["contained"][0]["address"]["line"] = ["  "]
    bundle["entry"][9]["resource"]["name"][0]["given"] = []
    bundle["entry"][9]["resource"]["meta"]["security"] = [{}]
    report = validate(bundle)
    assert _find(report, "Bundle.entry[0].resource.comment") == [
        "chaîne vide interdite en FHIR : omettez l'élément"
    ]
    assert _find(report, "Bundle.entry[3].resource.contained[0].address.line[0]") == [
        "chaîne composée uniquement d'espaces : omettez l'élément"
    ]
    assert _find(report, "Bundle.entry[9].resource.name[0].given") == [
        "tableau vide interdit en FHIR : omettez l'élément"
    ]
    assert _find(report, "Bundle.entry[9].resource.meta.security[0]") == [
        "objet vide interdit en FHIR : omettez l'élément"
    ]


# -- structure -----------------------------------------------------------------------------


def test_structure_errors_are_reported_entry_by_entry() -> None:
    bundle = _ps_bundle()
    bundle["entry"][0]["resource"]["foo"] = 1
    bundle["entry"][4]["resource"]["start"] = 12
    bundle["entry"][9]["resource"]["gender"] = ["male"]
    report = validate(bundle)
    assert _find(report, "Bundle.entry[0].resource.foo")[0].startswith("élément inconnu « foo »")
    assert _find(report, "Bundle.entry[4].resource.start")
    assert _find(report, "Bundle.entry[9].resource.gender")


def test_json_types_the_models_would_coerce() -> None:
    appointment = _load("Appointment-1.json")
    appointment["created"] = 1662282000
    appointment["minutesDuration"] = "15"
    report = validate_appointment(appointment)
    assert _find(report, "Appointment.created") == [
        "type JSON incorrect : chaîne attendue (valeur « 1662282000 »)"
    ]
    assert _find(report, "Appointment.minutesDuration") == [
        "type JSON incorrect : nombre entier attendu (valeur « 15 »)"
    ]
    regulator = _load("Practitioner-ExamplePractitionerRegul1.json")
    regulator["active"] = "true"
    assert _find(validate(regulator), "Practitioner.active") == [
        "type JSON incorrect : booléen attendu (true ou false) (valeur « true »)"
    ]


def test_r4b_models_accept_what_r5_rejects() -> None:
    # R5 renamed Appointment.comment/patientInstruction; R4 examples must still parse
    appointment = _load("Appointment-1.json")
    appointment["comment"] = "Rappeler le cabinet"
    report = validate_appointment(appointment)
    assert report.valid
    assert _find(report, "Appointment.comment", "warning")


def test_problems_are_ordered_by_entry() -> None:
    bundle = _ps_bundle()
    bundle["entry"][11]["resource"]["status"] = "busy"
    bundle["entry"][1]["resource"]["foo"] = "x"
    del bundle["meta"]
    report = validate(bundle)
    indexes = [
        int(m.group(1)) if (m := re.match(r"Bundle\.entry\[(\d+)\]", p.location)) else -1
        for p in report.problems
    ]
    assert indexes == sorted(indexes)


def test_input_forms() -> None:
    raw = (IG / "Slot-ExampleSlotPSIndiv1.json").read_bytes()
    assert validate(raw).valid
    assert validate(raw.decode()).valid
    assert validate(json.loads(raw)).valid
    assert validate(b"\xef\xbb\xbf" + raw).valid  # UTF-8 BOM
    with pytest.raises(InputError, match="JSON invalide"):
        validate(b"{")
    with pytest.raises(InputError, match="UTF-8"):
        validate(b"\xff\xfe{}")
    report = validate("[1, 2]")
    assert not report.valid and report.kind == "inconnu"
    report = validate('{"resourceType": "Slot", "status": "free", "status": "busy"}')
    assert any("clé JSON « status » en double" in p.message for p in report.errors)
    report = validate({"resourceType": "Observation", "status": "final"})
    assert _find(report, "Observation.resourceType")


def test_operation_outcome_instead_of_a_bundle() -> None:
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "invalid", "diagnostics": "start manquant"}],
    }
    report = validate(outcome)
    assert report.kind == "OperationOutcome"
    assert _find(report, "OperationOutcome") == [
        "réponse d'erreur (OperationOutcome) au lieu d'un Bundle searchset : start manquant"
    ]
    # inside a searchset, in search.mode "outcome", it is allowed and does not count
    bundle = {
        "resourceType": "Bundle",
        "meta": {"profile": ["http://sas.fr/fhir/StructureDefinition/BundleAgregateur"]},
        "type": "searchset",
        "total": 0,
        "entry": [{"resource": outcome, "search": {"mode": "outcome"}}],
    }
    report = validate(bundle)
    assert report.valid
    assert _find(report, "Bundle.entry[0].resource.issue[0]", "warning") == [
        "OperationOutcome joint (error) : start manquant"
    ]


# -- identifiers ---------------------------------------------------------------------------


def test_luhn() -> None:
    assert luhn_ok("10002909371")
    assert not luhn_ok("10002673899")
    assert siret_ok("34173748400020")
    assert siret_ok("35600000000048")  # La Poste's head office: Luhn
    assert siret_ok("35600000012341")  # a La Poste establishment: digit sum multiple of 5
    assert not siret_ok("34173748400021")


@pytest.mark.parametrize(
    ("value", "kind", "ok"),
    [
        ("810002909371", "rpps", True),
        ("0471234567", "adeli", True),
        ("02A1234567", "adeli", True),
        ("10002909371", None, False),
        ("471234567", None, False),
        ("81000290937", None, False),
        ("3456780581/11242343", None, False),  # a regulator's form, not a PS's
        ("abc", None, False),
    ],
)
def test_idnps(value: str, kind: str | None, ok: bool) -> None:
    result = check_idnps(value)
    assert (result.kind, result.ok) == (kind, ok)


def test_idnps_regulator_forms() -> None:
    assert check_idnps("3456780581/11242343", regulator=True).kind == "registre"
    assert not check_idnps("3456/1", regulator=True).ok
    assert not check_idnps("3456780581", regulator=True).ok


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("1810004421", "finess"),
        ("12A0000001", "finess"),
        ("334173748400020", "siret"),
        ("412345678912345", "rpps-rang"),
        ("04712345671", "adeli-rang"),
        ("810004421", None),
        ("34173748400020", None),
        ("3123", None),
        ("9123456789", None),
    ],
)
def test_idnst(value: str, kind: str | None) -> None:
    result = check_idnst(value)
    assert result.kind == kind
    assert result.ok is (kind is not None)


def test_luhn_failure_is_only_a_warning() -> None:
    bundle = _ps_bundle()
    assert not luhn_ok("10002673899")  # the guide's own example
    report = validate(bundle)
    assert report.valid
    luhn = [p for p in report.problems if "Luhn" in p.message]
    assert luhn and all(p.severity == "warning" for p in luhn)
    assert "Bundle.entry[9].resource.identifier[0].value" in {p.location for p in luhn}


# -- appointments and regulator accounts -----------------------------------------------


@pytest.mark.parametrize(
    "name", ["Appointment-1.json", "Appointment-2.json", "Appointment-12345678.json"]
)
def test_official_appointments_pass(name: str) -> None:
    assert validate_appointment(_load(name)).valid


def test_appointment_missing_identifier() -> None:
    appointment = _load("Appointment-1.json")
    del appointment["identifier"]
    report = validate_appointment(appointment)
    assert not report.valid
    assert _find(report, "Appointment.identifier")


def test_appointment_wrong_status() -> None:
    appointment = _load("Appointment-1.json")
    appointment["status"] = "arrived"
    report = validate_appointment(appointment)
    assert _find(report, "Appointment.status") == [
        "statut « arrived » : booked | cancelled | fulfilled | noshow attendu"
    ]
    sos = _load("Appointment-12345678.json")
    assert sos["status"] == "pending"
    assert validate_appointment(sos).valid


def test_appointment_patient_participant() -> None:
    appointment = _load("Appointment-1.json")
    appointment["participant"].append(
        {"actor": {"reference": "Patient/42", "display": "Jean Dupont"}, "status": "accepted"}
    )
    report = validate_appointment(appointment)
    assert _find(report, "Appointment.participant[1].actor") == [
        "participant patient : aucune donnée patient ne doit être transmise (seul le PS "
        "effecteur est participant, identifié par son IDNPS)"
    ]


def test_appointment_patient_identifier_anywhere() -> None:
    appointment = _load("Appointment-1.json")
    appointment["supportingInformation"] = [
        {"identifier": {"system": "urn:oid:1.2.250.1.213.1.4.8", "value": "180017512345678"}}
    ]
    report = validate_appointment(appointment)
    assert _find(report, "Appointment.supportingInformation[0].identifier")


def test_appointment_participant_status_and_operator() -> None:
    appointment = _load("Appointment-1.json")
    appointment["participant"][0]["status"] = "declined"
    appointment["extension"][0]["valueReference"]["identifier"]["value"] = "10002909371"
    report = validate_appointment(appointment)
    assert _find(report, "Appointment.participant[0].status")
    assert _find(report, "Appointment.extension[0].valueReference.identifier.value")


def test_validate_appointment_refuses_other_resources() -> None:
    report = validate_appointment(_load("Slot-ExampleSlotPSIndiv1.json"))
    assert not report.valid and report.kind == "inconnu"


def test_regulator_accounts() -> None:
    for number in (1, 2, 3, 4):
        assert validate_regulator(
            _load(f"Practitioner-ExamplePractitionerRegul{number}.json")
        ).valid
    account = _load("Practitioner-ExamplePractitionerRegul2.json")
    del account["active"]
    account["name"][0]["given"].append("Paul")
    report = validate_regulator(account)
    assert _find(report, "Practitioner.active")
    assert _find(report, "Practitioner.name[0].given")


# -- test-kit coverage ---------------------------------------------------------------------

CLASSES = ("règle de bundle", "comportement du sandbox", "non applicable hors ligne")


def _table() -> dict[str, str]:
    rows: dict[str, str] = {}
    for line in VALIDATOR_MD.read_text(encoding="utf-8").splitlines():
        if line.startswith("| agg-psindiv-"):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            rows[cells[0]] = cells[2]
    return rows


def test_validator_md_lists_all_49_requirements() -> None:
    with (DATA / "test-kit" / "sas_test_kit_requirements.csv").open(encoding="utf-8-sig") as f:
        ids = {f"{row['Req Set']}-{row['ID']}" for row in csv.DictReader(f)}
    assert len(ids) == 49
    table = _table()
    assert set(table) == ids
    assert set(table.values()) <= set(CLASSES)
    counts = {c: list(table.values()).count(c) for c in CLASSES}
    assert counts == {
        "règle de bundle": 36,
        "comportement du sandbox": 10,
        "non applicable hors ligne": 3,
    }
    text = VALIDATOR_MD.read_text(encoding="utf-8")
    assert "**36** règles de bundle, **10** comportements du sandbox, **3** non" in text


def test_every_bundle_rule_is_emitted_by_a_failing_fixture() -> None:
    bundle_rules = {req for req, how in _table().items() if how == "règle de bundle"}
    failing: set[str] = set()
    emitted: set[str] = set()
    for name, expected in MANIFEST.items():
        report = validate((INVALID / name).read_bytes())
        emitted |= {p.requirement for p in report.problems if p.requirement}
        failing |= {
            e["requirement"] for e in expected if e["requirement"] and e["severity"] == "error"
        }
    assert bundle_rules <= failing
    assert bundle_rules <= emitted
    # and no rule claims a requirement the table does not attribute to a bundle rule
    assert emitted <= bundle_rules


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path] if path else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*path, index))
    return found


@pytest.mark.parametrize(
    "name", ["Bundle-ExampleBundleCPTS1.json", "Appointment-1.json", "Location-1111111111.json"]
)
def test_never_crashes_on_wrong_json_types(name: str) -> None:
    """Every element replaced in turn by a value of the wrong type: problems, no exception."""
    document = _load(name)
    for path in _paths(document):
        if "text" in path:
            continue  # narratives: large and irrelevant
        for wrong in (None, [], {"x": 1}, 7):
            broken = json.loads(json.dumps(document))
            node = broken
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = wrong
            report = validate(broken)
            assert report.problems, (path, wrong)
