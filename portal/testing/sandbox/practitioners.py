"""The individual-PS slot search (INT_R01), which the CPTS flow (INT_R04) extends:
:class:`PractitionerSandbox`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fhir.resources.R4B.practitioner import Practitioner
from fhir.resources.R4B.practitionerrole import PractitionerRole
from fhir.resources.R4B.schedule import Schedule
from fhir.resources.R4B.slot import Slot
from werkzeug.wrappers import Request, Response

from portal.identifiers import IDNPS_SYSTEM, IDNST_SYSTEM
from portal.testing.sandbox.agenda import AgendaSlot, Flow
from portal.testing.sandbox.identities import PractitionerInfo, generated_practitioner
from portal.testing.sandbox.resources import (
    ACTCODE_SYSTEM,
    APPOINTMENT_TYPE_SYSTEM,
    LOCATION_ID_TYPE_SYSTEM,
    PLACE_SYSTEM,
    PROFILE_BUNDLE,
    PROFILE_LOCATION,
    PROFILE_PRACTITIONER,
    PROFILE_ROLE,
    PROFILE_SCHEDULE,
    PROFILE_SLOT,
    R38_SYSTEM,
    R314_SYSTEM,
    address,
    coding,
    fhir_id,
    human_name,
    identifier,
    resource_json,
)
from portal.testing.sandbox.search import SearchParams, SearchSpec, parse_search
from portal.testing.sandbox.server import Behaviour, SandboxServer

PS_SEARCH = SearchSpec(
    date_param="start",
    status_param="status",
    id_param="schedule.actor:Practitioner.identifier",
    id_system=IDNPS_SYSTEM,
)


class PractitionerSandbox(SandboxServer):
    """The individual-PS slot search: ``GET /fhir/Slot?…`` (INT_R01).

    Graph: Slot (match) → Schedule → Practitioner + PractitionerRole (contained
    Location, ``organization.identifier`` = IDNST), included as the query asks.
    """

    flow: Flow = "ps"
    resource_types: tuple[str, ...] = ("Slot", "Schedule", "Practitioner", "PractitionerRole")
    bundle_profile = PROFILE_BUNDLE
    slot_profile = PROFILE_SLOT

    def __init__(
        self,
        *,
        seed: int = 0,
        port: int = 0,
        behaviour: Behaviour | None = None,
        practitioners: Mapping[str, PractitionerInfo] | None = None,
    ) -> None:
        super().__init__(seed=seed, port=port, behaviour=behaviour)
        self.practitioners: dict[str, PractitionerInfo] = dict(practitioners or {})

    def practitioner(self, national_id: str) -> PractitionerInfo:
        info = self.practitioners.get(national_id)
        if info is None:
            info = self.practitioners[national_id] = generated_practitioner(self.seed, national_id)
        return info

    def timezone_for(self, key: str) -> str:
        return self.practitioner(key).tz

    def handle_fhir(self, request: Request, path: str, *, malformed: bool) -> Response | None:
        if path == "Slot" and request.method == "GET":
            return self.search(request.query_string.decode("latin-1"), malformed=malformed)
        return None

    def search(self, query_string: str, *, malformed: bool = False) -> Response:
        """Answer a slot search (callable directly on a started server, e.g. to warm it)."""
        params = parse_search(query_string, PS_SEARCH)
        entries: list[str] = []
        seen: set[str] = set()
        total = 0
        for national_id in params.ids:
            slots = self.matching(national_id, params)
            if not slots:
                continue
            info = self.practitioner(national_id)
            total += len(slots)
            entries.extend(
                self.entry("Slot", s.id, "match", self.slot_json, s, info) for s in slots
            )
            for entry in self.includes(national_id, info, params):
                if entry not in seen:
                    seen.add(entry)
                    entries.append(entry)
        if malformed:
            broken = self.broken_entries(params, entries, "match")
            entries.extend(broken)
            total += len(broken)
        return self.searchset("Slot", query_string, self.bundle_profile, total, entries)

    def includes(self, national_id: str, info: PractitionerInfo, params: SearchParams) -> list[str]:
        """The included entries for one practitioner that has matching slots."""
        fid = fhir_id(national_id)
        out: list[str] = []
        if params.includes("Slot:schedule"):
            out.append(self.entry("Schedule", f"sched-{fid}", "include", self.schedule_json, fid))
        if params.includes("Schedule:actor", "Schedule:actor:Practitioner"):
            out.append(
                self.entry(
                    "Practitioner", fid, "include", self.practitioner_json, national_id, info
                )
            )
        if params.includes("Schedule:actor", "Schedule:actor:PractitionerRole"):
            out.append(
                self.entry("PractitionerRole", f"role-{fid}", "include", self.role_json, fid, info)
            )
        return out

    # -- resources

    def slot_data(self, slot: AgendaSlot, info: PractitionerInfo) -> dict[str, Any]:
        service_type: list[dict[str, Any]] = [coding(ACTCODE_SYSTEM, m) for m in slot.modalities]
        data: dict[str, Any] = {
            "resourceType": "Slot",
            "id": slot.id,
            "meta": {
                "profile": [self.slot_profile],
                "security": [{"system": R314_SYSTEM, "code": k} for k in slot.kinds],
            },
            "serviceType": service_type + [{"text": r} for r in slot.reasons],
            "specialty": [coding(R38_SYSTEM, info.specialty)] if info.specialty else [],
            "appointmentType": coding(
                APPOINTMENT_TYPE_SYSTEM, "WALKIN" if slot.walk_in else "ROUTINE"
            ),
            "schedule": {"reference": f"Schedule/sched-{fhir_id(slot.key)}"},
            "status": "free" if slot.free else "busy",
            "start": slot.start.isoformat(timespec="milliseconds"),
            "end": slot.end.isoformat(timespec="milliseconds"),
        }
        url = self.booking_url(slot)
        if url:
            data["comment"] = url
        return data

    def slot_json(self, slot: AgendaSlot, info: PractitionerInfo) -> str:
        return resource_json(Slot, self.slot_data(slot, info))

    def schedule_json(self, fid: str) -> str:
        return resource_json(
            Schedule,
            {
                "resourceType": "Schedule",
                "id": f"sched-{fid}",
                "meta": {"profile": [PROFILE_SCHEDULE]},
                "actor": [
                    {"reference": f"Practitioner/{fid}"},
                    {"reference": f"PractitionerRole/role-{fid}"},
                ],
            },
        )

    def practitioner_json(self, national_id: str, info: PractitionerInfo) -> str:
        return resource_json(
            Practitioner,
            {
                "resourceType": "Practitioner",
                "id": fhir_id(national_id),
                "meta": {"profile": [PROFILE_PRACTITIONER]},
                "identifier": [identifier(IDNPS_SYSTEM, national_id, "IDNPS")],
                "name": [human_name(info.family_name, info.given_name)],
            },
        )

    def role_json(self, fid: str, info: PractitionerInfo) -> str:
        location: dict[str, Any] = {
            "resourceType": "Location",
            "id": "lieu",
            "meta": {"profile": [PROFILE_LOCATION]},
            "identifier": [identifier(PLACE_SYSTEM, fid, "INTRN", LOCATION_ID_TYPE_SYSTEM)],
        }
        if info.line or info.city or info.postal_code:
            location["address"] = address(info.line, info.postal_code, info.city)
        data: dict[str, Any] = {
            "resourceType": "PractitionerRole",
            "id": f"role-{fid}",
            "meta": {"profile": [PROFILE_ROLE]},
            "contained": [location],
            "practitioner": {"reference": f"Practitioner/{fid}"},
            "location": [{"reference": "#lieu"}],
        }
        if info.structure:
            data["organization"] = {"identifier": identifier(IDNST_SYSTEM, info.structure, "IDNST")}
        if info.phone:
            data["telecom"] = [{"system": "phone", "value": info.phone}]
        return resource_json(PractitionerRole, data)

    def describe_slot(self, slot: AgendaSlot) -> list[tuple[str, str]]:
        info = self.practitioner(slot.key)
        place = ", ".join(p for p in (info.line, f"{info.postal_code} {info.city}".strip()) if p)
        return [("Praticien", f"{info.display_name} ({slot.key})"), ("Adresse", place)]
