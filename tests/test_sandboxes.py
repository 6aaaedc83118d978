"""The editor simulators: real loopback servers answering the national FHIR flows."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import httpx
import pytest
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

from connectors.cpts.sandbox import make_sandbox as make_cpts
from connectors.doctolib_like.sandbox import make_sandbox as make_editor
from connectors.sos_medecins.sandbox import AssociationInfo, SiteInfo
from connectors.sos_medecins.sandbox import make_sandbox as make_sos
from portal.testing.sandbox import Behaviour, PractitionerInfo, SandboxServer, generate_day

PARIS = ZoneInfo("Europe/Paris")
START = datetime(2026, 11, 25, 8, 0, tzinfo=PARIS)  # a Wednesday
END = START + timedelta(days=3) - timedelta(milliseconds=1)
IDNPS = "urn:oid:1.2.250.1.71.4.2.1"
IDNST = "urn:oid:1.2.250.1.71.4.2.2"
PS = ("810001234567", "810002673899", "810100050075", "810002909371", "899000000016")
SIRETS = ("334173748400020", "392080466300010")
SNP_KINDS = "https://mos.esante.gouv.fr/NOS/TRE_R314-TypeCreneau/FHIR/TRE-R314-TypeCreneau"
SERVICE_EXT = "http://hl7.org/fhir/5.0/StructureDefinition/extension-Slot.serviceType"
ACCEPT = {"Accept": "application/fhir+json"}


def instant(value: datetime) -> str:
    """As the guide writes it: ``2024-06-12T16:20:00.000+02:00``, ``+`` percent-encoded."""
    return quote(value.isoformat(timespec="milliseconds"), safe=":")


def ps_query(
    ids: tuple[str, ...] = PS,
    start: datetime = START,
    end: datetime = END,
    *,
    status: bool = True,
    cpts: bool = False,
) -> str:
    query = (
        f"_include=Slot:schedule&_include:iterate=Schedule:actor&start=ge{instant(start)}"
        f"&start=le{instant(end)}&schedule.actor:Practitioner.identifier="
        + ",".join(f"{IDNPS}|{i}" for i in ids)
    )
    if status:
        query += "&status=free"
    if cpts:
        query += (
            "&_include=Slot:service-type-reference&_include:iterate=HealthcareService:organization"
        )
    return query


def sos_query(ids: tuple[str, ...] = SIRETS, start: datetime = START, end: datetime = END) -> str:
    return (
        "_revinclude=Slot:schedule&_include=Schedule:actor:Location"
        "&_include:iterate=Location:organization"
        f"&_has:Slot:schedule:start=ge{instant(start)}&_has:Slot:schedule:start=le{instant(end)}"
        "&_has:Slot:schedule:status=free&actor:Location.organization.identifier="
        + ",".join(f"{IDNST}|{i}" for i in ids)
    )


def get(server: SandboxServer, path: str, query: str, **kwargs: Any) -> httpx.Response:
    return httpx.get(f"{server.url}/{path}?{query}", headers=ACCEPT, timeout=10, **kwargs)


def resources(bundle: dict[str, Any], kind: str, mode: str | None = None) -> list[dict[str, Any]]:
    return [
        e["resource"]
        for e in bundle.get("entry", [])
        if e["resource"]["resourceType"] == kind and (mode is None or e["search"]["mode"] == mode)
    ]


def by_reference(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        f"{e['resource']['resourceType']}/{e['resource']['id']}": e["resource"]
        for e in bundle.get("entry", [])
    }


def assert_outcome(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    body = response.json()
    assert body["resourceType"] == "OperationOutcome" and body["issue"][0]["diagnostics"]
    return body


@pytest.fixture
def editor() -> Iterator[SandboxServer]:
    with make_editor(seed=7) as server:
        yield server


@pytest.fixture
def sos() -> Iterator[SandboxServer]:
    with make_sos(seed=7) as server:
        yield server


@pytest.fixture
def cpts() -> Iterator[SandboxServer]:
    with make_cpts(seed=7) as server:
        yield server


# --------------------------------------------------------------------------- INT_R01


def test_ps_search_answers_the_guide_graph(editor: SandboxServer) -> None:
    response = get(editor, "Slot", ps_query())

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/fhir+json"
    body = response.json()
    Bundle.model_validate(body)  # valid R4B
    assert body["type"] == "searchset"
    slots = resources(body, "Slot", "match")
    assert slots and body["total"] == len(slots)
    assert {
        e["search"]["mode"] for e in body["entry"] if e["resource"]["resourceType"] != "Slot"
    } == {"include"}
    assert all(e["fullUrl"].startswith(editor.url + "/") for e in body["entry"])
    graph = by_reference(body)
    for slot in slots:
        assert slot["status"] == "free" and slot["start"] < slot["end"]
        assert slot["meta"]["security"] and slot["specialty"][0]["coding"][0]["code"] == "SM54"
        schedule = graph[slot["schedule"]["reference"]]
        practitioner_ref, role_ref = (a["reference"] for a in schedule["actor"])
        practitioner, role = graph[practitioner_ref], graph[role_ref]
        assert practitioner["identifier"][0]["value"] in PS
        assert role["practitioner"]["reference"] == practitioner_ref
        assert role["location"][0]["reference"] == "#" + role["contained"][0]["id"]
        assert role["contained"][0]["address"]["city"]
        assert role["organization"]["identifier"]["system"] == IDNST
        code = slot["appointmentType"]["coding"][0]["code"]
        assert (code == "ROUTINE") == ("comment" in slot)
    assert {s["start"][:10] for s in slots} >= {"2026-11-25", "2026-11-26"}


def test_slot_elements_mix_modalities_kinds_and_reasons(editor: SandboxServer) -> None:
    ids = tuple(f"8100000000{i:02d}" for i in range(25))
    slots = resources(get(editor, "Slot", ps_query(ids)).json(), "Slot")
    modalities = {c["coding"][0]["code"] for s in slots for c in s["serviceType"] if "coding" in c}
    kinds = {k["code"] for s in slots for k in s["meta"]["security"]}
    types = [s["appointmentType"]["coding"][0]["code"] for s in slots]
    assert modalities == {"AMB", "VR", "HH"} and kinds == {"PUBLIC", "PRO", "SNP"}
    assert {k["system"] for s in slots for k in s["meta"]["security"]} == {SNP_KINDS}
    assert types.count("ROUTINE") > 5 * types.count("WALKIN") > 0
    assert any("text" in c for s in slots for c in s["serviceType"])
    amb = sum(1 for s in slots if s["serviceType"][0]["coding"][0]["code"] == "AMB")
    assert amb > len(slots) / 2


def test_window_is_honoured(editor: SandboxServer) -> None:
    start = datetime(2026, 11, 25, 10, 0, tzinfo=PARIS)
    end = datetime(2026, 11, 25, 11, 30, tzinfo=PARIS)
    slots = resources(get(editor, "Slot", ps_query(start=start, end=end)).json(), "Slot")
    assert slots
    assert all(start <= datetime.fromisoformat(s["start"]) <= end for s in slots)


def test_status_free_excludes_busy_slots(editor: SandboxServer) -> None:
    everything = resources(get(editor, "Slot", ps_query(status=False)).json(), "Slot")
    free = resources(get(editor, "Slot", ps_query()).json(), "Slot")
    assert {s["status"] for s in everything} == {"free", "busy"}
    assert {s["id"] for s in free} == {s["id"] for s in everything if s["status"] == "free"}


def test_only_the_asked_ids_appear(editor: SandboxServer) -> None:
    body = get(editor, "Slot", ps_query(PS[:2])).json()
    ids = {p["identifier"][0]["value"] for p in resources(body, "Practitioner")}
    assert ids and ids <= set(PS[:2])
    assert {s["id"].split("-")[0] for s in resources(body, "Slot")} <= set(PS[:2])


def test_unknown_ids_get_an_agenda_and_known_ones_their_directory_data() -> None:
    info = PractitionerInfo(
        family_name="Marius", given_name="Jeanne", specialty="SM26", line="3 place Foch",
        postal_code="97300", city="Cayenne", structure="1970000012", phone="+594594000000",
        tz="America/Cayenne",
    )  # fmt: skip
    with make_editor(seed=1, practitioners={"810000000042": info}) as server:
        body = get(server, "Slot", ps_query(("810000000042", PS[0]))).json()
    graph = by_reference(body)
    practitioner = graph["Practitioner/810000000042"]
    assert practitioner["name"] == [{"family": "Marius", "given": ["Jeanne"]}]
    role = graph["PractitionerRole/role-810000000042"]
    assert role["contained"][0]["address"] == {
        "line": ["3 place Foch"], "city": "Cayenne", "postalCode": "97300",
    }  # fmt: skip
    assert role["organization"]["identifier"]["value"] == "1970000012"
    theirs = [s for s in resources(body, "Slot") if s["id"].startswith("810000000042")]
    assert theirs and all(s["start"].endswith("-03:00") for s in theirs)
    assert all(s["specialty"][0]["coding"][0]["code"] == "SM26" for s in theirs)
    assert f"Practitioner/{PS[0]}" in graph  # not in the mapping: generated


def test_includes_follow_the_query(editor: SandboxServer) -> None:
    query = ps_query().replace("_include=Slot:schedule&_include:iterate=Schedule:actor&", "")
    body = get(editor, "Slot", query).json()
    assert {e["resource"]["resourceType"] for e in body["entry"]} == {"Slot"}


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        (ps_query(tuple(f"8100000000{i:02d}" for i in range(26))), "25"),
        (ps_query().replace(f"&start=le{instant(END)}", ""), "start"),
        (ps_query().replace("schedule.actor:Practitioner.identifier=", "x="), "x"),
        (ps_query().replace("ge2026", "ge20-26"), "date"),
        (ps_query().replace(f"ge{instant(START)}", "ge2026-11-25T08:00:00"), "décalage"),
        (ps_query().replace(f"ge{instant(START)}", f"eq{instant(START)}"), "préfixe"),
        (ps_query().replace(IDNPS, IDNST), "système"),
        (ps_query() + "&status=occupe", "statut"),
        (ps_query(end=START + timedelta(days=40)), "fenêtre"),
        (ps_query(start=END, end=START), "fenêtre"),
    ],
)
def test_invalid_searches_are_400_operation_outcomes(
    editor: SandboxServer, query: str, fragment: str
) -> None:
    body = assert_outcome(get(editor, "Slot", query), 400)
    assert fragment in body["issue"][0]["diagnostics"]


def test_dates_accept_a_raw_plus_and_date_only_bounds(editor: SandboxServer) -> None:
    reference = get(editor, "Slot", ps_query()).json()
    raw_plus = ps_query().replace("%2B", "+")
    assert "+01:00" in raw_plus
    assert get(editor, "Slot", raw_plus).json()["total"] == reference["total"]
    days = ps_query().replace(instant(START), "2026-11-25").replace(instant(END), "2026-11-27")
    slots = resources(get(editor, "Slot", days).json(), "Slot")
    assert {s["start"][:10] for s in slots} <= {"2026-11-25", "2026-11-26", "2026-11-27"}
    utc = ps_query().replace(instant(START), "2026-11-25T07:00:00Z")
    assert get(editor, "Slot", utc).json()["total"] == reference["total"]


def test_other_formats_are_refused_and_metadata_is_served(editor: SandboxServer) -> None:
    xml = httpx.get(f"{editor.url}/Slot?{ps_query()}", headers={"Accept": "application/fhir+xml"})
    assert_outcome(xml, 406)
    metadata = httpx.get(f"{editor.url}/metadata").json()
    assert metadata["resourceType"] == "CapabilityStatement" and metadata["fhirVersion"] == "4.0.1"
    assert_outcome(httpx.get(f"{editor.url}/Appointment"), 404)


def test_answers_are_deterministic_per_seed(editor: SandboxServer) -> None:
    first = get(editor, "Slot", ps_query()).content
    assert get(editor, "Slot", ps_query()).content == first
    with make_editor(seed=7) as twin, make_editor(seed=8) as other:
        same = get(twin, "Slot", ps_query()).content.replace(
            twin.base_url.encode(), editor.base_url.encode()
        )
        different = get(other, "Slot", ps_query()).content.replace(
            other.base_url.encode(), editor.base_url.encode()
        )
    assert same == first
    assert different != first


def test_resources_are_the_r4b_models_canonical_json(editor: SandboxServer) -> None:
    """Each resource's JSON is what its R4B model dumps (see ``resource_json``), Slot
    instants aside: they keep milliseconds, as the guide and the national kit write them."""
    bodies = [get(editor, "Slot", ps_query()).json()]
    with make_cpts(seed=2) as c, make_sos(seed=2) as s:
        bodies.append(get(c, "Slot", ps_query(cpts=True)).json())
        bodies.append(get(s, "Schedule", sos_query()).json())
    kinds = set()
    for body in bodies:
        for entry in body["entry"]:
            resource = entry["resource"]
            kinds.add(resource["resourceType"])
            model = get_fhir_model_class(resource["resourceType"])
            dumped = model.model_validate(resource).model_dump(mode="json", exclude_none=True)
            if resource["resourceType"] == "Slot":  # instants keep the guide's milliseconds
                assert resource["start"].endswith((".000+01:00", ".000+02:00"))
                for name in ("start", "end"):
                    dumped[name] = dumped[name].replace("+", ".000+")
            assert dumped == resource
    assert kinds == {
        "Slot", "Schedule", "Practitioner", "PractitionerRole", "HealthcareService",
        "Organization", "Location",
    }  # fmt: skip


def test_warm_search_of_25_ids_over_3_days_is_fast(editor: SandboxServer) -> None:
    ids = tuple(f"8100000001{i:02d}" for i in range(25))
    url = f"{editor.url}/Slot?{ps_query(ids)}"
    with httpx.Client(headers=ACCEPT) as client:
        assert client.get(url).json()["total"] > 100  # warm-up
        timings = []
        for _ in range(5):
            began = time.perf_counter()
            client.get(url).raise_for_status()
            timings.append(time.perf_counter() - began)
    assert min(timings) < 0.05, timings


# --------------------------------------------------------------------------- fault injection


def test_error_mode_is_a_500_operation_outcome(editor: SandboxServer) -> None:
    editor.behaviour = Behaviour(mode="error")
    body = assert_outcome(get(editor, "Slot", ps_query()), 500)
    assert body["issue"][0]["diagnostics"] == "panne simulée"


def test_slow_mode_and_latency_delay_every_answer(editor: SandboxServer) -> None:
    editor.behaviour = Behaviour(mode="slow", latency_s=0.3)
    began = time.monotonic()
    assert get(editor, "Slot", ps_query()).status_code == 200
    assert time.monotonic() - began >= 0.3
    editor.behaviour = Behaviour(mode="error", latency_s=0.2)
    began = time.monotonic()
    assert_outcome(get(editor, "Slot", ps_query()), 500)
    assert time.monotonic() - began >= 0.2


def test_timeout_mode_hangs_until_the_client_gives_up_and_stop_interrupts_it() -> None:
    server = make_editor(behaviour=Behaviour(mode="timeout")).start()
    try:
        with pytest.raises(httpx.ReadTimeout):
            httpx.get(f"{server.url}/Slot?{ps_query()}", timeout=0.3)
    finally:
        began = time.monotonic()
        server.stop()
    assert time.monotonic() - began < 2


def test_malformed_mode_adds_broken_entries(editor: SandboxServer) -> None:
    good = get(editor, "Slot", ps_query()).json()
    editor.behaviour = Behaviour(mode="malformed")
    body = get(editor, "Slot", ps_query()).json()
    broken = {s["id"]: s for s in resources(body, "Slot")}
    assert "start" not in broken["casse-sans-debut"]
    assert broken["casse-reference"]["schedule"]["reference"] not in by_reference(body)
    assert broken["casse-element"]["couleur"] == "rouge"
    assert {s["id"] for s in resources(good, "Slot")} < set(broken)
    with pytest.raises(ValueError):
        Bundle.model_validate(body)


def test_auth_mode_is_a_401(editor: SandboxServer) -> None:
    editor.behaviour = Behaviour(mode="auth")
    response = get(editor, "Slot", ps_query())
    assert_outcome(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_garbage_mode_answers_non_json(editor: SandboxServer) -> None:
    editor.behaviour = Behaviour(mode="garbage")
    response = get(editor, "Slot", ps_query())
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.text)


def test_behaviour_is_controlled_over_http(editor: SandboxServer) -> None:
    control = f"{editor.base_url}/_sandbox/behaviour"
    changed = httpx.post(control, json={"mode": "error", "latency_s": 0.05})
    assert changed.json() == {"mode": "error", "latency_s": 0.05, "hang_s": 60.0}
    assert editor.behaviour == Behaviour(mode="error", latency_s=0.05)
    assert httpx.get(control).json()["mode"] == "error"
    assert_outcome(get(editor, "Slot", ps_query()), 500)
    assert httpx.post(control, json={"mode": "panique"}).status_code == 400
    assert httpx.post(control, json={"mode": "ok"}).status_code == 200
    assert get(editor, "Slot", ps_query()).status_code == 200
    log = httpx.get(f"{editor.base_url}/_sandbox/requests").json()
    assert [m for m, _, _ in log] == ["GET", "GET"]  # control calls are not logged
    assert (
        editor.requests[0][:2] == ("GET", "/fhir/Slot") and "status=free" in editor.requests[0][2]
    )
    with pytest.raises(ValueError):
        Behaviour(mode="panique")  # type: ignore[arg-type]


def test_stop_refuses_connections_even_kept_alive_ones(editor: SandboxServer) -> None:
    url = f"{editor.url}/Slot?{ps_query()}"
    with httpx.Client(headers=ACCEPT) as client:
        assert client.get(url).status_code == 200
        editor.stop()
        with pytest.raises(httpx.TransportError):
            client.get(url)
    with pytest.raises(httpx.ConnectError):
        httpx.get(url)
    editor.stop()  # idempotent


# --------------------------------------------------------------------------- INT_R02


def regulator(value: str = "810002673899", **changes: Any) -> dict[str, Any]:
    body = {
        "resourceType": "Practitioner",
        "meta": {"source": "urn:oid:1.2.250.1.213.3.6"},
        "identifier": [{"system": IDNPS, "value": value}],
        "active": True,
        "name": [{"family": "Marius", "given": ["Jeanne"]}],
        "telecom": [{"system": "email", "value": "j.marius@samu47.test"}],
    }
    return body | changes


def push(server: SandboxServer, method: str, body: Any, query: str = "") -> httpx.Response:
    content = body if isinstance(body, str) else json.dumps(body)
    return httpx.request(
        method,
        f"{server.url}/Practitioner" + (f"?{query}" if query else ""),
        content=content,
        headers={"Content-Type": "application/fhir+json", **ACCEPT},
    )


def test_regulator_accounts_create_duplicate_update_deactivate(editor: SandboxServer) -> None:
    created = push(editor, "POST", regulator())
    assert created.status_code == 201
    assert created.headers["location"].startswith(f"{editor.url}/Practitioner/")
    assert created.json()["meta"]["versionId"] == "1"

    assert_outcome(push(editor, "POST", regulator()), 422)

    where = quote(f"{IDNPS}|810002673899")
    updated = push(
        editor, "PUT", regulator(name=[{"family": "Marius-Dupont"}]), f"identifier={where}"
    )
    assert updated.status_code == 200 and updated.json()["meta"]["versionId"] == "2"
    deactivated = push(editor, "PUT", regulator(active=False), f"identifier={where}")
    assert deactivated.status_code == 200

    record = editor.accounts["810002673899"]
    assert record.active is False and record.version == 3
    assert [i for i, _ in record.history] == ["create", "update", "update"]
    assert record.history[1][1]["name"] == [{"family": "Marius-Dupont"}]

    uuid = "4f0e9a1c-6f1e-4a43-9c1e-0b7f5f3a2d11"
    body = regulator(identifier=[{"system": "urn:oid:1.2.250.1.213.3.6", "value": uuid}])
    fresh = push(editor, "PUT", body, "identifier=" + quote(f"urn:oid:1.2.250.1.213.3.6|{uuid}"))
    assert fresh.status_code == 201 and editor.accounts[uuid].history[0][0] == "create"

    found = httpx.get(f"{editor.url}/Practitioner?identifier={where}").json()
    assert found["total"] == 1 and found["entry"][0]["resource"]["active"] is False
    read = httpx.get(created.headers["location"].split("/_history")[0]).json()
    assert read["identifier"][0]["value"] == "810002673899"


@pytest.mark.parametrize(
    ("method", "body", "query", "status"),
    [
        ("POST", "{pas du json", "", 400),
        ("POST", {"resourceType": "Patient"}, "", 400),
        ("POST", regulator(active="oui"), "", 400),
        ("POST", regulator(meta={}), "", 422),
        ("POST", regulator(identifier=[]), "", 422),
        ("POST", regulator(identifier=[{"system": "urn:x", "value": "1"}]), "", 422),
        ("PUT", regulator(), "", 400),
        ("PUT", regulator(), "identifier=" + quote(f"{IDNPS}|810000000000"), 400),
    ],
)
def test_invalid_account_pushes_are_refused(
    editor: SandboxServer, method: str, body: Any, query: str, status: int
) -> None:
    assert_outcome(push(editor, method, body, query), status)
    assert editor.accounts == {}


def test_account_pushes_are_subject_to_faults(editor: SandboxServer) -> None:
    editor.behaviour = Behaviour(mode="error")
    assert_outcome(push(editor, "POST", regulator()), 500)
    assert editor.accounts == {}


# --------------------------------------------------------------------------- booking page


def test_booking_page_shows_the_slot_and_the_origin(editor: SandboxServer) -> None:
    slots = resources(get(editor, "Slot", ps_query()).json(), "Slot")
    slot = next(s for s in slots if "comment" in s)
    assert slot["comment"] == f"{editor.base_url}/rdv/{slot['id']}"

    page = httpx.get(slot["comment"], params={"origin": "sas-portal-47"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Prise de rendez-vous — simulation éditeur" in page.text
    assert "sas-portal-47" in page.text and slot["id"] in page.text
    assert "ne serait pas connecté" in httpx.get(slot["comment"]).text
    escaped = httpx.get(slot["comment"], params={"origin": "<script>"}).text
    assert "<script>" not in escaped and "&lt;script&gt;" in escaped
    assert httpx.get(f"{editor.base_url}/rdv/inconnu-20261125-0800").status_code == 404

    with make_editor(seed=7) as restarted:  # a new process knows the slot from its id alone
        again = httpx.get(f"{restarted.base_url}/rdv/{slot['id']}", params={"origin": "o"})
    assert again.status_code == 200 and slot["id"] in again.text


# --------------------------------------------------------------------------- SOS Médecins


def test_sos_search_answers_the_guide_graph() -> None:
    site = SiteInfo(
        id="1111111111", name="Centre de consultation Rennes Nord",
        line="320 avenue Général Georges Patton", postal_code="35700", city="Rennes",
        latitude=48.13, longitude=-1.66, phone="+33299000000", days=("mon", "tue", "wed", "thu"),
        opening="09:00", closing="21:00",
    )  # fmt: skip
    associations = {"334173748400020": AssociationInfo(name="SOS Médecins Rennes", sites=(site,))}
    with make_sos(seed=3, associations=associations) as server:
        response = get(server, "Schedule", sos_query())
    assert response.status_code == 200
    body = response.json()
    Bundle.model_validate(body)
    graph = by_reference(body)
    schedules = resources(body, "Schedule", "match")
    assert body["total"] == len(schedules) == 2  # the known site, one generated for the other
    slots = resources(body, "Slot", "include")
    assert slots and {k["code"] for s in slots for k in s["meta"]["security"]} <= {"PUBLIC", "SNP"}
    assert all(START <= datetime.fromisoformat(s["start"]) <= END for s in slots)
    assert {s["status"] for s in slots} == {"free"}
    organizations = set()
    for schedule in schedules:
        location = graph[schedule["actor"][0]["reference"]]
        assert location["hoursOfOperation"][0]["openingTime"]
        organization = graph[location["managingOrganization"]["reference"]]
        organizations.add(organization["identifier"][0]["value"])
        assert any(s["schedule"]["reference"] == f"Schedule/{schedule['id']}" for s in slots)
    assert organizations == set(SIRETS)
    rennes = graph["Location/1111111111"]
    assert rennes["position"] == {"latitude": 48.13, "longitude": -1.66}
    assert rennes["hoursOfOperation"][0] == {
        "daysOfWeek": ["mon", "tue", "wed", "thu"], "openingTime": "09:00:00",
        "closingTime": "21:00:00",
    }  # fmt: skip
    ours = [s for s in slots if s["schedule"]["reference"] == "Schedule/sched-1111111111"]
    assert all("09:00" <= s["start"][11:16] < "21:00" for s in ours)
    assert graph["Organization/org-334173748400020"]["name"] == "SOS Médecins Rennes"


def test_sos_search_parameters_are_checked(sos: SandboxServer) -> None:
    assert_outcome(get(sos, "Schedule", sos_query().replace(IDNST, IDNPS)), 400)
    assert_outcome(get(sos, "Schedule", sos_query(tuple(f"3{i:014d}" for i in range(26)))), 400)
    assert_outcome(get(sos, "Slot", ps_query()), 404)
    sos.behaviour = Behaviour(mode="malformed")
    body = get(sos, "Schedule", sos_query()).json()
    assert {"casse-sans-debut", "casse-reference", "casse-element"} <= {
        s["id"] for s in resources(body, "Slot", "include")
    }


# --------------------------------------------------------------------------- CPTS


def test_cpts_search_ties_slots_to_the_cpts_organization() -> None:
    infos = {
        PS[0]: PractitionerInfo("Foret", "Pierre", cpts=("950047225",)),
        PS[1]: PractitionerInfo("Thomas", "Sébastien", cpts=("1950047225", "1470000017")),
    }
    names = {"1950047225": "CPTS AXE MAJEUR"}
    with make_cpts(seed=5, practitioners=infos, cpts_names=names) as server:
        body = get(server, "Slot", ps_query(PS[:3], cpts=True)).json()
        bare = get(server, "Slot", ps_query(PS[:3])).json()
    Bundle.model_validate(body)
    graph = by_reference(body)
    slots = resources(body, "Slot", "match")
    assert slots and all("CPTS" in {k["code"] for k in s["meta"]["security"]} for s in slots)
    for slot in slots:
        refs = [
            c["extension"][0]["valueReference"]["reference"]
            for c in slot["serviceType"]
            if c.get("extension", [{}])[0].get("url") == SERVICE_EXT
        ]
        assert refs
        for ref in refs:
            organization = graph[graph[ref]["providedBy"]["reference"]]
            assert organization["identifier"][0]["system"] == IDNST
            assert organization["identifier"][0]["value"].startswith("1")
        if slot["id"].startswith(PS[1]):
            assert len(refs) == 2
    assert graph["Organization/cpts-1950047225"]["name"] == "CPTS AXE MAJEUR"
    assert resources(body, "HealthcareService") and not resources(bare, "HealthcareService")
    assert not resources(bare, "Organization")


# --------------------------------------------------------------------------- agenda generator


def test_agenda_is_deterministic_plausible_and_sometimes_empty() -> None:
    keys = [f"8100000{i:05d}" for i in range(200)]
    wednesday, saturday, sunday = date(2026, 11, 25), date(2026, 11, 28), date(2026, 11, 29)
    days = {key: generate_day(0, key, wednesday) for key in keys}
    assert days == {key: generate_day(0, key, wednesday) for key in keys}
    assert days != {key: generate_day(1, key, wednesday) for key in keys}
    empty = sum(1 for slots in days.values() if not slots)
    assert 5 <= empty <= 40
    slots = [s for day in days.values() for s in day]
    assert all(f"{s.start:%H:%M}" >= "08:00" and f"{s.end:%H:%M}" <= "19:00" for s in slots)
    assert {int((s.end - s.start).total_seconds() // 60) for s in slots} == {10, 15, 20}
    assert 0.2 < sum(s.free for s in slots) / len(slots) < 0.4
    weekend = sum(len(generate_day(0, k, d)) for k in keys for d in (saturday, sunday))
    assert weekend < len(slots) / 2
    overseas = generate_day(0, keys[1], wednesday, tz="Indian/Reunion")
    assert all(s.start.utcoffset() == timedelta(hours=4) for s in overseas)
    sos = [s for k in keys[:50] for s in generate_day(0, k, wednesday, flow="sos")]
    assert {k for s in sos for k in s.kinds} == {"PUBLIC", "SNP"}


# --------------------------------------------------------------------------- standalone


def test_runs_standalone_until_interrupted() -> None:
    root = Path(__file__).resolve().parents[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "connectors.doctolib_like.sandbox", "--port", "0", "--seed", "3"],
        cwd=root,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        url = line.split(" : ")[1].split()[0]
        assert url.startswith("http://127.0.0.1:") and url.endswith("/fhir")
        assert httpx.get(f"{url}/metadata").status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
        if process.stdout is not None:
            process.stdout.close()


# --------------------------------------------------------------------------- strict validator


def test_sandbox_answers_pass_the_strict_validator() -> None:
    from portal.fhir.validation import validate

    with make_editor(seed=4) as e, make_cpts(seed=4) as c, make_sos(seed=4) as s:
        answers = [
            get(e, "Slot", ps_query()).json(),
            get(c, "Slot", ps_query(cpts=True)).json(),
            get(s, "Schedule", sos_query()).json(),
        ]
    for answer in answers:
        report = validate(answer)
        assert report.valid, [str(p) for p in report.errors]
