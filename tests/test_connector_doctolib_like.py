"""doctolib_like connector: INT_R01 search, booking redirect, INT_R02 accounts.

Unit tests inject ``httpx.MockTransport`` (exact requests, status mapping);
integration tests run the editor sandbox on loopback. The shared HTTP helpers
(``portal/kit/``: status table, mTLS, batching) are tested here too.
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

import connectors.doctolib_like as plugin
from connectors.doctolib_like import client, mapping
from portal import (
    AuthError,
    BookingRequest,
    ConnectorError,
    ConnectorTimeout,
    MalformedResponse,
    RegulatorAccount,
    Slot,
    SlotNoLongerAvailable,
    SlotQuery,
    SlotTarget,
    Unavailable,
    UpstreamRejected,
)
from portal import kit as fhir_http

IDNPS = "urn:oid:1.2.250.1.71.4.2.1"
START = datetime(2024, 6, 12, 14, 20, tzinfo=UTC)  # 16:20 in Paris (summer time)
END = datetime(2024, 6, 14, 21, 59, 59, 999000, tzinfo=UTC)  # 23:59:59.999 in Paris
BASE = "https://editeur-a.test/fhir"
SOURCE = "doctolib_like:editeur-a"
PS = ["810002673899", "810100050075"]


def editor(base_url: str = BASE, **extra: Any) -> dict[str, Any]:
    section = {"base_url": base_url, "client_cert": None, "client_key": None, "ca_bundle": None}
    return {**section, "origin": "sas-portal", "enabled": True, "timeout_s": 7.0, **extra}


def config(**editors: dict[str, Any]) -> dict[str, Any]:
    return {"editors": editors or {"editeur-a": editor()}}


def query(ids: list[str], source: str = SOURCE, start: datetime = START) -> SlotQuery:
    return SlotQuery(
        targets=tuple(SlotTarget(i, source=source) for i in ids),
        start=start,
        end=start + (END - START),
    )


def ps_bundle(slots: list[tuple[str, datetime]], **slot_extra: Any) -> dict[str, Any]:
    """A searchset Bundle of INT_R01: Slot → Schedule → Practitioner per (IDNPS, start)."""
    entries: list[dict[str, Any]] = []
    for n, (national_id, start) in enumerate(slots):
        entries += [
            {
                "fullUrl": f"{BASE}/Slot/s{n}",
                "resource": {
                    "resourceType": "Slot",
                    "id": f"s{n}",
                    "schedule": {"reference": f"Schedule/sc{n}"},
                    "status": "free",
                    "start": start.isoformat(),
                    "end": (start + timedelta(minutes=15)).isoformat(),
                    "comment": f"https://editeur-a.test/rdv/{national_id}",
                    **slot_extra,
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
    return httpx.Response(200, json=ps_bundle(slots))


def outcome(text: str) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "processing", "diagnostics": text}],
    }


# --------------------------------------------------------------------------- INT_R01 query


def test_query_string_is_the_national_int_r01_search_encoded() -> None:
    transport, seen = recording(lambda r: httpx.Response(200, json=ps_bundle([])))
    assert client.fetch_slots(query(PS), config(), transport=transport) == []

    (request,) = seen
    assert request.method == "GET"
    assert request.headers["Accept"] == "application/fhir+json"
    assert str(request.url).startswith("https://editeur-a.test/fhir/Slot?")
    raw = request.url.query.decode()
    assert Counter(raw.split("&")) == Counter(
        [
            "_include=Slot:schedule",
            "_include:iterate=Schedule:actor",
            "start=ge2024-06-12T16:20:00.000%2B02:00",
            "start=le2024-06-14T23:59:59.999%2B02:00",
            "schedule.actor:Practitioner.identifier="
            "urn:oid:1.2.250.1.71.4.2.1%7C810002673899,urn:oid:1.2.250.1.71.4.2.1%7C810100050075",
            "status=free",
        ]
    )
    assert "+" not in raw and "|" not in raw


def test_fhir_dates_carry_milliseconds_and_the_paris_offset_of_the_instant() -> None:
    assert fhir_http.fhir_instant(datetime(2026, 11, 25, 16, 30, tzinfo=UTC)) == (
        "2026-11-25T17:30:00.000+01:00"
    )
    assert fhir_http.fhir_instant(START) == "2024-06-12T16:20:00.000+02:00"
    with pytest.raises(ValueError):
        fhir_http.fhir_instant(datetime(2026, 11, 25, 16, 30))


def test_sixty_ids_are_sent_in_batches_of_25_25_10() -> None:
    ids = [f"8100000{n:05d}" for n in range(60)]
    transport, seen = recording(one_slot_per_asked_id)

    slots = client.fetch_slots(query(ids), config(), transport=transport)

    assert [len(asked_ids(r)) for r in seen] == [25, 25, 10]
    assert [i for r in seen for i in asked_ids(r)] == ids
    assert slots is not None
    assert sorted(s.practitioner or "" for s in slots) == ids
    assert {s.source for s in slots} == {SOURCE}


def test_duplicate_targets_are_asked_once() -> None:
    transport, seen = recording(one_slot_per_asked_id)
    client.fetch_slots(query([PS[0], PS[0], PS[1]]), config(), transport=transport)
    assert asked_ids(seen[0]) == PS


def test_slots_outside_the_window_or_of_others_are_dropped_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = ps_bundle(
        [
            (PS[0], START + timedelta(hours=2)),  # kept
            (PS[0], START - timedelta(minutes=1)),  # before the window
            (PS[0], END + timedelta(minutes=1)),  # after it
            ("810999999999", START + timedelta(hours=2)),  # not asked
        ]
    )
    transport, _ = recording(lambda r: httpx.Response(200, json=body))
    with caplog.at_level(logging.WARNING, logger="connectors.doctolib_like.client"):
        slots = client.fetch_slots(query(PS[:1]), config(), transport=transport)

    assert slots is not None
    assert [(s.practitioner, s.start) for s in slots] == [(PS[0], START + timedelta(hours=2))]
    assert "3 créneau(x)" in caplog.text and SOURCE in caplog.text


def test_reader_warnings_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    body = ps_bundle([(PS[0], START + timedelta(hours=1))])
    body["entry"].append({"resource": {"resourceType": "Slot", "id": "broken", "status": "free"}})
    transport, _ = recording(lambda r: httpx.Response(200, json=body))
    with caplog.at_level(logging.WARNING, logger="connectors.doctolib_like.client"):
        slots = client.fetch_slots(query(PS[:1]), config(), transport=transport)
    assert slots is not None and len(slots) == 1
    assert "Slot/broken" in caplog.text


def test_an_empty_searchset_is_no_slots_not_an_error() -> None:
    empty = {"resourceType": "Bundle", "type": "searchset", "total": 0}
    transport, _ = recording(lambda r: httpx.Response(200, json=empty))
    assert client.fetch_slots(query(PS), config(), transport=transport) == []


def test_targets_of_other_connectors_give_none() -> None:
    assert plugin.fetch_slots(query(PS, source="sos_medecins"), config()) is None
    assert plugin.fetch_slots(query(PS, source="doctolib_likeness:x"), config()) is None


@pytest.mark.parametrize(
    ("cfg", "words"),
    [
        (config(), "editeur-z"),  # unknown editor
        (config(**{"editeur-z": editor(enabled=False)}), "désactivée"),
        (config(**{"editeur-z": editor(base_url="")}), "base_url"),
    ],
    ids=["unknown", "disabled", "no-base-url"],
)
def test_unusable_editor_raises_a_french_error_naming_it(cfg: dict[str, Any], words: str) -> None:
    with pytest.raises(ConnectorError) as info:
        plugin.fetch_slots(query(PS, source="doctolib_like:editeur-z"), cfg)
    assert "doctolib_like:editeur-z" in str(info.value) and words in str(info.value)


def test_several_editors_are_each_asked_with_their_own_source() -> None:
    transport, seen = recording(one_slot_per_asked_id)
    q = SlotQuery(
        targets=(
            SlotTarget(PS[0], source="doctolib_like:editeur-a"),
            SlotTarget(PS[1], source="doctolib_like:editeur-b"),
            SlotTarget("810000000001", source="cpts"),
        ),
        start=START,
        end=END,
    )
    cfg = config(**{"editeur-a": editor(), "editeur-b": editor("https://b.test/fhir")})

    slots = client.fetch_slots(q, cfg, transport=transport)

    assert [r.url.host for r in seen] == ["editeur-a.test", "b.test"]
    assert slots is not None
    assert {(s.source, s.practitioner) for s in slots} == {
        ("doctolib_like:editeur-a", PS[0]),
        ("doctolib_like:editeur-b", PS[1]),
    }


# --------------------------------------------------------------------------- status table


def fetch_answering(respond: Callable[[httpx.Request], httpx.Response]) -> ConnectorError:
    transport, _ = recording(respond)
    with pytest.raises(ConnectorError) as info:
        client.fetch_slots(query(PS), config(), transport=transport)
    return info.value


@pytest.mark.parametrize("status", [401, 403])
def test_401_403_are_auth_errors(status: int) -> None:
    error = fetch_answering(lambda r: httpx.Response(status, json=outcome("certificat inconnu")))
    assert type(error) is AuthError and not error.retryable
    assert SOURCE in str(error) and error.diagnostics == "certificat inconnu"
    assert isinstance(error.__cause__, httpx.HTTPStatusError)


def test_404_means_a_misconfigured_endpoint() -> None:
    error = fetch_answering(lambda r: httpx.Response(404, text="Not Found"))
    assert type(error) is UpstreamRejected
    assert "introuvable" in str(error) and SOURCE in str(error)
    assert isinstance(error.__cause__, httpx.HTTPStatusError)


@pytest.mark.parametrize("status", [409, 410])
def test_409_410_mean_the_slot_is_gone(status: int) -> None:
    error = fetch_answering(lambda r: httpx.Response(status, json=outcome("déjà pris")))
    assert type(error) is SlotNoLongerAvailable
    assert isinstance(error.__cause__, httpx.HTTPStatusError)


@pytest.mark.parametrize("status", [400, 422])
def test_400_422_are_rejections_with_the_operation_outcome(status: int) -> None:
    error = fetch_answering(lambda r: httpx.Response(status, json=outcome("paramètre start")))
    assert type(error) is UpstreamRejected and not error.retryable
    assert error.diagnostics == "paramètre start" and "paramètre start" in str(error)
    assert isinstance(error.__cause__, httpx.HTTPStatusError)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_unavailable_with_diagnostics(status: int) -> None:
    error = fetch_answering(lambda r: httpx.Response(status, json=outcome("base en panne")))
    assert type(error) is Unavailable and error.retryable
    assert error.diagnostics == "base en panne" and SOURCE in str(error)
    assert isinstance(error.__cause__, httpx.HTTPStatusError)


def test_connection_error_is_unavailable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused", request=request)

    error = fetch_answering(refuse)
    assert type(error) is Unavailable and error.retryable
    assert isinstance(error.__cause__, httpx.ConnectError)


def test_timeout_is_connector_timeout() -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    error = fetch_answering(hang)
    assert type(error) is ConnectorTimeout and error.retryable
    assert isinstance(error.__cause__, httpx.ReadTimeout)


def test_non_json_200_is_malformed() -> None:
    error = fetch_answering(lambda r: httpx.Response(200, text="<html>maintenance</html>"))
    assert type(error) is MalformedResponse and SOURCE in str(error)
    assert error.__cause__ is not None


def test_operation_outcome_in_a_200_is_a_rejection() -> None:
    error = fetch_answering(lambda r: httpx.Response(200, json=outcome("trop d'identifiants")))
    assert type(error) is UpstreamRejected and "trop d'identifiants" in str(error)


def test_a_get_is_retried_once_on_a_gateway_error() -> None:
    answers = iter([httpx.Response(503), httpx.Response(200, json=ps_bundle([]))])
    transport, seen = recording(lambda r: next(answers))
    assert client.fetch_slots(query(PS), config(), transport=transport) == []
    assert len(seen) == 2


def test_status_table_maps_every_class_in_one_place() -> None:
    table = fhir_http.STATUS_ERRORS
    assert table[401][0] is table[403][0] is AuthError
    assert table[404][0] is table[400][0] is table[422][0] is UpstreamRejected
    assert table[409][0] is table[410][0] is SlotNoLongerAvailable
    request = httpx.Request("GET", BASE)
    assert type(fhir_http.error_for(httpx.Response(504, request=request), source="x")) is (
        Unavailable
    )
    assert type(fhir_http.error_for(httpx.Response(418, request=request), source="x")) is (
        UpstreamRejected
    )


# --------------------------------------------------------------------------- httpx client


def test_client_construction_passes_timeout_retries_and_mtls(
    monkeypatch: pytest.MonkeyPatch, tls: TlsFiles
) -> None:
    built: list[dict[str, Any]] = []
    real = httpx.HTTPTransport

    def spy(**kwargs: Any) -> httpx.HTTPTransport:
        built.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(httpx, "HTTPTransport", spy)
    section = editor(
        client_cert=str(tls.client_cert),
        client_key=str(tls.client_key),
        ca_bundle=str(tls.ca),
        timeout_s=3.5,
    )
    endpoint = fhir_http.Endpoint.from_config(SOURCE, section)
    with fhir_http.make_client(endpoint) as http_client:
        assert http_client.timeout == httpx.Timeout(3.5)
        assert http_client.headers["Accept"] == "application/fhir+json"

    (kwargs,) = built
    assert kwargs["retries"] == 1
    context = kwargs["verify"]
    assert context.verify_mode.name == "CERT_REQUIRED" and context.check_hostname
    # the configured CA (and only it) is trusted
    assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "Test CA"),),)]


def test_default_timeout_is_seven_seconds() -> None:
    endpoint = fhir_http.Endpoint.from_config(SOURCE, {"base_url": BASE})
    assert endpoint.timeout_s == 7.0 and endpoint.origin == "sas-portal"


def test_mutual_tls_against_a_loopback_server(tls: TlsFiles) -> None:
    with tls_server(tls) as (base_url, peers):
        section = editor(
            base_url,
            client_cert=str(tls.client_cert),
            client_key=str(tls.client_key),
            ca_bundle=str(tls.ca),
        )
        assert plugin.fetch_slots(query(PS), config(**{"editeur-a": section})) == []
        assert peers == ["sas-portal-client"]

        without_cert = editor(base_url, ca_bundle=str(tls.ca))
        with pytest.raises(ConnectorError) as info:
            plugin.fetch_slots(query(PS), config(**{"editeur-a": without_cert}))
        assert isinstance(info.value, AuthError | Unavailable)

        unknown_ca = editor(
            base_url, client_cert=str(tls.client_cert), client_key=str(tls.client_key)
        )
        with pytest.raises(AuthError):
            plugin.fetch_slots(query(PS), config(**{"editeur-a": unknown_ca}))


def test_unreadable_client_certificate_is_a_configuration_error(tmp_path: Path) -> None:
    section = editor(client_cert=str(tmp_path / "missing.pem"), client_key=None)
    with pytest.raises(ConnectorError, match="certificat client"):
        plugin.fetch_slots(query(PS), config(**{"editeur-a": section}))


# --------------------------------------------------------------------------- booking


def slot(**changes: Any) -> Slot:
    fields: dict[str, Any] = {
        "source": SOURCE,
        "id": "s1",
        "start": START,
        "end": START + timedelta(minutes=15),
        "practitioner": PS[0],
        "booking_url": "https://editeur-a.test/rdv/123?motif=42&lieu=a%20b#creneau",
    }
    return Slot(**{**fields, **changes})


REQUEST = BookingRequest(regulator_id="810002673899", origin="lrm-47")


def test_booking_redirects_with_the_configured_origin() -> None:
    cfg = config(**{"editeur-a": editor(origin="SAS 47/ARM&co")})
    booking = plugin.book_slot(slot(), REQUEST, cfg)
    assert booking is not None
    assert booking.status == "redirect" and booking.source == SOURCE and booking.slot_id == "s1"
    assert booking.redirect_url == (
        "https://editeur-a.test/rdv/123?motif=42&lieu=a%20b&origin=SAS%2047%2FARM%26co#creneau"
    )


def test_booking_url_without_query_and_with_an_origin_already() -> None:
    assert fhir_http.with_origin("https://e.test/rdv", "sas") == "https://e.test/rdv?origin=sas"
    assert fhir_http.with_origin("https://e.test/rdv?origin=old&x=1", "sas") == (
        "https://e.test/rdv?x=1&origin=sas"
    )


def test_booking_is_not_ours_for_other_sources() -> None:
    assert plugin.book_slot(slot(source="sos_medecins"), REQUEST, config()) is None
    assert plugin.book_slot(slot(source="doctolib_like"), REQUEST, config()) is None


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"bookable": False}, "sans rendez-vous"),
        ({"booking_url": None}, "lien de réservation"),
        ({"booking_url": "javascript:alert(1)"}, "lien de réservation"),
    ],
    ids=["walk-in", "no-url", "not-http"],
)
def test_unbookable_slots_are_rejected_clearly(changes: dict[str, Any], words: str) -> None:
    with pytest.raises(UpstreamRejected, match=words):
        plugin.book_slot(slot(**changes), REQUEST, config())


# --------------------------------------------------------------------------- INT_R02


def account(**changes: Any) -> RegulatorAccount:
    fields: dict[str, Any] = {
        "identifier_system": IDNPS,
        "identifier_value": "810002673899",
        "family_name": "MARIUS",
        "given_name": "Jules",
        "email": "jules.marius@test.com",
    }
    return RegulatorAccount(**{**fields, **changes})


def test_regulator_body_is_fr_practitioner_regul() -> None:
    body = mapping.regulator_resource(account())
    assert body == {
        "resourceType": "Practitioner",
        "meta": {
            "source": "urn:oid:1.2.250.1.213.3.6",
            "profile": [
                "https://interop.esante.gouv.fr/ig/fhir/sas/StructureDefinition/FrPractitionerRegul"
            ],
        },
        "identifier": [
            {
                "type": {
                    "coding": [
                        {
                            "system": "http://interopsante.org/fhir/CodeSystem/fr-v2-0203",
                            "code": "IDNPS",
                        }
                    ]
                },
                "system": IDNPS,
                "value": "810002673899",
            }
        ],
        "active": True,
        "name": [{"family": "MARIUS", "given": ["Jules"]}],
        "telecom": [{"system": "email", "value": "jules.marius@test.com"}],
    }


def test_regulator_with_a_sas_technical_id_has_type_intrn() -> None:
    uuid = "0b7c9d3e-5f1a-4c2b-9e8d-7a6b5c4d3e2f"
    body = mapping.regulator_resource(
        account(identifier_system="urn:oid:1.2.250.1.213.3.6", identifier_value=uuid)
    )
    (identifier,) = body["identifier"]
    assert identifier["type"]["coding"][0]["code"] == "INTRN"
    assert identifier["system"] == "urn:oid:1.2.250.1.213.3.6" and identifier["value"] == uuid


def test_an_incomplete_active_account_is_refused_but_a_deactivation_goes_out() -> None:
    with pytest.raises(UpstreamRejected, match="adresse électronique"):
        mapping.regulator_resource(account(email=None))
    with pytest.raises(UpstreamRejected, match="prénom"):
        mapping.regulator_resource(account(given_name=""))
    body = mapping.regulator_resource(account(active=False, email=None))
    assert body["active"] is False and "telecom" not in body


def test_regulator_with_another_identifier_system_is_refused() -> None:
    with pytest.raises(UpstreamRejected):
        mapping.regulator_resource(account(identifier_system="urn:oid:9.9", identifier_value="x"))


def test_regulator_body_passes_the_strict_validator() -> None:
    from portal.fhir import validation

    uuid = "0b7c9d3e-5f1a-4c2b-9e8d-7a6b5c4d3e2f"
    for body in (
        mapping.regulator_resource(account()),
        mapping.regulator_resource(account(active=False)),
        mapping.regulator_resource(
            account(identifier_system="urn:oid:1.2.250.1.213.3.6", identifier_value=uuid)
        ),
    ):
        for check in (validation.validate, validation.validate_regulator):
            report = check(body)
            assert report.valid, report


def test_provisioning_is_a_conditional_put_to_every_enabled_editor() -> None:
    transport, seen = recording(lambda r: httpx.Response(201, json=json.loads(r.content)))
    cfg = config(
        **{
            "editeur-a": editor(),
            "editeur-b": editor("https://b.test/fhir"),
            "editeur-off": editor("https://off.test/fhir", enabled=False),
        }
    )

    client.provision_regulator(account(active=False), cfg, transport=transport)

    assert [r.url.host for r in seen] == ["editeur-a.test", "b.test"]
    for request in seen:
        assert request.method == "PUT"
        assert request.url.path.endswith("/fhir/Practitioner")
        assert request.url.query.decode() == "identifier=urn:oid:1.2.250.1.71.4.2.1%7C810002673899"
        assert request.headers["Content-Type"] == "application/fhir+json"
        body = json.loads(request.content)
        assert body["active"] is False and body["identifier"][0]["value"] == "810002673899"


def test_provisioning_tries_every_editor_then_summarises_failures() -> None:
    def respond(request: httpx.Request) -> httpx.Response:
        if request.url.host == "b.test":
            return httpx.Response(503, json=outcome("maintenance"))
        if request.url.host == "c.test":
            return httpx.Response(422, json=outcome("email invalide"))
        return httpx.Response(200, json={})

    transport, seen = recording(respond)
    cfg = config(
        **{
            "editeur-a": editor(),
            "editeur-b": editor("https://b.test/fhir"),
            "editeur-c": editor("https://c.test/fhir"),
        }
    )
    with pytest.raises(ConnectorError) as info:
        client.provision_regulator(account(), cfg, transport=transport)

    # every editor tried once (no retry of a PUT), one error naming both failures
    assert [r.url.host for r in seen] == ["editeur-a.test", "b.test", "c.test"]
    message = str(info.value)
    assert "doctolib_like:editeur-b" in message and "doctolib_like:editeur-c" in message
    assert "maintenance" in message and "email invalide" in message
    assert info.value.retryable  # the outbox retries; the PUT is idempotent


def test_provisioning_single_failure_keeps_its_class() -> None:
    transport, _ = recording(lambda r: httpx.Response(401, json=outcome("certificat")))
    with pytest.raises(AuthError, match="doctolib_like:editeur-a"):
        client.provision_regulator(account(), config(), transport=transport)


# --------------------------------------------------------------------------- TLS fixtures


class TlsFiles:
    """A throwaway CA, a server certificate for 127.0.0.1 and a client certificate."""

    def __init__(self, folder: Path) -> None:
        self.ca = folder / "ca.pem"
        self.server_cert = folder / "server.pem"
        self.server_key = folder / "server.key"
        self.client_cert = folder / "client.pem"
        self.client_key = folder / "client.key"


def _issue(
    subject: str, issuer: Any, issuer_key: Any, *, ca: bool = False, ip: str | None = None
) -> tuple[Any, Any]:
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer or name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ip:
        san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))])
        builder = builder.add_extension(san, critical=False)
    cert = builder.sign(issuer_key or key, hashes.SHA256())
    return cert, key


def _write(cert: Any, key: Any, cert_path: Path, key_path: Path | None) -> None:
    from cryptography.hazmat.primitives import serialization

    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key_path is not None:
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    files = TlsFiles(tmp_path_factory.mktemp("tls"))
    ca_cert, ca_key = _issue("Test CA", None, None, ca=True)
    _write(ca_cert, ca_key, files.ca, None)
    server = _issue("127.0.0.1", ca_cert.subject, ca_key, ip="127.0.0.1")
    _write(*server, files.server_cert, files.server_key)
    client_pair = _issue("sas-portal-client", ca_cert.subject, ca_key)
    _write(*client_pair, files.client_cert, files.client_key)
    return files


@contextmanager
def tls_server(files: TlsFiles) -> Iterator[tuple[str, list[str]]]:
    """An HTTPS server on loopback that requires a client certificate from the test CA."""
    peers: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            assert isinstance(self.connection, ssl.SSLSocket)
            cert: dict[str, Any] = dict(self.connection.getpeercert() or {})
            peers.extend(v for rdn in cert["subject"] for k, v in rdn if k == "commonName")
            body = json.dumps({"resourceType": "Bundle", "type": "searchset"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/fhir+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # refused handshakes are the point of some tests

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(files.ca))
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_cert_chain(str(files.server_cert), str(files.server_key))
    server = Server(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/fhir", peers
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


# --------------------------------------------------------------------------- sandbox (loopback)

WINDOW_START = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)  # a Wednesday, 08:00 in Paris
WINDOW = SlotQuery(
    targets=tuple(SlotTarget(i, source=SOURCE) for i in ("810001234567", *PS)),
    start=WINDOW_START,
    end=WINDOW_START + timedelta(days=2),
)


@pytest.fixture
def sandbox() -> Iterator[Any]:
    from connectors.doctolib_like.sandbox import make_sandbox

    with make_sandbox(seed=3) as server:
        yield server


def sandbox_config(server: Any, **extra: Any) -> dict[str, Any]:
    return config(**{"editeur-a": editor(server.url, **extra)})


def test_sandbox_slots_come_back_normalised_and_in_the_window(sandbox: Any) -> None:
    slots = plugin.fetch_slots(WINDOW, sandbox_config(sandbox))

    assert slots, "the sandbox publishes free slots on weekdays"
    asked = {t.national_id for t in WINDOW.targets}
    assert {s.source for s in slots} == {SOURCE}
    assert {s.practitioner for s in slots} <= asked and len({s.practitioner for s in slots}) > 1
    assert all(WINDOW.start <= s.start <= WINDOW.end for s in slots)
    assert all(s.structure and s.address for s in slots)
    walk_in = [s for s in slots if not s.bookable]
    assert all(s.booking_url is None for s in walk_in)
    assert all(s.booking_url for s in slots if s.bookable)
    ((method, path, raw),) = sandbox.requests
    assert (method, path) == ("GET", "/fhir/Slot") and "%7C810001234567" in raw


def test_sandbox_booking_redirect_reaches_the_booking_page_with_origin(sandbox: Any) -> None:
    cfg = sandbox_config(sandbox, origin="sas-portal-47")
    slots = plugin.fetch_slots(WINDOW, cfg)
    assert slots is not None
    bookable = next(s for s in slots if s.bookable)
    booking = plugin.book_slot(bookable, REQUEST, cfg)
    assert booking is not None and booking.redirect_url is not None
    assert booking.redirect_url.endswith("?origin=sas-portal-47")
    page = httpx.get(booking.redirect_url, timeout=5)
    assert page.status_code == 200 and "sas-portal-47" in page.text


def test_sandbox_error_is_unavailable_with_diagnostics(sandbox: Any) -> None:
    from portal.testing.sandbox import Behaviour

    sandbox.behaviour = Behaviour(mode="error")
    with pytest.raises(Unavailable) as info:
        plugin.fetch_slots(WINDOW, sandbox_config(sandbox))
    assert type(info.value) is Unavailable
    assert info.value.diagnostics and "panne simulée" in info.value.diagnostics
    assert SOURCE in str(info.value)


def test_sandbox_timeout_is_a_connector_timeout_within_the_configured_delay(sandbox: Any) -> None:
    from portal.testing.sandbox import Behaviour

    sandbox.behaviour = Behaviour(mode="timeout")
    began = time.monotonic()
    with pytest.raises(ConnectorTimeout):
        plugin.fetch_slots(WINDOW, sandbox_config(sandbox, timeout_s=0.5))
    assert time.monotonic() - began < 2.0


def test_sandbox_auth_refusal_is_an_auth_error(sandbox: Any) -> None:
    from portal.testing.sandbox import Behaviour

    sandbox.behaviour = Behaviour(mode="auth")
    with pytest.raises(AuthError, match=SOURCE):
        plugin.fetch_slots(WINDOW, sandbox_config(sandbox))


def test_sandbox_malformed_entries_are_skipped_and_the_good_slots_kept(
    sandbox: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from portal.testing.sandbox import Behaviour

    good = plugin.fetch_slots(WINDOW, sandbox_config(sandbox))
    sandbox.behaviour = Behaviour(mode="malformed")
    with caplog.at_level(logging.WARNING, logger="connectors.doctolib_like.client"):
        slots = plugin.fetch_slots(WINDOW, sandbox_config(sandbox))
    assert good and slots is not None
    ids = {s.id for s in slots}
    assert {s.id for s in good} <= ids
    assert not ids & {"casse-sans-debut", "casse-reference"}
    assert "casse-sans-debut" in caplog.text


def test_sandbox_garbage_is_malformed(sandbox: Any) -> None:
    from portal.testing.sandbox import Behaviour

    sandbox.behaviour = Behaviour(mode="garbage")
    with pytest.raises(MalformedResponse, match=SOURCE):
        plugin.fetch_slots(WINDOW, sandbox_config(sandbox))


def test_sandbox_stopped_is_unavailable(sandbox: Any) -> None:
    cfg = sandbox_config(sandbox)
    sandbox.stop()
    with pytest.raises(Unavailable) as info:
        plugin.fetch_slots(WINDOW, cfg)
    assert type(info.value) is Unavailable and info.value.retryable


def test_sandbox_records_create_update_and_deactivation(sandbox: Any) -> None:
    cfg = sandbox_config(sandbox)
    plugin.provision_regulator(account(), cfg)
    plugin.provision_regulator(account(email="j.marius@samu47.test"), cfg)
    plugin.provision_regulator(account(active=False), cfg)

    record = sandbox.accounts["810002673899"]
    assert [interaction for interaction, _ in record.history] == ["create", "update", "update"]
    assert record.history[1][1]["telecom"] == [{"system": "email", "value": "j.marius@samu47.test"}]
    assert record.active is False
    assert [m for m, _, _ in sandbox.requests] == ["PUT", "PUT", "PUT"]


def test_sandbox_provisioning_reaches_the_healthy_editors_when_one_is_down(sandbox: Any) -> None:
    from connectors.doctolib_like.sandbox import make_sandbox

    down = make_sandbox(seed=4).start()
    down_url = down.url
    down.stop()
    cfg = config(**{"editeur-a": editor(sandbox.url), "editeur-down": editor(down_url)})

    with pytest.raises(Unavailable, match="doctolib_like:editeur-down"):
        plugin.provision_regulator(account(), cfg)
    assert sandbox.accounts["810002673899"].active
