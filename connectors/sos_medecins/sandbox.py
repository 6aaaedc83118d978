"""Simulator of an SOS Médecins scheduling tool: Schedule search by the association's SIRET.

Run it alone: ``python -m connectors.sos_medecins.sandbox --port 8102``.

``GET /fhir/Schedule?_revinclude=Slot:schedule&_include=Schedule:actor:Location
&_include:iterate=Location:organization&_has:Slot:schedule:start=ge…&_has:Slot:schedule:start=le…
&_has:Slot:schedule:status=free&actor:Location.organization.identifier=urn:oid:1.2.250.1.71.4.2.2|3<SIRET>,…``

Answer (like the guide's ``Bundle-ExampleBundleAgregateurSOS``): one Schedule per
fixed consultation site having matching slots (``search.mode=match``), its Slots
(``include``, kinds PUBLIC/SNP only), the Location (address, position, opening
hours, ``managingOrganization``) and the Organization (IDNST ``3``+SIRET).
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, time
from typing import Any

from fhir.resources.R4B.location import Location
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.schedule import Schedule
from fhir.resources.R4B.slot import Slot
from werkzeug.wrappers import Request, Response

from portal.identifiers import IDNST_SYSTEM
from portal.testing.sandbox import (
    ACTCODE_SYSTEM,
    APPOINTMENT_TYPE_SYSTEM,
    LOCATION_ID_TYPE_SYSTEM,
    PLACE_SYSTEM,
    R314_SYSTEM,
    TOWNS,
    AgendaSlot,
    Behaviour,
    Flow,
    SandboxServer,
    SearchSpec,
    address,
    coding,
    fhir_id,
    generate_day,
    identifier,
    parse_search,
    resource_json,
    run_cli,
)

__all__ = ["AssociationInfo", "SiteInfo", "SosSandbox", "make_sandbox"]

_IG = "https://interop.esante.gouv.fr/ig/fhir/sas/StructureDefinition/"
WEEK = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SOS_SEARCH = SearchSpec(
    date_param="_has:Slot:schedule:start",
    status_param="_has:Slot:schedule:status",
    id_param="actor:Location.organization.identifier",
    id_system=IDNST_SYSTEM,
)


@dataclass(frozen=True, slots=True)
class SiteInfo:
    """A fixed consultation site of an association.

    ``id`` becomes the Location id (default: ``site-<structure id>-<rank>``);
    ``days``/``opening``/``closing`` its ``hoursOfOperation`` and agenda hours.
    """

    name: str
    line: str = ""
    postal_code: str = ""
    city: str = ""
    latitude: float | None = None
    longitude: float | None = None
    phone: str = ""
    days: tuple[str, ...] = WEEK
    opening: str = "08:00"
    closing: str = "20:00"
    tz: str = "Europe/Paris"
    id: str = ""


@dataclass(frozen=True, slots=True)
class AssociationInfo:
    """An SOS Médecins association (keyed by prefixed SIRET, ``3``+SIRET)."""

    name: str
    sites: tuple[SiteInfo, ...] = ()
    phone: str = ""


def generated_site(seed: int, structure_id: str) -> SiteInfo:
    """A plausible consultation site for an association the sandbox knows no site of."""
    rng = random.Random(f"{seed}:{structure_id}:sos")
    postal_code, city = rng.choice(TOWNS)
    return SiteInfo(
        name=f"Centre de consultation {city}",
        line=f"{rng.randint(1, 200)} avenue de la République",
        postal_code=postal_code,
        city=city,
        phone="+3319900" + f"{rng.randrange(10**4):04d}",
        opening=rng.choice(("08:00", "09:00")),
        closing=rng.choice(("20:00", "22:00")),
    )


class SosSandbox(SandboxServer):
    """An SOS Médecins tool: site Schedules (match), their Slots, Location, Organization."""

    flow: Flow = "sos"
    label = "SOS Médecins (simulation)"
    resource_types = ("Schedule", "Slot", "Location", "Organization")

    def __init__(
        self,
        *,
        seed: int = 0,
        port: int = 0,
        behaviour: Behaviour | None = None,
        associations: Mapping[str, AssociationInfo] | None = None,
    ) -> None:
        super().__init__(seed=seed, port=port, behaviour=behaviour)
        self.associations: dict[str, AssociationInfo] = dict(associations or {})
        self._sites: dict[str, tuple[str, SiteInfo]] = {}
        for structure_id in self.associations:
            self.association(structure_id)

    def association(self, structure_id: str) -> AssociationInfo:
        """The association, its sites completed (ids; one generated site if none)."""
        info = self.associations.get(structure_id)
        if info is not None and info.sites and all(s.id for s in info.sites):
            for site in info.sites:
                self._sites.setdefault(fhir_id(site.id), (structure_id, site))
            return info
        if info is None:
            info = AssociationInfo(name=f"SOS Médecins {structure_id[-5:]} (simulation)")
        sites = info.sites or (generated_site(self.seed, structure_id),)
        sites = tuple(
            s if s.id else dataclasses.replace(s, id=f"site-{fhir_id(structure_id)}-{rank}")
            for rank, s in enumerate(sites, 1)
        )
        info = self.associations[structure_id] = dataclasses.replace(info, sites=sites)
        for site in sites:
            self._sites.setdefault(fhir_id(site.id), (structure_id, site))
        return info

    def timezone_for(self, key: str) -> str:
        found = self._sites.get(key)
        return found[1].tz if found else "Europe/Paris"

    def agenda_day(self, key: str, day: date) -> list[AgendaSlot]:
        found = self._sites.get(key)
        if found is None:
            return []
        site = found[1]
        periods = []
        if WEEK[day.weekday()] in site.days:
            periods = [(time.fromisoformat(site.opening), time.fromisoformat(site.closing))]
        return generate_day(
            self.seed, key, day, flow="sos", tz=site.tz, periods=periods, free_ratio=0.35
        )

    def handle_fhir(self, request: Request, path: str, *, malformed: bool) -> Response | None:
        if path == "Schedule" and request.method == "GET":
            return self.search(request.query_string.decode("latin-1"), malformed=malformed)
        return None

    def search(self, query_string: str, *, malformed: bool = False) -> Response:
        params = parse_search(query_string, SOS_SEARCH)
        entries: list[str] = []
        total = 0
        for structure_id in params.ids:
            info = self.association(structure_id)
            org_id = f"org-{fhir_id(structure_id)}"
            with_slots = 0
            for site in info.sites:
                sid = fhir_id(site.id)
                slots = self.matching(sid, params)
                if not slots:  # _has: only the Schedules having a matching Slot
                    continue
                total += 1
                with_slots += 1
                entries.append(
                    self.entry("Schedule", f"sched-{sid}", "match", self._schedule_json, sid)
                )
                if "Slot:schedule" in params.revinclude:
                    entries.extend(
                        self.entry("Slot", s.id, "include", self._slot_json, s) for s in slots
                    )
                if params.includes("Schedule:actor:Location", "Schedule:actor"):
                    entries.append(
                        self.entry("Location", sid, "include", self._location_json, site, org_id)
                    )
            if with_slots and params.includes("Location:organization"):
                entries.append(
                    self.entry(
                        "Organization",
                        org_id,
                        "include",
                        self._organization_json,
                        structure_id,
                        info,
                    )
                )
        if malformed:
            entries.extend(self.broken_entries(params, entries, "include"))
        return self.searchset(
            "Schedule", query_string, _IG + "sas-sos-bundle-aggregator", total, entries
        )

    # -- resources

    def _schedule_json(self, sid: str) -> str:
        return resource_json(
            Schedule,
            {
                "resourceType": "Schedule",
                "id": f"sched-{sid}",
                "meta": {"profile": [_IG + "sas-sos-schedule-aggregator"]},
                "actor": [{"reference": f"Location/{sid}"}],
            },
        )

    def _slot_json(self, slot: AgendaSlot) -> str:
        data: dict[str, Any] = {
            "resourceType": "Slot",
            "id": slot.id,
            "meta": {
                "profile": [_IG + "sas-sos-slot-aggregator"],
                "security": [{"system": R314_SYSTEM, "code": k} for k in slot.kinds],
            },
            "serviceType": [coding(ACTCODE_SYSTEM, m) for m in slot.modalities]
            + [{"text": r} for r in slot.reasons],
            "appointmentType": coding(
                APPOINTMENT_TYPE_SYSTEM, "WALKIN" if slot.walk_in else "ROUTINE"
            ),
            "schedule": {"reference": f"Schedule/sched-{slot.key}"},
            "status": "free" if slot.free else "busy",
            "start": slot.start.isoformat(timespec="milliseconds"),
            "end": slot.end.isoformat(timespec="milliseconds"),
        }
        url = self.booking_url(slot)
        if url:
            data["comment"] = url
        return resource_json(Slot, data)

    def _location_json(self, site: SiteInfo, org_id: str) -> str:
        sid = fhir_id(site.id)
        data: dict[str, Any] = {
            "resourceType": "Location",
            "id": sid,
            "meta": {"profile": [_IG + "sas-sos-location-aggregator"]},
            "identifier": [identifier(PLACE_SYSTEM, site.id, "INTRN", LOCATION_ID_TYPE_SYSTEM)],
            "name": site.name,
            "managingOrganization": {"reference": f"Organization/{org_id}"},
            "hoursOfOperation": [
                {
                    "daysOfWeek": [d for d in WEEK if d in site.days],
                    "openingTime": time.fromisoformat(site.opening).isoformat(),
                    "closingTime": time.fromisoformat(site.closing).isoformat(),
                }
            ],
        }
        if site.phone:
            data["telecom"] = [{"system": "phone", "value": site.phone}]
        if site.line or site.city or site.postal_code:
            data["address"] = address(site.line, site.postal_code, site.city)
        if site.latitude is not None and site.longitude is not None:
            data["position"] = {"latitude": site.latitude, "longitude": site.longitude}
        return resource_json(Location, data)

    def _organization_json(self, structure_id: str, info: AssociationInfo) -> str:
        data: dict[str, Any] = {
            "resourceType": "Organization",
            "id": f"org-{fhir_id(structure_id)}",
            "meta": {"profile": [_IG + "sas-sos-organization-aggregator"]},
            "identifier": [identifier(IDNST_SYSTEM, structure_id, "IDNST")],
            "name": info.name,
        }
        if info.phone:
            data["telecom"] = [{"system": "phone", "value": info.phone}]
        return resource_json(Organization, data)

    def describe_slot(self, slot: AgendaSlot) -> list[tuple[str, str]]:
        found = self._sites.get(slot.key)
        if found is None:
            return [("Site", slot.key)]
        structure_id, site = found
        place = ", ".join(p for p in (site.line, f"{site.postal_code} {site.city}".strip()) if p)
        return [
            ("Association", f"{self.association(structure_id).name} ({structure_id})"),
            ("Site", site.name),
            ("Adresse", place),
        ]


def make_sandbox(
    *,
    seed: int = 0,
    port: int = 0,
    associations: Mapping[str, AssociationInfo] | None = None,
    behaviour: Behaviour | None = None,
) -> SosSandbox:
    """An SOS Médecins tool simulator (not started: use ``with`` or ``.start()``).

    ``associations`` maps prefixed SIRETs (``3``+SIRET) to their name and sites;
    an unknown SIRET gets one generated site.
    """
    return SosSandbox(seed=seed, port=port, behaviour=behaviour, associations=associations)


if __name__ == "__main__":
    raise SystemExit(run_cli(make_sandbox, "SOS Médecins (simulation)"))
