"""Simulator of an appointment editor (individual PS): INT_R01 slot search and
INT_R02 regulator accounts, plus the booking page the portal redirects to.

Run it alone: ``python -m connectors.doctolib_like.sandbox --port 8101``.

- ``GET /fhir/Slot?_include=Slot:schedule&_include:iterate=Schedule:actor&start=ge…&start=le…
  &schedule.actor:Practitioner.identifier=urn:oid:1.2.250.1.71.4.2.1|8…,…&status=free``
- ``POST /fhir/Practitioner`` → 201 + ``Location``; the same identifier again → 422.
- ``PUT /fhir/Practitioner?identifier=<system>|<value>`` → 200 (update) or 201 (create).
- ``GET /fhir/Practitioner?identifier=…`` and ``GET /fhir/Practitioner/<id>`` (read back).
- ``GET /rdv/<slot id>?origin=…``: the booking page.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from fhir.resources.R4B.practitioner import Practitioner
from pydantic import ValidationError
from werkzeug.wrappers import Request, Response

from portal.identifiers import IDNPS_SYSTEM
from portal.testing.sandbox import (
    SAS_SOURCE,
    AccountRecord,
    Behaviour,
    FhirError,
    PractitionerInfo,
    PractitionerSandbox,
    entry_json,
    fhir_response,
    outcome,
    resource_json,
    run_cli,
)

__all__ = ["DoctolibLikeSandbox", "make_sandbox"]

#: Identifier systems a regulator account may carry: national IDNPS or SAS technical UUID.
ACCOUNT_SYSTEMS = frozenset({IDNPS_SYSTEM, SAS_SOURCE})


class DoctolibLikeSandbox(PractitionerSandbox):
    """An individual-PS editor: slot search, regulator accounts, booking page."""

    label = "Éditeur PS individuels (simulation)"
    resource_types = ("Slot", "Schedule", "Practitioner", "PractitionerRole")

    def handle_fhir(self, request: Request, path: str, *, malformed: bool) -> Response | None:
        if path == "Practitioner":
            if request.method == "POST":
                return self._create(request)
            if request.method == "PUT":
                return self._conditional_update(request)
            if request.method == "GET":
                return self._search_accounts(request)
        if path.startswith("Practitioner/") and request.method == "GET":
            record = next((a for a in self.accounts.values() if a.id == path[13:]), None)
            if record is None:
                return outcome(404, f"Practitioner/{path[13:]} inconnu", "not-found")
            return fhir_response(json.dumps(record.resource, ensure_ascii=False))
        return super().handle_fhir(request, path, malformed=malformed)

    # -- INT_R02

    def _create(self, request: Request) -> Response:
        body = _account_body(request)
        system, value = _account_identifier(body)
        with self._lock:
            existing = self.accounts.get(value)
            if existing is not None:
                if request.headers.get("If-None-Exist"):  # FHIR conditional create: no-op
                    return self._answer(existing, 200)
                return outcome(
                    422,
                    f"compte régulateur {system}|{value} déjà créé "
                    f"(Practitioner/{existing.id}) : utiliser PUT",
                    "duplicate",
                )
            record = AccountRecord(_account_id(value), system, value, {})
            self._store(record, body, "create")
            self.accounts[value] = record
        return self._answer(record, 201)

    def _conditional_update(self, request: Request) -> Response:
        wanted = request.args.get("identifier", "")
        q_system, sep, q_value = wanted.partition("|")
        if not sep or not q_system or not q_value:
            raise FhirError("PUT Practitioner?identifier=<system>|<value> obligatoire")
        body = _account_body(request)
        system, value = _account_identifier(body)
        if (system, value) != (q_system, q_value):
            raise FhirError(f"l'identifiant du corps ({system}|{value}) diffère de la requête")
        with self._lock:
            record = self.accounts.get(value)
            created = record is None
            if record is None:
                record = self.accounts[value] = AccountRecord(_account_id(value), system, value, {})
            self._store(record, body, "create" if created else "update")
        return self._answer(record, 201 if created else 200)

    def _search_accounts(self, request: Request) -> Response:
        wanted = request.args.get("identifier", "")
        value = wanted.rpartition("|")[2]
        found = [a for a in self.accounts.values() if not value or a.value == value]
        entries = [
            entry_json(
                f"{self.url}/Practitioner/{a.id}",
                json.dumps(a.resource, ensure_ascii=False),
                "match",
            )
            for a in found
        ]
        query = request.query_string.decode("latin-1")
        return self.searchset("Practitioner", query, None, len(found), entries)

    def _store(self, record: AccountRecord, body: dict[str, Any], interaction: str) -> None:
        version = record.version + 1
        meta = dict(body.get("meta") or {})
        meta["versionId"] = str(version)
        meta["lastUpdated"] = datetime.now(UTC).isoformat(timespec="milliseconds")
        record.resource = body | {"id": record.id, "meta": meta}
        record.history.append((interaction, record.resource))

    def _answer(self, record: AccountRecord, status: int) -> Response:
        location = f"{self.url}/Practitioner/{record.id}/_history/{record.version}"
        body = json.dumps(record.resource, ensure_ascii=False)
        return fhir_response(body, status, Location=location, ETag=f'W/"{record.version}"')


def _account_body(request: Request) -> dict[str, Any]:
    """The pushed Practitioner, checked minimally (400 structure, 422 business rules)."""
    content_type = request.mimetype or ""
    if content_type not in ("application/fhir+json", "application/json"):
        raise FhirError(f"Content-Type {content_type!r} : application/fhir+json attendu", 415)
    try:
        body = json.loads(request.get_data(as_text=True))
    except ValueError:
        raise FhirError("corps JSON invalide") from None
    if not isinstance(body, dict) or body.get("resourceType") != "Practitioner":
        raise FhirError("une ressource Practitioner est attendue")
    try:
        resource_json(Practitioner, body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise FhirError(
            f"Practitioner invalide : {where} : {first['msg']}", 400, "structure"
        ) from None
    if (body.get("meta") or {}).get("source") != SAS_SOURCE:
        raise FhirError(f"meta.source doit valoir {SAS_SOURCE}", 422, "business-rule")
    return body


def _account_identifier(body: Mapping[str, Any]) -> tuple[str, str]:
    identifiers = body.get("identifier") or []
    if len(identifiers) != 1:
        raise FhirError("exactement un identifier attendu", 422, "business-rule")
    system, value = identifiers[0].get("system"), identifiers[0].get("value")
    if system not in ACCOUNT_SYSTEMS or not value:
        raise FhirError(
            f"identifier : système {IDNPS_SYSTEM} ou {SAS_SOURCE} et valeur attendus",
            422,
            "business-rule",
        )
    return str(system), str(value)


def _account_id(value: str) -> str:
    return "regul-" + hashlib.sha256(value.encode()).hexdigest()[:16]


def make_sandbox(
    *,
    seed: int = 0,
    port: int = 0,
    practitioners: Mapping[str, PractitionerInfo] | None = None,
    behaviour: Behaviour | None = None,
) -> DoctolibLikeSandbox:
    """An individual-PS editor simulator (not started: use ``with`` or ``.start()``)."""
    return DoctolibLikeSandbox(
        seed=seed, port=port, behaviour=behaviour, practitioners=practitioners
    )


if __name__ == "__main__":
    raise SystemExit(run_cli(make_sandbox, "Éditeur PS individuels (simulation)"))
