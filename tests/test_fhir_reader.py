"""The tolerant FHIR bundle reader (``portal.fhir.read_bundle``).

Expected values below were read by hand from the guide's example Bundles in
``tests/data/fhir/sas-ig/`` (ANS IG "Service d'Accès aux Soins" v1.2, MIT).
"""

from __future__ import annotations

import copy
import gc
import json
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from portal.domain import Address
from portal.errors import MalformedResponse, UpstreamRejected
from portal.fhir import ReadResult, detect_flow, read_bundle

DATA = Path(__file__).parent / "data" / "fhir"
IG = DATA / "sas-ig"
PS, SOS = "Bundle-ExampleBundlePSIndiv.json", "Bundle-ExampleBundleAgregateurSOS.json"
CPTS1, CPTS2 = "Bundle-ExampleBundleCPTS1.json", "Bundle-ExampleBundleCPTS2.json"
SERVICE_TYPE_EXT = "http://hl7.org/fhir/5.0/StructureDefinition/extension-Slot.serviceType"
BASE = "https://exemple.com/ans-sas/"


def load(name: str) -> dict[str, Any]:
    return json.loads((IG / name).read_text(encoding="utf-8"))


def read(bundle: dict[str, Any], **kwargs: Any) -> ReadResult:
    return read_bundle(bundle, source="test", **kwargs)


def by_id(result: ReadResult) -> dict[str, dict[str, Any]]:
    return {slot.id: slot.as_json() for slot in result.slots}


def resources(bundle: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for entry in bundle["entry"]:
        yield entry["resource"]


def resource(bundle: dict[str, Any], key: str) -> dict[str, Any]:
    return next(r for r in resources(bundle) if f"{r['resourceType']}/{r['id']}" == key)


def rewrite_references(bundle: dict[str, Any], rewrite: Callable[[str], str]) -> None:
    """Apply ``rewrite`` to every non-contained ``reference`` string in the Bundle."""

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("reference")
            if isinstance(ref, str) and not ref.startswith("#"):
                node["reference"] = rewrite(ref)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(bundle["entry"])


# --- the official examples --------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(p.name for p in IG.glob("Bundle-*.json")))
def test_every_official_bundle_reads_every_slot_without_warning(name: str) -> None:
    bundle = load(name)
    result = read_bundle((IG / name).read_bytes(), source="test")
    slot_ids = [r["id"] for r in resources(bundle) if r["resourceType"] == "Slot"]
    assert [s.id for s in result.slots] == slot_ids
    assert result.warnings == []
    assert result.entries == len(bundle["entry"])


def test_ps_example_fields() -> None:
    slots = by_id(read(load(PS)))
    assert slots["ExampleSlotPSIndiv1"] == {
        "source": "test",
        "id": "ExampleSlotPSIndiv1",
        "practitioner": "810100050075",
        "structure": "1810004421",
        "start": "2021-11-05T09:00:00+00:00",
        "end": "2021-11-05T09:30:00+00:00",
        "modalities": ["cabinet", "teleconsultation"],
        "visibility": ["public"],
        "bookable": True,
        "specialties": ["SM54", "SM05"],
        "reasons": ["Visite de contrôle"],
        "booking_url": "https://exemple.com/rdv/com/",
        "capacity": 1,
        "address": {"line": "1 rue Mme DELMAS", "postal_code": "47000", "city": "AGEN"},
        "cpts": [],
    }
    walkin = slots["ExampleSlotPSIndiv2"]  # WALKIN, PRO only, no comment, other place
    assert walkin["bookable"] is False
    assert walkin["visibility"] == ["pro"]
    assert walkin["booking_url"] is None
    assert walkin["structure"] == "1810004956"
    assert walkin["address"]["line"] == "30 rue Mme DELMAS"
    assert walkin["specialties"] == ["SM54"]  # the text "Médecine générale" beside a code
    assert slots["ExampleSlotPSIndiv3"]["practitioner"] == "810002673899"
    assert slots["ExampleSlotPSIndiv3"]["specialties"] == ["SM41"]
    assert slots["ExampleSlotPSIndiv3"]["visibility"] == ["public", "pro"]
    assert slots["ExampleSlotPSIndiv4"]["modalities"] == ["domicile"]


def test_cpts_example_fields() -> None:
    one = read(load(CPTS1)).slots[0].as_json()
    assert one["practitioner"] == "810002909371"
    assert one["structure"] == "412345678912345"  # logical organization.identifier, as given
    assert one["cpts"] == ["1950047225"]
    assert one["visibility"] == ["public", "cpts"]
    assert one["modalities"] == ["cabinet"]
    assert one["reasons"] == [
        "Visite de contrôle"
    ]  # the R66 "604" HealthcareService pointer is not
    assert one["booking_url"] == "https://exemple.com/rdv/com/"
    assert one["start"] == "2024-06-12T16:40:00+02:00"
    assert one["address"] == {
        "line": "25 CHEMIN DE MOUNESTIE",
        "postal_code": "31840",
        "city": "Aussonne",
    }
    two = read(load(CPTS2)).slots[0]
    assert two.cpts == ("1950047225", "1950046227")  # two HealthcareServices, two CPTS
    assert two.reasons == ("Visite de contrôle",)


def test_sos_example_fields() -> None:
    result = read(load(SOS))
    slots = by_id(result)
    assert slots["ExampleSlotSOS1"] == {
        "source": "test",
        "id": "ExampleSlotSOS1",
        "practitioner": None,
        "structure": "334173748400020",
        "start": "2023-08-18T09:00:00+02:00",
        "end": "2023-08-18T09:30:00+02:00",
        "modalities": ["cabinet", "teleconsultation"],
        "visibility": ["public", "sas"],
        "bookable": True,
        "specialties": [],
        "reasons": [],
        "booking_url": "http://www.editeur.com/agenda-pfg/creneau1",
        "capacity": 1,
        "address": {
            "line": "320 avenue Général Georges Patton",
            "postal_code": "35700",
            "city": "RENNES",
        },
        "cpts": [],
    }
    # SOS4 shares SOS3's Schedule (Lorient, another association)
    assert slots["ExampleSlotSOS4"]["structure"] == "392080466300010"
    assert slots["ExampleSlotSOS4"]["address"]["city"] == "LORIENT"


@pytest.mark.parametrize(
    ("name", "flow"), [(PS, "ps"), (CPTS1, "cpts"), (CPTS2, "cpts"), (SOS, "sos")]
)
def test_detect_flow(name: str, flow: str) -> None:
    assert detect_flow(load(name)) == flow
    assert read(load(name)).flow == flow


def test_given_flow_wins_and_sos_drops_practitioners() -> None:
    result = read(load(PS), flow="sos")
    assert result.flow == "sos"
    assert [s.practitioner for s in result.slots] == [None] * 4
    assert result.slots[0].structure == "1810004421"


def test_bytes_str_and_mapping_read_alike() -> None:
    raw = (IG / PS).read_bytes()
    expected = [s.as_json() for s in read_bundle(json.loads(raw), source="x").slots]
    assert [s.as_json() for s in read_bundle(raw, source="x").slots] == expected
    assert [s.as_json() for s in read_bundle(raw.decode(), source="x").slots] == expected
    bom = "\ufeff" + raw.decode()
    assert [s.as_json() for s in read_bundle(bom, source="x").slots] == expected
    assert [s.as_json() for s in read_bundle(bom.encode(), source="x").slots] == expected


# --- references in every form -------------------------------------------------------------


def _absolute(bundle: dict[str, Any]) -> None:
    rewrite_references(bundle, lambda ref: BASE + ref)


def _absolute_other_base(bundle: dict[str, Any]) -> None:
    # a server that writes its public base in references but another in fullUrl
    rewrite_references(bundle, lambda ref: "https://fhir.editeur.example/r4/" + ref)


def _versioned(bundle: dict[str, Any]) -> None:
    rewrite_references(bundle, lambda ref: ref + "/_history/3")


def _urn_uuid(bundle: dict[str, Any]) -> None:
    uuids = {}
    for entry in bundle["entry"]:
        res = entry["resource"]
        key = f"{res['resourceType']}/{res['id']}"
        uuids[key] = f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, key)}"
        entry["fullUrl"] = uuids[key]
        if res["resourceType"] != "Slot":  # only the fullUrl can resolve them now
            del res["id"]
    rewrite_references(bundle, lambda ref: uuids[ref])


def _contained(bundle: dict[str, Any]) -> None:
    """Schedules contained in their Slots; Practitioners contained in their roles."""
    schedules = {
        f"Schedule/{r['id']}": r for r in resources(bundle) if r["resourceType"] == "Schedule"
    }
    practitioners = {
        f"Practitioner/{r['id']}": r
        for r in resources(bundle)
        if r["resourceType"] == "Practitioner"
    }
    for slot in [r for r in resources(bundle) if r["resourceType"] == "Slot"]:
        schedule = copy.deepcopy(schedules[slot["schedule"]["reference"]])
        schedule["actor"] = [a for a in schedule["actor"] if "PractitionerRole/" in a["reference"]]
        slot["contained"] = [schedule]
        slot["schedule"] = {"reference": f"#{schedule['id']}"}
    for role in [r for r in resources(bundle) if r["resourceType"] == "PractitionerRole"]:
        practitioner = copy.deepcopy(practitioners[role["practitioner"]["reference"]])
        practitioner["id"] = "prat"
        role["contained"].append(practitioner)
        role["practitioner"] = {"reference": "#prat"}
    bundle["entry"] = [
        e
        for e in bundle["entry"]
        if e["resource"]["resourceType"] not in ("Schedule", "Practitioner")
    ]


def _logical(bundle: dict[str, Any]) -> None:
    """No Practitioner resource at all: PractitionerRole.practitioner by identifier."""
    ids = {
        f"Practitioner/{r['id']}": r["identifier"][0]
        for r in resources(bundle)
        if r["resourceType"] == "Practitioner"
    }
    for res in resources(bundle):
        if res["resourceType"] == "Schedule":
            res["actor"] = [
                a for a in res["actor"] if not a["reference"].startswith("Practitioner/")
            ]
        if res["resourceType"] == "PractitionerRole":
            res["practitioner"] = {"identifier": ids[res["practitioner"]["reference"]]}
    bundle["entry"] = [
        e for e in bundle["entry"] if e["resource"]["resourceType"] != "Practitioner"
    ]


def _organization_resource(bundle: dict[str, Any]) -> None:
    """PractitionerRole.organization as a reference to an included Organization."""
    for n, res in enumerate(list(resources(bundle))):
        if res["resourceType"] == "PractitionerRole":
            org = {"resourceType": "Organization", "id": f"org{n}"}
            org["identifier"] = [res["organization"]["identifier"]]
            res["organization"] = {"reference": f"Organization/org{n}"}
            bundle["entry"].append(
                {
                    "fullUrl": BASE + f"Organization/org{n}",
                    "resource": org,
                    "search": {"mode": "include"},
                }
            )


ALL_FLOWS = [_absolute, _absolute_other_base, _versioned, _urn_uuid]
WITH_ROLES = [_contained, _logical]
CASES = [
    *((name, variant) for name in (PS, CPTS2, SOS) for variant in ALL_FLOWS),
    *((name, variant) for name in (PS, CPTS2) for variant in WITH_ROLES),
    (PS, _organization_resource),
]


@pytest.mark.parametrize(
    ("name", "variant"),
    CASES,
    ids=[f"{n.split('Bundle')[-1][:-5]}-{v.__name__[1:]}" for n, v in CASES],
)
def test_reference_forms_resolve_identically(
    name: str, variant: Callable[[dict[str, Any]], None]
) -> None:
    expected = read(load(name))
    bundle = load(name)
    variant(bundle)
    assert bundle != load(name)
    result = read(bundle)
    assert result.warnings == []
    assert [s.as_json() for s in result.slots] == [s.as_json() for s in expected.slots]
    assert result.flow == expected.flow


def test_relative_reference_resolves_against_the_referring_entry_base() -> None:
    """Two servers' Schedule/ExampleSchedule1 in one Bundle: each Slot gets its own."""
    bundle = load(PS)
    other = "https://autre.example/fhir/"
    schedule = copy.deepcopy(resource(bundle, "Schedule/ExampleSchedule1"))
    schedule["actor"] = [{"reference": "PractitionerRole/ExamplePractitionerRoleAgregateur4"}]
    slot = copy.deepcopy(resource(bundle, "Slot/ExampleSlotPSIndiv1"))
    slot["id"] = "autre-1"
    bundle["entry"][:0] = [  # first in the Bundle: a Type/id lookup alone would pick it
        {"fullUrl": other + "Schedule/ExampleSchedule1", "resource": schedule},
        {"fullUrl": other + "Slot/autre-1", "resource": slot, "search": {"mode": "match"}},
    ]
    slots = by_id(read(bundle))
    assert slots["ExampleSlotPSIndiv1"]["practitioner"] == "810100050075"
    assert slots["ExampleSlotPSIndiv1"]["structure"] == "1810004421"
    assert slots["autre-1"]["practitioner"] == "810002673899"  # via the role's practitioner


def test_contained_reference_stays_within_its_resource() -> None:
    bundle = load(PS)
    # both roles contain a Location; a "#ExampleLocation2" is only found in the role holding it
    role = resource(bundle, "PractitionerRole/ExamplePractitionerRoleAgregateur2")
    role["location"] = [{"reference": "#ExampleLocation2"}]
    slots = by_id(read(bundle))
    assert slots["ExampleSlotPSIndiv1"]["address"] is None
    assert slots["ExampleSlotPSIndiv2"]["address"]["line"] == "30 rue Mme DELMAS"


def test_cpts_service_type_extension_on_the_slot_itself() -> None:
    bundle = load(CPTS2)
    slot = resource(bundle, "Slot/ExampleSlotCPTS2")
    slot["serviceType"] = [st for st in slot["serviceType"] if "extension" not in st]
    slot["extension"] = [
        {"url": SERVICE_TYPE_EXT, "valueCodeableReference": {"reference": {"reference": ref}}}
        for ref in ("HealthcareService/ExampleHealthcareServiceCPTS2", BASE + "Organization/x")
    ]
    slot["extension"].append(
        {
            "url": SERVICE_TYPE_EXT,
            "valueReference": {
                "identifier": {"system": "urn:oid:1.2.250.1.71.4.2.2", "value": "1X"}
            },
        }
    )
    result = read(bundle)
    assert result.slots[0].cpts == ("1950046227", "1X")
    assert result.warnings == [
        "entrée 0 (Slot/ExampleSlotCPTS2) : service CPTS introuvable "
        "« https://exemple.com/ans-sas/Organization/x »"
    ]


# --- tolerance ----------------------------------------------------------------------------


def test_one_broken_slot_keeps_the_others() -> None:
    bundle = load(PS)
    del resource(bundle, "Slot/ExampleSlotPSIndiv2")["start"]
    result = read(bundle)
    assert [s.id for s in result.slots] == [
        "ExampleSlotPSIndiv1",
        "ExampleSlotPSIndiv3",
        "ExampleSlotPSIndiv4",
    ]
    assert result.warnings == ["entrée 4 (Slot/ExampleSlotPSIndiv2) ignorée : pas de start"]


def test_crafted_bundle_with_broken_entries() -> None:
    result = read_bundle((DATA / "ps-broken-entries.json").read_bytes(), source="test")
    assert [s.id for s in result.slots] == ["ok-1", "ok-2"]
    assert result.slots[1].start == datetime(2021, 11, 5, 14, tzinfo=timezone(timedelta(hours=1)))
    assert result.warnings == [
        "entrée 1 (Slot/no-start) ignorée : pas de start",
        "entrée 2 (Slot/naive) ignorée : start sans fuseau horaire « 2021-11-05T10:00:00 »",
        "entrée 3 (Slot/dangling) ignorée : schedule introuvable « Schedule/missing »",
        "entrée 4 (Slot/busy) ignorée : statut « busy » (seuls les créneaux free sont retenus)",
        "entrée 5 (Slot/reversed) ignorée : end (2021-11-05T11:30:00+01:00) n'est pas "
        "après start (2021-11-05T12:00:00+01:00)",
    ]
    assert result.entries == 10


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"end": "tomorrow"}, "end illisible « tomorrow »"),
        ({"start": "2021-11-05"}, "start sans fuseau horaire « 2021-11-05 »"),
        ({"end": "2021-11-05T09:00:00Z"}, "end (2021-11-05T09:00:00+00:00) n'est pas après start"),
        ({"schedule": None}, "pas de schedule"),
        ({"schedule": {"reference": "Practitioner/ExamplePractitioner2"}}, "schedule introuvable"),
    ],
)
def test_unusable_slot_is_skipped_with_a_reason(change: dict[str, Any], reason: str) -> None:
    bundle = load(PS)
    slot = resource(bundle, "Slot/ExampleSlotPSIndiv1")
    for key, value in change.items():
        if value is None:
            del slot[key]
        else:
            slot[key] = value
    result = read(bundle)
    assert len(result.slots) == 3
    assert len(result.warnings) == 1
    assert result.warnings[0].startswith(f"entrée 0 (Slot/ExampleSlotPSIndiv1) ignorée : {reason}")


def test_slot_without_anyone_behind_it_is_skipped() -> None:
    bundle = load(SOS)
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"].get("id") != "ExampleOrgaSOS2"]
    result = read(bundle)
    assert [s.id for s in result.slots] == ["ExampleSlotSOS1", "ExampleSlotSOS2"]
    assert len(result.warnings) == 3
    assert result.warnings[0] == (
        "Schedule/ExampleScheduleSOS3 : organisation introuvable « Organization/ExampleOrgaSOS2 »"
    )
    assert result.warnings[1:] == [
        f"entrée {i} (Slot/{slot}) ignorée : ni praticien ni structure identifiés "
        "(Schedule/ExampleScheduleSOS3)"
        for i, slot in [(7, "ExampleSlotSOS3"), (10, "ExampleSlotSOS4")]
    ]


def test_dangling_actor_warns_once_and_keeps_what_is_known() -> None:
    bundle = load(PS)
    bundle["entry"] = [
        e for e in bundle["entry"] if e["resource"]["id"] != "ExamplePractitionerRoleAgregateur4"
    ]
    result = read(bundle)
    slots = by_id(result)
    assert slots["ExampleSlotPSIndiv3"]["practitioner"] == "810002673899"
    assert slots["ExampleSlotPSIndiv3"]["structure"] is None
    assert slots["ExampleSlotPSIndiv4"]["address"] is None
    assert result.warnings == [
        "Schedule/ExampleSchedule3 : acteur introuvable "
        "« PractitionerRole/ExamplePractitionerRoleAgregateur4 »"
    ]


def test_duplicate_slot_and_missing_status_and_id_from_full_url() -> None:
    bundle = load(PS)
    first = bundle["entry"][0]
    bundle["entry"].append(copy.deepcopy(first))
    del resource(bundle, "Slot/ExampleSlotPSIndiv3")["status"]
    del resource(bundle, "Slot/ExampleSlotPSIndiv4")["id"]
    result = read(bundle)
    assert [s.id for s in result.slots] == [
        "ExampleSlotPSIndiv1",
        "ExampleSlotPSIndiv2",
        "ExampleSlotPSIndiv3",
        "ExampleSlotPSIndiv4",
    ]
    assert result.warnings == [
        "entrée 7 (Slot/ExampleSlotPSIndiv3) : pas de status, créneau considéré libre",
        "entrée 12 (Slot/ExampleSlotPSIndiv1) ignorée : doublon de l'entrée 0",
    ]


def test_lenient_codes_and_defaults() -> None:
    bundle = load(PS)
    slot = resource(bundle, "Slot/ExampleSlotPSIndiv1")
    del slot["meta"]
    slot["serviceType"] = [
        {"coding": [{"code": "hh"}]},  # no system, lower case
        {
            "coding": [
                {"system": "https://editeur.example/motifs", "code": "7", "display": "Vaccin"}
            ]
        },
        {"text": "Vaccin"},
    ]
    slot["specialty"] = [{"text": "Médecine générale"}]
    slot["comment"] = "Sonner deux fois"
    del slot["appointmentType"]
    other = resource(bundle, "Slot/ExampleSlotPSIndiv2")
    other["meta"] = {"tag": [{"code": "SNP"}]}  # slot kind in the wrong element
    other["specialty"] = [{"coding": [{"system": "urn:oid:1.2.250.1.213.2.28", "code": "SM26"}]}]
    del other["serviceType"]
    result = read(bundle)
    slots = by_id(result)
    one = slots["ExampleSlotPSIndiv1"]
    assert one["visibility"] == ["sas"]
    assert one["modalities"] == ["domicile"]
    assert one["reasons"] == ["Vaccin"]
    assert one["specialties"] == ["Médecine générale"]
    assert one["booking_url"] is None
    assert one["bookable"] is True
    two = slots["ExampleSlotPSIndiv2"]
    assert two["visibility"] == ["sas"]
    assert two["modalities"] == ["cabinet"]
    assert two["specialties"] == ["SM26"]
    assert result.warnings == [
        "1 créneau(x) sans type de créneau (meta.security TRE_R314) : visibilité par défaut « sas »"
    ]


def test_include_slots_are_for_resolution_in_a_slot_search() -> None:
    bundle = load(PS)
    bundle["entry"][0]["search"]["mode"] = "include"
    assert [s.id for s in read(bundle).slots] == [
        "ExampleSlotPSIndiv2",
        "ExampleSlotPSIndiv3",
        "ExampleSlotPSIndiv4",
    ]
    for entry in bundle["entry"]:
        entry.pop("search", None)
    assert len(read(bundle).slots) == 4  # no search element: every Slot counts


def test_address_text_when_no_lines() -> None:
    bundle = load(SOS)
    location = resource(bundle, "Location/1111111111")
    location["address"] = {"text": "Centre commercial, 35700 Rennes", "postalCode": "35700"}
    slot = read(bundle).slots[0]
    assert slot.address == Address(line="Centre commercial, 35700 Rennes", postal_code="35700")


# --- errors -------------------------------------------------------------------------------


def test_operation_outcome_is_upstream_rejected_with_diagnostics() -> None:
    with pytest.raises(UpstreamRejected) as info:
        read_bundle((DATA / "operation-outcome.json").read_bytes(), source="test")
    assert info.value.diagnostics == (
        "Paramètre start obligatoire ; Recherche par schedule.actor:Location non supportée"
    )


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ((DATA / "bad-gateway.html").read_bytes(), "pas du JSON"),
        ((DATA / "practitioner.json").read_bytes(), "resourceType « Practitioner »"),
        (b"[]", "reçu list"),
        (b"\xff\xfe\x00", "pas du JSON"),
        ('{"resourceType": "Bundle", "entry": {}}', "« entry » n'est pas une liste"),
    ],
)
def test_not_a_bundle_is_malformed(data: bytes | str, words: str) -> None:
    with pytest.raises(MalformedResponse, match=words):
        read_bundle(data, source="test")


def test_detect_flow_checks_its_input() -> None:
    with pytest.raises(MalformedResponse):
        detect_flow(json.loads((DATA / "practitioner.json").read_bytes()))
    with pytest.raises(UpstreamRejected):
        detect_flow(json.loads((DATA / "operation-outcome.json").read_bytes()))
    assert detect_flow({"resourceType": "Bundle"}) == "ps"


@pytest.mark.parametrize(
    "data", [(DATA / "empty-bundle.json").read_bytes(), b'{"resourceType": "Bundle", "entry": []}']
)
def test_empty_bundle_is_no_slots(data: bytes) -> None:
    assert read_bundle(data, source="test") == ReadResult([], [], "ps", 0)


def test_garbage_collector_state_is_restored() -> None:
    raw = (IG / PS).read_bytes()
    assert gc.isenabled()
    read_bundle(raw, source="test")
    assert gc.isenabled()
    with pytest.raises(MalformedResponse):
        read_bundle(b"{", source="test")
    assert gc.isenabled()
    gc.disable()
    try:
        read_bundle(raw, source="test")
        assert not gc.isenabled()  # a caller's choice is left alone
    finally:
        gc.enable()


def test_outcome_entries_in_a_searchset_become_warnings() -> None:
    bundle = load(PS)
    bundle["entry"].append(
        {
            "resource": {
                "resourceType": "OperationOutcome",
                "issue": [{"severity": "warning", "code": "incomplete"}],
            },
            "search": {"mode": "outcome"},
        }
    )
    result = read(bundle)
    assert len(result.slots) == 4
    assert result.warnings == ["entrée 12 (OperationOutcome) : warning/incomplete"]
