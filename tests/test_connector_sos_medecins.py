"""sos_medecins connector: the Schedule search by SIRET, booking redirect.

Unit tests inject ``httpx.MockTransport``; integration tests run the SOS
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

import connectors.sos_medecins as plugin
from connectors.sos_medecins import client
from portal import (
    AuthError,
    BookingRequest,
    ConnectorError,
    ConnectorTimeout,
    MalformedResponse,
    Slot,
    SlotQuery,
    SlotTarget,
    Unavailable,
    UpstreamRejected,
)

IDNST = "urn:oid:1.2.250.1.71.4.2.2"
START = datetime(2026, 11, 25, 16, 30, tzinfo=UTC)  # 17:30 in Paris (winter time)
END = START + timedelta(days=2)
BASE = "https://sos.test/fhir"
CONFIG = {"base_url": BASE, "origin": "sas-portal", "enabled": True, "timeout_s": 7.0}
SOS = ["334173748400020", "392080466300010"]  # 3 + SIRET, as in the national guide


def target(national_id: str, **upstream: str) -> SlotTarget:
    return SlotTarget(national_id, kind="structure", source="sos_medecins", upstream_ids=upstream)


def query(targets: list[SlotTarget], start: datetime = START) -> SlotQuery:
    return SlotQuery(targets=tuple(targets), start=start, end=start + (END - START))


def sos_bundle(slots: list[tuple[str, datetime]]) -> dict[str, Any]:
    """A Schedule searchset: Schedule (match) → Location → Organization, Slots revincluded."""
    entries: list[dict[str, Any]] = []
    for n, (structure, start) in enumerate(slots):
        entries += [
            {
                "fullUrl": f"{BASE}/Schedule/sc{n}",
                "resource": {
                    "resourceType": "Schedule",
                    "id": f"sc{n}",
                    "actor": [{"reference": f"Location/l{n}"}],
                },
                "search": {"mode": "match"},
            },
            {
                "fullUrl": f"{BASE}/Slot/s{n}",
                "resource": {
                    "resourceType": "Slot",
                    "id": f"s{n}",
                    "schedule": {"reference": f"Schedule/sc{n}"},
                    "status": "free",
                    "start": start.isoformat(),
                    "end": (start + timedelta(minutes=20)).isoformat(),
                },
                "search": {"mode": "include"},
            },
            {
                "fullUrl": f"{BASE}/Location/l{n}",
                "resource": {
                    "resourceType": "Location",
                    "id": f"l{n}",
                    "address": {"line": ["1 rue Test"], "postalCode": "35000", "city": "RENNES"},
                    "managingOrganization": {"reference": f"Organization/o{n}"},
                },
                "search": {"mode": "include"},
            },
            {
                "fullUrl": f"{BASE}/Organization/o{n}",
                "resource": {
                    "resourceType": "Organization",
                    "id": f"o{n}",
                    "identifier": [{"system": IDNST, "value": structure}],
                },
                "search": {"mode": "include"},
            },
        ]
    return {"resourceType": "Bundle", "type": "searchset", "entry": entries}


def asked_ids(request: httpx.Request) -> list[str]:
    value = request.url.params["actor:Location.organization.identifier"]
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
    return httpx.Response(200, json=sos_bundle([(i, START) for i in asked_ids(request)]))


# --------------------------------------------------------------------------- query


def test_query_string_is_the_national_sos_search_encoded() -> None:
    transport, seen = recording(lambda r: httpx.Response(200, json=sos_bundle([])))
    targets = [target(SOS[0]), target("1350000001", siret="39208046630001")]
    assert client.fetch_slots(query(targets), CONFIG, transport=transport) == []

    (request,) = seen
    assert request.method == "GET" and request.headers["Accept"] == "application/fhir+json"
    assert str(request.url).startswith("https://sos.test/fhir/Schedule?")
    assert Counter(request.url.query.decode().split("&")) == Counter(
        [
            "_revinclude=Slot:schedule",
            "_include=Schedule:actor:Location",
            "_include:iterate=Location:organization",
            "_has:Slot:schedule:start=ge2026-11-25T17:30:00.000%2B01:00",
            "_has:Slot:schedule:start=le2026-11-27T17:30:00.000%2B01:00",
            "_has:Slot:schedule:status=free",
            "actor:Location.organization.identifier="
            "urn:oid:1.2.250.1.71.4.2.2%7C334173748400020,"
            "urn:oid:1.2.250.1.71.4.2.2%7C339208046630001",
        ]
    )


def test_sixty_associations_are_sent_in_batches_of_25_25_10() -> None:
    ids = [f"3{n:014d}" for n in range(60)]
    transport, seen = recording(one_slot_per_asked_id)
    slots = client.fetch_slots(query([target(i) for i in ids]), CONFIG, transport=transport)
    assert [len(asked_ids(r)) for r in seen] == [25, 25, 10]
    assert slots is not None and sorted(s.structure or "" for s in slots) == ids


def test_slots_keep_the_targets_own_national_id() -> None:
    """A FINESS-identified association is searched by its SIRET but stays itself."""
    transport, _ = recording(one_slot_per_asked_id)
    targets = [target("1350000001", siret="39208046630001")]
    slots = client.fetch_slots(query(targets), CONFIG, transport=transport)
    assert slots is not None
    assert [(s.source, s.structure, s.practitioner) for s in slots] == [
        ("sos_medecins", "1350000001", None)
    ]


def test_targets_without_siret_are_skipped(caplog: pytest.LogCaptureFixture) -> None:
    transport, seen = recording(one_slot_per_asked_id)
    targets = [target("1350000001"), SlotTarget("810002673899", source="sos_medecins")]
    with caplog.at_level(logging.WARNING, logger="connectors.sos_medecins.client"):
        assert client.fetch_slots(query(targets), CONFIG, transport=transport) == []
    assert seen == [] and "sans SIRET" in caplog.text


def test_other_associations_and_slots_outside_the_window_are_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = sos_bundle(
        [(SOS[0], START + timedelta(hours=1)), (SOS[1], START), (SOS[0], END + timedelta(hours=1))]
    )
    transport, _ = recording(lambda r: httpx.Response(200, json=body))
    with caplog.at_level(logging.WARNING, logger="connectors.sos_medecins.client"):
        slots = client.fetch_slots(query([target(SOS[0])]), CONFIG, transport=transport)
    assert slots is not None and [s.structure for s in slots] == [SOS[0]]
    assert "2 créneau(x)" in caplog.text


def test_targets_of_other_connectors_give_none() -> None:
    other = SlotTarget(SOS[0], kind="structure", source="cpts")
    assert plugin.fetch_slots(query([other]), CONFIG) is None


def test_disabled_or_unconfigured_source_raises_naming_it() -> None:
    with pytest.raises(ConnectorError, match=r"sos_medecins.*désactivée"):
        plugin.fetch_slots(query([target(SOS[0])]), {**CONFIG, "enabled": False})
    with pytest.raises(ConnectorError, match=r"sos_medecins.*base_url"):
        plugin.fetch_slots(query([target(SOS[0])]), {})


@pytest.mark.parametrize(
    ("status", "error"),
    [(401, AuthError), (404, UpstreamRejected), (422, UpstreamRejected), (500, Unavailable)],
)
def test_status_table(status: int, error: type[ConnectorError]) -> None:
    diagnostics = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "invalid", "diagnostics": "SIRET inconnu"}],
    }
    transport, _ = recording(lambda r: httpx.Response(status, json=diagnostics))
    with pytest.raises(error) as info:
        client.fetch_slots(query([target(SOS[0])]), CONFIG, transport=transport)
    assert type(info.value) is error and "sos_medecins" in str(info.value)
    assert info.value.diagnostics == "SIRET inconnu"


# --------------------------------------------------------------------------- booking


def sos_slot(**changes: Any) -> Slot:
    fields: dict[str, Any] = {
        "source": "sos_medecins",
        "id": "s1",
        "start": START,
        "end": START + timedelta(minutes=20),
        "structure": SOS[0],
        "booking_url": "https://sos.test/rdv/s1",
    }
    return Slot(**{**fields, **changes})


def test_booking_redirects_with_origin_and_ignores_other_sources() -> None:
    request = BookingRequest(regulator_id="810002673899")
    booking = plugin.book_slot(sos_slot(), request, {**CONFIG, "origin": "sas-47"})
    assert booking is not None and booking.status == "redirect"
    assert booking.redirect_url == "https://sos.test/rdv/s1?origin=sas-47"
    assert plugin.book_slot(sos_slot(source="cpts"), request, CONFIG) is None
    with pytest.raises(UpstreamRejected, match="sans rendez-vous"):
        plugin.book_slot(sos_slot(bookable=False), request, CONFIG)


# --------------------------------------------------------------------------- sandbox (loopback)

WINDOW_START = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)  # a Wednesday, 08:00 in Paris
WINDOW = query([target(SOS[0]), target("1350000001", siret="39208046630001")], WINDOW_START)


@pytest.fixture
def sandbox() -> Iterator[Any]:
    from connectors.sos_medecins.sandbox import make_sandbox

    with make_sandbox(seed=7) as server:
        yield server


def test_sandbox_slots_carry_the_structure_within_the_window(sandbox: Any) -> None:
    slots = plugin.fetch_slots(WINDOW, {**CONFIG, "base_url": sandbox.url})

    assert slots
    assert {s.source for s in slots} == {"sos_medecins"}
    assert {s.structure for s in slots} == {SOS[0], "1350000001"}
    assert all(s.practitioner is None and s.address for s in slots)
    assert all(set(s.visibility) <= {"public", "sas"} for s in slots)
    assert all(WINDOW.start <= s.start <= WINDOW.end for s in slots)
    ((method, path, raw),) = sandbox.requests
    assert (method, path) == ("GET", "/fhir/Schedule") and "%7C339208046630001" in raw


def test_sandbox_booking_redirect_with_origin(sandbox: Any) -> None:
    cfg = {**CONFIG, "base_url": sandbox.url, "origin": "sas-35"}
    slots = plugin.fetch_slots(WINDOW, cfg)
    assert slots
    booking = plugin.book_slot(next(s for s in slots if s.bookable), BookingRequest("x"), cfg)
    assert booking is not None and booking.redirect_url is not None
    page = httpx.get(booking.redirect_url, timeout=5)
    assert page.status_code == 200 and "sas-35" in page.text


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
    assert type(info.value) is error and "sos_medecins" in str(info.value)
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
