"""cpts connector: the INT_R04 search (INT_R01 + HealthcareService/Organization includes).

Unit tests inject ``httpx.MockTransport``; integration tests run the CPTS
sandbox on loopback.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

import connectors.cpts as plugin
from connectors.cpts import client
from portal import (
    AuthError,
    BookingRequest,
    ConnectorError,
    ConnectorTimeout,
    MalformedResponse,
    Slot,
    SlotNoLongerAvailable,
    SlotQuery,
    SlotTarget,
    Unavailable,
    UpstreamRejected,
)

IDNPS = "urn:oid:1.2.250.1.71.4.2.1"
IDNST = "urn:oid:1.2.250.1.71.4.2.2"
SERVICE_TYPE = "http://hl7.org/fhir/5.0/StructureDefinition/extension-Slot.serviceType"
START = datetime(2024, 6, 12, 14, 20, tzinfo=UTC)  # 16:20 in Paris
END = START + timedelta(days=2)
BASE = "https://cpts.test/fhir"
CONFIG = {"base_url": BASE, "origin": "sas-portal", "enabled": True, "timeout_s": 7.0}
PS = ["810002909371", "810100050075"]
CPTS_ID = "1950047225"


def query(ids: list[str], *, kind: Any = "practitioner", start: datetime = START) -> SlotQuery:
    targets = tuple(SlotTarget(i, kind=kind, source="cpts") for i in ids)
    return SlotQuery(targets=targets, start=start, end=start + (END - START))


def cpts_bundle(slots: list[tuple[str, datetime]]) -> dict[str, Any]:
    """INT_R04: Slot → Schedule → Practitioner; Slot → HealthcareService → Organization."""
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": f"{BASE}/HealthcareService/hs",
            "resource": {
                "resourceType": "HealthcareService",
                "id": "hs",
                "providedBy": {"reference": "Organization/cpts"},
            },
            "search": {"mode": "include"},
        },
        {
            "fullUrl": f"{BASE}/Organization/cpts",
            "resource": {
                "resourceType": "Organization",
                "id": "cpts",
                "identifier": [{"system": IDNST, "value": CPTS_ID}],
            },
            "search": {"mode": "include"},
        },
    ]
    for n, (national_id, start) in enumerate(slots):
        service = {
            "extension": [
                {"url": SERVICE_TYPE, "valueReference": {"reference": "HealthcareService/hs"}}
            ]
        }
        entries += [
            {
                "fullUrl": f"{BASE}/Slot/s{n}",
                "resource": {
                    "resourceType": "Slot",
                    "id": f"s{n}",
                    "serviceType": [service],
                    "schedule": {"reference": f"Schedule/sc{n}"},
                    "status": "free",
                    "start": start.isoformat(),
                    "end": (start + timedelta(minutes=15)).isoformat(),
                },
                "search": {"mode": "match"},
            },
            {
                "fullUrl": f"{BASE}/Schedule/sc{n}",
                "resource": {
                    "resourceType": "Schedule",
                    "id": f"sc{n}",
                    "actor": [{"reference": f"Practitioner/p{n}"}],
                },
                "search": {"mode": "include"},
            },
            {
                "fullUrl": f"{BASE}/Practitioner/p{n}",
                "resource": {
                    "resourceType": "Practitioner",
                    "id": f"p{n}",
                    "identifier": [{"system": IDNPS, "value": national_id}],
                },
                "search": {"mode": "include"},
            },
        ]
    return {"resourceType": "Bundle", "type": "searchset", "entry": entries}


def asked_ids(request: httpx.Request) -> list[str]:
    value = request.url.params["schedule.actor:Practitioner.identifier"]
    return [token.split("|", 1)[1] for token in value.split(",")]


def recording(
    respond: Callable[[httpx.Request], httpx.Response],
) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return respond(request)

    return httpx.MockTransport(handler), seen


def one_slot_per_asked_id(request: httpx.Request) -> httpx.Response:
    slots = [(i, START + timedelta(hours=1)) for i in asked_ids(request)]
    return httpx.Response(200, json=cpts_bundle(slots))


# --------------------------------------------------------------------------- query


def test_query_string_is_the_national_int_r04_search_encoded() -> None:
    transport, seen = recording(lambda r: httpx.Response(200, json=cpts_bundle([])))
    assert client.fetch_slots(query(PS), CONFIG, transport=transport) == []

    (request,) = seen
    assert request.method == "GET" and request.headers["Accept"] == "application/fhir+json"
    assert str(request.url).startswith("https://cpts.test/fhir/Slot?")
    assert Counter(request.url.query.decode().split("&")) == Counter(
        [
            "_include=Slot:schedule",
            "_include:iterate=Schedule:actor",
            "start=ge2024-06-12T16:20:00.000%2B02:00",
            "start=le2024-06-14T16:20:00.000%2B02:00",
            "schedule.actor:Practitioner.identifier="
            "urn:oid:1.2.250.1.71.4.2.1%7C810002909371,urn:oid:1.2.250.1.71.4.2.1%7C810100050075",
            "status=free",
            "_include=Slot:service-type-reference",
            "_include:iterate=HealthcareService:organization",
        ]
    )


def test_slots_carry_their_cpts_and_the_source() -> None:
    transport, _ = recording(one_slot_per_asked_id)
    slots = client.fetch_slots(query(PS), CONFIG, transport=transport)
    assert slots is not None
    assert sorted((s.source, s.practitioner, s.cpts) for s in slots) == [
        ("cpts", PS[0], (CPTS_ID,)),
        ("cpts", PS[1], (CPTS_ID,)),
    ]


def test_sixty_members_are_sent_in_batches_of_25_25_10() -> None:
    ids = [f"8100000{n:05d}" for n in range(60)]
    transport, seen = recording(one_slot_per_asked_id)
    slots = client.fetch_slots(query(ids), CONFIG, transport=transport)
    assert [len(asked_ids(r)) for r in seen] == [25, 25, 10]
    assert slots is not None and len(slots) == 60


def test_unasked_practitioners_and_out_of_window_slots_are_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = cpts_bundle(
        [(PS[0], START + timedelta(hours=3)), (PS[1], START), (PS[0], START - timedelta(hours=1))]
    )
    transport, _ = recording(lambda r: httpx.Response(200, json=body))
    with caplog.at_level(logging.WARNING, logger="connectors.cpts.client"):
        slots = client.fetch_slots(query(PS[:1]), CONFIG, transport=transport)
    assert slots is not None and [s.practitioner for s in slots] == [PS[0]]
    assert "2 créneau(x)" in caplog.text


def test_structure_targets_cannot_be_searched_and_are_skipped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    transport, seen = recording(one_slot_per_asked_id)
    with caplog.at_level(logging.WARNING, logger="connectors.cpts.client"):
        assert (
            client.fetch_slots(query([CPTS_ID], kind="structure"), CONFIG, transport=transport)
            == []
        )
    assert seen == [] and "non praticiennes" in caplog.text


def test_targets_of_other_connectors_give_none() -> None:
    other = SlotQuery(targets=(SlotTarget(PS[0], source="cpts_bis"),), start=START, end=END)
    assert plugin.fetch_slots(other, CONFIG) is None


@pytest.mark.parametrize(
    ("status", "error"),
    [(403, AuthError), (410, SlotNoLongerAvailable), (400, UpstreamRejected), (503, Unavailable)],
)
def test_status_table(status: int, error: type[ConnectorError]) -> None:
    transport, _ = recording(lambda r: httpx.Response(status, text="non"))
    with pytest.raises(error) as info:
        client.fetch_slots(query(PS), CONFIG, transport=transport)
    assert type(info.value) is error and str(info.value).startswith("cpts")


# --------------------------------------------------------------------------- booking


def cpts_slot(**changes: Any) -> Slot:
    fields: dict[str, Any] = {
        "source": "cpts",
        "id": "s1",
        "start": START,
        "end": START + timedelta(minutes=15),
        "practitioner": PS[0],
        "cpts": (CPTS_ID,),
        "booking_url": "https://cpts.test/rdv/s1?lang=fr",
    }
    return Slot(**{**fields, **changes})


def test_booking_redirects_with_origin_and_ignores_other_sources() -> None:
    request = BookingRequest(regulator_id="810002673899")
    booking = plugin.book_slot(cpts_slot(), request, CONFIG)
    assert booking is not None and booking.status == "redirect" and booking.source == "cpts"
    assert booking.redirect_url == "https://cpts.test/rdv/s1?lang=fr&origin=sas-portal"
    assert plugin.book_slot(cpts_slot(source="doctolib_like:a"), request, CONFIG) is None
    with pytest.raises(UpstreamRejected, match="lien de réservation"):
        plugin.book_slot(cpts_slot(booking_url=None), request, CONFIG)


# --------------------------------------------------------------------------- sandbox (loopback)

WINDOW_START = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)  # a Wednesday, 08:00 in Paris
MEMBERS = {"810001111111": ("1470000019",), "810002222222": ("1470000019", "1470000027")}
WINDOW = SlotQuery(
    targets=tuple(SlotTarget(i, source="cpts") for i in MEMBERS),
    start=WINDOW_START,
    end=WINDOW_START + timedelta(days=2),
)


@pytest.fixture
def sandbox() -> Iterator[Any]:
    from connectors.cpts.sandbox import make_sandbox
    from portal.testing.sandbox import PractitionerInfo

    members = {
        national_id: PractitionerInfo("Fictif", "Test", city="Agen", postal_code="47000", cpts=c)
        for national_id, c in MEMBERS.items()
    }
    with make_sandbox(seed=5, practitioners=members) as server:
        yield server


def test_sandbox_slots_carry_practitioner_and_cpts_within_the_window(sandbox: Any) -> None:
    slots = plugin.fetch_slots(WINDOW, {**CONFIG, "base_url": sandbox.url})

    assert slots
    assert {s.source for s in slots} == {"cpts"}
    assert {s.practitioner for s in slots} == set(MEMBERS)
    for s in slots:
        assert s.practitioner is not None and s.cpts == MEMBERS[s.practitioner]
        assert "cpts" in s.visibility
        assert WINDOW.start <= s.start <= WINDOW.end
    ((method, path, raw),) = sandbox.requests
    assert (method, path) == ("GET", "/fhir/Slot")
    assert "_include:iterate=HealthcareService:organization" in raw


@pytest.mark.parametrize(
    ("mode", "error"),
    [
        ("error", Unavailable),
        ("auth", AuthError),
        ("garbage", MalformedResponse),
        ("timeout", ConnectorTimeout),
    ],
)
def test_sandbox_faults(sandbox: Any, mode: str, error: type[ConnectorError]) -> None:
    from portal.testing.sandbox import Behaviour

    sandbox.behaviour = Behaviour(mode=mode)  # type: ignore[arg-type]
    began = time.monotonic()
    with pytest.raises(error) as info:
        plugin.fetch_slots(WINDOW, {**CONFIG, "base_url": sandbox.url, "timeout_s": 0.5})
    assert type(info.value) is error and "cpts" in str(info.value)
    assert time.monotonic() - began < 2.0
    if mode == "error":
        assert info.value.diagnostics and "panne simulée" in info.value.diagnostics


def test_sandbox_malformed_keeps_the_good_slots(sandbox: Any) -> None:
    from portal.testing.sandbox import Behaviour

    cfg = {**CONFIG, "base_url": sandbox.url}
    good = plugin.fetch_slots(WINDOW, cfg)
    sandbox.behaviour = Behaviour(mode="malformed")
    slots = plugin.fetch_slots(WINDOW, cfg)
    assert good and slots is not None and {s.id for s in good} <= {s.id for s in slots}


def test_sandbox_stopped_is_unavailable(sandbox: Any) -> None:
    cfg = {**CONFIG, "base_url": sandbox.url}
    sandbox.stop()
    with pytest.raises(Unavailable):
        plugin.fetch_slots(WINDOW, cfg)
